/**
 * One request and its response, on one hop of a page fetch (fetch.ts follows the redirects).
 *
 * Two transports, one shape:
 * - a new connection per check (the default, `keepAlive: false`): Node's own http/https client
 *   with no agent (the socket comes from `createConnection`, so no Agent is made per request),
 *   whose C parser costs about half of undici's CPU per new connection on this path
 *   (`node bench/http-client.mjs`), and whose socket events give the phases directly;
 * - pooled keep-alive connections (`keepAlive: true`): undici's pools (connection.ts), where a
 *   reused connection has no connect phase to measure.
 * Either way the host is judged by the egress guard before connecting and names are resolved by
 * the guard's lookup, so the address judged is the address used.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { request, type Dispatcher } from 'undici';
import { EgressDeniedError, type EgressGuard } from '@webmon/core';
import { Probe, agentFor, socketFacts, withProbe, type ConnectionTiming } from './connection.js';
import type { PageRequest } from './options.js';

export interface HopRequest {
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  signal: AbortSignal;
}

export interface HopResponse {
  statusCode: number;
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>;
  /** The body (fetch.ts reads it with readBody); destroying it closes the connection. */
  body: Readable;
  /** Reads the rest of the body and drops it. */
  dump(): Promise<void>;
  /** The connection's phases; `reused` when a pooled connection served it. */
  timing: ConnectionTiming | undefined;
}

type Transport = Pick<PageRequest, 'connectTimeoutMs' | 'headersTimeoutMs' | 'bodyTimeoutMs' | 'verifyTls' | 'keepAlive'>;

export function exchange(url: URL, req: HopRequest, cfg: Transport, egress: EgressGuard): Promise<HopResponse> {
  return cfg.keepAlive ? pooledExchange(url, req, cfg, egress) : freshExchange(url, req, cfg, egress);
}

async function pooledExchange(url: URL, req: HopRequest, cfg: Transport, egress: EgressGuard): Promise<HopResponse> {
  const probe = new Probe();
  // Taken per hop: the pool map is bounded, and a pool evicted between hops is closed.
  const dispatcher = agentFor(cfg.connectTimeoutMs, cfg.verifyTls, egress);
  const res: Dispatcher.ResponseData = await withProbe(probe, () =>
    request(url, {
      method: req.method as Dispatcher.HttpMethod,
      headers: req.headers,
      body: req.body,
      dispatcher,
      signal: req.signal,
      headersTimeout: cfg.headersTimeoutMs,
      bodyTimeout: cfg.bodyTimeoutMs,
    }),
  );
  return { statusCode: res.statusCode, headers: res.headers, body: res.body, dump: () => res.body.dump(), timing: probe.timing };
}

/** An error with the code classifyError reads as a timeout. */
function timeoutError(what: string, ms: number): Error {
  return Object.assign(new Error(`${what} timed out after ${ms} ms`), { code: 'ETIMEDOUT' });
}

/** The error a request cut short by its signal ends with (as Node's client gives it for `signal`). */
function abortError(reason: unknown): Error {
  return Object.assign(new Error('The operation was aborted', { cause: reason }), { name: 'AbortError', code: 'ABORT_ERR' });
}

/** One request on a connection of its own, closed after the response. */
function freshExchange(url: URL, req: HopRequest, cfg: Transport, egress: EgressGuard): Promise<HopResponse> {
  const refused = egress.judgeHost(url.hostname);
  if (refused) return Promise.reject(new EgressDeniedError(refused));
  const tls = url.protocol === 'https:';
  const headers: Record<string, string> = { ...req.headers };
  if (req.body !== undefined && headers['content-length'] === undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const timing: ConnectionTiming = { reused: false };
    let lookupAt: number | undefined;
    let connectAt: number | undefined;
    let timer: NodeJS.Timeout | undefined;
    const arm = (what: string, ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(() => outgoing.destroy(timeoutError(what, ms)), ms);
    };
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    const options: https.RequestOptions = {
      protocol: url.protocol,
      hostname,
      port: url.port || (tls ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      method: req.method,
      headers,
      // No agent: `agent: false` would make one per request; the socket is made here instead,
      // with the name sent in TLS's SNI as an agent would (never an address).
      createConnection: (tls ? tlsConnect : netConnect) as unknown as http.RequestOptions['createConnection'],
      lookup: egress.lookup as http.RequestOptions['lookup'],
      // No `signal` option: it watches each request's end with stream `finished` machinery; one
      // listener on the signal, removed when the request closes, does the same (below).
      ...(tls ? { rejectUnauthorized: cfg.verifyTls, servername: isIP(hostname) ? undefined : hostname } : {}),
    };
    const outgoing = (tls ? https : http).request(options);
    const onAbort = () => outgoing.destroy(abortError(req.signal.reason));
    if (req.signal.aborted) onAbort();
    else {
      req.signal.addEventListener('abort', onAbort, { once: true });
      outgoing.once('close', () => req.signal.removeEventListener('abort', onAbort));
    }
    arm('connect', cfg.connectTimeoutMs);
    outgoing.once('socket', (socket: Socket) => {
      socket.once('lookup', () => {
        lookupAt = performance.now();
        timing.dnsMs = lookupAt - start;
      });
      socket.once('connect', () => {
        connectAt = performance.now();
        timing.connectMs = connectAt - (lookupAt ?? start);
        if (tls) return;
        Object.assign(timing, socketFacts(socket, false));
        arm('headers', cfg.headersTimeoutMs);
      });
      if (tls) {
        socket.once('secureConnect', () => {
          timing.tlsMs = performance.now() - (connectAt ?? start);
          Object.assign(timing, socketFacts(socket, true));
          arm('headers', cfg.headersTimeoutMs);
        });
      }
    });
    // Errors after the response reach its body's reader; a promise settles once.
    outgoing.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    outgoing.once('response', (res) => {
      clearTimeout(timer);
      // Longest pause while reading the body: the socket's idle timeout from here on.
      res.socket.setTimeout(cfg.bodyTimeoutMs, () => res.destroy(timeoutError('body', cfg.bodyTimeoutMs)));
      resolve({
        statusCode: res.statusCode ?? 0,
        headers: res.headers,
        body: res,
        dump: () =>
          new Promise<void>((done, fail) => {
            res.once('end', done).once('error', fail).resume();
          }),
        timing,
      });
    });
    outgoing.end(req.body);
  });
}
