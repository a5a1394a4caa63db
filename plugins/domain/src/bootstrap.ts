/**
 * The IANA RDAP bootstrap file for domain names (RFC 9224, https://data.iana.org/rdap/dns.json):
 * which RDAP servers answer for which TLDs. It changes a few times a month, so each process
 * keeps it in memory for a TTL and every check of every asset uses that copy; concurrent checks
 * share one download. Copies are kept per egress guard key: what one owner's guard let through
 * is not handed to an owner whose guard may judge the bootstrap URL differently.
 */
import { fetchUrl, type EgressGuard, type PageRequest } from '@webmon/plugin-sdk';
import { RdapError, parseJson, requestOptions } from './http.js';

/** The largest bootstrap file read (IANA's is a few tens of KiB). */
export const BOOTSTRAP_MAX_BYTES = 1_048_576;
/** How long a copy is used before it is fetched again. */
export const BOOTSTRAP_TTL_MS = 24 * 3_600_000;
/** After a failed refresh, how long the stale copy is used before trying again. */
export const BOOTSTRAP_RETRY_MS = 5 * 60_000;
const MAX_COPIES = 16;
const MAX_SERVICES = 10_000;

/** Base URLs of the RDAP servers, by lower-case domain suffix (a TLD in IANA's file). */
export type Services = ReadonlyMap<string, readonly string[]>;

interface Copy {
  services: Services;
  /** When the copy is due for a refresh (clock ms). */
  freshUntil: number;
}

export class BootstrapCache {
  private readonly copies = new Map<string, Copy>();
  private readonly loading = new Map<string, Promise<Services>>();

  constructor(
    private readonly now: () => number,
    private readonly ttlMs = BOOTSTRAP_TTL_MS,
  ) {}

  /**
   * The services listed at `url`, from memory while fresh. A refresh that fails keeps a stale
   * copy in use for BOOTSTRAP_RETRY_MS; without one, the error is thrown (network errors,
   * EgressDeniedError, RdapError).
   */
  async services(url: string, egress: EgressGuard, timeoutMs: number): Promise<Services> {
    const key = `${egress.key} ${url}`;
    const copy = this.copies.get(key);
    if (copy && this.now() < copy.freshUntil) return copy.services;
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.load(key, url, egress, timeoutMs, copy).finally(() => this.loading.delete(key));
      this.loading.set(key, pending);
    }
    return pending;
  }

  /** Forgets every copy (executor shutdown, tests). */
  clear(): void {
    this.copies.clear();
  }

  private async load(key: string, url: string, egress: EgressGuard, timeoutMs: number, stale: Copy | undefined): Promise<Services> {
    let services: Services;
    try {
      // Its own deadline, not a check's: the download is shared by every check waiting for it.
      services = await fetchServices(new URL(url), egress, timeoutMs);
    } catch (err) {
      if (!stale) throw err;
      this.keep(key, { services: stale.services, freshUntil: this.now() + BOOTSTRAP_RETRY_MS });
      return stale.services;
    }
    this.keep(key, { services, freshUntil: this.now() + this.ttlMs });
    return services;
  }

  private keep(key: string, copy: Copy): void {
    this.copies.delete(key);
    this.copies.set(key, copy);
    while (this.copies.size > MAX_COPIES) this.copies.delete(this.copies.keys().next().value as string);
  }
}

async function fetchServices(url: URL, egress: EgressGuard, timeoutMs: number): Promise<Services> {
  const cfg: PageRequest = requestOptions(timeoutMs, BOOTSTRAP_MAX_BYTES, 'application/json');
  const page = await fetchUrl(url, cfg, AbortSignal.timeout(timeoutMs), true, egress);
  if (page.status !== 200) throw new RdapError(page.status === 429 ? 'rate_limited' : 'http_status', `RDAP bootstrap ${url.href}: HTTP ${page.status}`);
  if (page.truncated) throw new RdapError('protocol', `RDAP bootstrap ${url.href}: larger than ${BOOTSTRAP_MAX_BYTES} bytes`);
  return parseServices(parseJson(page.body, `RDAP bootstrap ${url.href}`));
}

/**
 * The services of a bootstrap file: `{"services": [[["tld", …], ["https://rdap.example/", …]], …]}`.
 * Entries of another shape are skipped; only http(s) base URLs are kept, https first (RFC 9224 §3).
 */
export function parseServices(doc: unknown): Services {
  const list = (doc as { services?: unknown } | null)?.services;
  if (!Array.isArray(list)) throw new RdapError('protocol', 'RDAP bootstrap: no "services" array');
  const out = new Map<string, string[]>();
  for (const service of list.slice(0, MAX_SERVICES)) {
    if (!Array.isArray(service) || !Array.isArray(service[0]) || !Array.isArray(service[1])) continue;
    const urls = (service[1] as unknown[]).filter((u): u is string => typeof u === 'string' && /^https?:\/\//i.test(u));
    if (urls.length === 0) continue;
    urls.sort((a, b) => Number(b.toLowerCase().startsWith('https:')) - Number(a.toLowerCase().startsWith('https:')));
    for (const entry of service[0] as unknown[]) if (typeof entry === 'string' && entry) out.set(entry.toLowerCase(), urls);
  }
  return out;
}

/** The servers for a domain: those of the longest listed suffix (RFC 9224 §4), or none. */
export function serversFor(services: Services, domain: string): readonly string[] {
  const labels = domain.toLowerCase().split('.');
  for (let i = 1; i < labels.length; i++) {
    const found = services.get(labels.slice(i).join('.'));
    if (found) return found;
  }
  return [];
}
