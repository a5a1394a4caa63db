/**
 * HTTP(S) check: requests the URL (following redirects up to a limit), checks the status against
 * the expected ranges and reports status code, timings, bytes read and redirects followed.
 * Connections are not reused across checks by default, so every check measures a real connect,
 * as a visitor arriving fresh would see it. The request is the SDK's shared page fetch
 * (fetchPage): every connection, redirect hops included, goes through the check's egress guard,
 * and a refused hop ends the check with `denied`.
 */
import { isIP } from 'node:net';
import Type from 'typebox';
import {
  closePageAgents,
  daysLeft,
  definePlugin,
  fail,
  fetchFailure,
  fetchPage,
  headerValue,
  ok,
  retryAfterMs,
  round,
  pageRequestSchema,
  secretHeaderPaths,
  warn,
  type FetchOutcome,
  type PluginOutput,
} from '@webmon/plugin-sdk';
import { RegexTimeoutError, USER_REGEX_FORMAT, UserRegexError, userRegex, type MatchOptions } from '@webmon/plugin-sdk';
import { STATUS_SPEC_PATTERN, parseStatusSpec, statusMatches } from './status-ranges.js';

export type { FetchOutcome } from '@webmon/plugin-sdk';

/** The request options, shared with every plugin that reads the page (see fetchPage). */
const request = pageRequestSchema.properties;

export const httpConfigSchema = Type.Object(
  {
    method: request.method,
    headers: request.headers,
    secretHeaders: request.secretHeaders,
    body: request.body,
    timeoutMs: Type.Integer({ default: 10_000, minimum: 100, maximum: 300_000, description: 'Overall time for the check, redirects included.' }),
    connectTimeoutMs: request.connectTimeoutMs,
    headersTimeoutMs: request.headersTimeoutMs,
    bodyTimeoutMs: request.bodyTimeoutMs,
    followRedirects: request.followRedirects,
    maxRedirects: request.maxRedirects,
    expectedStatus: Type.String({ default: '200-399', pattern: STATUS_SPEC_PATTERN, description: 'Accepted final status codes: list and ranges, e.g. "200-299, 301".' }),
    maxBodyBytes: request.maxBodyBytes,
    warnAfterMs: Type.Optional(Type.Integer({ minimum: 1, description: 'Total time above which the check warns (slow).' })),
    errorAfterMs: Type.Optional(Type.Integer({ minimum: 1, description: 'Total time above which the check fails (slow).' })),
    keepAlive: request.keepAlive,
    bodyContains: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'Text the body must contain.' })),
    bodyNotContains: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'Text the body must not contain.' })),
    bodyMatches: Type.Optional(Type.String({ format: USER_REGEX_FORMAT, minLength: 1, maxLength: 512, description: 'Regular expression the body must match (RE2 syntax, linear time: no backreferences or lookaround).' })),
    bodyNotMatches: Type.Optional(Type.String({ format: USER_REGEX_FORMAT, minLength: 1, maxLength: 512, description: 'Regular expression the body must not match (RE2 syntax).' })),
    ignoreCase: Type.Boolean({ default: false, description: 'Body text and expressions match case-insensitively.' }),
    verifyTls: request.verifyTls,
    certWarnDays: Type.Integer({ default: 14, minimum: 0, maximum: 3650, description: 'Warn (cert_expiring) when the certificate expires within this many days; 0 turns it off.' }),
  },
  { additionalProperties: false },
);

export type HttpConfig = Type.Static<typeof httpConfigSchema>;

function hasBodyRules(cfg: HttpConfig): boolean {
  return Boolean(cfg.bodyContains || cfg.bodyNotContains || cfg.bodyMatches || cfg.bodyNotMatches);
}

export const httpPlugin = definePlugin({
  name: 'http',
  description: 'Requests an HTTP(S) URL and checks status, timing and size.',
  schemes: ['http', 'https'],
  configSchema: httpConfigSchema,
  secretPaths: secretHeaderPaths,
  close: closePageAgents,
  async run(target, cfg, ctx): Promise<PluginOutput> {
    let res: FetchOutcome;
    try {
      res = await fetchPage(ctx, target.url, cfg, hasBodyRules(cfg));
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
  Object.assign(metrics, responseFacts(res));
  const details: Record<string, unknown> = { finalUrl: res.url };
  // The address connected to, when the URL names a host (an IP literal is its own address).
  if (res.address && !isIP(new URL(res.url).hostname.replace(/^\[|\]$/g, ''))) details.address = res.address;
  if (res.tlsVersion) details.tlsVersion = res.tlsVersion;
  if (res.truncated) details.truncated = true;
  let certDaysLeft: number | undefined;
  if (res.cert) {
    certDaysLeft = daysLeft(res.cert.validTo, now);
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
 * Facts of the final response a Prometheus probe reports: the Content-Length header (-1 when
 * absent), the Last-Modified header (seconds since the epoch) and the connection's IP family.
 */
function responseFacts(res: FetchOutcome): Record<string, number> {
  const facts: Record<string, number> = {};
  const length = Number(headerValue(res, 'content-length'));
  facts.contentLength = headerValue(res, 'content-length') !== undefined && Number.isSafeInteger(length) ? length : -1;
  const modified = Date.parse(headerValue(res, 'last-modified') ?? '');
  if (Number.isFinite(modified)) facts.lastModifiedSec = Math.floor(modified / 1000);
  if (res.family) facts.ipFamily = res.family;
  return facts;
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
  const ms = retryAfterMs(value, now);
  return ms === undefined ? undefined : Math.round(ms / 1000);
}

