/**
 * End-to-end helpers: the built `webmon` CLI as real child processes, a local HTTP target, and
 * a small REST client. Every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { freePort } from '@webmon/core';

export const CLI = fileURLToPath(new URL('../../packages/cli/dist/main.js', import.meta.url));

export interface Proc {
  child: ChildProcess;
  output(): string;
  /** Resolves when the output matches, rejects on exit or timeout (with the output so far). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends the signal and waits for the exit code (SIGKILL after timeoutMs). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

/** Free loopback ports for the api and the three ZeroMQ endpoints, as webmon's environment. */
export async function freshPorts(): Promise<Record<string, string>> {
  return {
    WEBMON_API_PORT: String(await freePort()),
    WEBMON_ZMQ_FRONTEND: `tcp://127.0.0.1:${await freePort()}`,
    WEBMON_ZMQ_BACKEND: `tcp://127.0.0.1:${await freePort()}`,
    WEBMON_ZMQ_CONTROL: `tcp://127.0.0.1:${await freePort()}`,
  };
}

/**
 * Starts a long-running webmon command (`up`) on ports found free just before, and waits for
 * "webmon is running" (see startOnFreshPorts).
 */
export async function startRunning(
  args: string[],
  makeEnv: () => Promise<Record<string, string>>,
  opts: { cwd: string; timeoutMs?: number },
): Promise<{ proc: Proc; env: Record<string, string> }> {
  return startOnFreshPorts(async (procs) => {
    const env = await makeEnv();
    const proc = webmon(args, env, { cwd: opts.cwd });
    procs.push(proc);
    await proc.waitFor(/webmon is running/, opts.timeoutMs ?? 30_000);
    return { proc, env };
  });
}

export type Role = 'api' | 'dispatcher' | 'executor';
const READY: Record<Role, RegExp> = { api: /api listening/, dispatcher: /dispatcher ready/, executor: /executor ready/ };

export interface Deployment {
  env: Record<string, string>;
  apiUrl: string;
  /** One per role asked for, in the same order. */
  procs: Proc[];
}

/**
 * Starts webmon's roles as separate processes of one deployment (webmonEnv's endpoints, plus
 * `extraEnv`) and waits until each is ready (see startOnFreshPorts).
 */
export async function startRoles(
  roles: Role[],
  deployment: { redisUrl: string; prefix: string; adminKey: string; extraEnv?: Record<string, string> | (() => Promise<Record<string, string>>) },
  timeoutMs = 30_000,
): Promise<Deployment> {
  return startOnFreshPorts(async (procs) => {
    const { env: base, apiUrl } = await webmonEnv(deployment.redisUrl, deployment.prefix, deployment.adminKey);
    const extra = typeof deployment.extraEnv === 'function' ? await deployment.extraEnv() : deployment.extraEnv;
    const env = { ...base, ...extra };
    for (const role of roles) procs.push(webmon([role], env));
    const ready = await Promise.allSettled(procs.map((p, i) => p.waitFor(READY[roles[i]!], timeoutMs)));
    const failed = ready.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return { env, apiUrl, procs: [...procs] };
  });
}

/**
 * Ports are found free just before webmon binds them, and another process may take one in
 * between: then a process exits naming the address, every process of the attempt is stopped, and
 * `start` runs again (on new ports, as it asks for them itself), three attempts in all.
 */
async function startOnFreshPorts<T>(start: (procs: Proc[]) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const procs: Proc[] = [];
    try {
      return await start(procs);
    } catch (err) {
      await Promise.all(procs.map((p) => p.stop('SIGKILL')));
      if (attempt >= 3 || !procs.some((p) => /EADDRINUSE|address already in use/i.test(p.output()))) throw err;
    }
  }
}

export function webmon(args: string[], env: Record<string, string>, opts: { cwd?: string; path?: string } = {}): Proc {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: opts.cwd,
    env: { PATH: opts.path ?? process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  return {
    child,
    output: () => out,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(out)) return finish();
          if (child.exitCode !== null) finish(new Error(`process exited (${child.exitCode}) before ${pattern}:\n${out}`));
        };
        const timer = setTimeout(() => finish(new Error(`timed out waiting for ${pattern}:\n${out}`)), timeoutMs);
        const onExit = () => setImmediate(check);
        function finish(err?: Error) {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', onExit);
          if (err) reject(err);
          else resolve();
        }
        listeners.add(check);
        child.on('exit', onExit);
        check();
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Fresh loopback endpoints for one webmon deployment. */
export async function webmonEnv(redisUrl: string, prefix: string, adminKey: string): Promise<{ env: Record<string, string>; apiUrl: string }> {
  const ports = await freshPorts();
  const apiPort = Number(ports.WEBMON_API_PORT);
  const env = {
    ...ports,
    WEBMON_REDIS_URL: redisUrl,
    WEBMON_REDIS_KEY_PREFIX: prefix,
    WEBMON_API_ADMIN_KEY: adminKey,
    WEBMON_LOG_LEVEL: 'info',
    // Checks run when a test pushes them, so counts are exact; scheduling has its own tests.
    WEBMON_SCHEDULER_ENABLED: 'false',
    // Test targets all live on 127.0.0.1; politeness has its own test.
    WEBMON_POLITENESS_HOST_INTERVAL_MS: '0',
    // The shared test Redis is not snapshotted after every write; durability has its own tests.
    WEBMON_SNAPSHOTS_AFTER_WRITES: 'off',
    // Several executors run at once: their own metrics endpoints stay off unless a test wants one.
    WEBMON_EXECUTOR_METRICS_PORT: '0',
  };
  return { env, apiUrl: `http://127.0.0.1:${apiPort}` };
}

export interface Target {
  url: string;
  server: Server;
  /** Requests seen, by path. */
  hits: Map<string, number>;
  /** Every request in arrival order: path, Host header and arrival time (ms). */
  arrivals: Array<{ path: string; host: string; at: number }>;
  close(): Promise<void>;
}

/**
 * A local HTTP target: /ok 200, /missing 404, /slow answers after 3 s, /wait?ms=N after N ms,
 * /redirect → /ok, /busy 429 (Retry-After: 2).
 */
export async function startTarget(): Promise<Target> {
  const hits = new Map<string, number>();
  const arrivals: Target['arrivals'] = [];
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    arrivals.push({ path: req.url ?? '/', host: (req.headers.host ?? '').split(':')[0]!, at: Date.now() });
    if (path === '/missing') {
      res.writeHead(404).end('not here');
    } else if (path === '/slow') {
      const timer = setTimeout(() => res.writeHead(200).end('finally'), 3000);
      res.on('close', () => clearTimeout(timer));
    } else if (path === '/wait') {
      const ms = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms') ?? 500);
      const timer = setTimeout(() => res.writeHead(200).end('waited'), ms);
      res.on('close', () => clearTimeout(timer));
    } else if (path === '/busy') {
      res.writeHead(429, { 'retry-after': '2' }).end('slow down');
    } else if (path === '/redirect') {
      res.writeHead(302, { location: '/ok' }).end();
    } else {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><p>hello</p></body></html>');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    hits,
    arrivals,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
}

export function client(baseUrl: string, key: string) {
  async function call<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const init: RequestInit = { method, headers: { authorization: `Bearer ${key}`, ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
    const res = await fetch(baseUrl + path, init);
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }
  return {
    call,
    /** Polls a job until it is done or failed (bounded). */
    async waitJob(id: string, timeoutMs = 15_000): Promise<any> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const res = await call('GET', `/jobs/${id}`);
        if (res.body?.status === 'done' || res.body?.status === 'failed') return res.body;
        if (Date.now() > deadline) throw new Error(`job ${id} not finished in ${timeoutMs} ms: ${JSON.stringify(res.body)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
