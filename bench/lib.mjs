/**
 * Shared pieces of the benches: child processes that are always cleaned up, CPU readings from
 * /proc, Redis's own accounting, the local HTTP target, and `webmon up` as a user runs it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { AssetStore, JobStore, createKeys, freePort, jobPolicy, loadConfig, normalizeUrl, openRedis, scripts, startManagedRedis } from '@webmon/core';
import { NODE_FLAGS } from '../packages/cli/dist/node-flags.js';

export const CLI = fileURLToPath(new URL('../packages/cli/dist/main.js', import.meta.url));
// webmon's Node.js options, as its launchers pass them (packages/cli/src/node-flags.ts).
export { NODE_FLAGS };
export const ADMIN_KEY = 'wm_bench_admin_key_0123456789abcdef';
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Progress goes to stderr, so that --json leaves stdout to the one result line. */
export const say = (msg) => process.stderr.write(`${msg}\n`);

// ---------------------------------------------------------------------------------------------
// Children and cleanup

/**
 * Tracks child processes and a temp dir; `cleanup()` stops them (in the given order, then the
 * rest) and removes the dir, on success, error, Ctrl-C and the overall timeout.
 */
export function lifecycle({ timeoutSec, stopOrder = [] }) {
  const children = new Set();
  const extra = []; // async stoppers (e.g. a managed redis)
  const dirs = [];
  let cleaning;
  let aborting = false;

  function track(name, child) {
    let out = '';
    const collect = (d) => {
      out = (out + d.toString()).slice(-4000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
    const entry = {
      name,
      child,
      exited,
      output: () => out.trim(),
      alive: () => child.exitCode === null && child.signalCode === null,
      async stop(timeoutMs = 20_000) {
        if (!entry.alive()) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        await exited;
        clearTimeout(timer);
      },
    };
    children.add(entry);
    return entry;
  }

  async function cleanup() {
    cleaning ??= (async () => {
      for (const name of stopOrder) for (const c of children) if (c.name === name) await c.stop().catch(() => undefined);
      for (const c of children) await c.stop().catch(() => undefined);
      for (const stop of extra) await stop().catch(() => undefined);
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    })();
    return cleaning;
  }

  async function abort(message, code) {
    if (aborting) return;
    aborting = true;
    process.stderr.write(`bench: ${message}\n`);
    if (code === 1) for (const c of children) if (c.output()) process.stderr.write(`--- ${c.name} (last output)\n${c.output().slice(-1500)}\n`);
    await cleanup();
    process.exit(code);
  }

  process.on('exit', () => {
    for (const c of children) if (c.alive()) c.child.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  process.on('uncaughtException', (err) => void abort(err?.stack ?? String(err), 1));
  process.on('unhandledRejection', (err) => void abort(err?.stack ?? String(err), 1));
  process.once('SIGINT', () => void abort('interrupted', 130));
  process.once('SIGTERM', () => void abort('terminated', 143));
  const overall = setTimeout(() => void abort(`overall timeout of ${timeoutSec} s reached; stopped everything`, 1), timeoutSec * 1000);
  overall.unref();

  return {
    track,
    cleanup,
    abort,
    onCleanup: (fn) => extra.push(fn),
    /** Stops watching a child that was meant to exit. */
    untrack: (entry) => children.delete(entry),
    tempDir: (dir) => dirs.push(dir),
    /** Throws when a tracked child has exited. */
    assertAlive() {
      for (const c of children) if (!c.alive()) throw new Error(`${c.name} exited unexpectedly (${c.child.exitCode ?? c.child.signalCode}):\n${c.output()}`);
    },
    /** Runs main, cleans up, exits with its code. */
    run(main) {
      main().then(
        async (code) => {
          clearTimeout(overall);
          await cleanup();
          process.exit(code);
        },
        (err) => abort(err?.stack ?? String(err), 1),
      );
    },
  };
}

/**
 * A fresh managed redis-server (the configuration `webmon up` runs) in a temp dir: `connect()`
 * opens a client; clients, server and dir go at `life`'s cleanup.
 */
export async function scratchRedis(life, name) {
  const dir = mkdtempSync(join(tmpdir(), `webmon-bench-${name}-`));
  life.tempDir(dir);
  const server = await startManagedRedis({ dir });
  const clients = [];
  life.onCleanup(async () => {
    for (const c of clients) c.disconnect();
    await server.stop();
  });
  return {
    server,
    connect() {
      const client = new Redis(server.url);
      clients.push(client);
      return client;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// /proc

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // keep 100
}

/** utime + stime of a process (all its threads), in ms; 0 once it is gone. */
export function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / clockTicks;
  } catch {
    return 0;
  }
}

/** CPU ms of each pid, as { pid: ms }. */
export function cpuOf(pids) {
  return Object.fromEntries(pids.map((pid) => [pid, cpuMs(pid)]));
}

/** CPU time the whole machine spent busy (all cores, all processes), in ms. */
export function machineBusyMs() {
  const f = machineTicks();
  return ((f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0)) * 1000) / clockTicks;
}

/** CPU time the hypervisor stole from this machine (all cores), in ms: counted in machineBusyMs. */
export function stealMs() {
  return ((machineTicks()[7] ?? 0) * 1000) / clockTicks;
}

/** The `cpu` line of /proc/stat: user, nice, system, idle, iowait, irq, softirq, steal, … ticks. */
function machineTicks() {
  return readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
}

/** Direct children of a process: [{ pid, comm }]. */
export function childrenOf(ppid) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      if (Number(fields[1]) === ppid) out.push({ pid: Number(name), comm });
    } catch {
      // gone
    }
  }
  return out;
}

/** The commit measured, with +dirty when tracked files outside bench/ have changes. */
export function gitRevision() {
  try {
    const cwd = fileURLToPath(new URL('..', import.meta.url));
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${rev}+dirty` : rev;
  } catch {
    return 'unknown';
  }
}

/**
 * `INFO commandstats` as { command: { calls, usec } } (a script call is `evalsha`): the server's
 * own time, without the client, the network or an event loop.
 */
export async function commandStats(redis) {
  const out = {};
  for (const line of (await redis.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (m) out[m[1]] = { calls: Number(m[2]), usec: Number(m[3]) };
  }
  return out;
}

/** Value at quantile q (0..1) of an ascending array. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

export function round(n, digits = 1) {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

// ---------------------------------------------------------------------------------------------
// The HTTP target, in its own process: 200 and a small page for every path; with `arrivals`,
// it also keeps the arrival time of every request to /p?i=<n> (GET /__arrivals returns them).

const TARGET_SRC = `
import { createServer } from 'node:http';
const record = process.argv.includes('--arrivals');
const body = '<!doctype html><html><head><title>bench</title></head><body><p>hello from the bench target</p></body></html>';
let hits = 0;
const arrivals = [];
const server = createServer((req, res) => {
  if (req.url === '/__stats') { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ hits })); return; }
  if (req.url === '/__arrivals') { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(arrivals)); return; }
  hits++;
  if (record && req.url.startsWith('/p?i=')) arrivals.push(Number(req.url.slice(5)), Date.now());
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
});
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\\n'));
process.on('SIGTERM', () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
`;

export async function startTarget(life, { arrivals = false } = {}) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', TARGET_SRC, '--', ...(arrivals ? ['--arrivals'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  const t = life.track('target', child);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const m = /\{"port":(\d+)\}/.exec(t.output());
    if (m) return { entry: t, pid: child.pid, url: `http://127.0.0.1:${m[1]}` };
    if (!t.alive()) throw new Error(`target exited:\n${t.output()}`);
    if (Date.now() > deadline) throw new Error(`target did not start:\n${t.output()}`);
    await sleep(20);
  }
}

export async function targetHits(url) {
  const res = await request(`${url}/__stats`, { reset: true });
  return (await res.body.json()).hits;
}

/** Arrivals recorded by the target: [{ i, at }]. */
export async function targetArrivals(url) {
  const res = await request(`${url}/__arrivals`, { reset: true, bodyTimeout: 60_000 });
  const flat = await res.body.json();
  const out = [];
  for (let k = 0; k < flat.length; k += 2) out.push({ i: flat[k], at: flat[k + 1] });
  return out;
}

// ---------------------------------------------------------------------------------------------
// webmon

export async function api(base, method, path, body) {
  const res = await request(base + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    headersTimeout: 60_000,
    bodyTimeout: 60_000,
  });
  const text = await res.body.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.statusCode, body: json };
}

/**
 * `webmon up` with the given Redis and extra environment (defaults otherwise, log level warn,
 * executor metrics off), in a temp dir. Resolves when the api answers and `executors` are alive.
 */
export async function startWebmonUp(life, { redisUrl, executors, env: extraEnv = {}, workDir, nodeArgs = [] }) {
  const apiPort = await freePort();
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    WEBMON_DATA_DIR: join(workDir, 'data'),
    WEBMON_REDIS_URL: redisUrl,
    WEBMON_API_PORT: String(apiPort),
    WEBMON_API_ADMIN_KEY: ADMIN_KEY,
    WEBMON_ZMQ_FRONTEND: `tcp://127.0.0.1:${await freePort()}`,
    WEBMON_ZMQ_BACKEND: `tcp://127.0.0.1:${await freePort()}`,
    WEBMON_ZMQ_CONTROL: `tcp://127.0.0.1:${await freePort()}`,
    WEBMON_EXECUTOR_METRICS_PORT: '0',
    WEBMON_LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  // As `npm start` runs it (with webmon's Node.js options).
  const args = [...NODE_FLAGS, ...nodeArgs, CLI, 'up', ...(executors ? ['--executors', String(executors)] : [])];
  const up = life.track('webmon', spawn(process.execPath, args, { cwd: workDir, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const base = `http://127.0.0.1:${apiPort}`;
  const want = executors ?? 1;
  const deadline = Date.now() + 30_000;
  for (;;) {
    life.assertAlive();
    try {
      const h = await api(base, 'GET', '/health');
      if (h.status === 200 && h.body?.executors?.alive >= want) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`webmon up not ready in 30 s:\n${up.output()}`);
    await sleep(100);
  }
  return { base, up, pid: up.child.pid, env };
}

/** Pids of `webmon up` and its node children (the extra executors), not redis-server. */
export function webmonPids(upPid) {
  return [upPid, ...childrenOf(upPid).filter((c) => c.comm.startsWith('node') || c.comm.startsWith('MainThread')).map((c) => c.pid)];
}

export async function createAssets(base, targetUrl, count, { interval, pathPrefix = '/p?i=' } = {}) {
  const ids = [];
  for (let start = 0; start < count; start += 10_000) {
    const n = Math.min(10_000, count - start);
    const assets = Array.from({ length: n }, (_, k) => ({ url: `${targetUrl}${pathPrefix}${start + k}`, plugins: ['http'], ...(interval ? { interval } : {}) }));
    const res = await api(base, 'POST', '/assets/batch', { assets });
    if (res.status !== 200 || res.body.created !== n) throw new Error(`POST /assets/batch: ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
    for (const it of res.body.items) ids.push(it.id);
  }
  return ids;
}

/** Quantiles of a Prometheus histogram from its text exposition (linear within a bucket). */
export function histogramQuantiles(text, name, qs) {
  const buckets = [];
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, 'gm'))) buckets.push({ le: m[1] === '+Inf' ? Infinity : Number(m[1]), count: Number(m[2]) });
  const total = buckets.at(-1)?.count ?? 0;
  return Object.fromEntries(
    qs.map((q) => {
      if (!total) return [q, NaN];
      const rank = q * total;
      let prevLe = 0;
      let prevCount = 0;
      for (const b of buckets) {
        if (b.count >= rank) {
          if (b.le === Infinity) return [q, prevLe];
          return [q, prevLe + ((b.le - prevLe) * (rank - prevCount)) / Math.max(1, b.count - prevCount)];
        }
        prevLe = b.le;
        prevCount = b.count;
      }
      return [q, prevLe];
    }),
  );
}

/**
 * Creates many assets fast: the first through the API (so that its stored form is exactly what
 * the API makes), the others written straight to Redis through AssetStore.create, the code path
 * the API uses, with the same owner, plugins and validated config. Each gets its first due time
 * within its first minute, as through the API. `state` (e.g. 'up') makes them start in that
 * state instead of 'unknown', as in a fleet already checked before (no first transition).
 */
export async function createAssetsDirect(base, redisUrl, targetUrl, count, { interval, state, pathPrefix = '/p?i=', inFlight = 256 } = {}) {
  const first = await api(base, 'POST', '/assets', { url: `${targetUrl}${pathPrefix}0`, plugins: ['http'], interval });
  if (first.status !== 201) throw new Error(`POST /assets: ${first.status} ${JSON.stringify(first.body).slice(0, 300)}`);
  const redis = await openRedis({ url: redisUrl, name: 'webmon-bench-create' });
  try {
    const store = new AssetStore(redis, createKeys('webmon'), scripts(redis));
    const model = await store.get(first.body.id);
    const ids = [first.body.id];
    let next = 1;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        ids[i] = (await store.create({ owner: model.owner, url: normalizeUrl(`${targetUrl}${pathPrefix}${i}`), plugins: model.plugins, config: model.config, interval, tags: [], ...(state ? { state } : {}) })).id;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    return { ids, owner: model.owner, url: (i) => `${targetUrl}${pathPrefix}${i}` };
  } finally {
    redis.disconnect();
  }
}

/**
 * Gives every asset the stored history of an asset checked for a while, so that what a bench
 * measures next is a steady-state re-check: the first checks of an asset lay out its roll-up
 * rings (columns for each latency bin seen, widths that grow with the sums), which costs Redis
 * several times a steady-state check for its first hours.
 *
 * The first asset is checked `hours` × 3600 / interval times, one interval apart and ending one
 * interval ago, through the executor's own write path (JobStore enqueue, claim, complete, as
 * scheduled jobs; an http 200 whose duration is log-uniform between 0.5 ms and `maxMs`, so the
 * asset has seen the latency bins of a day of a real site, slow outliers included). Its roll-ups, raw results, latest results and
 * events are then copied to every other asset (DUMP / RESTORE), and its counters and state set
 * on each: the bytes are those of a real asset, made once.
 */
export async function seedHistory(redisUrl, assets, { intervalMs, hours = 24, maxMs = 5000, inFlight = 256 }) {
  const redis = await openRedis({ url: redisUrl, name: 'webmon-bench-seed' });
  try {
    const keys = createKeys('webmon');
    const jobs = new JobStore(redis, keys, scripts(redis), jobPolicy(loadConfig({ env: {} })));
    const model = assets.ids[0];
    const rounds = Math.max(1, Math.floor((hours * 3_600_000) / intervalMs));
    for (let round = 0; round < rounds; round++) {
      const at = Date.now() - (rounds - round) * intervalMs;
      const ms = Math.round(0.5 * (maxMs / 0.5) ** Math.random() * 1000) / 1000;
      const [jobId] = await jobs.enqueue([{ assetId: model, owner: assets.owner }], 0, at);
      await redis.hset(keys.job(jobId), 'scheduled', 1);
      const claimed = await jobs.claim(jobId, 'seed', 60_000, at);
      if (!claimed.claimed) throw new Error(`seed: claim of ${jobId} refused`);
      const result = {
        plugin: 'http',
        status: 'ok',
        reason: null,
        message: `HTTP 200 in ${Math.round(ms)} ms`,
        durationMs: ms,
        metrics: { statusCode: 200, totalMs: ms, ttfbMs: ms, bytes: 108, redirects: 0, connectMs: ms / 3, contentLength: -1, ipFamily: 4 },
        details: {},
      };
      const done = await jobs.complete({ jobId, token: 'seed', outcome: 'ok', reason: null, results: [result], durationMs: ms, owner: assets.owner, assetId: model }, at + ms);
      if (!done.recorded) throw new Error(`seed: check not recorded: ${done.why}`);
    }
    const perAsset = (id) => [keys.assetRollup(id, 'minute'), keys.assetRollup(id, 'hour'), keys.assetRollup(id, 'day'), keys.assetHistory(id), keys.assetLatest(id), keys.assetEvents(id)];
    const copies = [];
    for (const key of perAsset(model)) {
      const [dump, ttl] = await Promise.all([redis.dumpBuffer(key), redis.pttl(key)]);
      copies.push(dump ? { dump, ttl: Math.max(0, ttl) } : null);
    }
    const FIELDS = ['state', 'stateChangedAt', 'stateReason', 'lastCheckAt', 'lastOutcome', 'lastReason', 'lastDurationMs', 'checks', 'okCount', 'failCount', 'okStreak', 'failStreak'];
    const values = await redis.hmget(keys.asset(model), ...FIELDS);
    const fields = FIELDS.flatMap((f, i) => (values[i] === null ? [] : [f, values[i]]));
    let next = 1;
    const worker = async () => {
      while (next < assets.ids.length) {
        const id = assets.ids[next++];
        const pipe = redis.pipeline();
        perAsset(id).forEach((key, i) => {
          if (copies[i]) pipe.restore(key, copies[i].ttl, copies[i].dump, 'REPLACE');
        });
        pipe.hset(keys.asset(id), ...fields);
        for (const [err] of await pipe.exec()) if (err) throw err;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    return { rounds };
  } finally {
    redis.disconnect();
  }
}
