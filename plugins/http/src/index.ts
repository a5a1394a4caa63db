/**
 * HTTP(S) check: requests the URL (following redirects up to a limit), checks the status against
 * the expected ranges and reports status code, timings, bytes read and redirects followed.
 * Connections are not reused across checks by default, so every check measures a real connect,
 * as a visitor arriving fresh would see it.
 */
import Type from 'typebox';
import { Agent, request, type Dispatcher } from 'undici';
import { classifyError, definePlugin, fail, ok, warn, type PluginContext, type PluginOutput } from '@webmon/plugin-sdk';
import { STATUS_SPEC_PATTERN, parseStatusSpec, statusMatches } from './status-ranges.js';

export const httpConfigSchema = Type.Object(
  {
    method: Type.Enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], {
      default: 'GET',
      description: 'Request method.',
    }),
    headers: Type.Record(Type.String(), Type.String({ maxLength: 8192 }), {
      default: {},
      propertyNames: { pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$' },
      description: 'Extra request headers (names are HTTP tokens). Authorization and Cookie are not sent to other origins on redirect.',
    }),
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
  },
  { additionalProperties: false },
);

export type HttpConfig = Type.Static<typeof httpConfigSchema>;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'webmon/0.1 (+https://github.com/webmon)';

/** One pooled dispatcher per process and connect timeout (few distinct values in practice). */
const agents = new Map<number, Agent>();
function agentFor(connectTimeoutMs: number): Agent {
  let agent = agents.get(connectTimeoutMs);
  if (!agent) {
    agent = new Agent({ connect: { timeout: connectTimeoutMs }, keepAliveTimeout: 4_000, connections: null });
    agents.set(connectTimeoutMs, agent);
  }
  return agent;
}

/** Closes the pooled connections (executor shutdown). */
export async function closeHttpAgents(): Promise<void> {
  const all = [...agents.values()];
  agents.clear();
  await Promise.all(all.map((a) => a.close()));
}

export interface FetchOutcome {
  status: number;
  url: string;
  redirects: number;
  bytes: number;
  truncated: boolean;
  headers: Record<string, string | string[] | undefined>;
  ttfbMs: number;
  totalMs: number;
  /** Body bytes read (up to maxBodyBytes), when requested. */
  body?: Buffer;
}

export class RedirectError extends Error {
  constructor(
    readonly reason: 'redirect_loop' | 'too_many_redirects',
    message: string,
    readonly redirects: number,
  ) {
    super(message);
  }
}

/** Performs the request with redirects; throws network errors and RedirectError. */
export async function fetchUrl(url: URL, cfg: HttpConfig, signal: AbortSignal, keepBody: boolean): Promise<FetchOutcome> {
  const started = performance.now();
  const dispatcher = agentFor(cfg.connectTimeoutMs);
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
    const res: Dispatcher.ResponseData = await request(current, {
      method: method as Dispatcher.HttpMethod,
      headers,
      body,
      dispatcher,
      signal,
      headersTimeout: cfg.headersTimeoutMs,
      bodyTimeout: cfg.bodyTimeoutMs,
      reset: !cfg.keepAlive,
    });
    const ttfbMs = performance.now() - started;
    const location = res.headers.location;
    if (cfg.followRedirects && REDIRECTS.has(res.statusCode) && typeof location === 'string') {
      await res.body.dump();
      const next = new URL(location, current);
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
      if (next.origin !== current.origin) headers = withoutCredentials(headers);
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
    };
    if (keepBody) out.body = Buffer.concat(chunks);
    return out;
  }
}

const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

function withoutCredentials(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (!CREDENTIAL_HEADERS.has(k)) out[k] = v;
  return out;
}

/** Key under which a check's page fetch is shared between plugins (see fetchPage). */
export const PAGE_KEY = 'http:page';

/**
 * Fetches the asset's page once per check, body included, and shares it with every plugin of
 * the check that asks (http, htmlstats, …). The executor runs plugins in registration order, so
 * when the http plugin is enabled its request options are the ones used.
 */
export function fetchPage(ctx: Pick<PluginContext, 'shared' | 'signal'>, url: URL, cfg: HttpConfig): Promise<FetchOutcome> {
  return ctx.shared.once(PAGE_KEY, () => fetchUrl(url, cfg, ctx.signal, true));
}

export const httpPlugin = definePlugin({
  name: 'http',
  description: 'Requests an HTTP(S) URL and checks status, timing and size.',
  schemes: ['http', 'https'],
  configSchema: httpConfigSchema,
  close: closeHttpAgents,
  async run(target, cfg, ctx): Promise<PluginOutput> {
    let res: FetchOutcome;
    try {
      res = await fetchPage(ctx, target.url, cfg);
    } catch (err) {
      if (err instanceof RedirectError) return fail(err.reason, err.message, { redirects: err.redirects });
      const c = classifyError(err, ctx.signal);
      return fail(c.reason, c.message);
    }
    const metrics: Record<string, number> = {
      statusCode: res.status,
      totalMs: round(res.totalMs),
      ttfbMs: round(res.ttfbMs),
      bytes: res.bytes,
      redirects: res.redirects,
    };
    const details: Record<string, unknown> = { finalUrl: res.url };
    if (res.truncated) details.truncated = true;
    if (!statusMatches(res.status, parseStatusSpec(cfg.expectedStatus))) {
      return fail('http_status', `HTTP ${res.status}, expected ${cfg.expectedStatus}`, metrics, details);
    }
    if (cfg.errorAfterMs !== undefined && res.totalMs > cfg.errorAfterMs) {
      return fail('slow', `took ${Math.round(res.totalMs)} ms, limit ${cfg.errorAfterMs} ms`, metrics, details);
    }
    if (cfg.warnAfterMs !== undefined && res.totalMs > cfg.warnAfterMs) {
      return warn('slow', `took ${Math.round(res.totalMs)} ms, warning above ${cfg.warnAfterMs} ms`, metrics, details);
    }
    return ok(`HTTP ${res.status} in ${Math.round(res.totalMs)} ms`, metrics, details);
  },
});

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
