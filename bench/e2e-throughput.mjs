#!/usr/bin/env node
/**
 * End-to-end throughput benchmark: how many HTTP checks per second one executor process sustains
 * through the whole pipeline (REST api → ZeroMQ → dispatcher → executor → Redis), compared with
 * the ceiling of raw undici requests (new connection per request) against the same local target,
 * and how much CPU the webmon processes and Redis spend per check.
 *
 *   npm run bench                       # builds, then runs with the defaults
 *   npm run bench -- --checks 20000     # more checks
 *   node bench/e2e-throughput.mjs --json
 *
 * Processes: the HTTP target runs in its own child process (its CPU is not counted), Redis is a
 * fresh managed redis-server in a temp dir, api/dispatcher/executor are the built CLI, one process
 * each. The driver (this process) runs the raw phase itself and only polls Redis during the e2e
 * phase (two ZCARDs every 50 ms). Every process and the temp dir are removed on exit, on error,
 * on Ctrl-C and when the overall timeout fires.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { createKeys, freePort, openRedis, redactUrl, startManagedRedis } from '@webmon/core';
import { ADMIN_KEY, CLI, NODE_FLAGS, api, commandStats, gitRevision, machineBusyMs, round, say, sleep, targetHits } from './lib.mjs';

const USER_AGENT = 'webmon/0.1 (+https://github.com/webmon)'; // what the http plugin sends
const PREFIX = 'bench';
const TARGET_E2E_RATIO = 0.6; // design target: e2e ≥ 60 % of raw
const TARGET_CPU_MS = 0.35; // design target: < 0.35 ms CPU per check (webmon + Redis)

const USAGE = `usage: node bench/e2e-throughput.mjs [options]

  --checks N        checks in the measured e2e phase, and requests in the raw phase (default 10000)
  --concurrency N   executor concurrency and raw-phase concurrency (default 20)
  --warmup N        unmeasured warm-up requests before the raw phase (default 3000)
  --warm-rounds N   unmeasured checks of every asset before the measured round (default 3: the
                    first checks lay out each asset's roll-up rings; from the third on a check
                    is a steady-state re-check)
  --timeout S       overall limit in seconds; everything is stopped after it (default 120)
  --json            print one JSON line of results instead of the table
  --cpu-prof DIR    run the webmon roles with node --cpu-prof, profiles written to DIR
                    (profiling slows them down: numbers of such a run are not comparable)
  --node-arg ARG    extra node option for the webmon roles, repeatable
                    (e.g. --node-arg=--max-old-space-size=128)
  -h, --help        this help`;

// ---------------------------------------------------------------------------------------------
// Options

let opts;
try {
  const { values } = parseArgs({
    options: {
      checks: { type: 'string', default: '10000' },
      concurrency: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '3000' },
      'warm-rounds': { type: 'string', default: '3' },
      timeout: { type: 'string', default: '120' },
      'cpu-prof': { type: 'string' },
      'node-arg': { type: 'string', multiple: true, default: [] },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const int = (name, min, max) => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name}: must be an integer from ${min} to ${max} (got ${values[name]})`);
    return n;
  };
  opts = {
    checks: int('checks', 1, 1_000_000),
    concurrency: int('concurrency', 1, 10_000),
    warmup: int('warmup', 0, 100_000),
    warmRounds: int('warm-rounds', 1, 20),
    timeoutSec: int('timeout', 5, 3600),
    json: values.json,
    cpuProfDir: values['cpu-prof'],
    nodeArgs: values['node-arg'],
  };
} catch (err) {
  process.stderr.write(`bench: ${err.message}\n\n${USAGE}\n`);
  process.exit(2);
}

/** Progress goes to stderr, so that --json leaves stdout to the one result line. */

// ---------------------------------------------------------------------------------------------
// Cleanup: every child and the temp dir, whatever happens.

const children = new Set(); // { name, child, output(), stop() }
let workDir;
let managedRedis;
let cleaning;

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
    async stop(timeoutMs = 5000) {
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
    // Roles first (api, executor, dispatcher), then the target, then Redis.
    const order = ['api', 'executor', 'dispatcher', 'target'];
    for (const name of order) for (const c of children) if (c.name === name) await c.stop().catch(() => undefined);
    for (const c of children) await c.stop().catch(() => undefined);
    if (managedRedis) await managedRedis.stop(5000).catch(() => undefined);
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  })();
  return cleaning;
}

// Last resort if the event loop is going away without cleanup (e.g. process.exit elsewhere).
process.on('exit', () => {
  for (const c of children) if (c.alive()) c.child.kill('SIGKILL');
  if (managedRedis?.process.exitCode === null) managedRedis.process.kill('SIGKILL');
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

let aborting = false;
async function abort(message, code) {
  if (aborting) return; // errors caused by the shutdown itself are not news
  aborting = true;
  process.stderr.write(`bench: ${message}\n`);
  if (code === 1) {
    // What the processes said (warnings and errors only: they run at log level warn).
    for (const c of children) if (c.output()) process.stderr.write(`--- ${c.name} (last output)\n${c.output().slice(-1500)}\n`);
  }
  await cleanup();
  process.exit(code);
}

process.on('uncaughtException', (err) => void abort(err?.stack ?? String(err), 1));
process.on('unhandledRejection', (err) => void abort(err?.stack ?? String(err), 1));
process.once('SIGINT', () => void abort('interrupted', 130));
process.once('SIGTERM', () => void abort('terminated', 143));
const overall = setTimeout(() => void abort(`overall timeout of ${opts.timeoutSec} s reached; stopped everything`, 1), opts.timeoutSec * 1000);
overall.unref();

// ---------------------------------------------------------------------------------------------
// Helpers



let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // keep 100
}

/** utime and stime of a process (all its threads), in ms (kernel time is reported apart). */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return { user: (Number(fields[11]) * 1000) / clockTicks, sys: (Number(fields[12]) * 1000) / clockTicks };
}

/** Resident set size of a process, in MB. */
function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function assertAlive() {
  for (const c of children) {
    if (!c.alive()) throw new Error(`${c.name} exited unexpectedly (${c.child.exitCode ?? c.child.signalCode}):\n${c.output()}`);
  }
}


// ---------------------------------------------------------------------------------------------
// The HTTP target, in its own process.

const TARGET_SRC = `
import { createServer } from 'node:http';
const body = '<!doctype html><html><head><title>bench</title></head><body><p>hello from the bench target</p></body></html>';
let hits = 0;
const server = createServer((req, res) => {
  if (req.url === '/__stats') { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ hits })); return; }
  hits++;
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
});
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\\n'));
process.on('SIGTERM', () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
`;

async function startTarget() {
  const child = spawn(process.execPath, ['--input-type=module', '-e', TARGET_SRC], { stdio: ['ignore', 'pipe', 'pipe'] });
  const t = track('target', child);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const m = /\{"port":(\d+)\}/.exec(t.output());
    if (m) return { entry: t, url: `http://127.0.0.1:${m[1]}` };
    if (!t.alive()) throw new Error(`target exited:\n${t.output()}`);
    if (Date.now() > deadline) throw new Error(`target did not start:\n${t.output()}`);
    await sleep(20);
  }
}


// ---------------------------------------------------------------------------------------------
// Phase "raw": undici, a new connection per request, like the http plugin's defaults.

async function rawPhase(targetUrl, targetPid, count, concurrency, pathPrefix, timeLimitMs) {
  // Same dispatcher settings as plugins/http: pooled Agent, no reuse (reset: true).
  const agent = new Agent({ connect: { timeout: 5_000 }, keepAliveTimeout: 4_000, connections: null });
  let next = 0;
  let ok = 0;
  let errors = 0;
  let firstError;
  const deadline = Date.now() + timeLimitMs;
  const cpu0 = process.cpuUsage();
  const target0 = cpuMs(targetPid);
  const machine0 = machineBusyMs();
  const t0 = performance.now();
  const worker = async () => {
    while (next < count && Date.now() < deadline) {
      const i = next++;
      try {
        const res = await request(`${targetUrl}${pathPrefix}${i}`, {
          method: 'GET',
          headers: { 'user-agent': USER_AGENT },
          dispatcher: agent,
          reset: true,
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
        });
        let bytes = 0;
        for await (const chunk of res.body) bytes += chunk.length;
        if (res.statusCode === 200 && bytes > 0) ok++;
        else errors++;
      } catch (err) {
        errors++;
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const target1 = cpuMs(targetPid);
  const machineMs = machineBusyMs() - machine0;
  await agent.close();
  const done = ok + errors;
  if (done < count) throw new Error(`raw phase: only ${done} of ${count} requests in ${timeLimitMs} ms`);
  if (errors) throw new Error(`raw phase: ${errors} of ${count} requests failed; first: ${firstError?.message ?? 'bad status'}`);
  return {
    requests: count,
    elapsedMs,
    perSec: count / (elapsedMs / 1000),
    clientCpuMsPerReq: (cpu.user + cpu.system) / 1000 / count,
    targetCpuMsPerReq: (target1.user + target1.sys - target0.user - target0.sys) / count,
    // Busy time of the machine not spent by the driver or the target: other load.
    otherMs: Math.max(0, machineMs - (cpu.user + cpu.system) / 1000 - (target1.user + target1.sys - target0.user - target0.sys)),
  };
}

// ---------------------------------------------------------------------------------------------
// Phase "e2e"

async function startRoles(redisUrl, concurrency) {
  const apiPort = await freePort();
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    WEBMON_DATA_DIR: join(workDir, 'data'),
    WEBMON_REDIS_URL: redisUrl,
    WEBMON_REDIS_KEY_PREFIX: PREFIX,
    WEBMON_API_PORT: String(apiPort),
    WEBMON_API_ADMIN_KEY: ADMIN_KEY,
    WEBMON_ZMQ_FRONTEND: `tcp://127.0.0.1:${await freePort()}`,
    WEBMON_ZMQ_BACKEND: `tcp://127.0.0.1:${await freePort()}`,
    WEBMON_ZMQ_CONTROL: `tcp://127.0.0.1:${await freePort()}`,
    WEBMON_EXECUTOR_CONCURRENCY: String(concurrency),
    WEBMON_LOG_LEVEL: 'warn',
    // As in the e2e tests (test/helpers/processes.ts): the only checks are the jobs the bench
    // pushes, and the single target host is not rate-limited by per-host politeness.
    WEBMON_SCHEDULER_ENABLED: 'false',
    WEBMON_POLITENESS_HOST_INTERVAL_MS: '0',
  };
  const roles = {};
  for (const role of ['dispatcher', 'executor', 'api']) {
    // cwd = the temp dir, so that no ./webmon.yaml of the caller is picked up.
    const prof = opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', resolve(opts.cpuProfDir), '--cpu-prof-name', `${role}.cpuprofile`] : [];
    const child = spawn(process.execPath, [...NODE_FLAGS, ...opts.nodeArgs, ...prof, CLI, role], { cwd: workDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    roles[role] = track(role, child);
  }
  const base = `http://127.0.0.1:${apiPort}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    assertAlive();
    try {
      const h = await api(base, 'GET', '/health');
      if (h.status === 200 && h.body?.executors?.alive >= 1) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`webmon roles not ready in 20 s:\n${Object.values(roles).map((r) => `[${r.name}] ${r.output()}`).join('\n')}`);
    await sleep(100);
  }
  return { base, roles };
}

async function createAssets(base, targetUrl, count, pathPrefix) {
  const ids = [];
  for (let start = 0; start < count; start += 10_000) {
    const n = Math.min(10_000, count - start);
    const assets = Array.from({ length: n }, (_, k) => ({ url: `${targetUrl}${pathPrefix}${start + k}`, plugins: ['http'] }));
    const res = await api(base, 'POST', '/assets/batch', { assets });
    if (res.status !== 200 || res.body.created !== n) throw new Error(`POST /assets/batch: ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
    for (const it of res.body.items) ids.push(it.id);
  }
  return ids;
}

/**
 * Pushes one job per asset (POST /jobs, chunks of 1000) and waits until Redis has no job queued
 * or leased. A job is in exactly one of `jobs:queued` / `jobs:leases` until job_complete (or a
 * failure) removes it, atomically (see packages/core/lua/job_*.lua), so both sets empty after
 * every push has returned means every job is finished.
 */
async function runJobs(base, redis, keys, assetIds, limitMs) {
  const t0 = performance.now();
  const jobIds = [];
  for (let i = 0; i < assetIds.length; i += 1000) {
    const res = await api(base, 'POST', '/jobs', { assetIds: assetIds.slice(i, i + 1000) });
    if (res.status !== 202 || res.body.errors.length) throw new Error(`POST /jobs: ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
    for (const j of res.body.jobs) jobIds.push(j.id);
  }
  const pushedMs = performance.now() - t0;
  const deadline = Date.now() + limitMs;
  for (;;) {
    const [[, queued], [, leased]] = await redis.pipeline().zcard(keys.jobsQueued).zcard(keys.jobsLeases).exec();
    if (queued === 0 && leased === 0) break;
    assertAlive();
    if (Date.now() > deadline) throw new Error(`jobs not finished in time: ${queued} queued, ${leased} leased`);
    await sleep(50);
  }
  return { jobIds, elapsedMs: performance.now() - t0, pushedMs };
}

/** Status and outcome of every job, read from Redis after the clock stopped. */
async function verify(base, redis, keys, jobIds) {
  const counts = { ok: 0, warn: 0, error: 0, unsupported: 0, failed: 0, other: 0 };
  const reasons = {};
  for (let i = 0; i < jobIds.length; i += 5000) {
    const pipe = redis.pipeline();
    for (const id of jobIds.slice(i, i + 5000)) pipe.hmget(keys.job(id), 'status', 'outcome', 'results');
    for (const [err, row] of await pipe.exec()) {
      if (err) throw err;
      const [status, outcome, results] = row;
      if (status === 'done' && outcome in counts) counts[outcome]++;
      else if (status === 'failed') counts.failed++;
      else counts.other++;
      if (outcome !== 'ok') {
        const r = (results && JSON.parse(results)[0]?.reason) || status;
        reasons[r] = (reasons[r] ?? 0) + 1;
      }
    }
  }
  // A few through the REST API, as a client would see them.
  const sample = [];
  const step = Math.max(1, Math.floor(jobIds.length / 5));
  for (let i = 0; i < jobIds.length && sample.length < 5; i += step) sample.push(jobIds[i]);
  const problems = [];
  for (const id of sample) {
    const res = await api(base, 'GET', `/jobs/${id}`);
    const r = res.body?.results?.[0];
    if (res.status !== 200 || res.body.status !== 'done' || res.body.outcome !== 'ok' || r?.plugin !== 'http' || r?.status !== 'ok' || r?.metrics?.statusCode !== 200) {
      problems.push(`GET /jobs/${id}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    }
  }
  return { counts, reasons, sampled: sample.length, problems, failedChecks: jobIds.length - counts.ok };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (\`npm run bench\` does)`);
  const { checks, concurrency, warmup } = opts;
  const started = Date.now();
  workDir = mkdtempSync(join(tmpdir(), 'webmon-bench-'));

  const target = await startTarget();
  const targetPid = target.entry.child.pid;
  managedRedis = await startManagedRedis({ dir: join(workDir, 'redis') });
  say(`target ${target.url} (own process), redis ${redactUrl(managedRedis.url)}, ${cpus().length} cores, node ${process.version}`);

  // Raw ceiling.
  if (warmup) {
    say(`raw: warm-up, ${warmup} requests ...`);
    await rawPhase(target.url, targetPid, warmup, concurrency, '/w?i=', 30_000);
  }
  say(`raw: ${checks} requests, concurrency ${concurrency}, new connection per request ...`);
  const raw = await rawPhase(target.url, targetPid, checks, concurrency, '/r?i=', 60_000);
  say(`raw: ${raw.perSec.toFixed(0)} req/s`);

  // End to end.
  // The roles use the Unix socket, as `webmon up` does with the redis-server it manages.
  const { base, roles } = await startRoles(managedRedis.socketUrl ?? managedRedis.url, concurrency);
  const redis = await openRedis({ url: managedRedis.url, name: 'webmon-bench' });
  const keys = createKeys(PREFIX);
  try {
    say(`e2e: creating ${checks} assets ...`);
    const assetIds = await createAssets(base, target.url, checks, '/p?i=');
    // Warm-up round: every asset is checked once (its state goes unknown → up). The measured
    // round then re-checks them, as steady-state monitoring does: no state change, no event.
    for (let round = 1; round <= opts.warmRounds; round++) {
      say(`e2e: warm-up, check ${round} of ${opts.warmRounds} of the ${checks} assets ...`);
      await runJobs(base, redis, keys, assetIds, Math.max(5_000, opts.timeoutSec * 1000 - (Date.now() - started)));
    }
    const pids = { api: roles.api.child.pid, dispatcher: roles.dispatcher.child.pid, executor: roles.executor.child.pid, redis: managedRedis.process.pid };
    const hits0 = await targetHits(target.url);
    await sleep(200); // let the creates settle (no work in flight before the clock starts)
    await redis.config('RESETSTAT');
    const cpu0 = Object.fromEntries(Object.entries({ ...pids, target: targetPid }).map(([k, pid]) => [k, cpuMs(pid)]));
    const machine0 = machineBusyMs();
    const driver0 = process.cpuUsage();
    say(`e2e: ${checks} checks through api → dispatcher → executor (concurrency ${concurrency}) ...`);
    const run = await runJobs(base, redis, keys, assetIds, Math.max(5_000, opts.timeoutSec * 1000 - (Date.now() - started)));
    const cpu1 = Object.fromEntries(Object.entries({ ...pids, target: targetPid }).map(([k, pid]) => [k, cpuMs(pid)]));
    const machineMs = machineBusyMs() - machine0;
    const driverCpu = process.cpuUsage(driver0);
    const rss = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, round(rssMb(pid))]));
    const cmdStats = await commandStats(redis);
    say(`e2e: ${(checks / (run.elapsedMs / 1000)).toFixed(0)} checks/s; verifying results ...`);
    const hits = (await targetHits(target.url)) - hits0;
    const check = await verify(base, redis, keys, run.jobIds);

    const used = (k) => cpu1[k].user + cpu1[k].sys - cpu0[k].user - cpu0[k].sys;
    const perProcessMs = Object.fromEntries(Object.keys(pids).map((k) => [k, used(k)]));
    const totalCpuMs = Object.values(perProcessMs).reduce((a, b) => a + b, 0);
    const e2ePerSec = checks / (run.elapsedMs / 1000);
    const redisCommands = Object.entries(cmdStats)
      .filter(([name]) => name !== 'info' && name !== 'config|resetstat')
      .sort((a, b) => b[1].usec - a[1].usec)
      .map(([name, v]) => ({ command: name, calls: v.calls, usec: v.usec, usecPerCall: round(v.usec / v.calls, 2), perCheck: round(v.calls / checks, 3) }));
    const result = {
      date: new Date().toISOString(),
      commit: gitRevision(),
      node: process.version,
      cores: cpus().length,
      checks,
      concurrency,
      warmup,
      raw: {
        perSec: round(raw.perSec),
        elapsedMs: round(raw.elapsedMs),
        clientCpuMsPerReq: round(raw.clientCpuMsPerReq, 3),
        targetCpuMsPerReq: round(raw.targetCpuMsPerReq, 3),
        otherMs: round(raw.otherMs),
      },
      e2e: { perSec: round(e2ePerSec), elapsedMs: round(run.elapsedMs), pushMs: round(run.pushedMs), ratio: round(e2ePerSec / raw.perSec, 3) },
      cpu: {
        totalMs: round(totalCpuMs),
        perCheckMs: round(totalCpuMs / checks, 3),
        perProcessMs: Object.fromEntries(Object.entries(perProcessMs).map(([k, v]) => [k, round(v)])),
        kernelMs: Object.fromEntries(Object.keys(pids).map((k) => [k, round(cpu1[k].sys - cpu0[k].sys)])),
        perCheckByProcessMs: Object.fromEntries(Object.entries(perProcessMs).map(([k, v]) => [k, round(v / checks, 3)])),
        rssMbAfter: rss,
        busy: Object.fromEntries(Object.entries(perProcessMs).map(([k, v]) => [k, round(v / run.elapsedMs, 3)])),
        notCounted: { targetMs: round(used('target')), targetPerCheckMs: round(used('target') / checks, 3), targetBusy: round(used('target') / run.elapsedMs, 3) },
        // Busy time of the whole machine during the e2e phase, and what is left after webmon,
        // Redis, the target and the driver: other load that would distort the numbers.
        machine: {
          busyMs: round(machineMs),
          busy: round(machineMs / run.elapsedMs / cpus().length, 3),
          driverMs: round((driverCpu.user + driverCpu.system) / 1000),
          otherMs: round(Math.max(0, machineMs - totalCpuMs - used('target') - (driverCpu.user + driverCpu.system) / 1000)),
        },
      },
      redisCommands,
      correctness: {
        failedChecks: check.failedChecks,
        outcomes: check.counts,
        reasons: check.reasons,
        targetRequests: hits,
        sampledViaApi: check.sampled,
        sampleProblems: check.problems,
      },
      targets: {
        e2eRatio: { target: `>= ${TARGET_E2E_RATIO}`, met: e2ePerSec / raw.perSec >= TARGET_E2E_RATIO },
        cpuPerCheckMs: { target: `< ${TARGET_CPU_MS}`, met: totalCpuMs / checks < TARGET_CPU_MS },
      },
    };
    const correct = check.failedChecks === 0 && check.problems.length === 0 && hits === checks;
    result.correct = correct;
    if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else process.stdout.write(table(result));
    return correct ? 0 : 1;
  } finally {
    redis.disconnect();
  }
}


function table(r) {
  const pct = (x) => `${(x * 100).toFixed(1)}%`;
  const ms = (x) => x.toFixed(3);
  const c = r.cpu;
  const p = c.perCheckByProcessMs;
  const row = (name, total, perCheck, kernel, busy, rss) =>
    `  ${name.padEnd(12)}${String(total).padStart(9)}${perCheck.padStart(11)}${String(kernel).padStart(11)}${busy.padStart(9)}${String(rss).padStart(9)}`;
  const lines = [
    '',
    `webmon e2e throughput — ${r.date.slice(0, 10)}, commit ${r.commit}, ${r.cores} cores, node ${r.node}, ${r.checks} checks, concurrency ${r.concurrency}, 1 executor`,
    '',
    `raw undici (new connection/request): ${r.raw.perSec.toFixed(0).padStart(6)} req/s     (${(r.raw.elapsedMs / 1000).toFixed(2)} s)`,
    `end to end:                          ${r.e2e.perSec.toFixed(0).padStart(6)} checks/s  (${pct(r.e2e.ratio)} of raw; ${(r.e2e.elapsedMs / 1000).toFixed(2)} s, all POST /jobs answered after ${(r.e2e.pushMs / 1000).toFixed(2)} s)`,
    `CPU per check: ${ms(c.perCheckMs)} ms (api ${ms(p.api)}, dispatcher ${ms(p.dispatcher)}, executor ${ms(p.executor)}, redis ${ms(p.redis)})`,
    '',
    row('process', 'CPU ms', 'ms/check', 'kernel ms', 'busy', 'RSS MB'),
    ...Object.keys(c.perProcessMs).map((k) => row(k, c.perProcessMs[k], ms(p[k]), c.kernelMs[k], pct(c.busy[k]), c.rssMbAfter[k])),
    row('total', c.totalMs, ms(c.perCheckMs), round(Object.values(c.kernelMs).reduce((a, b) => a + b, 0)), pct(Object.values(c.busy).reduce((a, b) => a + b, 0)), ''),
    `  not counted: target ${ms(c.notCounted.targetPerCheckMs)} ms/check (busy ${pct(c.notCounted.targetBusy)}); raw phase: client (undici in the bench driver) ${ms(r.raw.clientCpuMsPerReq)} ms/req, target ${ms(r.raw.targetCpuMsPerReq)} ms/req`,
    `  other load on the machine (should be ~0): ${r.raw.otherMs} ms during the raw phase, ${c.machine.otherMs} ms during the e2e phase (${pct(c.machine.busy)} of ${r.cores} cores busy)`,
    `  redis commands: ${r.redisCommands.slice(0, 6).map((x) => `${x.command} ${x.perCheck}/check ${x.usecPerCall} µs`).join(', ')}`,
    '',
    `failed checks: ${r.correctness.failedChecks}   outcomes ${JSON.stringify(r.correctness.outcomes)}${Object.keys(r.correctness.reasons).length ? `   reasons ${JSON.stringify(r.correctness.reasons)}` : ''}`,
    `target saw ${r.correctness.targetRequests} requests for ${r.checks} checks; ${r.correctness.sampledViaApi} jobs read back via GET /jobs/:id: ${r.correctness.sampleProblems.length ? r.correctness.sampleProblems.join('; ') : 'all done, http ok, HTTP 200'}`,
    '',
    `design target: e2e >= ${pct(TARGET_E2E_RATIO)} of raw         ${r.targets.e2eRatio.met ? 'met' : 'NOT met'} (${pct(r.e2e.ratio)})`,
    `design target: CPU < ${TARGET_CPU_MS} ms per check      ${r.targets.cpuPerCheckMs.met ? 'met' : 'NOT met'} (${ms(c.perCheckMs)} ms)`,
    r.correct ? 'result: correct' : 'result: INCORRECT (see above)',
    '',
  ];
  return lines.join('\n');
}

main().then(
  async (code) => {
    clearTimeout(overall);
    await cleanup();
    process.exit(code);
  },
  (err) => abort(err?.stack ?? String(err), 1),
);
