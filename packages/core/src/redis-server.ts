/**
 * A managed local redis-server: started on a free loopback port with its own data directory and
 * RDB persistence, stopped with SIGTERM (Redis then writes a final snapshot). Used by `webmon up`
 * when no Redis URL is configured, and by the test harness.
 *
 * It requires a password even on loopback: any local process (a tenant's tcp check included)
 * could otherwise read and write every key. The password is generated once into
 * <dir>/redis.pass (mode 0600) and reused on every start, so a restart on the same directory
 * keeps the same URL; it reaches redis-server on stdin (`redis-server -`), never in its
 * command line, and travels only inside the returned `url`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, chmodSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from './errors.js';

export interface ManagedRedisOptions {
  binary?: string;
  /** Directory for dump.rdb; created when missing. */
  dir: string;
  port?: number;
  /** Extra redis-server arguments, e.g. ['--appendonly', 'yes']. */
  args?: string[];
  startTimeoutMs?: number;
}

export interface ManagedRedis {
  /** redis://:<password>@127.0.0.1:<port>; log it only through redactUrl. */
  url: string;
  /**
   * The same server through its Unix socket (<dir>/redis.sock, mode 0700), which costs both sides
   * less CPU per round trip than TCP: redis+unix:///…?password=…; log it only through redactUrl.
   * Undefined when the path is too long for a socket.
   */
  socketUrl: string | undefined;
  port: number;
  dir: string;
  process: ChildProcess;
  /**
   * SIGTERM, wait for the final save and exit (SIGKILL after the timeout, default 10 minutes: a
   * save at full speed of 100,000 assets' data takes about 25 s, and a SIGKILL loses the changes
   * since the last snapshot).
   */
  stop(timeoutMs?: number): Promise<void>;
}

export const REDIS_INSTALL_HINT =
  'Install it (Debian/Ubuntu: `sudo apt-get install redis-server`; macOS: `brew install redis`) ' +
  'or point webmon at a running Redis with WEBMON_REDIS_URL=redis://host:6379 (or redis.url in the config file).';

/** Finds an executable on PATH (or checks an explicit path). */
export function findExecutable(name: string): string | undefined {
  const candidates = name.includes('/') ? [name] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Ports handed out for servers that bind later (managed Redis, tests) are taken below Linux's
 * default ephemeral range (32768-60999): a port from that range can be taken in the meantime as
 * the local port of any outgoing connection. Falls back to any free port.
 */
export const QUIET_PORTS: Readonly<PortRange> = { from: 20_000, to: 32_767 };

export interface PortRange {
  from: number;
  to: number;
}

let quietPorts: PortRange = QUIET_PORTS;

/**
 * Narrows the ports this process hands out (for processes that run side by side, each its own
 * part of QUIET_PORTS, so two of them never choose the same port before either has bound it).
 * Returns the range it replaces.
 */
export function useQuietPorts(range: PortRange): PortRange {
  if (!Number.isInteger(range.from) || !Number.isInteger(range.to) || range.from < 1024 || range.to > 65_535 || range.from > range.to) {
    throw new RangeError(`not a port range: ${range.from}-${range.to}`);
  }
  const before = quietPorts;
  quietPorts = { ...range };
  return before;
}

/** The range this process hands out ports from. */
export function quietPortRange(): PortRange {
  return { ...quietPorts };
}

/**
 * A port is not handed out twice by one process within this time: a caller that asks for
 * several before binding any (an api and three ZeroMQ endpoints) gets different ones.
 */
const HANDED_OUT_MS = 60_000;
const handedOut = new Map<number, number>();

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const now = Date.now();
  for (const [port, at] of handedOut) if (now - at > HANDED_OUT_MS) handedOut.delete(port);
  // 20 ports tried at most; a draw of one handed out already is not a try, within bounds.
  for (let tried = 0, drawn = 0; tried < 20 && drawn < 1000; drawn++) {
    const port = quietPorts.from + Math.floor(Math.random() * (quietPorts.to - quietPorts.from + 1));
    if (handedOut.has(port)) continue;
    tried++;
    if (await canListen(port, host)) return handOut(port);
  }
  return handOut(await listenOnce(0, host));
}

function handOut(port: number): number {
  handedOut.set(port, Date.now());
  return port;
}

function canListen(port: number, host: string): Promise<boolean> {
  return listenOnce(port, host).then(
    () => true,
    () => false,
  );
}

/** Binds, notes the port, closes; rejects when the port cannot be bound. */
function listenOnce(port: number, host: string): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(port, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

/** Managed Redis's stream-node-max-bytes; the README asks the same of a Redis of your own. */
export const STREAM_NODE_MAX_BYTES = 512;

export const REDIS_PASSWORD_FILE = 'redis.pass';
const PASSWORD_RE = /^[A-Za-z0-9_-]{43,256}$/;

/**
 * Reads <dir>/redis.pass, creating it the first time with 32 random bytes (base64url). The file
 * is kept at mode 0600; a malformed one stops start-up rather than being replaced silently.
 */
export function managedRedisPassword(dir: string): string {
  const file = join(dir, REDIS_PASSWORD_FILE);
  try {
    writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  chmodSync(file, 0o600);
  const password = readFileSync(file, 'utf8').trim();
  if (!PASSWORD_RE.test(password)) throw new ConfigError(`${file} does not hold a valid password (43-256 characters of A-Z a-z 0-9 _ -); delete it to generate a new one`);
  return password;
}

export async function startManagedRedis(opts: ManagedRedisOptions): Promise<ManagedRedis> {
  // A port found free can be taken by another program before redis-server binds it: when the
  // port was ours to choose, choose again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startManagedRedisOnce(opts);
    } catch (err) {
      if (opts.port !== undefined || attempt >= 3 || !(err instanceof PortTakenError)) throw err;
    }
  }
}

class PortTakenError extends Error {}

async function startManagedRedisOnce(opts: ManagedRedisOptions): Promise<ManagedRedis> {
  const binary = findExecutable(opts.binary ?? 'redis-server');
  if (!binary) throw new ConfigError(`redis-server was not found on the PATH. ${REDIS_INSTALL_HINT}`);
  const dir = isAbsolute(opts.dir) ? opts.dir : resolve(opts.dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const password = managedRedisPassword(dir);
  const port = opts.port ?? (await freePort());
  // A Unix socket beside the data, when its path fits one (108 bytes on Linux, the NUL included).
  const socket = join(dir, 'redis.sock');
  const socketArgs = Buffer.byteLength(socket) <= 100 ? ['--unixsocket', socket, '--unixsocketperm', '700'] : [];
  // `-`: the rest of the configuration (the password) is read from stdin.
  const args = [
    '-',
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--protected-mode', 'yes',
    '--dir', dir,
    '--dbfilename', 'dump.rdb',
    // Only a safety net: webmon's dispatcher takes paced snapshots every 5 minutes
    // (snapshots.everySec) and API writes ask for their own (SnapshotCoalescer). A rule of
    // Redis's own would fire unpaced, and a full-speed save of a large dataset takes a core from
    // the checks for as long as it lasts.
    '--save', '3600 1',
    '--appendonly', 'no',
    // Small nodes for small streams: a stream's newest node is allocated at this size up front,
    // so each asset's event log would otherwise cost ~4.7 KB from its first entry (4 KB default).
    '--stream-node-max-bytes', String(STREAM_NODE_MAX_BYTES),
    '--daemonize', 'no',
    '--loglevel', 'warning',
    '--logfile', '',
    ...socketArgs,
    ...(opts.args ?? []),
  ];
  // Its own process group: a Ctrl-C in the terminal reaches webmon, which stops its roles first
  // and this server last (a server gone first leaves the roles' last commands waiting).
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  child.stdin?.on('error', () => undefined); // an early exit is reported below with its output
  child.stdin?.end(`requirepass ${password}\n`);
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const outputClosed = new Promise<void>((res) => child.once('close', () => res()));

  const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
  for (;;) {
    if (child.exitCode !== null) {
      await outputClosed; // the last of its output
      const message = `redis-server exited with code ${child.exitCode}: ${output.trim()}`;
      throw /Address already in use/i.test(output) ? new PortTakenError(message) : new Error(message);
    }
    if (await ping(port, password)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer on port ${port} within the timeout: ${output.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }

  return {
    url: `redis://:${password}@127.0.0.1:${port}`,
    socketUrl: socketArgs.length ? `redis+unix://${encodeURI(socket)}?password=${password}` : undefined,
    port,
    dir,
    process: child,
    async stop(timeoutMs = 600_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Sends AUTH and PING over a raw socket; true when the server answers +OK then +PONG. */
function ping(port: number, password: string): Promise<boolean> {
  return new Promise((res) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let answer = '';
    const done = (ok: boolean) => {
      sock.destroy();
      res(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write(`${resp('AUTH', password)}${resp('PING')}`));
    sock.on('data', (d) => {
      answer += d.toString();
      const lines = answer.split('\r\n');
      if (lines.length > 2) done(lines[0] === '+OK' && lines[1] === '+PONG');
    });
  });
}

function resp(...parts: string[]): string {
  return `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
}

export interface ManagedClusterOptions {
  /** Each master's data lives in <dir>/node-<i>; one password (<dir>/redis.pass) for all. */
  dir: string;
  masters?: number;
  binary?: string;
  /** redis-cli, which creates the cluster. */
  cliBinary?: string;
  /** Extra redis-server arguments for every node. */
  args?: string[];
  startTimeoutMs?: number;
}

export interface ManagedCluster {
  /** redis+cluster://:<password>@127.0.0.1:<port>,…; log it only through redactUrl. */
  url: string;
  nodes: ManagedRedis[];
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * A local Redis Cluster of `masters` masters (no replicas) on free loopback ports, for tests and
 * benchmarks: each node a managed redis-server with cluster mode on, joined with
 * `redis-cli --cluster create`, ready when every node reports cluster_state:ok.
 */
export async function startManagedCluster(opts: ManagedClusterOptions): Promise<ManagedCluster> {
  const cli = findExecutable(opts.cliBinary ?? 'redis-cli');
  if (!cli) throw new ConfigError(`redis-cli was not found on the PATH. ${REDIS_INSTALL_HINT}`);
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const password = managedRedisPassword(opts.dir);
  const nodes: ManagedRedis[] = [];
  try {
    for (let i = 0; i < (opts.masters ?? 3); i++) {
      const dir = join(opts.dir, `node-${i}`);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileSync(join(dir, REDIS_PASSWORD_FILE), `${password}\n`, { mode: 0o600 });
      const args = ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '5000', '--save', '', ...(opts.args ?? [])];
      nodes.push(await startManagedRedis({ dir, args, ...(opts.binary ? { binary: opts.binary } : {}), ...(opts.startTimeoutMs ? { startTimeoutMs: opts.startTimeoutMs } : {}) }));
    }
    const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run(cli, ['--no-auth-warning', '-a', password, '--cluster', 'create', ...addrs, '--cluster-replicas', '0', '--cluster-yes'], password);
    const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
    for (const n of nodes) {
      while (!/cluster_state:ok/.test(await run(cli, ['--no-auth-warning', '-a', password, '-p', String(n.port), 'cluster', 'info'], password))) {
        if (Date.now() > deadline) throw new Error(`redis cluster node ${n.port} did not reach cluster_state:ok`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return {
      url: `redis+cluster://:${password}@${addrs.join(',')}`,
      nodes,
      async stop(timeoutMs) {
        await Promise.all(nodes.map((n) => n.stop(timeoutMs)));
      },
    };
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
}

/** Runs a command to completion; its output, or throws with it (`secret` redacted from the arguments). */
function run(binary: string, args: string[], secret: string): Promise<string> {
  return new Promise((res, rej) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', rej);
    child.once('exit', (code) => (code === 0 ? res(out) : rej(new Error(`${binary} ${args.map((a) => (a === secret ? '[redacted]' : a)).join(' ')} exited with ${code}: ${out.trim()}`))));
  });
}
