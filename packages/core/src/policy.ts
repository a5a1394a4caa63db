/**
 * Which hosts webmon may check. Deny and allow lists of host names (exact, or `*.example.com`
 * for a domain and its subdomains) and of CIDR ranges (IPv4 and IPv6). Deny wins; a non-empty
 * allow list admits only what it names. A denied asset is `unsupported`, not failing.
 *
 * Host names are judged when an asset is saved and again before each check; CIDR ranges are
 * judged on IP literals and, before each check, on every address the host name resolves to.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { ConfigError } from './errors.js';

export interface PolicyConfig {
  denyHosts: readonly string[];
  allowHosts: readonly string[];
  denyCidrs: readonly string[];
  allowCidrs: readonly string[];
}

export interface HostPolicy {
  /** Why the host name (or IP literal) is refused, or null. */
  denyHost(host: string): string | null;
  /** Whether resolving names is needed to apply the policy (CIDR lists are set). */
  readonly resolves: boolean;
  /** Resolves the host and judges every address; null when all are admitted. */
  denyResolved(host: string): Promise<string | null>;
}

function blockList(cidrs: readonly string[], field: string): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(c.trim());
    const family = m ? isIP(m[1]!) : 0;
    const prefix = m ? Number(m[2]) : -1;
    if (!m || family === 0 || prefix > (family === 4 ? 32 : 128)) {
      throw new ConfigError(`invalid configuration: ${field}: "${c}" is not a CIDR range (e.g. 10.0.0.0/8, fd00::/8)`);
    }
    list.addSubnet(m[1]!, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

function hostMatches(host: string, pattern: string): boolean {
  const p = pattern.toLowerCase();
  if (p.startsWith('*.')) return host === p.slice(2) || host.endsWith(p.slice(1));
  return host === p;
}

export function createPolicy(cfg: PolicyConfig): HostPolicy {
  const deny = blockList(cfg.denyCidrs, 'policy.denyCidrs');
  const allow = blockList(cfg.allowCidrs, 'policy.allowCidrs');
  const judgeAddress = (ip: string): string | null => {
    const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (cfg.denyCidrs.length && deny.check(ip, type)) return `address ${ip} is in a denied range (policy.denyCidrs)`;
    if (cfg.allowCidrs.length && !allow.check(ip, type)) return `address ${ip} is not in an allowed range (policy.allowCidrs)`;
    return null;
  };
  const denyHost = (raw: string): string | null => {
    const host = raw.toLowerCase().replace(/^\[|\]$/g, '');
    if (!host) return null;
    if (cfg.denyHosts.some((p) => hostMatches(host, p))) return `host ${host} is denied (policy.denyHosts)`;
    if (isIP(host)) return judgeAddress(host);
    if (cfg.allowHosts.length && !cfg.allowHosts.some((p) => hostMatches(host, p))) return `host ${host} is not allowed (policy.allowHosts)`;
    return null;
  };
  const resolves = cfg.denyCidrs.length > 0 || cfg.allowCidrs.length > 0;
  return {
    denyHost,
    resolves,
    async denyResolved(host: string) {
      const byName = denyHost(host);
      if (byName || !resolves || isIP(host.replace(/^\[|\]$/g, ''))) return byName;
      let addresses: Array<{ address: string }>;
      try {
        addresses = await lookup(host, { all: true });
      } catch {
        return null; // unresolvable: the plugin reports dns
      }
      for (const a of addresses) {
        const why = judgeAddress(a.address);
        if (why) return `${host}: ${why}`;
      }
      return null;
    },
  };
}
