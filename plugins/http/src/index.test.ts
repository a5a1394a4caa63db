/**
 * The HTTP plugin against real servers on 127.0.0.1 (node:http, node:https, node:net), run
 * through runPlugin with a config validated by PluginRegistry: the same path the executor takes.
 * Nothing is mocked. Every server is closed in afterAll; every loop has a bound.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import Type from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PluginRegistry,
  clientEgress,
  createSharedCache,
  memoryStorage,
  definePlugin,
  operatorEgress,
  runPlugin,
  type AnyPlugin,
  type CheckResult,
  type EgressGuard,
} from '@webmon/plugin-sdk';
import { MAX_AGENTS, agentCount, agentFor } from '@webmon/plugin-sdk';
import { evaluate, httpPlugin, parseRetryAfter, type FetchOutcome } from './index.js';
import { parseStatusSpec, statusMatches } from './status-ranges.js';
import { hasOpenssl, NO_OPENSSL } from '../../../test/helpers/pki.js';

// ---------------------------------------------------------------------------------------------
// Context, registry and the check helper

const registry = new PluginRegistry([httpPlugin]);
const silentLog = pino({ level: 'silent' });

function ctx(egress: EgressGuard = operatorEgress()) {
  return { log: silentLog, storage: memoryStorage(), shared: createSharedCache(), egress };
}

function validated(options: Record<string, unknown>): Record<string, unknown> {
  const v = registry.validate('http', options);
  if (!v.ok) throw new Error(`invalid test config: ${JSON.stringify(v.problems)}`);
  return v.value;
}

/** One check as the executor runs it: validated config, overall deadline = config.timeoutMs. */
async function check(url: string, options: Record<string, unknown> = {}, plugin: AnyPlugin = httpPlugin, egress?: EgressGuard): Promise<CheckResult> {
  const config = validated(options);
  return runPlugin(plugin, { url: new URL(url), assetId: 'asset-http-test' }, config, ctx(egress), config.timeoutMs as number);
}

/** Resolves with `p`, or rejects after `ms` (keeps waits on server-side events bounded). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------
// Servers

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  remotePort: number;
}

/** Requests the main server received, in order. */
const seen: Seen[] = [];
/** Requests whose URL carries `t=<tag>` (each test uses its own tag). */
function seenFor(tag: string): Seen[] {
  return seen.filter((s) => new URL(s.url, 'http://x').searchParams.get('t') === tag);
}

interface BigBody {
  total: number;
  sent: number;
  finished: boolean;
  closed: Promise<void>;
}
/** State of /big responses, by tag. */
const bigBodies = new Map<string, BigBody>();

const servers: Array<Server | NetServer> = [];
const tempDirs: string[] = [];

async function listen<S extends Server | NetServer>(server: S): Promise<S> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  servers.push(server);
  return server;
}

function portOf(server: Server | NetServer): number {
  return (server.address() as AddressInfo).port;
}

function route(req: IncomingMessage, res: ServerResponse, body: string): void {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const path = url.pathname;
  const tag = url.searchParams.get('t') ?? '';
  const qs = url.search;

  if (path === '/ok') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
    return;
  }
  if (path === '/shop') {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><h1>Welcome to the Shop</h1><p>Order #12345 ready</p></body></html>');
    return;
  }
  if (path === '/ratelimited') {
    res.writeHead(429, { 'retry-after': '120' }).end('slow down');
    return;
  }
  if (path === '/unavailable') {
    res.writeHead(503, { 'retry-after': new Date(Date.now() + 60_000).toUTCString() }).end('maintenance');
    return;
  }
  const status = /^\/status\/(\d{3})$/.exec(path);
  if (status) {
    res.writeHead(Number(status[1]), { 'content-type': 'text/plain' }).end(`status ${status[1]}`);
    return;
  }
  // /redirect/<code>?to=<location>: answers <code> with Location: <to>.
  const redirect = /^\/redirect\/(\d{3})$/.exec(path);
  if (redirect) {
    res.writeHead(Number(redirect[1]), { location: url.searchParams.get('to') ?? '/ok' }).end('moved');
    return;
  }
  if (path === '/loop/a') {
    res.writeHead(302, { location: `/loop/b${qs}` }).end();
    return;
  }
  if (path === '/loop/b') {
    res.writeHead(302, { location: `/loop/a${qs}` }).end();
    return;
  }
  // /chain/<n>: n redirects, then 200.
  const chain = /^\/chain\/(\d+)$/.exec(path);
  if (chain) {
    const n = Number(chain[1]);
    if (n > 0) res.writeHead(302, { location: `/chain/${n - 1}${qs}` }).end();
    else res.writeHead(200).end('end of chain');
    return;
  }
  // Post/Redirect/Get to the same URL: POST answers 303 to itself, GET answers 200.
  if (path === '/prg') {
    if (req.method === 'POST') res.writeHead(303, { location: `/prg${qs}` }).end();
    else res.writeHead(200).end('form done');
    return;
  }
  if (path === '/hang') return; // never answers; closed by closeAllConnections in afterAll
  if (path === '/stall-body') {
    res.writeHead(200, { 'content-length': '100' });
    res.write('0123456789'); // 10 of 100 bytes, then silence
    return;
  }
  if (path === '/slow') {
    const timer = setTimeout(() => res.writeHead(200).end('slow'), Number(url.searchParams.get('ms') ?? '0'));
    res.on('close', () => clearTimeout(timer));
    return;
  }
  if (path === '/head') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' }).end(req.method === 'HEAD' ? undefined : 'x'.repeat(1000));
    return;
  }
  if (path === '/echo') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, body }));
    return;
  }
  if (path === '/big') {
    // 32 MiB in 64 KiB chunks, written as fast as the client reads; stops when the client goes.
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const total = 32 * 1024 * 1024;
    let markClosed!: () => void;
    const state: BigBody = { total, sent: 0, finished: false, closed: new Promise<void>((r) => (markClosed = r)) };
    bigBodies.set(tag, state);
    res.on('close', () => {
      state.finished = res.writableFinished;
      markClosed();
    });
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
    const pump = (): void => {
      while (state.sent < total && !res.destroyed) {
        state.sent += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      if (state.sent >= total) res.end();
    };
    pump();
    return;
  }
  res.writeHead(500).end(`no route ${path}`);
}

let base = ''; // http://127.0.0.1:<port> of the main server
let otherOrigin = ''; // a second server (a different origin) that records and answers 200
const otherSeen: Seen[] = [];
let refusedPort = 0;
let resetUrl = '';
let protocolUrl = '';
let cutShortUrl = '';

let tlsUrl = '';
/** The SNI name of each TLS connection the test server accepted (false: none sent). */
const tlsNames: Array<string | false> = [];

beforeAll(async () => {
  const main = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, remotePort: req.socket.remotePort ?? 0 });
      route(req, res, body);
    });
  });
  await listen(main);
  base = `http://127.0.0.1:${portOf(main)}`;

  const other = createServer((req, res) => {
    otherSeen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '', remotePort: req.socket.remotePort ?? 0 });
    req.resume();
    res.writeHead(200).end('other origin');
  });
  await listen(other);
  otherOrigin = `http://127.0.0.1:${portOf(other)}`;

  // A port that was bound and released: nothing listens there.
  const gone = createNetServer();
  await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', () => resolve()));
  refusedPort = portOf(gone);
  await new Promise<void>((resolve) => gone.close(() => resolve()));

  // Accepts, reads the request, then resets the connection (TCP RST).
  const resetter = createNetServer((socket) => {
    socket.once('data', () => socket.resetAndDestroy());
    socket.on('error', () => {});
  });
  await listen(resetter);
  resetUrl = `http://127.0.0.1:${portOf(resetter)}/`;

  // Promises 1000 bytes of body, sends 10, then closes the connection (FIN, no reset).
  const cutShort = createNetServer((socket) => {
    socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789'));
    socket.on('error', () => {});
  });
  await listen(cutShort);
  cutShortUrl = `http://127.0.0.1:${portOf(cutShort)}/`;

  // Answers an HTTP request with something that is not HTTP.
  const notHttp = createNetServer((socket) => {
    socket.once('data', () => socket.end('SSH-2.0-OpenSSH_9.6\r\n'));
    socket.on('error', () => {});
  });
  await listen(notHttp);
  protocolUrl = `http://127.0.0.1:${portOf(notHttp)}/`;

  if (hasOpenssl) {
    const dir = mkdtempSync(join(tmpdir(), 'webmon-http-tls-'));
    tempDirs.push(dir);
    const key = join(dir, 'k');
    const cert = join(dir, 'c');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert],
      { stdio: 'ignore', timeout: 20_000 },
    );
    const tls = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) => res.writeHead(200).end('secure'));
    tls.on('tlsClientError', () => {});
    tls.on('secureConnection', (socket) => tlsNames.push(socket.servername ?? false));
    await listen(tls);
    tlsUrl = `https://127.0.0.1:${portOf(tls)}/`;
  }
});

afterAll(async () => {
  await httpPlugin.close?.();
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          if ('closeAllConnections' in s) s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Tests

describe('http plugin: status', () => {
  it('200 is ok with status code, bytes, redirects and timings', async () => {
    const r = await check(`${base}/ok?t=ok`);
    expect(r).toMatchObject({ plugin: 'http', status: 'ok', reason: null });
    expect(r.message).toMatch(/^HTTP 200 in \d+ ms$/);
    expect(r.metrics.statusCode).toBe(200);
    expect(r.metrics.bytes).toBe(5);
    expect(r.metrics.redirects).toBe(0);
    expect(r.metrics.totalMs).toBeGreaterThan(0);
    expect(r.metrics.ttfbMs).toBeGreaterThan(0);
    expect(r.metrics.ttfbMs).toBeLessThanOrEqual(r.metrics.totalMs!);
    expect(r.durationMs).toBeGreaterThan(0);
    expect(r.details).toEqual({ finalUrl: `${base}/ok?t=ok` });
    const [req] = seenFor('ok');
    expect(req?.method).toBe('GET');
    expect(req?.headers['user-agent']).toMatch(/^webmon\//);
  });

  it('404 is error/http_status with the status code in the metrics', async () => {
    const r = await check(`${base}/status/404`);
    expect(r).toMatchObject({ status: 'error', reason: 'http_status' });
    expect(r.message).toBe('HTTP 404, expected 200-399');
    expect(r.metrics).toMatchObject({ statusCode: 404, bytes: 'status 404'.length, redirects: 0 });
    expect(r.details).toEqual({ finalUrl: `${base}/status/404` });
  });

  it('500 is error/http_status', async () => {
    const r = await check(`${base}/status/500`);
    expect(r).toMatchObject({ status: 'error', reason: 'http_status' });
    expect(r.metrics.statusCode).toBe(500);
  });

  it('expectedStatus "200-299, 404" accepts 404', async () => {
    const r = await check(`${base}/status/404`, { expectedStatus: '200-299, 404' });
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics.statusCode).toBe(404);
  });

  it('expectedStatus "200-299, 404" rejects 301 when redirects are not followed', async () => {
    const r = await check(`${base}/redirect/301?to=/ok`, { expectedStatus: '200-299, 404', followRedirects: false });
    expect(r).toMatchObject({ status: 'error', reason: 'http_status' });
    expect(r.metrics.statusCode).toBe(301);
    expect(r.message).toBe('HTTP 301, expected 200-299, 404');
  });

  it('expectedStatus "301" with followRedirects false accepts the redirect itself', async () => {
    const r = await check(`${base}/redirect/301?to=/ok&t=nofollow`, { expectedStatus: '301', followRedirects: false });
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics).toMatchObject({ statusCode: 301, redirects: 0 });
    expect(r.details?.finalUrl).toBe(`${base}/redirect/301?to=/ok&t=nofollow`);
    expect(seenFor('nofollow')).toHaveLength(1); // the target was never requested
  });

  it('expectedStatus "200" rejects a 204', async () => {
    const r = await check(`${base}/status/204`, { expectedStatus: '200' });
    expect(r).toMatchObject({ status: 'error', reason: 'http_status' });
    expect(r.metrics.statusCode).toBe(204);
  });
});

describe('http plugin: redirects', () => {
  it('follows a 302 and reports redirects=1 and the final URL', async () => {
    const r = await check(`${base}/redirect/302?to=${encodeURIComponent('/ok?t=follow')}`);
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics).toMatchObject({ statusCode: 200, redirects: 1, bytes: 5 });
    expect(r.details?.finalUrl).toBe(`${base}/ok?t=follow`);
    expect(seenFor('follow')).toHaveLength(1);
  });

  it.each([301, 302, 303, 307, 308])('follows %i', async (code) => {
    const r = await check(`${base}/redirect/${code}?to=/ok`);
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics).toMatchObject({ statusCode: 200, redirects: 1 });
    expect(r.details?.finalUrl).toBe(`${base}/ok`);
  });

  it('follows an absolute Location to another origin', async () => {
    const r = await check(`${base}/redirect/302?to=${encodeURIComponent(`${otherOrigin}/landing`)}`);
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics).toMatchObject({ statusCode: 200, redirects: 1 });
    expect(r.details?.finalUrl).toBe(`${otherOrigin}/landing`);
  });

  it('a 3xx without Location is the final response', async () => {
    const r = await check(`${base}/status/302`);
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics).toMatchObject({ statusCode: 302, redirects: 0 });
  });

  it('a redirect loop is error/redirect_loop', async () => {
    const r = await check(`${base}/loop/a?t=loop`);
    expect(r).toMatchObject({ status: 'error', reason: 'redirect_loop' });
    expect(r.message).toContain('/loop/a');
    expect(r.metrics.redirects).toBe(2);
    expect(seenFor('loop').map((s) => new URL(s.url, base).pathname)).toEqual(['/loop/a', '/loop/b']);
  });

  it('a chain longer than maxRedirects is error/too_many_redirects', async () => {
    const r = await check(`${base}/chain/3?t=toolong`, { maxRedirects: 2 });
    expect(r).toMatchObject({ status: 'error', reason: 'too_many_redirects' });
    expect(r.message).toBe('more than 2 redirects');
    expect(r.metrics.redirects).toBe(3);
    expect(seenFor('toolong')).toHaveLength(3); // /chain/3, /2, /1; /chain/0 is never requested
  });

  it('a chain of exactly maxRedirects is followed', async () => {
    const r = await check(`${base}/chain/2`, { maxRedirects: 2 });
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics).toMatchObject({ statusCode: 200, redirects: 2 });
    expect(r.details?.finalUrl).toBe(`${base}/chain/0`);
  });

  it('maxRedirects 0 refuses the first redirect', async () => {
    const r = await check(`${base}/chain/1`, { maxRedirects: 0 });
    expect(r).toMatchObject({ status: 'error', reason: 'too_many_redirects' });
  });

  it('a 303 after POST is followed with GET and no body', async () => {
    const to = encodeURIComponent('/echo?t=see-other');
    const r = await check(`${base}/redirect/303?to=${to}&t=see-other`, { method: 'POST', body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics.redirects).toBe(1);
    const reqs = seenFor('see-other');
    expect(reqs.map((s) => s.method)).toEqual(['POST', 'GET']);
    expect(reqs[0]?.body).toBe('a=1');
    expect(reqs[1]?.body).toBe('');
  });

  it('a 301 after POST is followed with GET', async () => {
    const to = encodeURIComponent('/echo?t=moved-post');
    await check(`${base}/redirect/301?to=${to}&t=moved-post`, { method: 'POST', body: 'a=1' });
    expect(seenFor('moved-post').map((s) => s.method)).toEqual(['POST', 'GET']);
  });

  it('a 307 after POST repeats the POST with its body', async () => {
    const to = encodeURIComponent('/echo?t=temp-post');
    const r = await check(`${base}/redirect/307?to=${to}&t=temp-post`, { method: 'POST', body: 'a=1' });
    expect(r).toMatchObject({ status: 'ok', reason: null });
    const reqs = seenFor('temp-post');
    expect(reqs.map((s) => s.method)).toEqual(['POST', 'POST']);
    expect(reqs.map((s) => s.body)).toEqual(['a=1', 'a=1']);
  });

  // Fetch standard, HTTP-redirect fetch step 12: a 303 changes the method to GET unless it is
  // GET or HEAD. A HEAD check must not turn into a GET that downloads the body.
  it('a 303 after HEAD is followed with HEAD', async () => {
    const to = encodeURIComponent('/head?t=head-303');
    const r = await check(`${base}/redirect/303?to=${to}&t=head-303`, { method: 'HEAD' });
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(seenFor('head-303').map((s) => s.method)).toEqual(['HEAD', 'HEAD']);
    expect(r.metrics.bytes).toBe(0);
  });

  // Post/Redirect/Get to the same URL is not a loop: the second request is a different one (GET).
  it('POST answered by a 303 to the same URL (Post/Redirect/Get) is ok, not a loop', async () => {
    const r = await check(`${base}/prg?t=prg`, { method: 'POST', body: 'a=1' });
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics).toMatchObject({ statusCode: 200, redirects: 1 });
    expect(seenFor('prg').map((s) => s.method)).toEqual(['POST', 'GET']);
  });

  // Fetch standard (and curl): credentials set for one origin are not sent to another origin.
  it('does not forward secret headers (Authorization, Cookie, X-API-Key, secretHeaders) to another origin', async () => {
    const before = otherSeen.length;
    const r = await check(`${base}/redirect/302?to=${encodeURIComponent(`${otherOrigin}/creds`)}`, {
      headers: { authorization: 'Bearer secret-token', cookie: 'session=secret', 'X-Api-Key': 'k', 'X-Tenant-Token': 't', 'x-trace': 'kept' },
      secretHeaders: ['x-tenant-token'],
    });
    expect(r).toMatchObject({ status: 'ok', reason: null });
    const got = otherSeen.slice(before);
    expect(got).toHaveLength(1);
    expect(got[0]?.headers.authorization).toBeUndefined();
    expect(got[0]?.headers.cookie).toBeUndefined();
    expect(got[0]?.headers['x-api-key']).toBeUndefined();
    expect(got[0]?.headers['x-tenant-token']).toBeUndefined();
    expect(got[0]?.headers['x-trace']).toBe('kept');
  });
});

describe('http plugin: network failures', () => {
  it('connection refused is error/refused', async () => {
    const r = await check(`http://127.0.0.1:${refusedPort}/`);
    expect(r).toMatchObject({ plugin: 'http', status: 'error', reason: 'refused', metrics: {} });
    expect(r.message).toMatch(/ECONNREFUSED/);
  });

  it('a server that never sends headers is error/timeout (headersTimeoutMs)', async () => {
    const started = performance.now();
    const r = await check(`${base}/hang?t=hang-headers`, { headersTimeoutMs: 300, timeoutMs: 3_000 });
    const elapsed = performance.now() - started;
    expect(r).toMatchObject({ status: 'error', reason: 'timeout' });
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2_000);
    expect(seenFor('hang-headers')).toHaveLength(1);
  });

  it('a TLS handshake that never completes is error/timeout (connectTimeoutMs covers TCP and TLS)', async () => {
    // Accepts the TCP connection and never answers the ClientHello.
    const held: import('node:net').Socket[] = [];
    const silent = createNetServer((sock) => held.push(sock));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as AddressInfo).port;
      const started = performance.now();
      const r = await check(`https://127.0.0.1:${port}/`, { connectTimeoutMs: 300, timeoutMs: 3_000 });
      const elapsed = performance.now() - started;
      expect(r).toMatchObject({ status: 'error', reason: 'timeout', metrics: {} });
      expect(r.message).toMatch(/connect timed out after 300 ms/);
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(2_000);
    } finally {
      for (const sock of held) sock.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('a server that never sends headers is error/timeout (overall timeoutMs)', async () => {
    const started = performance.now();
    const r = await check(`${base}/hang?t=hang-total`, { timeoutMs: 400 });
    const elapsed = performance.now() - started;
    expect(r).toMatchObject({ status: 'error', reason: 'timeout', message: 'no result within 400 ms', metrics: {} });
    expect(elapsed).toBeGreaterThanOrEqual(350);
    expect(elapsed).toBeLessThan(2_000);
  });

  it('a body that stalls is error/timeout (bodyTimeoutMs)', async () => {
    const started = performance.now();
    const r = await check(`${base}/stall-body`, { bodyTimeoutMs: 300, timeoutMs: 3_000 });
    expect(r).toMatchObject({ status: 'error', reason: 'timeout' });
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('a connection reset is error/reset', async () => {
    const r = await check(resetUrl, { timeoutMs: 3_000 });
    expect(r).toMatchObject({ status: 'error', reason: 'reset' });
  });

  it('a body cut short by the server (fewer bytes than Content-Length, then closed) is error/reset', async () => {
    const r = await check(cutShortUrl, { timeoutMs: 3_000 });
    expect(r).toMatchObject({ status: 'error', reason: 'reset' });
  });

  it('a response that is not HTTP is error/protocol', async () => {
    const r = await check(protocolUrl, { timeoutMs: 3_000 });
    expect(r).toMatchObject({ status: 'error', reason: 'protocol' });
  });

  it('a host name that does not resolve is error/dns', async () => {
    // .invalid is reserved (RFC 6761): never resolves.
    const r = await check('http://webmon-test.invalid/', { timeoutMs: 5_000 });
    expect(r).toMatchObject({ status: 'error', reason: 'dns' });
  });

  it('https to a plain-HTTP port is error/tls', async () => {
    const r = await check(`${base.replace('http:', 'https:')}/ok`, { timeoutMs: 3_000 });
    expect(r).toMatchObject({ status: 'error', reason: 'tls' });
  });

  it.skipIf(!hasOpenssl)(`a self-signed certificate is error/tls${NO_OPENSSL}`, async () => {
    const r = await check(tlsUrl, { timeoutMs: 3_000 });
    expect(r).toMatchObject({ status: 'error', reason: 'tls' });
    expect(r.message).toMatch(/self[- ]signed/i);
  });
});

describe('http plugin: body, method and headers', () => {
  it('stops reading at maxBodyBytes: ok, bytes == maxBodyBytes, truncated, connection closed early', async () => {
    const r = await check(`${base}/big?t=big`, { maxBodyBytes: 1000 });
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics.bytes).toBe(1000);
    expect(r.details).toMatchObject({ truncated: true, finalUrl: `${base}/big?t=big` });
    const state = bigBodies.get('big');
    expect(state).toBeDefined();
    await within(state!.closed, 3_000, 'server-side close of /big');
    expect(state!.finished).toBe(false); // the client went away before the server finished
    expect(state!.sent).toBeLessThan(state!.total);
  });

  it('stops reading at maxBodyBytes on a pooled keep-alive connection too, with no stray error', async () => {
    const errors: unknown[] = [];
    const onError = (err: unknown) => errors.push(err);
    process.on('uncaughtException', onError);
    try {
      const r = await check(`${base}/big?t=big-pooled`, { maxBodyBytes: 1000, keepAlive: true });
      expect(r).toMatchObject({ status: 'ok', reason: null });
      expect(r.metrics.bytes).toBe(1000);
      expect(r.details).toMatchObject({ truncated: true });
      await within(bigBodies.get('big-pooled')!.closed, 3_000, 'server-side close of /big');
      expect(bigBodies.get('big-pooled')!.finished).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 50)); // an abort error would surface by now
    } finally {
      process.off('uncaughtException', onError);
    }
    expect(errors).toEqual([]);
  });

  it('a body of exactly maxBodyBytes is not truncated', async () => {
    const r = await check(`${base}/ok`, { maxBodyBytes: 5 });
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics.bytes).toBe(5);
    expect(r.details?.truncated).toBeUndefined();
  });

  it('maxBodyBytes 0 reads nothing and reports truncated', async () => {
    const r = await check(`${base}/ok`, { maxBodyBytes: 0 });
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics.bytes).toBe(0);
    expect(r.details?.truncated).toBe(true);
  });

  it('HEAD sends HEAD and reads no body', async () => {
    const r = await check(`${base}/head?t=head`, { method: 'HEAD' });
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics).toMatchObject({ statusCode: 200, bytes: 0 });
    expect(seenFor('head').map((s) => s.method)).toEqual(['HEAD']);
  });

  it('GET of the same resource reads its body', async () => {
    const r = await check(`${base}/head`);
    expect(r.metrics.bytes).toBe(1000);
  });

  it('POST sends the body and the headers', async () => {
    const r = await check(`${base}/echo?t=post`, {
      method: 'POST',
      body: '{"hello":"world"}',
      headers: { 'content-type': 'application/json', 'x-webmon-test': 'yes' },
    });
    expect(r).toMatchObject({ status: 'ok', reason: null });
    const reqs = seenFor('post');
    expect(reqs).toHaveLength(1);
    expect(reqs[0]).toMatchObject({ method: 'POST', body: '{"hello":"world"}' });
    expect(reqs[0]?.headers['content-type']).toBe('application/json');
    expect(reqs[0]?.headers['x-webmon-test']).toBe('yes');
    expect(reqs[0]?.headers['user-agent']).toMatch(/^webmon\//);
    expect(r.metrics.bytes).toBe(JSON.stringify({ method: 'POST', body: '{"hello":"world"}' }).length);
  });

  it.each(['PUT', 'PATCH', 'DELETE', 'OPTIONS'])('%s is sent as configured', async (method) => {
    const tag = `method-${method}`;
    const r = await check(`${base}/echo?t=${tag}`, { method });
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(seenFor(tag).map((s) => s.method)).toEqual([method]);
  });

  it('a configured user-agent replaces the default', async () => {
    await check(`${base}/echo?t=ua-lower`, { headers: { 'user-agent': 'custom/1.0' } });
    expect(seenFor('ua-lower')[0]?.headers['user-agent']).toBe('custom/1.0');
  });

  // Header names are case-insensitive (RFC 9110 §5.1): "User-Agent" must replace the default too.
  it('a configured User-Agent (any letter case) replaces the default', async () => {
    await check(`${base}/echo?t=ua-mixed`, { headers: { 'User-Agent': 'custom/2.0' } });
    expect(seenFor('ua-mixed')[0]?.headers['user-agent']).toBe('custom/2.0');
  });
});

describe('http plugin: slow responses', () => {
  it('warnAfterMs below the response time is warn/slow', async () => {
    const r = await check(`${base}/slow?ms=300`, { warnAfterMs: 100 });
    expect(r).toMatchObject({ status: 'warn', reason: 'slow' });
    expect(r.message).toMatch(/^took \d+ ms, warning above 100 ms$/);
    expect(r.metrics.statusCode).toBe(200);
    expect(r.metrics.totalMs).toBeGreaterThanOrEqual(250);
  });

  it('errorAfterMs below the response time is error/slow', async () => {
    const r = await check(`${base}/slow?ms=300`, { errorAfterMs: 100 });
    expect(r).toMatchObject({ status: 'error', reason: 'slow' });
    expect(r.message).toMatch(/^took \d+ ms, limit 100 ms$/);
    expect(r.metrics.statusCode).toBe(200);
    expect(r.metrics.totalMs).toBeGreaterThanOrEqual(250);
  });

  it('errorAfterMs wins over warnAfterMs', async () => {
    const r = await check(`${base}/slow?ms=300`, { warnAfterMs: 50, errorAfterMs: 100 });
    expect(r).toMatchObject({ status: 'error', reason: 'slow' });
  });

  it('a wrong status is reported before slowness', async () => {
    const r = await check(`${base}/status/500`, { errorAfterMs: 1 });
    expect(r.reason).toBe('http_status');
  });

  it('a response faster than the thresholds is ok', async () => {
    const r = await check(`${base}/ok`, { warnAfterMs: 5_000, errorAfterMs: 10_000 });
    expect(r).toMatchObject({ status: 'ok', reason: null });
  });
});

describe('http plugin: connection reuse', () => {
  async function connectionsFor(keepAlive: boolean): Promise<number> {
    let connections = 0;
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(200).end('x');
    });
    server.on('connection', () => connections++);
    await listen(server);
    const url = `http://127.0.0.1:${portOf(server)}/`;
    for (let i = 0; i < 3; i++) {
      const r = await check(url, { keepAlive });
      expect(r.status).toBe('ok');
      // Checks are scheduled apart; back to back, undici may not have released the idle
      // connection to its pool yet and opens another.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return connections;
  }

  it('keepAlive false opens a new connection for every check', async () => {
    expect(await connectionsFor(false)).toBe(3);
  });

  it('keepAlive true reuses the connection', async () => {
    expect(await connectionsFor(true)).toBe(1);
  });
});

describe('http plugin: egress guard', () => {
  const port = () => new URL(base).port;

  it("refuses a client's request to loopback, link-local and unspecified addresses in every spelling, sending nothing", async () => {
    const client = clientEgress();
    const urls = [
      `${base}/ok?t=deny`,
      `http://0.0.0.0:${port()}/ok?t=deny`,
      `http://[::ffff:127.0.0.1]:${port()}/ok?t=deny`,
      `http://2130706433:${port()}/ok?t=deny`,
      `http://0x7f.1:${port()}/ok?t=deny`,
      `http://[::1]:${port()}/ok?t=deny`,
      `http://localhost:${port()}/ok?t=deny`,
      'http://169.254.169.254/latest/meta-data/?t=deny',
    ];
    for (const url of urls) {
      const r = await check(url, {}, httpPlugin, client);
      expect(r, url).toMatchObject({ status: 'error', reason: 'denied', message: expect.stringMatching(/clients may not reach it/) });
    }
    expect(seenFor('deny')).toHaveLength(0);
    expect(await check(`${base}/ok?t=deny`)).toMatchObject({ status: 'ok' }); // the operator's check
    // The operator's name goes through the guard's lookup (every address family) and connects.
    expect(await check(`http://localhost:${port()}/ok?t=byname`)).toMatchObject({ status: 'ok' });
    expect(seenFor('byname')).toHaveLength(1);
  });

  describe('redirects', () => {
    let allowedOrigin = ''; // http://127.0.0.2:<port>, a range the client is allowed
    const allowed = () => clientEgress(['127.0.0.2/32']);

    beforeAll(async () => {
      const redirector = createServer((req, res) => {
        const to = new URL(req.url ?? '/', 'http://x').searchParams.get('to') ?? '/';
        res.writeHead(302, { location: to }).end();
      });
      await new Promise<void>((resolve, reject) => {
        redirector.once('error', reject);
        redirector.listen(0, '127.0.0.2', () => resolve());
      });
      servers.push(redirector);
      allowedOrigin = `http://127.0.0.2:${portOf(redirector)}`;
    });

    const via = (to: string) => `${allowedOrigin}/?to=${encodeURIComponent(to)}`;

    it('re-checks every hop: a redirect from an allowed host to a denied one is denied, and the denied host sees nothing', async () => {
      for (const to of [`${base}/ok?t=hop`, `http://localhost:${port()}/ok?t=hop`, `http://2130706433:${port()}/ok?t=hop`, `http://[::ffff:7f00:1]:${port()}/ok?t=hop`]) {
        const r = await check(via(to), {}, httpPlugin, allowed());
        expect(r, to).toMatchObject({ status: 'error', reason: 'denied', message: expect.stringMatching(/^redirect to http:\/\/.* refused: /) });
      }
      expect(seenFor('hop')).toHaveLength(0);
      // Without the redirect the allowed host is reachable, and the operator follows it.
      expect(await check(`${allowedOrigin}/?to=${encodeURIComponent('/done')}`, { followRedirects: false, expectedStatus: '302' }, httpPlugin, allowed())).toMatchObject({ status: 'ok' });
      expect(await check(via(`${base}/ok?t=hop`))).toMatchObject({ status: 'ok', metrics: { redirects: 1 } });
      expect(seenFor('hop')).toHaveLength(1);
    });

    it('refuses a redirect to a scheme other than http(s)', async () => {
      for (const to of ['ftp://example.com/x', 'file:///etc/passwd', 'gopher://127.0.0.1:6379/_INFO']) {
        const r = await check(via(to));
        expect(r, to).toMatchObject({ status: 'error', reason: 'protocol', message: expect.stringContaining('only http and https are followed') });
      }
    });
  });

  it("keeps pools apart per guard: the operator's kept-alive connection is not lent to a client", async () => {
    const url = `${base}/ok?t=pool`;
    expect(await check(url, { keepAlive: true })).toMatchObject({ status: 'ok' });
    expect(await check(url, { keepAlive: true }, httpPlugin, clientEgress())).toMatchObject({ status: 'error', reason: 'denied' });
    expect(seenFor('pool')).toHaveLength(1);
  });

  it('keeps a bounded number of pools', () => {
    for (let i = 0; i < MAX_AGENTS + 10; i++) agentFor(1000, true, clientEgress([`10.${i}.0.0/16`]));
    expect(agentCount()).toBe(MAX_AGENTS);
  });
});

describe('runPlugin with a faulty plugin', () => {
  const boom = definePlugin({
    name: 'boom',
    description: 'throws',
    schemes: ['http'],
    configSchema: Type.Object({}),
    async run() {
      throw new Error('kaboom');
    },
  });
  const boomSync = definePlugin({
    name: 'boom-sync',
    description: 'throws before returning a promise',
    schemes: ['http'],
    configSchema: Type.Object({}),
    run() {
      throw new Error('sync kaboom');
    },
  });
  const stuck = definePlugin({
    name: 'stuck',
    description: 'never settles and ignores its signal',
    schemes: ['http'],
    configSchema: Type.Object({}),
    run: () => new Promise(() => {}),
  });
  const target = { url: new URL('http://127.0.0.1/'), assetId: 'asset-faulty' };

  it('an exception in run is recorded as plugin_error, not thrown', async () => {
    const r = await runPlugin(boom, target, {}, ctx(), 1_000);
    expect(r).toMatchObject({ plugin: 'boom', status: 'error', reason: 'plugin_error', metrics: {} });
    expect(r.message).toContain('kaboom');
  });

  it('a synchronous throw in run is recorded as plugin_error, not thrown', async () => {
    const r = await runPlugin(boomSync, target, {}, ctx(), 1_000);
    expect(r).toMatchObject({ plugin: 'boom-sync', status: 'error', reason: 'plugin_error' });
    expect(r.message).toContain('sync kaboom');
  });

  it('a plugin that ignores its signal still ends on time with timeout', async () => {
    const started = performance.now();
    const r = await runPlugin(stuck, target, {}, ctx(), 200);
    expect(r).toMatchObject({ plugin: 'stuck', status: 'error', reason: 'timeout', message: 'no result within 200 ms' });
    expect(performance.now() - started).toBeLessThan(1_500);
  });
});

describe('http config validation (PluginRegistry)', () => {
  it('applies every default', () => {
    const v = registry.validate('http', {});
    expect(v).toEqual({
      ok: true,
      value: {
        method: 'GET',
        headers: {},
        timeoutMs: 10_000,
        connectTimeoutMs: 5_000,
        headersTimeoutMs: 10_000,
        bodyTimeoutMs: 10_000,
        followRedirects: true,
        maxRedirects: 5,
        expectedStatus: '200-399',
        maxBodyBytes: 1_048_576,
        keepAlive: false,
        ignoreCase: false,
        verifyTls: true,
        certWarnDays: 14,
      },
    });
  });

  it('keeps given values and does not modify its input', () => {
    const input = { method: 'POST', body: 'x', timeoutMs: 500, warnAfterMs: 100, errorAfterMs: 200, headers: { 'x-a': 'b' } };
    const copy = structuredClone(input);
    const v = registry.validate('http', input);
    expect(v.ok).toBe(true);
    if (v.ok) expect(v.value).toMatchObject(input);
    expect(input).toEqual(copy);
  });

  it('rejects an unknown option, naming it', () => {
    const v = registry.validate('http', { nope: 1 });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.problems.map((p) => p.field)).toContain('http.nope');
  });

  it.each([
    ['timeoutMs', 'fast'],
    ['timeoutMs', 50],
    ['timeoutMs', 1.5],
    ['maxRedirects', 51],
    ['maxRedirects', -1],
    ['method', 'TRACE'],
    ['followRedirects', 'yes'],
    ['maxBodyBytes', -1],
    ['warnAfterMs', 0],
    ['headers', 'x-a: b'],
  ])('rejects %s = %j, naming the field', (field, value) => {
    const v = registry.validate('http', { [field]: value });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.problems.map((p) => p.field)).toContain(`http.${field}`);
  });

  it('rejects a header name that is not an HTTP token', () => {
    const v = registry.validate('http', { headers: { 'bad header': 'x' } });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.problems.every((p) => p.field.startsWith('http.headers'))).toBe(true);
  });

  it.each(['abc', '', '600', '200-', '200-299;404', '99', '2000'])('rejects expectedStatus %j', (spec) => {
    const v = registry.validate('http', { expectedStatus: spec });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.problems.map((p) => p.field)).toContain('http.expectedStatus');
  });

  it.each(['200', '200-299, 404', ' 200 - 299 ', '100-599', '200,301,302'])('accepts expectedStatus %j', (spec) => {
    expect(registry.validate('http', { expectedStatus: spec }).ok).toBe(true);
  });
});

describe('status ranges', () => {
  it('parses lists and ranges', () => {
    expect(parseStatusSpec('200-299, 404')).toEqual([
      [200, 299],
      [404, 404],
    ]);
    expect(parseStatusSpec(' 200 - 204 ')).toEqual([[200, 204]]);
  });

  it('matches inclusive bounds only', () => {
    const ranges = parseStatusSpec('200-299, 404');
    expect([199, 200, 250, 299, 300, 403, 404, 405].map((s) => statusMatches(s, ranges))).toEqual([
      false,
      true,
      true,
      true,
      false,
      false,
      true,
      false,
    ]);
  });
});

describe('http plugin: content, timings, certificates, Retry-After', () => {
  it.each([
    [{ bodyContains: 'Welcome to the Shop' }, 'ok', null],
    [{ bodyContains: 'Sold out' }, 'error', 'body_mismatch'],
    [{ bodyNotContains: 'Exception' }, 'ok', null],
    [{ bodyNotContains: 'Order #' }, 'error', 'body_mismatch'],
    [{ bodyMatches: 'Order #\\d{5} ready' }, 'ok', null],
    [{ bodyMatches: 'Order #\\d{6}' }, 'error', 'body_mismatch'],
    [{ bodyNotMatches: 'error \\d+' }, 'ok', null],
    [{ bodyNotMatches: '<h1>\\w+' }, 'error', 'body_mismatch'],
    [{ bodyContains: 'welcome TO the shop' }, 'error', 'body_mismatch'],
    [{ bodyContains: 'welcome TO the shop', ignoreCase: true }, 'ok', null],
    [{ bodyMatches: 'ORDER #\\d+', ignoreCase: true }, 'ok', null],
  ])('body rule %j → %s', async (options, status, reason) => {
    const r = await check(`${base}/shop`, options);
    expect(r).toMatchObject({ status, reason });
    if (reason) expect(r.message).toMatch(/body (does not )?(contain|match)/);
  });

  it('refuses an invalid regular expression when the asset is configured', () => {
    const v = registry.validate('http', { bodyMatches: 'unclosed(' });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.problems.map((p) => p.field)).toContain('http.bodyMatches');
  });

  it('reports DNS, connect and first-byte timings of a fresh connection', async () => {
    const port = new URL(base).port;
    const r = await check(`http://localhost:${port}/ok`);
    expect(r.status).toBe('ok');
    expect(r.metrics.dnsMs).toBeGreaterThanOrEqual(0);
    expect(r.metrics.connectMs).toBeGreaterThan(0);
    expect(r.metrics.ttfbMs).toBeGreaterThanOrEqual(r.metrics.connectMs!);
    expect(r.metrics.tlsMs).toBeUndefined();
    // An IP literal needs no lookup.
    const literal = await check(`${base}/ok`);
    expect(literal.metrics.dnsMs).toBeUndefined();
    expect(literal.metrics.connectMs).toBeGreaterThan(0);
  });

  it.skipIf(!hasOpenssl)(`reports the certificate and warns when it expires soon${NO_OPENSSL}`, async () => {
    const r = await check(tlsUrl, { verifyTls: false });
    expect(r).toMatchObject({ status: 'warn', reason: 'cert_expiring', details: { certificate: { subject: 'localhost' } } });
    expect(r.metrics.certDaysLeft).toBeGreaterThan(0);
    expect(r.metrics.certDaysLeft).toBeLessThanOrEqual(1);
    expect(r.metrics.tlsMs).toBeGreaterThan(0);
    expect((await check(tlsUrl, { verifyTls: false, certWarnDays: 0 })).status).toBe('ok');
    expect(await check(tlsUrl)).toMatchObject({ status: 'error', reason: 'tls' });
  });

  it.skipIf(!hasOpenssl)(`sends the host name in SNI, never an address${NO_OPENSSL}`, async () => {
    const port = new URL(tlsUrl).port;
    tlsNames.length = 0;
    expect((await check(`https://localhost:${port}/`, { verifyTls: false, certWarnDays: 0 })).status).toBe('ok');
    expect((await check(tlsUrl, { verifyTls: false, certWarnDays: 0 })).status).toBe('ok');
    expect(tlsNames).toEqual(['localhost', false]);
  });

  it('fails an expired certificate even without verification', async () => {
    const res: FetchOutcome = {
      status: 200, url: 'https://x.test/', redirects: 0, bytes: 1, truncated: false, headers: {}, ttfbMs: 1, totalMs: 2,
      cert: { subject: 'x.test', issuer: 'CA', validTo: Date.now() - 3 * 86_400_000 },
    };
    const out = await evaluate(res, validated({ verifyTls: false }) as never);
    expect(out).toMatchObject({ status: 'error', reason: 'tls', message: expect.stringContaining('expired 3 days ago') });
  });

  it('reports Retry-After on 429 (rate_limited) and 503', async () => {
    const limited = await check(`${base}/ratelimited`);
    expect(limited).toMatchObject({ status: 'error', reason: 'rate_limited', metrics: { statusCode: 429, retryAfterSec: 120 } });
    expect(limited.message).toContain('retry after 120 s');
    const down = await check(`${base}/unavailable`);
    expect(down).toMatchObject({ status: 'error', reason: 'http_status', metrics: { statusCode: 503 } });
    expect(down.metrics.retryAfterSec).toBeGreaterThanOrEqual(58);
    expect(down.metrics.retryAfterSec).toBeLessThanOrEqual(61);
    expect((await check(`${base}/status/500`)).metrics.retryAfterSec).toBeUndefined();
  });

  it('parses Retry-After seconds and dates', () => {
    const now = Date.parse('2026-11-22T10:00:00Z');
    expect(parseRetryAfter('30', now)).toBe(30);
    expect(parseRetryAfter(['7'], now)).toBe(7);
    expect(parseRetryAfter('Sun, 22 Nov 2026 10:02:00 GMT', now)).toBe(120);
    expect(parseRetryAfter('Sun, 22 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
