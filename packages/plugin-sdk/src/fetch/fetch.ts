/**
 * The page of an http(s) asset, fetched once per check and shared by every plugin that needs it
 * (http, htmlstats, …). Redirects are followed up to a limit; every connection, redirect hops
 * included, goes through the check's egress guard (see connection.ts), and a hop to another
 * scheme or to a host the guard refuses ends the fetch. At most `maxBodyBytes` are read.
 */
import type { Readable } from 'node:stream';
import { EgressDeniedError, type EgressGuard } from '@webmon/core';
import { classifyError } from '../classify.js';
import type { PluginContext, PluginOutput } from '../index.js';
import { fail } from '../output.js';
import type { ConnectionTiming } from './connection.js';
import { exchange } from './exchange.js';
import { secretHeaderPaths, type PageRequest } from './options.js';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const WEB_SCHEMES = new Set(['http:', 'https:']);
const USER_AGENT = 'webmon/0.1 (+https://github.com/webmon)';

/**
 * A fetched page. Its connection fields (see ConnectionTiming): the phases summed over every hop
 * that opened a connection; the certificate, address, family and TLS protocol of the last one
 * (the connection that served the final response).
 */
export interface FetchOutcome extends Omit<ConnectionTiming, 'reused'> {
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
export async function fetchUrl(url: URL, cfg: PageRequest, signal: AbortSignal, keepBody: boolean, egress: EgressGuard): Promise<FetchOutcome> {
  const started = performance.now();
  const phases: Pick<FetchOutcome, 'dnsMs' | 'connectMs' | 'tlsMs' | 'cert' | 'address' | 'family' | 'tlsVersion'> = {};
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
    const res = await exchange(current, { method, headers, body, signal }, cfg, egress);
    const t = res.timing;
    if (t && !t.reused) {
      for (const k of ['dnsMs', 'connectMs', 'tlsMs'] as const) if (t[k] !== undefined) phases[k] = (phases[k] ?? 0) + t[k];
      if (t.cert) phases.cert = t.cert;
      for (const k of ['address', 'family', 'tlsVersion'] as const) if (t[k] !== undefined) Object.assign(phases, { [k]: t[k] });
    }
    const ttfbMs = performance.now() - started;
    const location = res.headers.location;
    if (cfg.followRedirects && REDIRECTS.has(res.statusCode) && typeof location === 'string') {
      await res.dump();
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
    let read: BodyRead = { bytes: 0, truncated: false, chunks: [] };
    if (method !== 'HEAD') read = await readBody(res.body, cfg.maxBodyBytes, keepBody);
    else await res.dump();
    const { bytes, truncated, chunks } = read;
    const out: FetchOutcome = {
      status: res.statusCode,
      url: current.href,
      redirects,
      bytes,
      truncated,
      headers: res.headers as FetchOutcome['headers'],
      ttfbMs,
      totalMs: performance.now() - started,
      ...phases,
    };
    if (keepBody) out.body = Buffer.concat(chunks);
    return out;
  }
}

interface BodyRead {
  bytes: number;
  truncated: boolean;
  chunks: Buffer[];
}

/**
 * Reads a body up to `maxBytes` (the chunks kept when `keep`), with plain stream events: an
 * async iterator costs a promise and stream bookkeeping per chunk. Past the cap the stream is
 * destroyed and the rest is never downloaded. Rejects with the stream's error, or, when it
 * closes before its end, with the error an async iterator gives (premature close).
 */
export function readBody(body: Readable, maxBytes: number, keep: boolean): Promise<BodyRead> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const settle = (err: Error | null, truncated = false) => {
      body.off('data', onData).off('end', onEnd).off('error', settle).off('close', onClose);
      if (err) reject(err);
      else resolve({ bytes, truncated, chunks });
    };
    const onData = (chunk: Buffer) => {
      const room = maxBytes - bytes;
      if (chunk.length > room) {
        if (keep && room > 0) chunks.push(chunk.subarray(0, room));
        bytes += room;
        settle(null, true);
        // A destroyed undici body emits an abort error; nobody waits for it any more.
        body.on('error', () => undefined).destroy();
        return;
      }
      if (keep) chunks.push(chunk);
      bytes += chunk.length;
    };
    const onEnd = () => settle(null);
    const onClose = () => settle(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    if (body.readableEnded) return settle(null);
    if (body.destroyed) return onClose();
    body.on('data', onData).once('end', onEnd).once('error', settle).once('close', onClose);
  });
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

/** The plugin whose options, when it is enabled on the asset, are the shared request's. */
export const PAGE_OPTIONS_PLUGIN = 'http';

/**
 * Fetches the asset's page once per check and shares it with every plugin of the check that
 * asks. The request options are the http plugin's when it is enabled on the asset
 * (`ctx.assetConfig.http`), else `fallback`, whichever plugin asks first. The body is kept when
 * another plugin may need it or the caller says it does (`needsBody`); otherwise it is read and
 * dropped.
 */
export function fetchPage(
  ctx: Pick<PluginContext, 'shared' | 'signal' | 'assetConfig' | 'egress'>,
  url: URL,
  fallback: PageRequest,
  needsBody = false,
): Promise<FetchOutcome> {
  const cfg = (ctx.assetConfig?.[PAGE_OPTIONS_PLUGIN] as PageRequest | undefined) ?? fallback;
  const sharedWithOthers = ctx.assetConfig ? Object.keys(ctx.assetConfig).some((name) => name !== PAGE_OPTIONS_PLUGIN) : true;
  const keepBody = sharedWithOthers || needsBody;
  return ctx.shared.once(PAGE_KEY, () => fetchUrl(url, cfg, ctx.signal, keepBody, ctx.egress));
}

/** The result for a page that could not be fetched: a redirect problem or a classified network error. */
export function fetchFailure(err: unknown, signal: AbortSignal, prefix = ''): PluginOutput {
  if (err instanceof RedirectError) return fail(err.reason, `${prefix}${err.message}`, { redirects: err.redirects });
  const c = classifyError(err, signal);
  return fail(c.reason, `${prefix}${c.message}`);
}

/** The value of a response header (the first, when it was sent several times). */
export function headerValue(page: Pick<FetchOutcome, 'headers'>, name: string): string | undefined {
  const v = page.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
