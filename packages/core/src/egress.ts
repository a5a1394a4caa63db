/**
 * Egress guard: decides, on the address actually connected to, whether a check or a
 * notification may reach it. Every plugin and channel connects through one of these (the
 * `lookup` hook for names, `assertHost` for IP literals, which never reach a lookup), so the
 * address judged is the address used: no second resolution, no rebinding window.
 *
 * Trust: the operator (admin key, config) is trusted and bound only by `policy`; a client is a
 * stranger and, on top of `policy`, may reach only public unicast addresses unless the admin
 * allowed a range for it (`allowCidrs`). Refused: loopback, RFC 1918 and RFC 4193 private,
 * link-local (169.254.169.254 included), CGNAT, `0.0.0.0/8` and `::`, multicast, broadcast,
 * documentation, benchmarking and reserved ranges, NAT64/6to4/Teredo (they embed IPv4), in every
 * spelling: IPv4-mapped and -compatible IPv6, decimal/octal/hex integer hosts, trailing dots.
 * Range logic is ipaddr.js's; an address it does not call `unicast` is refused.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { ConfigError } from './errors.js';
import type { PolicyConfig } from './policy.js';

/** Error code of a refused connection; classified as the reason `denied`. */
export const EGRESS_DENIED = 'EWEBMON_DENIED';

export class EgressDeniedError extends Error {
  readonly code = EGRESS_DENIED;
  constructor(message: string) {
    super(message);
    this.name = 'EgressDeniedError';
  }
}

export interface EgressOptions {
  /** The operator's policy (config `policy`): applies to everyone. */
  policy: PolicyConfig;
  /** true for the operator's own checks (owner `admin`): only `policy` applies. */
  trusted: boolean;
  /** Ranges this client may reach although they are not public (set by the admin). */
  allowCidrs?: readonly string[];
}

export interface EgressGuard {
  /** Stable identity of the rules (for pooling connections per guard). */
  readonly key: string;
  readonly trusted: boolean;
  /** Why this IP address may not be connected to, or null. Any textual spelling is accepted. */
  judgeAddress(address: string): string | null;
  /**
   * Why this host may not be connected to, or null: name rules for names (resolution is judged
   * later, by `lookup`), the address rules for IP literals in any spelling.
   */
  judgeHost(host: string): string | null;
  /** Throws EgressDeniedError when judgeHost refuses the host. Call before connecting to a literal. */
  assertHost(host: string): void;
  /** dns.lookup-compatible hook for net/tls/undici: resolves once and refuses denied addresses. */
  readonly lookup: LookupFunction;
  /** Resolves a host (name or literal) once, judging every address; throws EgressDeniedError or the DNS error. */
  resolve(host: string): Promise<LookupAddress[]>;
}

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Verdicts kept per guard (a verdict depends only on the text judged and the guard's policy). */
const REMEMBERED_VERDICTS = 4096;

/** `judge` with its last verdicts kept: every check judges its host and address again. */
function remembered(judge: (text: string) => string | null): (text: string) => string | null {
  const verdicts = new Map<string, string | null>();
  return (text) => {
    const known = verdicts.get(text);
    if (known !== undefined) return known;
    const verdict = judge(text);
    if (verdicts.size >= REMEMBERED_VERDICTS) verdicts.clear();
    if (text.length <= 300) verdicts.set(text, verdict);
    return verdict;
  };
}

/** Ranges ipaddr.js calls unicast that a client must not reach either. */
const EXTRA_DENIED = ['64:ff9b:1::/48', '::/96', '192.88.99.0/24', '2001:2::/48'];

function parseCidrs(cidrs: readonly string[], field: string): Range[] {
  return cidrs.map((c) => {
    try {
      return ipaddr.parseCIDR(c.trim());
    } catch {
      throw new ConfigError(`invalid configuration: ${field}: "${c}" is not a CIDR range (e.g. 10.0.0.0/8, fd00::/8)`);
    }
  });
}

function inAny(addr: ipaddr.IPv4 | ipaddr.IPv6, ranges: readonly Range[]): boolean {
  for (const [net, bits] of ranges) {
    if (addr.kind() === net.kind() && addr.match(net as never, bits)) return true;
  }
  return false;
}

/** Strips brackets, an IPv6 zone and a trailing dot, and lower-cases. */
export function normalizeHost(raw: string): string {
  let h = raw.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  const zone = h.indexOf('%');
  if (zone > 0 && h.includes(':')) h = h.slice(0, zone);
  while (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** The address as ipaddr.js sees it (IPv4-mapped IPv6 unwrapped), or null when `host` is not an IP literal. */
export function parseAddress(host: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const h = normalizeHost(host);
  // isValid accepts the integer, octal and hex spellings inet_aton does (2130706433, 0x7f.1).
  if (!ipaddr.isValid(h)) return null;
  try {
    let addr = ipaddr.parse(h);
    if (addr.kind() === 'ipv6') {
      const v6 = addr as ipaddr.IPv6;
      if (v6.isIPv4MappedAddress()) addr = v6.toIPv4Address();
      else if (v6.parts.slice(0, 6).every((p) => p === 0) && (v6.parts[6] !== 0 || v6.parts[7]! > 1)) {
        // IPv4-compatible (::a.b.c.d, deprecated): judged as the IPv4 address it spells.
        addr = ipaddr.fromByteArray(v6.toByteArray().slice(12));
      }
    }
    return addr;
  } catch {
    return null;
  }
}

function hostMatches(host: string, pattern: string): boolean {
  const p = normalizeHost(pattern);
  if (p.startsWith('*.')) return host === p.slice(2) || host.endsWith(p.slice(1));
  return host === p;
}

export function createEgressGuard(opts: EgressOptions): EgressGuard {
  const { policy, trusted } = opts;
  const deny = parseCidrs(policy.denyCidrs, 'policy.denyCidrs');
  const allow = parseCidrs(policy.allowCidrs, 'policy.allowCidrs');
  const clientAllow = parseCidrs(opts.allowCidrs ?? [], 'allowCidrs');
  const extra = parseCidrs(EXTRA_DENIED, 'egress');

  const judgeParsed = (addr: ipaddr.IPv4 | ipaddr.IPv6): string | null => {
    const shown = addr.toString();
    if (inAny(addr, deny)) return `address ${shown} is in a denied range (policy.denyCidrs)`;
    if (allow.length && !inAny(addr, allow)) return `address ${shown} is not in an allowed range (policy.allowCidrs)`;
    if (trusted || inAny(addr, clientAllow)) return null;
    const range = addr.range();
    if (range !== 'unicast') return `address ${shown} is ${range}: clients may not reach it (the admin can allow a range for a client)`;
    if (inAny(addr, extra)) return `address ${shown} is reserved: clients may not reach it`;
    return null;
  };

  const judgeAddress = remembered((address: string): string | null => {
    const addr = parseAddress(address);
    if (!addr) return `${JSON.stringify(address.slice(0, 64))} is not an IP address`;
    return judgeParsed(addr);
  });

  const judgeHost = remembered((raw: string): string | null => {
    const host = normalizeHost(raw);
    if (!host) return 'empty host';
    const addr = parseAddress(host);
    if (policy.denyHosts.some((p) => hostMatches(host, p))) return `host ${host} is denied (policy.denyHosts)`;
    if (addr) return judgeParsed(addr);
    if (policy.allowHosts.length && !policy.allowHosts.some((p) => hostMatches(host, p))) return `host ${host} is not allowed (policy.allowHosts)`;
    if (!trusted && (host === 'localhost' || host.endsWith('.localhost'))) return `host ${host} is loopback: clients may not reach it`;
    return null;
  });

  const lookup: LookupFunction = (hostname, options, callback) => {
    const why = judgeHost(hostname);
    if (why) return void process.nextTick(callback, new EgressDeniedError(why), '', 0);
    const o = typeof options === 'number' ? { family: options } : (options ?? {});
    dnsLookup(hostname, { ...o, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname}: no address`), { code: 'ENOTFOUND' }), '', 0);
      for (const a of addresses) {
        const denied = judgeAddress(a.address);
        if (denied) return callback(new EgressDeniedError(`${normalizeHost(hostname)} resolves to a refused address: ${denied}`), '', 0);
      }
      if ((o as { all?: boolean }).all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };

  const key = trusted ? 'trusted' : `client:${[...(opts.allowCidrs ?? [])].sort().join(',')}`;

  return {
    key,
    trusted,
    judgeAddress,
    judgeHost,
    assertHost(host) {
      const why = judgeHost(host);
      if (why) throw new EgressDeniedError(why);
    },
    lookup,
    resolve(host) {
      const h = normalizeHost(host);
      const addr = parseAddress(h);
      if (addr) {
        const why = judgeHost(h);
        if (why) return Promise.reject(new EgressDeniedError(why));
        return Promise.resolve([{ address: addr.toString(), family: addr.kind() === 'ipv6' ? 6 : 4 }]);
      }
      return new Promise((resolve, reject) => {
        lookup(h, { all: true }, (err, addresses) => {
          if (err) reject(err);
          else resolve(addresses as unknown as LookupAddress[]);
        });
      });
    },
  };
}

/** The guard's refusal somewhere in an error's `cause`/`errors` chain (undici wraps connector errors), or null. */
export function egressDenial(err: unknown): Error | null {
  const seen: unknown[] = [err];
  for (let i = 0; i < seen.length && i < 32; i++) {
    const e = seen[i] as { code?: unknown; cause?: unknown; errors?: unknown } | null;
    if (!e || typeof e !== 'object') continue;
    if (e.code === EGRESS_DENIED) return e as Error;
    if (e.cause !== undefined) seen.push(e.cause);
    if (Array.isArray(e.errors)) seen.push(...e.errors);
  }
  return null;
}

/** Throws ConfigError when a list of CIDR ranges does not parse (config and API validation). */
export function validateCidrs(cidrs: readonly string[], field: string): void {
  parseCidrs(cidrs, field);
}
