/**
 * The FTP plugin against real servers on 127.0.0.1: vsftpd (Debian's package, started here with a
 * generated config on free ports: one plain, one with explicit FTPS, one with implicit FTPS) and
 * node:net servers for the network failures. Checks run through runPlugin with a config
 * validated by PluginRegistry: the same path the executor takes. Nothing is mocked.
 *
 * vsftpd must be installed (`apt-get install vsftpd`) and the tests run as root (vsftpd chroots
 * anonymous sessions). The TLS cases need `openssl` and are skipped without it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PluginRegistry,
  REDACTED,
  clientEgress,
  createSharedCache,
  memoryStorage,
  operatorEgress,
  runPlugin,
  type CheckResult,
  type EgressGuard,
} from '@webmon/plugin-sdk';
import { ftpPath, ftpPlugin } from './index.js';
import { hasOpenssl } from '../../../test/helpers/pki.js';

// ---------------------------------------------------------------------------------------------
// Context, registry and the check helper

const registry = new PluginRegistry([ftpPlugin]);
const silentLog = pino({ level: 'silent' });

function validated(options: Record<string, unknown>): Record<string, unknown> {
  const v = registry.validate('ftp', options);
  if (!v.ok) throw new Error(`invalid test config: ${JSON.stringify(v.problems)}`);
  return v.value;
}

/** One check as the executor runs it: validated config, overall deadline = config.timeoutMs. */
async function check(url: string, options: Record<string, unknown> = {}, egress: EgressGuard = operatorEgress()): Promise<CheckResult> {
  const config = validated(options);
  const ctx = { log: silentLog, storage: memoryStorage(), shared: createSharedCache(), egress };
  return runPlugin(ftpPlugin, { url: new URL(url), assetId: 'asset-ftp-test' }, config, ctx, config.timeoutMs as number);
}

/** Resolves with `p`, or rejects after `ms` (keeps waits on server-side events bounded). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Tools and the served tree

function has(cmd: string): boolean {
  try {
    execFileSync('which', [cmd], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const VSFTPD = ['/usr/sbin/vsftpd', '/usr/local/sbin/vsftpd'].find((p) => existsSync(p)) ?? (has('vsftpd') ? 'vsftpd' : undefined);
/**
 * vsftpd needs root (it chroots anonymous sessions). Without it, outside CI, the tests that need
 * a real FTP server are skipped (and say so); CI installs vsftpd and never skips them.
 */
const withServer = (Boolean(VSFTPD) && process.getuid?.() === 0) || Boolean(process.env.CI);

const PASSWORD = 'Ftp-Secret-7d1c9e42';
/** hello.txt's content and modification time. */
const HELLO = 'hello world\n';
const HELLO_MTIME = Date.UTC(2024, 0, 2, 3, 4, 5) / 1000;
const BIG_BYTES = 256 * 1024;
/** Entries of /pub as LIST -a shows them, without "." and "..". */
const PUB_ENTRIES = ['.hidden', 'big.bin', 'empty.txt', 'hello.txt', 'sub', 'with space.txt'];

let dir = '';
let root = '';

/** The directory served to anonymous sessions (world-readable, as vsftpd requires). */
function makeTree(): void {
  root = join(dir, 'root');
  mkdirSync(join(root, 'pub', 'sub'), { recursive: true });
  writeFileSync(join(root, 'readme.txt'), 'top\n');
  writeFileSync(join(root, 'pub', 'hello.txt'), HELLO);
  utimesSync(join(root, 'pub', 'hello.txt'), HELLO_MTIME, HELLO_MTIME);
  writeFileSync(join(root, 'pub', 'big.bin'), Buffer.alloc(BIG_BYTES, 7));
  writeFileSync(join(root, 'pub', 'empty.txt'), '');
  writeFileSync(join(root, 'pub', '.hidden'), 'h');
  writeFileSync(join(root, 'pub', 'with space.txt'), 'spaced');
  execFileSync('chmod', ['-R', 'u=rwX,go=rX', root]);
}

// ---------------------------------------------------------------------------------------------
// Servers

interface Vsftpd {
  proc: ChildProcess;
  port: number;
}
const daemons: Vsftpd[] = [];
// Should the worker end without afterAll (a crash, a hook timeout), take the daemons along.
process.once('exit', () => {
  for (const { proc } of daemons) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
});
const netServers: Server[] = [];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Resolves with the first line the server sends, or rejects (connection refused, closed, …). */
function greeting(port: number, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => done(new Error('no greeting')), ms);
    function done(err: Error | null): void {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(text.split('\r\n')[0] ?? '');
    }
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\r\n')) done(null);
    });
    socket.on('error', (err) => done(err));
    socket.on('close', () => done(new Error('closed')));
  });
}

/**
 * Starts vsftpd with a config written to the temp dir and waits (bounded) for its greeting on the
 * port. Retries on another port if the one picked was taken in between.
 */
async function startVsftpd(name: string, extra: Record<string, string>): Promise<Vsftpd> {
  if (!VSFTPD) throw new Error('vsftpd is not installed: apt-get install vsftpd (the FTP plugin tests need it)');
  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const conf: Record<string, string> = {
      listen: 'YES',
      listen_ipv6: 'NO',
      listen_address: '127.0.0.1',
      listen_port: String(port),
      background: 'NO',
      anonymous_enable: 'YES',
      local_enable: 'NO',
      write_enable: 'NO',
      anon_root: root,
      // Anonymous sessions must give a password from this list: "anonymous@" (what the plugin
      // sends by default) or PASSWORD. Anything else is 530 Login incorrect.
      no_anon_password: 'NO',
      secure_email_list_enable: 'YES',
      email_password_file: join(dir, 'passwords'),
      secure_chroot_dir: join(dir, 'empty'),
      connect_from_port_20: 'NO',
      xferlog_enable: 'NO',
      delay_failed_login: '0',
      // Namespaces and seccomp are not always available in containers.
      seccomp_sandbox: 'NO',
      isolate: 'NO',
      isolate_network: 'NO',
      ...extra,
    };
    const confPath = join(dir, `${name}.conf`);
    writeFileSync(confPath, Object.entries(conf).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });
    const proc = spawn(VSFTPD, [confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    let exited = false;
    proc.on('exit', () => (exited = true));
    const daemon = { proc, port };
    for (let i = 0; i < 100 && !exited; i++) {
      try {
        // The implicit-TLS server starts with a handshake: a connection that stays open is enough.
        if (extra.implicit_ssl === 'YES') {
          await greeting(port, 100).catch((err: Error) => {
            if (err.message !== 'no greeting') throw err;
          });
        } else {
          const line = await greeting(port, 1_000);
          if (!line.startsWith('220')) throw new Error(`unexpected greeting ${line}`);
        }
        daemons.push(daemon);
        return daemon;
      } catch {
        await sleep(30);
      }
    }
    proc.kill('SIGKILL');
    lastError = output.trim() || (exited ? 'exited' : 'no greeting within the time allowed');
  }
  throw new Error(`vsftpd (${name}) did not start: ${lastError}`);
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  netServers.push(server);
  return (server.address() as AddressInfo).port;
}

let plain = ''; // ftp://127.0.0.1:<port>, no TLS
let explicit = ''; // ftp://127.0.0.1:<port>, AUTH TLS with a self-signed certificate
let implicit = ''; // ftps://127.0.0.1:<port>, implicit TLS with the same certificate
let refusedUrl = '';
let silentPort = 0;
/** Sockets the silent server accepted, and whether each has been closed by the client. */
const silentSockets: Array<{ closed: Promise<void> }> = [];
/** Server-side sockets still open, destroyed in afterAll (net.Server.close waits for them). */
const openSockets = new Set<Socket>();
function track(socket: Socket): Socket {
  socket.on('error', () => {});
  openSockets.add(socket);
  socket.once('close', () => openSockets.delete(socket));
  socket.resume(); // read (and drop) what the client sends, so its FIN is seen
  return socket;
}
let busyUrl = '';
let resetUrl = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'webmon-ftp-test-'));
  chmodSync(dir, 0o755);
  makeTree();
  mkdirSync(join(dir, 'empty'), { mode: 0o755 });
  writeFileSync(join(dir, 'passwords'), `anonymous@\n${PASSWORD}\n`, { mode: 0o600 });

  if (withServer) plain = `ftp://127.0.0.1:${(await startVsftpd('plain', {})).port}`;
  if (withServer && hasOpenssl) {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
      { stdio: 'ignore' },
    );
    const tls = { ssl_enable: 'YES', rsa_cert_file: cert, rsa_private_key_file: key, allow_anon_ssl: 'YES' };
    explicit = `ftp://127.0.0.1:${(await startVsftpd('explicit', tls)).port}`;
    implicit = `ftps://127.0.0.1:${(await startVsftpd('implicit', { ...tls, implicit_ssl: 'YES' })).port}`;
  }

  refusedUrl = `ftp://127.0.0.1:${await freePort()}/`;

  // Accepts and never sends the 220 greeting.
  silentPort = await listen(
    createServer((socket) => {
      track(socket);
      silentSockets.push({ closed: new Promise((resolve) => socket.once('close', () => resolve())) });
    }),
  );
  // Greets with 421, as a server at its connection limit does.
  busyUrl = `ftp://127.0.0.1:${await listen(createServer((socket) => track(socket).end('421 Too many connections, try later.\r\n')))}/`;
  // Resets every connection at once.
  resetUrl = `ftp://127.0.0.1:${await listen(createServer((socket) => track(socket).resetAndDestroy()))}/`;
});

afterAll(async () => {
  try {
    await Promise.all(
      daemons.map(async ({ proc }) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
        proc.kill('SIGTERM');
        await within(exited, 2_000, 'vsftpd exit').catch(() => proc.kill('SIGKILL'));
      }),
    );
    for (const socket of openSockets) socket.destroy();
    await Promise.all(netServers.map((s) => within(new Promise<void>((resolve) => s.close(() => resolve())), 2_000, 'net server close')));
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Tests

describe.skipIf(!withServer)('ftp plugin: login', () => {
  it('logs in anonymously by default and reports connect and login times', async () => {
    const r = await check(`${plain}/`, { check: 'login' });
    expect(r).toMatchObject({ plugin: 'ftp', status: 'ok', reason: null });
    expect(r.message).toMatch(/^logged in as anonymous in \d+ ms$/);
    expect(Object.keys(r.metrics).sort()).toEqual(['connectMs', 'loginMs', 'totalMs']);
    expect(r.metrics.connectMs).toBeGreaterThan(0);
    expect(r.metrics.totalMs).toBeGreaterThanOrEqual(r.metrics.loginMs ?? 0);
  });

  it('logs in with a user and password, which never appear in the result', async () => {
    const r = await check(`${plain}/`, { check: 'login', user: 'ftp', password: PASSWORD });
    expect(r).toMatchObject({ status: 'ok', reason: null, message: expect.stringContaining('logged in as ftp') });
    expect(JSON.stringify(r)).not.toContain(PASSWORD);
  });

  it('a wrong password is error/login, without the password', async () => {
    const wrong = 'Wrong-Password-93b1';
    const r = await check(`${plain}/pub/`, { user: 'ftp', password: wrong });
    expect(r).toMatchObject({ status: 'error', reason: 'login' });
    expect(r.message).toMatch(/^login failed: 530/);
    expect(r.metrics.connectMs).toBeGreaterThan(0);
    expect(r.metrics.loginMs).toBeUndefined();
    expect(JSON.stringify(r)).not.toContain(wrong);
  });

  it('a user the server does not accept is error/login', async () => {
    const r = await check(`${plain}/`, { check: 'login', user: 'bob', password: PASSWORD });
    expect(r).toMatchObject({ status: 'error', reason: 'login' });
    expect(r.message).toContain('530');
    expect(JSON.stringify(r)).not.toContain(PASSWORD);
  });
});

describe.skipIf(!withServer)('ftp plugin: list', () => {
  it('lists the login directory for an empty path', async () => {
    const r = await check(plain);
    expect(r).toMatchObject({ status: 'ok', reason: null, details: { path: '.' } });
    expect(r.metrics.entries).toBe(2); // pub, readme.txt
    expect(r.message).toMatch(/^\.: 2 entries in \d+ ms$/);
  });

  it('lists a directory path ending with "/", hidden entries included', async () => {
    const r = await check(`${plain}/pub/`);
    expect(r).toMatchObject({ status: 'ok', reason: null, details: { path: 'pub/' } });
    expect(r.metrics.entries).toBe(PUB_ENTRIES.length);
    expect(Object.keys(r.metrics).sort()).toEqual(['connectMs', 'entries', 'loginMs', 'totalMs']);
  });

  it('auto lists a directory named without the trailing "/"', async () => {
    const r = await check(`${plain}/pub`);
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics.entries).toBe(PUB_ENTRIES.length);
    expect(r.metrics.size).toBeUndefined();
  });

  it('an empty directory has 0 entries', async () => {
    const r = await check(`${plain}/pub/sub/`, { check: 'list' });
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics.entries).toBe(0);
  });

  it('a missing directory is error/not_found', async () => {
    const r = await check(`${plain}/nope/`);
    expect(r).toMatchObject({ status: 'error', reason: 'not_found' });
    expect(r.message).toMatch(/^nope\/: 550/);
  });

  it('check "list" on a file is error/not_found', async () => {
    const r = await check(`${plain}/pub/hello.txt`, { check: 'list' });
    expect(r).toMatchObject({ status: 'error', reason: 'not_found' });
  });
});

describe.skipIf(!withServer)('ftp plugin: file', () => {
  it('reports size and modification time', async () => {
    const r = await check(`${plain}/pub/hello.txt`);
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics).toMatchObject({ size: HELLO.length, mtime: HELLO_MTIME });
    expect(r.metrics.bytes).toBeUndefined(); // maxBytes 0: nothing downloaded
    expect(r.details).toEqual({ path: 'pub/hello.txt', modified: '2024-01-02T03:04:05.000Z' });
    expect(r.message).toMatch(/^pub\/hello\.txt: 12 bytes, modified 2024-01-02T03:04:05\.000Z in \d+ ms$/);
  });

  it('decodes percent-encoded paths', async () => {
    const r = await check(`${plain}/pub/with%20space.txt`);
    expect(r).toMatchObject({ status: 'ok', reason: null, details: { path: 'pub/with space.txt' } });
    expect(r.metrics.size).toBe(6);
  });

  it('a leading %2F makes the path absolute', async () => {
    const r = await check(`${plain}/%2Fpub/hello.txt`);
    expect(r).toMatchObject({ status: 'ok', reason: null, details: { path: '/pub/hello.txt' } });
  });

  it('downloads a small file whole when maxBytes is larger', async () => {
    const r = await check(`${plain}/pub/hello.txt`, { maxBytes: 1_000 });
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics).toMatchObject({ size: 12, bytes: 12 });
    expect(r.details?.truncated).toBeUndefined();
    expect(r.message).toContain('read 12 bytes');
  });

  it('maxBytes equal to the size reads the whole file, not truncated', async () => {
    const r = await check(`${plain}/pub/hello.txt`, { maxBytes: HELLO.length });
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics).toMatchObject({ size: 12, bytes: 12 });
    expect(r.details?.truncated).toBeUndefined();
  });

  it('reads at most maxBytes of a larger file', async () => {
    const r = await check(`${plain}/pub/big.bin`, { maxBytes: 1_000 });
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics).toMatchObject({ size: BIG_BYTES, bytes: 1_000 });
    expect(r.details?.truncated).toBe(true);
  });

  it('an empty file reads 0 bytes', async () => {
    const r = await check(`${plain}/pub/empty.txt`, { maxBytes: 100 });
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics).toMatchObject({ size: 0, bytes: 0 });
  });

  it('a missing file is error/not_found', async () => {
    const r = await check(`${plain}/pub/missing.txt`);
    expect(r).toMatchObject({ status: 'error', reason: 'not_found' });
    expect(r.message).toMatch(/^pub\/missing\.txt: 550/);
    expect(r.metrics.loginMs).toBeGreaterThan(0);
  });

  it('check "file" on a directory is error/not_found', async () => {
    const r = await check(`${plain}/pub`, { check: 'file' });
    expect(r).toMatchObject({ status: 'error', reason: 'not_found', message: 'pub is a directory, not a file' });
  });
});

describe('ftp plugin: network failures', () => {
  it('connection refused is error/refused', async () => {
    const r = await check(refusedUrl);
    expect(r).toMatchObject({ status: 'error', reason: 'refused' });
    expect(r.message).toMatch(/ECONNREFUSED/);
  });

  it('a server that never greets is error/timeout after connectTimeoutMs', async () => {
    const before = silentSockets.length;
    const started = performance.now();
    const r = await check(`ftp://127.0.0.1:${silentPort}/`, { connectTimeoutMs: 300, timeoutMs: 5_000 });
    const elapsed = performance.now() - started;
    expect(r).toMatchObject({ status: 'error', reason: 'timeout', message: 'no connection and greeting within 300 ms' });
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2_000);
    expect(silentSockets.length).toBe(before + 1);
    await within(silentSockets[before]!.closed, 1_000, 'client closing the connection');
  });

  it('the overall timeoutMs ends the check and closes the connection (abort)', async () => {
    const before = silentSockets.length;
    const started = performance.now();
    const r = await check(`ftp://127.0.0.1:${silentPort}/`, { connectTimeoutMs: 10_000, timeoutMs: 400 });
    expect(r).toMatchObject({ status: 'error', reason: 'timeout', message: 'no result within 400 ms' });
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(silentSockets.length).toBe(before + 1);
    await within(silentSockets[before]!.closed, 1_000, 'client closing the connection on abort');
  });

  it('a 421 greeting is error/protocol', async () => {
    const r = await check(busyUrl);
    expect(r).toMatchObject({ status: 'error', reason: 'protocol' });
    expect(r.message).toContain('421 Too many connections');
  });

  it('a connection reset is error/reset', async () => {
    const r = await check(resetUrl, { timeoutMs: 3_000 });
    expect(r).toMatchObject({ status: 'error', reason: 'reset' });
  });

  it('a host name that does not resolve is error/dns', async () => {
    const r = await check('ftp://webmon-test.invalid/', { timeoutMs: 5_000 });
    expect(r).toMatchObject({ status: 'error', reason: 'dns' });
  });

  it.skipIf(!withServer)('secure: true against a server without AUTH TLS is error/tls', async () => {
    const r = await check(`${plain}/`, { secure: true });
    expect(r).toMatchObject({ status: 'error', reason: 'tls' });
    expect(r.message).toMatch(/^AUTH TLS refused: 5\d\d/);
  });

  it.skipIf(!withServer)('ftps:// (implicit TLS) to a plain FTP port is error/tls', async () => {
    const r = await check(`${plain.replace('ftp:', 'ftps:')}/`, { timeoutMs: 3_000 });
    expect(r).toMatchObject({ status: 'error', reason: 'tls' });
  });
});

describe.skipIf(!withServer || !hasOpenssl)('ftp plugin: TLS (self-signed certificate)', () => {
  it('explicit FTPS with verification is error/tls', async () => {
    const r = await check(`${explicit}/`, { secure: true, check: 'login' });
    expect(r).toMatchObject({ status: 'error', reason: 'tls' });
    expect(r.message).toMatch(/self[- ]signed/i);
    expect(r.metrics.connectMs).toBeGreaterThan(0);
  });

  it('explicit FTPS without verification logs in and lists over TLS', async () => {
    const r = await check(`${explicit}/pub/`, { secure: true, rejectUnauthorized: false, user: 'anonymous', password: PASSWORD });
    expect(r).toMatchObject({ status: 'ok', reason: null, details: { tls: expect.stringMatching(/^TLSv1\.[23]$/) } });
    expect(r.metrics.entries).toBe(PUB_ENTRIES.length);
    expect(r.metrics.tlsMs).toBeGreaterThan(0);
    expect(JSON.stringify(r)).not.toContain(PASSWORD);
  });

  it('explicit FTPS without verification downloads over a protected data connection', async () => {
    const r = await check(`${explicit}/pub/hello.txt`, { secure: true, rejectUnauthorized: false, maxBytes: 5 });
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.metrics).toMatchObject({ size: 12, bytes: 5, mtime: HELLO_MTIME });
    expect(r.details?.truncated).toBe(true);
  });

  it('without secure, the same server is checked in plain text', async () => {
    const r = await check(`${explicit}/pub/hello.txt`);
    expect(r).toMatchObject({ status: 'ok', reason: null });
    expect(r.details?.tls).toBeUndefined();
  });

  it('ftps:// (implicit TLS) with verification is error/tls', async () => {
    const r = await check(`${implicit}/`);
    expect(r).toMatchObject({ status: 'error', reason: 'tls' });
    expect(r.message).toMatch(/self[- ]signed/i);
  });

  it('ftps:// (implicit TLS) without verification is ok', async () => {
    const r = await check(`${implicit}/pub/hello.txt`, { rejectUnauthorized: false, maxBytes: 100 });
    expect(r).toMatchObject({ status: 'ok', reason: null, details: { tls: expect.stringMatching(/^TLSv1\.[23]$/) } });
    expect(r.metrics).toMatchObject({ size: 12, bytes: 12 });
    expect(r.metrics.tlsMs).toBeUndefined(); // the handshake is part of connectMs
  });
});

// ---------------------------------------------------------------------------------------------
// Egress: a fake FTP server written here (always runs, no root needed)

interface FakeFtp {
  url: string;
  /** Control connections accepted. */
  connections: number;
  /** Data connections accepted on the server's own data port. */
  dataConnections: number;
  commands: string[];
}

/**
 * A minimal FTP server on 127.0.0.1: anonymous login, EPSV refused, PASV answered with
 * `pasv(dataPort)` (the six numbers), LIST served on its own data port.
 */
async function fakeFtp(pasv: (dataPort: number) => string): Promise<FakeFtp> {
  const state: FakeFtp = { url: '', connections: 0, dataConnections: 0, commands: [] };
  let dataSocket: Promise<Socket> | null = null;
  let acceptData: ((s: Socket) => void) | null = null;
  const dataPort = await listen(
    createServer((socket) => {
      state.dataConnections++;
      track(socket);
      acceptData?.(socket);
    }),
  );
  const replies: Record<string, string> = { USER: '331 Password please', PASS: '230 Logged in', TYPE: '200 Binary', STRU: '200 File', OPTS: '200 OK', PWD: '257 "/"', CWD: '250 OK' };
  const port = await listen(
    createServer((raw) => {
      state.connections++;
      const socket = track(raw);
      socket.pause(); // track() resumes to drain; this server reads its commands
      socket.removeAllListeners('data');
      socket.setEncoding('utf8');
      socket.write('220 fake ftp\r\n');
      let buffered = '';
      socket.on('data', (chunk: string) => {
        buffered += chunk;
        for (let at = buffered.indexOf('\r\n'); at >= 0; at = buffered.indexOf('\r\n')) {
          const line = buffered.slice(0, at);
          buffered = buffered.slice(at + 2);
          const verb = line.split(' ')[0]!.toUpperCase();
          state.commands.push(verb);
          if (verb === 'PASV') {
            dataSocket = new Promise((resolve) => (acceptData = resolve));
            socket.write(`227 Entering Passive Mode (${pasv(dataPort)})\r\n`);
          } else if (verb === 'LIST') {
            socket.write('150 Here it comes\r\n');
            void within(dataSocket ?? Promise.reject(new Error('no PASV')), 2_000, 'data connection').then(
              (data) => data.end('-rw-r--r-- 1 ftp ftp 12 Jan 02 03:04 hello.txt\r\n', () => socket.write('226 Done\r\n')),
              () => socket.write('425 No data connection\r\n'),
            );
          } else if (verb === 'QUIT') socket.end('221 Bye\r\n');
          else socket.write(`${replies[verb] ?? '502 Not implemented'}\r\n`);
        }
      });
      socket.resume();
    }),
  );
  state.url = `ftp://127.0.0.1:${port}/`;
  return state;
}

/** The six PASV numbers for an IPv4 address and port. */
const pasvOf = (ip: string, port: number): string => `${ip.replace(/\./g, ',')},${port >> 8},${port & 255}`;

describe('ftp plugin: egress guard', () => {
  const loopbackClient = () => clientEgress(['127.0.0.0/8']);

  it('lists through a guarded PASV data connection the guard allows', async () => {
    const ftp = await fakeFtp((dataPort) => pasvOf('127.0.0.1', dataPort));
    const r = await check(ftp.url, {}, loopbackClient());
    expect(r).toMatchObject({ status: 'ok', metrics: { entries: 1 } });
    expect(ftp.commands).toEqual(expect.arrayContaining(['EPSV', 'PASV', 'LIST']));
    expect(ftp.dataConnections).toBe(1);
  });

  it.each([
    ['link-local (not replaced by the control address)', '169.254.169.254'],
    ['private (kept, as the control connection is private too)', '10.0.0.1'],
    ['unspecified', '0.0.0.0'],
  ])('a PASV reply pointing to a denied %s address ends the check denied before connecting', async (_what, ip) => {
    const ftp = await fakeFtp((dataPort) => pasvOf(ip, dataPort));
    const r = await check(ftp.url, { timeoutMs: 5_000 }, loopbackClient());
    expect(r).toMatchObject({ status: 'error', reason: 'denied', message: expect.stringContaining(`data connection to ${ip}:`) });
    expect(ftp.connections).toBe(1);
    expect(ftp.commands).toContain('PASV');
    expect(ftp.commands).not.toContain('LIST');
    expect(ftp.dataConnections).toBe(0);
  });

  it("refuses a client's control connection to loopback, by literal and by name, without connecting", async () => {
    const ftp = await fakeFtp((dataPort) => pasvOf('127.0.0.1', dataPort));
    const port = new URL(ftp.url).port;
    for (const url of [ftp.url, `ftp://localhost:${port}/`, `ftp://2130706433:${port}/`, `ftp://[::ffff:127.0.0.1]:${port}/`]) {
      expect(await check(url, {}, clientEgress()), url).toMatchObject({ status: 'error', reason: 'denied' });
    }
    expect(ftp.connections).toBe(0);
  });

  it('connects the control connection to the address the guard judged (a denied resolution is denied)', async () => {
    const ftp = await fakeFtp((dataPort) => pasvOf('127.0.0.1', dataPort));
    const port = new URL(ftp.url).port;
    const strict = operatorEgress({ denyHosts: [], allowHosts: [], denyCidrs: ['127.0.0.0/8', '::1/128'], allowCidrs: [] });
    const r = await check(`ftp://localhost:${port}/`, {}, strict);
    expect(r).toMatchObject({ status: 'error', reason: 'denied', message: expect.stringContaining('localhost resolves to a refused address') });
    expect(ftp.connections).toBe(0);
  });
});

describe('ftp paths', () => {
  it.each([
    ['ftp://h', ''],
    ['ftp://h/', ''],
    ['ftp://h/pub/', 'pub/'],
    ['ftp://h/pub/a%20b.txt', 'pub/a b.txt'],
    ['ftp://h/%2Fetc/motd', '/etc/motd'],
    ['ftps://h', ''],
    ['ftps://h/x/y', 'x/y'],
  ])('%s → %j', (url, path) => {
    expect(ftpPath(new URL(url))).toBe(path);
  });
});

describe('ftp config validation (PluginRegistry)', () => {
  it('applies every default', () => {
    expect(registry.validate('ftp', {})).toEqual({
      ok: true,
      value: {
        check: 'auto',
        user: 'anonymous',
        password: '',
        secure: false,
        rejectUnauthorized: true,
        timeoutMs: 10_000,
        connectTimeoutMs: 5_000,
        maxBytes: 0,
      },
    });
  });

  it('rejects an unknown option, naming it', () => {
    const v = registry.validate('ftp', { passwd: 'x' });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.problems.map((p) => p.field)).toContain('ftp.passwd');
  });

  it.each([
    ['timeoutMs', 'fast'],
    ['timeoutMs', 50],
    ['connectTimeoutMs', 1.5],
    ['check', 'stat'],
    ['secure', 'yes'],
    ['rejectUnauthorized', 0],
    ['maxBytes', -1],
    ['user', ''],
    ['user', 'a\r\nDELE x'],
    ['password', 42],
    ['password', 'x\nQUIT'],
  ])('rejects %s = %j, naming the field', (field, value) => {
    const v = registry.validate('ftp', { [field]: value });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.problems.map((p) => p.field)).toContain(`ftp.${field}`);
  });

  it('declares password as a secret, which redact hides', () => {
    expect(registry.describe()[0]?.secretOptions).toEqual(['password']);
    expect(registry.redact({ ftp: { user: 'bob', password: PASSWORD } })).toEqual({ ftp: { user: 'bob', password: REDACTED } });
  });
});
