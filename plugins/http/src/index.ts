/**
 * HTTP(S) check: requests the URL (following redirects up to a limit), checks the status against
 * the expected ranges and reports status code, timings, bytes read and redirects followed.
 * Connections are not reused across checks by default, so every check measures a real connect,
 * as a visitor arriving fresh would see it. Every connection, redirect hops included, goes through
 * the check's egress guard (see connection.ts); a refused hop ends the check with `denied`.
 */
import Type from 'typebox';
import { request, type Dispatcher } from 'undici';
import { EgressDeniedError, classifyError, definePlugin, fail, ok, warn, type EgressGuard, type PluginContext, type PluginOutput } from '@webmon/plugin-sdk';
import { RegexTimeoutError, USER_REGEX_FORMAT, UserRegexError, userRegex, type MatchOptions } from '@webmon/plugin-sdk';
import { Probe, agentFor, closeAgents, withProbe, type PeerCertificate } from './connection.js';
import { STATUS_SPEC_PATTERN, parseStatusSpec, statusMatches } from './status-ranges.js';

export const httpConfigSchema = Type.Object(
  {
    method: Type.Enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], {
      default: 'GET',
      description: 'Request method.',
    }),
    headers: Type.Record(Type.String(), Type.String({ maxLength: 8192 }), {
      default: {},
      maxProperties: 100,
      propertyNames: { pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$' },
      description:
        'Extra request headers (names are HTTP tokens). Secret headers (below) are not sent to other origins on redirect. The values of Authorization, Proxy-Authorization, Cookie, X-API-Key and of the headers named in secretHeaders are secrets: never returned by the API nor logged.',
    }),
    secretHeaders: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 256, pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$' }), {
        maxItems: 100,
        description: 'Further header names (case-insensitive) whose values in `headers` are secrets, shown as "[redacted]"; sending "[redacted]" back keeps the stored value.',
      }),
    ),
    body: Type.Optional(Type.String({ maxLength: 1_048_576, description: 'Request body (for POST/PUT/PATCH).' })),
    timeoutMs: Type.Integer({ default: 10_000, minimum: 100, maximum: 300_000, description: 'Overall time for the check, redirects included.' }),
    connectTimeoutMs: Type.Integer({ default: 5_000, minimum: 100, maximum: 300_000, description: 'Time to establish a connection.' }),
    headersTimeoutMs: Type.Integer({ default: 10_000, minimum: 100, maximum: 300_000, description: 'Time from request sent to response headers.' }),
    bodyTimeoutMs: Type.Integer({ default: 10_000, minimum: 100, maximum: 300_000, description: 'Longest pause while reading the body.' }),
    followRedirects: Type.Boolean({ default: true, description: 'Follow 301/302/303/307/308.' }),
    maxRedirects: Type.Integer({ default: 5, minimum: 0, maximum: 50, description: 'Redirects followed before giving up with too_many_redirects.' }),
    expectedStatus: Type.String({ default: '200-399', pattern: STATUS_SPEC_PATTERN, description: 'Accepted final status codes: list and ranges, e.g. "200-299, 301".' }),
    maxBodyBytes: Type.Integer({ default: 1_048_576, minimum: 0, maximum: 104_857_600, description: 'Most body bytes read; the rest is not downloaded.' }),
    warnAfterMs: Type.Optional(Type.Integer({ minimum: 1, description: 'Total time above which the check warns (slow).' })),
    errorAfterMs: Type.Optional(Type.Integer({ minimum: 1, description: 'Total time above which the check fails (slow).' })),
    keepAlive: Type.Boolean({ default: false, description: 'Reuse connections between checks (hides connect problems).' }),
    bodyContains: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'Text the body must contain.' })),
    bodyNotContains: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'Text the body must not contain.' })),
    bodyMatches: Type.Optional(Type.String({ format: USER_REGEX_FORMAT, minLength: 1, maxLength: 512, description: 'Regular expression the body must match (RE2 syntax, linear time: no backreferences or lookaround).' })),
    bodyNotMatches: Type.Optional(Type.String({ format: USER_REGEX_FORMAT, minLength: 1, maxLength: 512, description: 'Regular expression the body must not match (RE2 syntax).' })),
    ignoreCase: Type.Boolean({ default: false, description: 'Body text and expressions match case-insensitively.' }),
    verifyTls: Type.Boolean({ default: true, description: 'Verify certificates (chain, expiry, host name). false still reports the certificate and its expiry.' }),
    certWarnDays: Type.Integer({ default: 14, minimum: 0, maximum: 3650, description: 'Warn (cert_expiring) when the certificate expires within this many days; 0 turns it off.' }),
  },
  { additionalProperties: false },
);

export type HttpConfig = Type.Static<typeof httpConfigSchema>;

/** Request headers (lower case) whose values are always secret. */
const SECRET_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'x-api-key'];

/** Paths of the secret values in `headers`: the always-secret names and those in secretHeaders, case-insensitively. */
export function secretHeaderPaths(cfg: { headers?: Record<string, string>; secretHeaders?: readonly string[] }): string[][] {
  const secret = new Set([...SECRET_HEADERS, ...(cfg.secretHeaders ?? []).map((h) => h.toLowerCase())]);
  return Object.keys(cfg.headers ?? {})
    .filter((name) => secret.has(name.toLowerCase()))
    .map((name) => ['headers', name]);
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const WEB_SCHEMES = new Set(['http:', 'https:']);
const USER_AGENT = 'webmon/0.1 (+https://github.com/webmon)';

/** Closes the pooled connections (executor shutdown). */
export const closeHttpAgents = closeAgents;

export interface FetchOutcome {
  status: number;
  url: string;
  redirects: number;
  bytes: number;
  truncated: boolean;
  headers: Record<string, string | string[] | undefined>;
  ttfbMs: number;
  totalMs: number;
  /** Connection phases summed over every hop that opened a connection. */
  dnsMs?: number;
  connectMs?: number;
  tlsMs?: number;
  /** Certificate of the last TLS connection (the one that served the final response). */
  cert?: PeerCertificate;
  /** Body bytes read (up to maxBodyBytes), when requested. */
  body?: Buffer;
}

export class RedirectError extends Error {
  constructor(
    readonly reason: 'redirect_loop' | 'too_many_redirects' | 'protocol',
    message: string,
    readonly redirects: number,
  ) {
    super(message);
  }
}

/**
 * Performs the request with redirects, every connection through `egress`; throws network errors,
 * RedirectError and EgressDeniedError.
 */
export async function fetchUrl(url: URL, cfg: HttpConfig, signal: AbortSignal, keepBody: boolean, egress: EgressGuard): Promise<FetchOutcome> {
  const started = performance.now();
  const phases: { dnsMs?: number; connectMs?: number; tlsMs?: number; cert?: PeerCertificate } = {};
  // Header names are case-insensitive: lower-case them so a configured User-Agent replaces ours.
  let headers: Record<string, string> = { 'user-agent': USER_AGENT };
  for (const [name, value] of Object.entries(cfg.headers)) headers[name.toLowerCase()] = value;
  let current = url;
  let method: string = cfg.method;
  let body: string | undefined = cfg.body;
  let redirects = 0;
  // A loop is the same request seen twice; POST /x → 303 → GET /x is not one.
  const visited = new Set<string>([`${method} ${url.href}`]);
  for (;;) {
    const probe = new Probe();
    const hop = current;
    // Taken per hop: the pool map is bounded, and a pool evicted between hops is closed.
    const dispatcher = agentFor(cfg.connectTimeoutMs, cfg.verifyTls, egress);
    const res: Dispatcher.ResponseData = await withProbe(probe, () =>
      request(hop, {
        method: method as Dispatcher.HttpMethod,
        headers,
        body,
        dispatcher,
        signal,
        headersTimeout: cfg.headersTimeoutMs,
        bodyTimeout: cfg.bodyTimeoutMs,
        reset: !cfg.keepAlive,
      }),
    );
    const t = probe.timing;
    if (t && !t.reused) {
      for (const k of ['dnsMs', 'connectMs', 'tlsMs'] as const) if (t[k] !== undefined) phases[k] = (phases[k] ?? 0) + t[k];
      if (t.cert) phases.cert = t.cert;
    }
    const ttfbMs = performance.now() - started;
    const location = res.headers.location;
    if (cfg.followRedirects && REDIRECTS.has(res.statusCode) && typeof location === 'string') {
      await res.body.dump();
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        throw new RedirectError('protocol', `invalid Location header ${JSON.stringify(location.slice(0, 200))}`, redirects);
      }
      checkRedirectTarget(current, next, egress, redirects);
      // Fetch standard: 303 turns any method but GET/HEAD into GET; 301/302 turn POST into GET.
      const nextMethod = (res.statusCode === 303 && method !== 'GET' && method !== 'HEAD') || ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST') ? 'GET' : method;
      const key = `${nextMethod} ${next.href}`;
      if (visited.has(key)) throw new RedirectError('redirect_loop', `redirect loop: ${current.href} -> ${next.href}`, redirects + 1);
      if (redirects >= cfg.maxRedirects) throw new RedirectError('too_many_redirects', `more than ${cfg.maxRedirects} redirects`, redirects + 1);
      visited.add(key);
      redirects++;
      if (nextMethod !== method) {
        method = nextMethod;
        body = undefined;
      }
      if (next.origin !== current.origin) headers = withoutSecrets(headers, cfg.secretHeaders);
      current = next;
      continue;
    }
    let bytes = 0;
    let truncated = false;
    const chunks: Buffer[] = [];
    if (method !== 'HEAD') {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        const room = cfg.maxBodyBytes - bytes;
        if (chunk.length > room) {
          // Leaving the loop destroys the stream: the rest is never downloaded.
          if (keepBody && room > 0) chunks.push(chunk.subarray(0, room));
          bytes += room;
          truncated = true;
          break;
        }
        if (keepBody) chunks.push(chunk);
        bytes += chunk.length;
      }
    } else {
      await res.body.dump();
    }
    const out: FetchOutcome = {
      status: res.statusCode,
      url: current.href,
      redirects,
      bytes,
      truncated,
      headers: res.headers,
      ttfbMs,
      totalMs: performance.now() - started,
      ...phases,
    };
    if (keepBody) out.body = Buffer.concat(chunks);
    return out;
  }
}

/**
 * Refuses a redirect to another scheme than http(s), or to a host the guard refuses by name or
 * literal address (a name's addresses are judged when the hop connects).
 */
function checkRedirectTarget(from: URL, next: URL, egress: EgressGuard, redirects: number): void {
  if (!WEB_SCHEMES.has(next.protocol)) {
    throw new RedirectError('protocol', `redirect from ${from.origin} to a ${next.protocol.slice(0, 20)} URL refused: only http and https are followed`, redirects + 1);
  }
  const refused = egress.judgeHost(next.hostname);
  if (refused) throw new EgressDeniedError(`redirect to ${next.origin} refused: ${refused}`);
}

/** The request headers without the secret ones (names are lower case here), for another origin. */
function withoutSecrets(headers: Record<string, string>, secretHeaders: readonly string[] | undefined): Record<string, string> {
  const secret = new Set(secretHeaderPaths({ headers, secretHeaders }).map(([, name]) => name));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (!secret.has(k)) out[k] = v;
  return out;
}

/** Key under which a check's page fetch is shared between plugins (see fetchPage). */
export const PAGE_KEY = 'http:page';

/**
 * Fetches the asset's page once per check and shares it with every plugin of the check that
 * asks (http, htmlstats, …). The request options are the http plugin's when it is enabled on
 * the asset (`ctx.assetConfig.http`), else `fallback`, whichever plugin asks first. The body is
 * kept when another plugin may need it or a body rule is set; otherwise it is read and dropped.
 */
export function fetchPage(ctx: Pick<PluginContext, 'shared' | 'signal' | 'assetConfig' | 'egress'>, url: URL, fallback: HttpConfig): Promise<FetchOutcome> {
  const cfg = (ctx.assetConfig?.http as HttpConfig | undefined) ?? fallback;
  const sharedWithOthers = ctx.assetConfig ? Object.keys(ctx.assetConfig).some((name) => name !== 'http') : true;
  const keepBody = sharedWithOthers || hasBodyRules(cfg);
  return ctx.shared.once(PAGE_KEY, () => fetchUrl(url, cfg, ctx.signal, keepBody, ctx.egress));
}

/** The result for a page that could not be fetched: a redirect problem or a classified network error. */
export function fetchFailure(err: unknown, signal: AbortSignal, prefix = ''): PluginOutput {
  if (err instanceof RedirectError) return fail(err.reason, `${prefix}${err.message}`, { redirects: err.redirects });
  const c = classifyError(err, signal);
  return fail(c.reason, `${prefix}${c.message}`);
}

function hasBodyRules(cfg: HttpConfig): boolean {
  return Boolean(cfg.bodyContains || cfg.bodyNotContains || cfg.bodyMatches || cfg.bodyNotMatches);
}

export const httpPlugin = definePlugin({
  name: 'http',
  description: 'Requests an HTTP(S) URL and checks status, timing and size.',
  schemes: ['http', 'https'],
  configSchema: httpConfigSchema,
  secretPaths: secretHeaderPaths,
  close: closeHttpAgents,
  async run(target, cfg, ctx): Promise<PluginOutput> {
    let res: FetchOutcome;
    try {
      res = await fetchPage(ctx, target.url, cfg);
    } catch (err) {
      return fetchFailure(err, ctx.signal);
    }
    return evaluate(res, cfg, Date.now(), { signal: ctx.signal, owner: target.owner });
  },
});

/** Turns a fetched response into a result: status, body, time and certificate rules, worst first. */
export async function evaluate(res: FetchOutcome, cfg: HttpConfig, now = Date.now(), match: MatchOptions = {}): Promise<PluginOutput> {
  const metrics: Record<string, number> = {
    statusCode: res.status,
    totalMs: round(res.totalMs),
    ttfbMs: round(res.ttfbMs),
    bytes: res.bytes,
    redirects: res.redirects,
  };
  if (res.dnsMs !== undefined) metrics.dnsMs = round(res.dnsMs);
  if (res.connectMs !== undefined) metrics.connectMs = round(res.connectMs);
  if (res.tlsMs !== undefined) metrics.tlsMs = round(res.tlsMs);
  const details: Record<string, unknown> = { finalUrl: res.url };
  if (res.truncated) details.truncated = true;
  let certDaysLeft: number | undefined;
  if (res.cert) {
    certDaysLeft = Math.floor(((res.cert.validTo - now) / 86_400_000) * 100) / 100;
    metrics.certDaysLeft = certDaysLeft;
    details.certificate = { subject: res.cert.subject, issuer: res.cert.issuer, validTo: new Date(res.cert.validTo).toISOString() };
  }
  const retryAfter = res.status === 429 || res.status === 503 ? parseRetryAfter(res.headers['retry-after'], now) : undefined;
  if (retryAfter !== undefined) {
    metrics.retryAfterSec = retryAfter;
    details.retryAfterSec = retryAfter;
  }
  const took = `${Math.round(res.totalMs)} ms`;

  if (!statusMatches(res.status, parseStatusSpec(cfg.expectedStatus))) {
    const reason = res.status === 429 ? 'rate_limited' : 'http_status';
    const wait = retryAfter !== undefined ? `, retry after ${retryAfter} s` : '';
    return fail(reason, `HTTP ${res.status}, expected ${cfg.expectedStatus}${wait}`, metrics, details);
  }
  const mismatch = await bodyMismatch(res, cfg, match);
  if (mismatch) return fail(mismatch.reason, mismatch.message, metrics, details);
  if (cfg.errorAfterMs !== undefined && res.totalMs > cfg.errorAfterMs) {
    return fail('slow', `took ${took}, limit ${cfg.errorAfterMs} ms`, metrics, details);
  }
  if (certDaysLeft !== undefined && certDaysLeft < 0) {
    return fail('tls', `certificate expired ${Math.floor(-certDaysLeft)} days ago`, metrics, details);
  }
  if (cfg.warnAfterMs !== undefined && res.totalMs > cfg.warnAfterMs) {
    return warn('slow', `took ${took}, warning above ${cfg.warnAfterMs} ms`, metrics, details);
  }
  if (certDaysLeft !== undefined && certDaysLeft < cfg.certWarnDays) {
    return warn('cert_expiring', `certificate expires in ${Math.floor(certDaysLeft)} days`, metrics, details);
  }
  return ok(`HTTP ${res.status} in ${took}`, metrics, details);
}

/**
 * Why the body fails the configured content rules, or null. Only the bytes read are searched;
 * expressions run in RE2 (linear time), an expression RE2 cannot run is `unsupported`.
 */
async function bodyMismatch(res: FetchOutcome, cfg: HttpConfig, match: MatchOptions): Promise<{ reason: 'body_mismatch' | 'unsupported' | 'timeout'; message: string } | null> {
  if (!hasBodyRules(cfg)) return null;
  const raw = res.body?.toString('utf8') ?? '';
  const text = cfg.ignoreCase ? raw.toLowerCase() : raw;
  const norm = (s: string) => (cfg.ignoreCase ? s.toLowerCase() : s);
  const flags = cfg.ignoreCase ? 'i' : '';
  const mismatch = (message: string) => ({ reason: 'body_mismatch' as const, message });
  if (cfg.bodyContains && !text.includes(norm(cfg.bodyContains))) return mismatch(`body does not contain ${JSON.stringify(cfg.bodyContains)}`);
  if (cfg.bodyNotContains && text.includes(norm(cfg.bodyNotContains))) return mismatch(`body contains ${JSON.stringify(cfg.bodyNotContains)}`);
  // The bytes go to the matcher as they are (decoded there): a large body is not copied twice.
  const body = res.body ?? Buffer.alloc(0);
  const matches = (source: string) => userRegex(source, { ignoreCase: cfg.ignoreCase }).match(body, match);
  try {
    if (cfg.bodyMatches && !(await matches(cfg.bodyMatches))) return mismatch(`body does not match /${cfg.bodyMatches}/${flags}`);
    if (cfg.bodyNotMatches && (await matches(cfg.bodyNotMatches))) return mismatch(`body matches /${cfg.bodyNotMatches}/${flags}`);
  } catch (err) {
    if (err instanceof UserRegexError) return { reason: 'unsupported', message: `/${err.source}/: ${err.message}` };
    if (err instanceof RegexTimeoutError) return { reason: 'timeout', message: `body rule: ${err.message}` };
    throw err;
  }
  return null;
}

/** Retry-After as seconds from now: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, Math.round((at - now) / 1000)) : undefined;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
