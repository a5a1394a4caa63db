#!/usr/bin/env node
/**
 * Scheduled throughput: can `webmon up`, with its defaults, check N assets every S seconds?
 *
 *   npm run build && node bench/scheduler.mjs --assets 100000 --interval 60
 *
 * `webmon up` runs as a user runs it (one executor per core, the scheduler's defaults) against
 * a fresh managed redis-server and a local HTTP target in its own process; only per-host
 * politeness is off (every asset is on the one target host). The assets are made first, while
 * nothing checks them: the first through the API, the others straight through AssetStore.create
 * (the API's code path; 100,000 creates through the API take longer than the whole measurement).
 * They start in state up and their due times are spread evenly over one interval, then `webmon
 * up` starts: the steady state of a fleet checked for a while (re-checks, no state change). No job is pushed: the scheduler does everything. After a warm-up it
 * counts, over a window, the checks the target received (completed ≥ 99 % of N/S per second is
 * the target), the start lateness of each (arrival at the target minus the due time, see
 * below), the checks webmon reports as skipped (GET /stats), and CPU per check from /proc.
 *
 * Start lateness, measured outside webmon: an asset's due times are one phase plus multiples of
 * its interval, and a check never starts before its due time, so the lateness of an arrival is
 * (arrival − phase) mod interval, the phase being the asset's next due time read from Redis at
 * the end. Assets whose phase moved (those with skipped checks) are left out and counted. It is
 * printed beside webmon's own histogram (webmon_check_start_lateness_seconds, hand-off to an
 * executor) from the api's /metrics.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createKeys, loadConfig, openRedis, redactUrl, startManagedRedis, snapshot as takeSnapshot } from '@webmon/core';
import {
  CLI,
  api,
  commandStats,
  cpuMs,
  cpuOf,
  createAssetsDirect,
  gitRevision,
  histogramQuantiles,
  lifecycle,
  machineBusyMs,
  quantile,
  round,
  say,
  seedHistory,
  sleep,
  startTarget,
  startWebmonUp,
  stealMs,
  targetArrivals,
  webmonPids,
} from './lib.mjs';

const USAGE = `usage: node bench/scheduler.mjs [options]

  --assets N       assets to create (default 100000)
  --interval S     their check interval in seconds (default 60)
  --warmup S       seconds after the assets exist before the window opens (default 20)
  --window S       seconds counted (default: the interval, at most 60)
  --executors N    passed to webmon up (default: its own, one per core)
  --concurrency N  executor.concurrency (default: webmon's, 100)
  --save-at S      take a snapshot S seconds into the window, paced as webmon's periodic ones
                   (default: only those, every 5 minutes)
  --redis-config K=V  CONFIG SET on the Redis before webmon starts (repeatable), e.g.
                   --redis-config rdbcompression=no
  --history H      hours of checks every asset has when webmon starts (default 24: steady
                   state; 0: the window holds the assets' first checks; see seedHistory)
  --timeout S      overall limit in seconds (default 600)
  --env KEY=VALUE  extra environment for webmon up (repeatable), e.g. WEBMON_SCHEDULER_BATCH=100
  --node-arg ARG   node option for webmon up and its executors (repeatable), e.g.
                   --node-arg=--cpu-prof --node-arg=--cpu-prof-dir=/tmp/prof
  --json           one JSON line instead of the table
  -h, --help       this help`;

let opts;
try {
  const { values } = parseArgs({
    options: {
      assets: { type: 'string', default: '100000' },
      interval: { type: 'string', default: '60' },
      warmup: { type: 'string', default: '20' },
      window: { type: 'string' },
      executors: { type: 'string' },
      concurrency: { type: 'string' },
      history: { type: 'string', default: '24' },
      'save-at': { type: 'string' },
      'redis-config': { type: 'string', multiple: true, default: [] },
      timeout: { type: 'string', default: '600' },
      json: { type: 'boolean', default: false },
      env: { type: 'string', multiple: true, default: [] },
      'node-arg': { type: 'string', multiple: true, default: [] },
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
  const interval = int('interval', 10, 86_400);
  opts = {
    assets: int('assets', 1, 1_000_000),
    interval,
    warmup: int('warmup', 0, 3600),
    window: values.window === undefined ? Math.min(interval, 60) : int('window', 1, 3600),
    executors: values.executors === undefined ? undefined : int('executors', 1, 64),
    concurrency: values.concurrency === undefined ? undefined : int('concurrency', 1, 10_000),
    history: int('history', 0, 400 * 24),
    saveAt: values['save-at'] === undefined ? undefined : int('save-at', 0, 3600),
    timeoutSec: int('timeout', 10, 3600),
    json: values.json,
    nodeArgs: values['node-arg'],
    redisConfig: values['redis-config'].map((kv) => {
      const at = kv.indexOf('=');
      if (at < 1) throw new Error(`--redis-config: KEY=VALUE expected (got ${kv})`);
      return [kv.slice(0, at), kv.slice(at + 1)];
    }),
    env: Object.fromEntries(
      values.env.map((kv) => {
        const at = kv.indexOf('=');
        if (at < 1) throw new Error(`--env: KEY=VALUE expected (got ${kv})`);
        return [kv.slice(0, at), kv.slice(at + 1)];
      }),
    ),
  };
} catch (err) {
  process.stderr.write(`bench: ${err.message}\n\n${USAGE}\n`);
  process.exit(2);
}

const life = lifecycle({ timeoutSec: opts.timeoutSec, stopOrder: ['webmon', 'target'] });
// Lateness is also reported per slice of the window of this length.
const SLICE_MS = 30_000;

async function main() {
  const workDir = mkdtempSync(join(tmpdir(), 'webmon-sched-bench-'));
  life.tempDir(workDir);
  const target = await startTarget(life, { arrivals: true });
  const redis = await startManagedRedis({ dir: join(workDir, 'redis') });
  life.onCleanup(() => redis.stop(10_000));
  say(`target ${target.url}, redis ${redactUrl(redis.url)}, ${availableParallelism()} cores, node ${process.version}`);

  // Assets are made while nothing checks them (a first `webmon up` with the scheduler off), in
  // state up, then their due times are spread evenly over one interval from the start of the
  // measured webmon, as in a fleet checked for a while: what follows is the steady state (re-checks
  // with no state change), not a start-up burst of first checks.
  const created0 = Date.now();
  say(`creating ${opts.assets} assets (interval ${opts.interval} s) ...`);
  const maker = await startWebmonUp(life, { redisUrl: redis.url, executors: 1, workDir, env: { WEBMON_SCHEDULER_ENABLED: 'false' } });
  const assets = await createAssetsDirect(maker.base, redis.url, target.url, opts.assets, { interval: opts.interval, state: 'up' });
  await maker.up.stop();
  life.untrack(maker.up);
  const createdMs = Date.now() - created0;
  if (opts.history) {
    const seeded0 = Date.now();
    say(`writing ${opts.history} h of history per asset ...`);
    const { rounds } = await seedHistory(redis.url, assets, { intervalMs: opts.interval * 1000, hours: opts.history });
    say(`history written in ${((Date.now() - seeded0) / 1000).toFixed(1)} s (${rounds} checks of one asset, copied to the others)`);
  }
  await spreadSchedule(redis.url, opts.interval * 1000, 3000, opts.history > 0);
  if (opts.redisConfig.length) {
    const db = await openRedis({ url: redis.url, name: 'webmon-bench-config' });
    for (const [key, value] of opts.redisConfig) await db.config('SET', key, value);
    db.disconnect();
  }

  const { base, pid, env: upEnv } = await startWebmonUp(life, {
    // Through the Unix socket, as `webmon up` reaches the redis-server it manages.
    redisUrl: redis.socketUrl ?? redis.url,
    executors: opts.executors,
    workDir,
    // One target host for every asset: per-host politeness would allow one check a second.
    // Snapshots as `webmon up` takes them of the redis-server it manages itself (this one is the
    // bench's, so that it outlives webmon for the readings).
    env: { WEBMON_POLITENESS_HOST_INTERVAL_MS: '0', WEBMON_SNAPSHOTS_EVERY_SEC: '300', ...(opts.concurrency ? { WEBMON_EXECUTOR_CONCURRENCY: String(opts.concurrency) } : {}), ...opts.env },
    nodeArgs: opts.nodeArgs,
  });
  const executors = opts.executors ?? availableParallelism();
  say(`created in ${(createdMs / 1000).toFixed(1)} s; warm-up ${opts.warmup} s, then a ${opts.window} s window ...`);
  await sleep(opts.warmup * 1000);

  life.assertAlive();
  const pids = { webmon: webmonPids(pid), redis: [redis.process.pid] };
  const all = [...pids.webmon, ...pids.redis, target.pid];
  const cpu0 = cpuOf(all);
  const machine0 = machineBusyMs();
  const skipped0 = (await api(base, 'GET', '/stats')).body.checksSkipped;
  const statsDb = await openRedis({ url: redis.url, name: 'webmon-bench-stats' });
  await statsDb.config('RESETSTAT');
  // Calls slower than 1 ms in the window, by script: where Redis's time goes when it is slow.
  await statsDb.config('SET', 'slowlog-log-slower-than', '1000', 'slowlog-max-len', '10000');
  await statsDb.slowlog('RESET');
  const from = Date.now();
  const sampler = sampleCpu(pids, redis.process.pid);
  const keyDelayUs = loadConfig({ env: opts.env }).snapshots.keyDelayUs;
  // Waited for no longer than the window (the save goes on in Redis).
  const saveWait = new AbortController();
  const saveTimer = opts.saveAt === undefined ? null : setTimeout(() => takeSnapshot(statsDb, { keyDelayUs, signal: saveWait.signal }).catch((err) => saveWait.signal.aborted || say(`snapshot: ${err.message}`)), opts.saveAt * 1000);
  await sleep(opts.window * 1000);
  const to = Date.now();
  clearTimeout(saveTimer);
  saveWait.abort();
  const cpuTimeline = sampler.stop(from);
  const cpu1 = cpuOf(all);
  const machineMs = machineBusyMs() - machine0;
  life.assertAlive();
  const redisCommands = await scriptStats(statsDb);
  const slowCalls = await slowCallsBy(statsDb);
  const persistence = await statsDb.info('persistence');
  const redisState = {
    usedMemoryMb: round(Number(/used_memory:(\d+)/.exec(await statsDb.info('memory'))?.[1]) / 1048576),
    bgsaveInProgress: /rdb_bgsave_in_progress:1/.test(persistence),
    lastForkUs: Number(/latest_fork_usec:(\d+)/.exec(await statsDb.info('stats'))?.[1]),
    lastBgsaveSec: Number(/rdb_last_bgsave_time_sec:(-?\d+)/.exec(persistence)?.[1]),
    lastSaveMs: Number(await statsDb.lastsave()) * 1000,
    // Memory the last snapshot's copy-on-write duplicated (pages Redis wrote while its child saved).
    lastCowMb: round(Number(/rdb_last_cow_size:(\d+)/.exec(persistence)?.[1]) / 1048576),
  };
  const dispatcherStatus = controlStatus(upEnv, workDir);
  statsDb.disconnect();
  const stats = (await api(base, 'GET', '/stats')).body;
  const status = await api(base, 'GET', '/metrics');
  const metrics = typeof status.body === 'string' ? status.body : '';

  // Phases and skips of every asset, then the arrivals.
  const db = await openRedis({ url: redis.url, name: 'webmon-bench' });
  const keys = createKeys('webmon');
  const assetIds = await db.zrange(keys.schedule, 0, -1);
  const phase = new Map();
  for (let i = 0; i < assetIds.length; i += 5000) {
    const pipe = db.pipeline();
    for (const id of assetIds.slice(i, i + 5000)) pipe.zscore(keys.schedule, id).hmget(keys.asset(id), 'url', 'skippedChecks');
    const rows = await pipe.exec();
    for (let k = 0; k < rows.length; k += 2) {
      const [url, skipped] = rows[k + 1][1];
      const n = Number(/i=(\d+)/.exec(url ?? '')?.[1]);
      if (Number.isInteger(n)) phase.set(n, { dueMs: Number(rows[k][1]), skipped: Number(skipped ?? 0) });
    }
  }
  db.disconnect();
  const arrivals = await targetArrivals(target.url);
  const inWindow = arrivals.filter((a) => a.at >= from && a.at < to);
  const intervalMs = opts.interval * 1000;
  const lateness = [];
  // The window in slices of SLICE_MS by arrival: when checks were late (a snapshot, a fold …).
  const slices = [];
  let leftOut = 0;
  for (const a of inWindow) {
    const p = phase.get(a.i);
    if (!p || p.skipped > 0) {
      leftOut++;
      continue;
    }
    const late = (((a.at - p.dueMs) % intervalMs) + intervalMs) % intervalMs;
    lateness.push(late);
    const k = Math.floor((a.at - from) / SLICE_MS);
    slices[k] ??= [];
    slices[k].push(late);
  }
  lateness.sort((x, y) => x - y);
  const timeline = slices.map((list = [], k) => {
    list.sort((x, y) => x - y);
    return { fromSec: (k * SLICE_MS) / 1000, checks: list.length, p99Ms: quantile(list, 0.99) };
  });
  // The last snapshot, relative to the window's start (it ended at LASTSAVE, whole seconds).
  const snapshot =
    redisState.lastBgsaveSec >= 0 && redisState.lastSaveMs >= from - redisState.lastBgsaveSec * 1000
      ? { startSec: round((redisState.lastSaveMs - redisState.lastBgsaveSec * 1000 - from) / 1000), tookSec: redisState.lastBgsaveSec }
      : null;

  const used = (list) => list.reduce((s, p) => s + (cpu1[p] - cpu0[p]), 0);
  const windowMs = to - from;
  const perSec = inWindow.length / (windowMs / 1000);
  const needed = opts.assets / opts.interval;
  const webmonMs = used(pids.webmon);
  const redisMs = used(pids.redis);
  const targetMs = used([target.pid]);
  const hist = histogramQuantiles(metrics, 'webmon_check_start_lateness_seconds', [0.5, 0.95, 0.99]);
  const result = {
    date: new Date().toISOString(),
    commit: gitRevision(),
    node: process.version,
    cores: availableParallelism(),
    assets: opts.assets,
    intervalSec: opts.interval,
    executors,
    concurrency: opts.concurrency ?? 100,
    createSec: round(createdMs / 1000),
    windowSec: round(windowMs / 1000),
    neededPerSec: round(needed),
    completedPerSec: round(perSec),
    completedRatio: round(perSec / needed, 4),
    latenessMs: { p50: quantile(lateness, 0.5), p95: quantile(lateness, 0.95), p99: quantile(lateness, 0.99), max: lateness.at(-1), measured: lateness.length, leftOut },
    latenessTimeline: timeline,
    cpuTimeline,
    snapshotInWindow: snapshot,
    webmonHistogramSec: { p50: round(hist[0.5], 2), p95: round(hist[0.95], 2), p99: round(hist[0.99], 2) },
    skippedInWindow: { late: stats.checksSkipped.late - skipped0.late, pending: stats.checksSkipped.pending - skipped0.pending },
    skippedTotal: stats.checksSkipped,
    queue: stats.queue,
    // What the checks found: on a healthy target every asset stays up.
    fleetAtEnd: { assetsByState: stats.assetsByState, failingMost: (stats.failingMost ?? []).slice(0, 3).map((f) => f.failures) },
    scheduler: dispatcherStatus?.scheduler ?? null,
    dispatcher: dispatcherStatus ? { inMemory: dispatcherStatus.queue, received: dispatcherStatus.received, scheduled: dispatcherStatus.scheduled, sent: dispatcherStatus.sent } : null,
    // Redis time by script (EVALSHA by SHA1 is not named by INFO; scripts are told apart by calls per check).
    redisTopCommands: redisCommands.slice(0, 6).map((c) => ({ ...c, perCheck: round(c.calls / Math.max(1, inWindow.length), 3) })),
    redisSlowCalls: slowCalls,
    redis: redisState,
    cpu: {
      webmonMs: round(webmonMs),
      redisMs: round(redisMs),
      perCheckMs: round((webmonMs + redisMs) / inWindow.length, 3),
      webmonBusyCores: round(webmonMs / windowMs, 2),
      redisBusyCores: round(redisMs / windowMs, 2),
      targetBusyCores: round(targetMs / windowMs, 2),
      machineBusyCores: round(machineMs / windowMs, 2),
      otherBusyCores: round(Math.max(0, machineMs - webmonMs - redisMs - targetMs) / windowMs, 2),
      // Cores busy per process: the up process (api, dispatcher, executor 0), then each extra executor.
      byProcess: Object.fromEntries(pids.webmon.map((p, k) => [k === 0 ? 'up' : `executor${k}`, round((cpu1[p] - cpu0[p]) / windowMs, 2)])),
    },
  };
  result.met = result.completedRatio >= 0.99 && result.latenessMs.p99 < 5000;
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stdout.write(table(result));
  return 0;
}

/**
 * CPU of the measured processes, sampled every second until stop(): cores busy per slice of
 * SLICE_MS for webmon, redis-server, redis-server's children (its snapshot forks, whose time is
 * read while they live), everything else the machine ran (the target included), and time the
 * hypervisor stole from this machine.
 */
function sampleCpu(pids, redisPid) {
  const samples = [];
  const childCpu = new Map();
  const take = () => {
    for (const line of safeRead(`/proc/${redisPid}/task/${redisPid}/children`).split(' ').filter(Boolean)) childCpu.set(line, Math.max(childCpu.get(line) ?? 0, cpuMs(Number(line))));
    samples.push({
      at: Date.now(),
      webmon: pids.webmon.reduce((s, p) => s + cpuMs(p), 0),
      redis: cpuMs(redisPid),
      child: [...childCpu.values()].reduce((s, v) => s + v, 0),
      machine: machineBusyMs(),
      steal: stealMs(),
    });
  };
  take();
  const timer = setInterval(take, 1000);
  return {
    stop(from) {
      clearInterval(timer);
      take();
      const out = [];
      for (let k = 0; ; k++) {
        const a = samples.findLast((x) => x.at <= from + k * SLICE_MS) ?? samples[0];
        const b = samples.findLast((x) => x.at <= from + (k + 1) * SLICE_MS);
        if (!b || b.at <= a.at || a.at >= samples.at(-1).at) break;
        const ms = b.at - a.at;
        const d = (f) => (b[f] - a[f]) / ms;
        out.push({ fromSec: (k * SLICE_MS) / 1000, webmon: round(d('webmon'), 2), redis: round(d('redis'), 2), child: round(d('child'), 2), other: round(Math.max(0, d('machine') - d('steal') - d('webmon') - d('redis') - d('child')), 2), steal: round(d('steal'), 2) });
      }
      return out;
    },
  };
}

function safeRead(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** `webmon status` of the running install (its control channel, CURVE keys from its data dir). */
function controlStatus(env, cwd) {
  try {
    return JSON.parse(execFileSync(process.execPath, [CLI, 'status'], { env, cwd, encoding: 'utf8', timeout: 10_000 }));
  } catch {
    return null;
  }
}

/** `INFO commandstats`, most time first: [{ command, calls, usecPerCall }]. */
async function scriptStats(db) {
  return Object.entries(await commandStats(db))
    .filter(([command]) => command !== 'info' && command !== 'config|resetstat')
    .map(([command, { calls, usec }]) => ({ command, calls, usec, usecPerCall: round(usec / calls, 1) }))
    .sort((a, b) => b.usec - a.usec);
}

/** Slow-log entries of the window grouped by command (a script by its first key's kind). */
async function slowCallsBy(db) {
  const groups = new Map();
  for (const [, , usec, args] of await db.slowlog('GET', 10000)) {
    const cmd = String(args[0]).toLowerCase();
    const name = cmd === 'evalsha' ? `evalsha ${String(args[1]).slice(0, 8)} ${String(args[3] ?? '').replace(/[A-Za-z0-9_-]{8,}/g, '*').slice(0, 40)}` : cmd;
    const g = groups.get(name) ?? { name, calls: 0, usec: 0, max: 0 };
    g.calls++;
    g.usec += Number(usec);
    g.max = Math.max(g.max, Number(usec));
    groups.set(name, g);
  }
  return [...groups.values()].sort((a, b) => b.usec - a.usec).slice(0, 5);
}

/** Due times spread evenly over [now + delayMs, now + delayMs + intervalMs). */
async function spreadSchedule(redisUrl, intervalMs, delayMs, withPreviousCheck) {
  const db = await openRedis({ url: redisUrl, name: 'webmon-bench-spread' });
  const keys = createKeys('webmon');
  const ids = await db.zrange(keys.schedule, 0, -1);
  const start = Date.now() + delayMs;
  for (let i = 0; i < ids.length; i += 5000) {
    const chunk = ids.slice(i, i + 5000);
    const due = chunk.map((_, k) => Math.floor(start + (((i + k) * intervalMs) / ids.length)));
    await db.zadd(keys.schedule, ...chunk.flatMap((id, k) => [due[k], id]));
    // An asset with history was checked one interval before its next due time, as in a fleet
    // checked all along: its next check adds time in its state, not an unmonitored gap.
    if (withPreviousCheck) {
      const pipe = db.pipeline();
      for (let k = 0; k < chunk.length; k++) pipe.hset(keys.asset(chunk[k]), 'lastCheckAt', due[k] - intervalMs);
      await pipe.exec();
    }
  }
  db.disconnect();
}

function table(r) {
  const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
  return [
    '',
    `webmon scheduled throughput — ${r.date.slice(0, 16)}Z, commit ${r.commit}, ${r.cores} cores, node ${r.node}`,
    `${r.assets} assets every ${r.intervalSec} s, webmon up with ${r.executors} executors × concurrency ${r.concurrency} (created in ${r.createSec} s), window ${r.windowSec} s`,
    '',
    `completed: ${r.completedPerSec} checks/s of ${r.neededPerSec} needed (${(r.completedRatio * 100).toFixed(1)} %)`,
    `start lateness (target arrival − due time, ${r.latenessMs.measured} checks; ${r.latenessMs.leftOut} of assets with skips left out):`,
    `  p50 ${s(r.latenessMs.p50)}   p95 ${s(r.latenessMs.p95)}   p99 ${s(r.latenessMs.p99)}   max ${s(r.latenessMs.max ?? NaN)}`,
    `  webmon_check_start_lateness_seconds (dispatcher hand-off, since start): p50 ${r.webmonHistogramSec.p50} s, p95 ${r.webmonHistogramSec.p95} s, p99 ${r.webmonHistogramSec.p99} s`,
    `  p99 by ${SLICE_MS / 1000} s of the window: ${r.latenessTimeline.map((t) => `${t.fromSec}s ${s(t.p99Ms)}`).join(', ')}`,
    `  cores busy by ${SLICE_MS / 1000} s (webmon / redis / its snapshot child / other / steal): ${r.cpuTimeline.map((t) => `${t.fromSec}s ${t.webmon}/${t.redis}/${t.child}/${t.other}/${t.steal}`).join(', ')}`,
    `  last snapshot: ${r.snapshotInWindow ? `started ${r.snapshotInWindow.startSec} s into the window, took ${r.snapshotInWindow.tookSec} s` : 'none since the window opened'}`,
    `skipped in the window: ${r.skippedInWindow.late} late, ${r.skippedInWindow.pending} pending (since start: ${r.skippedTotal.late} late, ${r.skippedTotal.pending} pending)`,
    `queue at the end: ${JSON.stringify(r.queue)}; scheduler (webmon status): ${JSON.stringify(r.scheduler)}`,
    `dispatcher at the end (since start): ${JSON.stringify(r.dispatcher)}`,
    `redis commands in the window: ${r.redisTopCommands.map((c) => `${c.command} ${c.perCheck}/check ${c.usecPerCall} µs`).join(', ')}`,
    `redis calls over 1 ms in the window: ${r.redisSlowCalls.map((g) => `${g.name}: ${g.calls} calls, ${round(g.usec / 1000)} ms (max ${round(g.max / 1000)} ms)`).join('; ') || 'none'}`,
    `fleet at the end: ${JSON.stringify(r.fleetAtEnd)}`,
    `redis at the end: ${r.redis.usedMemoryMb} MB used, snapshot ${r.redis.bgsaveInProgress ? 'in progress' : 'not running'}, last fork ${round(r.redis.lastForkUs / 1000)} ms, last snapshot's copy-on-write ${r.redis.lastCowMb} MB`,
    `CPU: webmon ${r.cpu.webmonBusyCores} cores (${Object.entries(r.cpu.byProcess).map(([k, v]) => `${k} ${v}`).join(', ')}), redis ${r.cpu.redisBusyCores}, target ${r.cpu.targetBusyCores} (not counted); ${r.cpu.perCheckMs} ms per check (webmon + redis)`,
    `machine busy: ${r.cpu.machineBusyCores} of ${r.cores} cores; other load: ${r.cpu.otherBusyCores} cores (should be ~0)`,
    '',
    `target: ≥ 99 % of needed checks/s and lateness p99 < 5 s: ${r.met ? 'met' : 'NOT met'}`,
    '',
  ].join('\n');
}

life.run(main);
