/**
 * Domain expiry over RDAP: days until the registration of the asset's registrable domain ends.
 *
 *   domain://example.com                       a domain asset (this plugin is its default)
 *   https://www.example.co.uk/ + "domain"      opt-in on a web asset: checks example.co.uk
 *
 * The registrable domain comes from the Public Suffix List (tldts, ICANN section: the name the
 * registry knows). Its RDAP server is found through the IANA bootstrap file (bootstrap.ts, kept
 * per process for 24 h) and asked `<server>/domain/<name>`. A registration changes rarely, so the
 * answer is kept in the asset's plugin storage and the registry asked again only after
 * `refreshHours`; in between the days left are computed from the stored expiry date.
 *
 * Reasons: `domain_expiring` (warn within warnDays, error within errorDays), `domain_expired`,
 * `not_found` (the registry does not know the domain), `unsupported` (a warning: no registrable
 * domain, no RDAP service for the TLD, or no expiration date published), `protocol` (malformed or
 * oversized answer), `http_status`, `rate_limited`, and network reasons from classifyError
 * (`denied` when the egress guard refuses the bootstrap or registry server).
 */
import { getDomain } from 'tldts';
import Type from 'typebox';
import { classifyError, definePlugin, fail, ok, warn, type PluginContext, type PluginOutput, type PluginStorage } from '@webmon/plugin-sdk';
import { BootstrapCache, BOOTSTRAP_TTL_MS, serversFor } from './bootstrap.js';
import { RdapError, lookupDomain, type Registration } from './http.js';

export { BOOTSTRAP_TTL_MS, parseServices, serversFor } from './bootstrap.js';
export { ANSWER_MAX_BYTES, registrationOf } from './http.js';

export const IANA_BOOTSTRAP = 'https://data.iana.org/rdap/dns.json';
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Plugin storage key of the last registry answer. */
export const ANSWER_KEY = 'rdap';

export const domainConfigSchema = Type.Object(
  {
    warnDays: Type.Integer({ default: 30, minimum: 0, maximum: 3650, description: 'Warn (domain_expiring) when the registration ends within this many days.' }),
    errorDays: Type.Integer({ default: 7, minimum: 0, maximum: 3650, description: 'Error (domain_expiring) when the registration ends within this many days.' }),
    refreshHours: Type.Integer({ default: 12, minimum: 1, maximum: 720, description: 'Ask the registry again after this many hours; in between the stored answer is used.' }),
    bootstrapUrl: Type.String({
      default: IANA_BOOTSTRAP,
      pattern: '^https?://',
      maxLength: 2048,
      description: 'RDAP bootstrap file for domains (RFC 9224): IANA\'s, or a mirror. Fetched through the egress guard.',
    }),
    timeoutMs: Type.Integer({ default: 10_000, minimum: 500, maximum: 60_000, description: 'Time for the bootstrap download and the registry lookup.' }),
  },
  { additionalProperties: false },
);

export type DomainConfig = Type.Static<typeof domainConfigSchema>;

/** What the registry said about the domain, as stored between lookups. */
export interface StoredAnswer extends Registration {
  domain: string;
  /** The RDAP server asked (base URL). */
  server: string;
  /** When it answered, ms since the epoch. */
  checkedAt: number;
  /** false: the registry does not know the domain (404). */
  found: boolean;
}

/** The registrable domain of a host (`www.shop.example.co.uk` → `example.co.uk`), or null for IP addresses and public suffixes. */
export function registrableDomain(host: string): string | null {
  const name = host.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  return getDomain(name, { allowPrivateDomains: false }) || null;
}

export async function readAnswer(storage: Pick<PluginStorage, 'get'>): Promise<StoredAnswer | null> {
  const raw = await storage.get(ANSWER_KEY);
  if (raw === null) return null;
  try {
    const a = JSON.parse(raw) as StoredAnswer;
    return typeof a.domain === 'string' && typeof a.checkedAt === 'number' && typeof a.found === 'boolean' ? a : null;
  } catch {
    return null; // unreadable: asked again
  }
}

/** The verdict on a registry answer at time `now`. */
export function verdict(a: StoredAnswer, cfg: DomainConfig, now: number, metrics: Record<string, number>): PluginOutput {
  const details: Record<string, unknown> = { domain: a.domain, server: a.server, checkedAt: new Date(a.checkedAt).toISOString() };
  if (!a.found) return fail('not_found', `${a.domain}: the registry does not know this domain (RDAP 404)`, metrics, details);
  if (a.registrar) details.registrar = a.registrar;
  if (a.status.length) details.status = a.status;
  if (a.expiresAt === null) return warn('unsupported', `${a.domain}: the registry publishes no expiration date`, metrics, details);
  const left = a.expiresAt - now;
  // Whole days left, rounded down: -1 is "expired within the last day".
  const daysLeft = Math.floor(left / DAY_MS);
  const on = new Date(a.expiresAt).toISOString();
  details.expiresAt = on;
  const m = { ...metrics, daysLeft };
  const by = a.registrar ? `, registrar ${a.registrar}` : '';
  if (left <= 0) return fail('domain_expired', `${a.domain} expired on ${on.slice(0, 10)} (${Math.floor(-left / DAY_MS)} days ago${by})`, m, details);
  const message = `${a.domain} expires on ${on.slice(0, 10)} (in ${daysLeft} days${by})`;
  if (left <= cfg.errorDays * DAY_MS) return fail('domain_expiring', message, m, details);
  if (left <= cfg.warnDays * DAY_MS) return warn('domain_expiring', message, m, details);
  return ok(message, m, details);
}

export interface DomainPluginOptions {
  /** The clock (ms since the epoch): tests move it instead of waiting. */
  now?: () => number;
  /** How long the bootstrap file is kept per process. */
  bootstrapTtlMs?: number;
}

/** A domain plugin with its own bootstrap cache and clock. */
export function createDomainPlugin(opts: DomainPluginOptions = {}) {
  const now = opts.now ?? Date.now;
  const bootstrap = new BootstrapCache(now, opts.bootstrapTtlMs ?? BOOTSTRAP_TTL_MS);

  /** Asks the registry; a result when there is no answer to store. */
  async function ask(domain: string, cfg: DomainConfig, ctx: PluginContext): Promise<StoredAnswer | PluginOutput> {
    let server: string | undefined;
    try {
      const services = await bootstrap.services(cfg.bootstrapUrl, ctx.egress, cfg.timeoutMs);
      server = serversFor(services, domain)[0];
      if (server === undefined) return warn('unsupported', `${domain}: no RDAP service for .${domain.split('.').slice(1).join('.')} in ${cfg.bootstrapUrl}`, {}, { domain });
      const reg = await lookupDomain(server, domain, ctx.signal, cfg.timeoutMs, ctx.egress);
      return { domain, server, checkedAt: now(), found: reg !== null, ...(reg ?? { expiresAt: null, registrar: null, status: [] }) };
    } catch (err) {
      const details = server === undefined ? { domain } : { domain, server };
      if (err instanceof RdapError) return fail(err.reason, `${domain}: ${err.message}`, {}, details);
      const c = classifyError(err, ctx.signal);
      return fail(c.reason, `${domain}: ${server === undefined ? 'RDAP bootstrap' : `RDAP ${server}`}: ${c.message}`, {}, details);
    }
  }

  return definePlugin({
    name: 'domain',
    description: 'Days until the registration of the asset\'s domain expires, from its registry over RDAP (domain://example.com, or opt-in on http/https assets).',
    schemes: ['domain'],
    optInSchemes: ['http', 'https'],
    configSchema: domainConfigSchema,
    async run(target, cfg, ctx): Promise<PluginOutput> {
      const domain = registrableDomain(target.url.hostname);
      if (!domain) return warn('unsupported', `${target.url.hostname || 'the URL'} has no registrable domain (an IP address, a public suffix or no host)`);
      const stored = await readAnswer(ctx.storage);
      const age = stored && stored.domain === domain ? now() - stored.checkedAt : -1;
      if (stored && age >= 0 && age < cfg.refreshHours * HOUR_MS) return verdict(stored, cfg, now(), { cached: 1 });
      const started = performance.now();
      const answer = await ask(domain, cfg, ctx);
      if (!('found' in answer)) return answer;
      await ctx.storage.set(ANSWER_KEY, JSON.stringify(answer));
      return verdict(answer, cfg, now(), { cached: 0, lookupMs: Math.round((performance.now() - started) * 100) / 100 });
    },
    async describe(storage) {
      const a = await readAnswer(storage);
      if (!a) return {};
      return { ...a, checkedAt: new Date(a.checkedAt).toISOString(), expiresAt: a.expiresAt === null ? null : new Date(a.expiresAt).toISOString() };
    },
    async reset(storage) {
      await storage.del(ANSWER_KEY);
    },
    async close() {
      bootstrap.clear();
    },
  });
}

export const domainPlugin = createDomainPlugin();
