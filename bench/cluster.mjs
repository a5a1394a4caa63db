#!/usr/bin/env node
/**
 * webmon on a local 3-master Redis Cluster at fleet size (issue 10, item 5).
 *
 *   npm run bench:cluster -- [--assets 1000000] [--batch 5000] [--parallel 2] [--interval 300]
 *                            [--window 60] [--concurrency 64] [--runs 30] [--timeout 3600] [--json]
 *
 * 1. Starts a Redis Cluster of 3 masters (startManagedCluster, no replicas, no RDB saves) and an
 *    api in this process on a free loopback port, on the Cluster (16 shards, the default).
 * 2. Creates --assets assets through `POST /assets/batch` (--batch per request, --parallel
 *    requests in flight; distinct https URLs of 60-70 characters, plugin http, --interval).
 * 3. Memory: used_memory summed over the masters / assets, and per master (keys, memory), after
 *    creation (no check history yet: the steady-state history per asset is bench:memory's).
 * 4. API latency (--runs after 3 unmeasured): `GET /assets` (a page of 100), `GET /stats`,
 *    `GET /assets/:id/stats` (a random asset each run).
 * 5. Scheduling lag with a fake executor: the schedule is first spread evenly over one interval
 *    (what a fleet in steady state looks like; right after a bulk create every asset is due in
 *    its first minute), then for --window seconds the dispatcher's per-shard schedule_claim loop
 *    runs here (every 100 ms, as the scheduler does) and a fake executor claims and completes
 *    every job at once (job_claim + job_complete with an ok result, --concurrency at a time), no
 *    HTTP. Reported: checks/s completed vs needed, and the lateness of each claim behind its due
 *    time. A real run (dispatcher, executors, an HTTP target) at this size does not fit in 2 cores.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { buildApi } from '@webmon/api';
import * as core from '@webmon/core';
import { registry } from '@webmon/plugin-registry';
import { lifecycle } from './lib.mjs';

const { JobStore, connectRedis, createLogger, deploymentKeys, jobPolicy, loadConfig, masterNodes, startManagedCluster } = core;

const { values } = parseArgs({
  options: {
    assets: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '5000' },
    parallel: { type: 'string', default: '2' },
    interval: { type: 'string', default: '300' },
    window: { type: 'string', default: '60' },
    concurrency: { type: 'string', default: '64' },
    runs: { type: 'string', default: '30' },
    timeout: { type: 'string', default: '3600' },
    json: { type: 'boolean', default: false },
  },
});
const ASSETS = Math.max(100, Number(values.assets));
const BATCH = Math.min(10_000, Math.max(1, Number(values.batch)));
const PARALLEL = Math.max(1, Number(values.parallel));
const INTERVAL = Math.max(10, Number(values.interval));
const WINDOW = Math.max(1, Number(values.window));
const CONCURRENCY = Math.max(1, Number(values.concurrency));
const RUNS = Math.max(1, Number(values.runs));
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';

const out = {};
const say = (line) => values.json || process.stdout.write(`${line}\n`);
const life = lifecycle({ timeoutSec: Number(values.timeout) });
const dir = mkdtempSync(join(tmpdir(), 'webmon-bench-cluster-'));
life.tempDir(dir);

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((xs.length - 1) * p))];
const mib = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const info = (text, field) => Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(text)?.[1] ?? 0);

life.run(async () => {
  const cluster = await startManagedCluster({ dir, masters: 3 });
  life.onCleanup(() => cluster.stop());
  const redis = connectRedis({ url: cluster.url });
  life.onCleanup(async () => redis.disconnect());
  await redis.connect();
  const config = loadConfig({
    env: {},
    overrides: { redis: { keyPrefix: 'wm' }, api: { adminKey: ADMIN_KEY, maxBatch: 10_000 }, snapshots: { afterWrites: 'off' }, checks: { defaultIntervalSec: INTERVAL } },
  });
  const apiRedis = connectRedis({ url: cluster.url, failFast: true });
  life.onCleanup(async () => apiRedis.disconnect());
  await apiRedis.connect();
  const app = await buildApi({ config, redis: apiRedis, log: createLogger({ level: 'silent', role: 'api' }), registry, jobs: { push: async () => 0 } });
  life.onCleanup(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${app.server.address().port}`;
  const call = async (method, path, body) => {
    const res = await request(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`);
    return JSON.parse(text);
  };
  const keys = deploymentKeys(redis, config);

  // --- 2. create -----------------------------------------------------------------------------
  const ids = [];
  let next = 0;
  const t0 = performance.now();
  let reported = 0;
  const creator = async () => {
    while (next < ASSETS) {
      const from = next;
      next = Math.min(ASSETS, next + BATCH);
      const assets = [];
      for (let i = from; i < next; i++) assets.push({ url: `https://shop${i}.customer${i % 5000}.example.com/status/health?probe=${i % 7}`, plugins: ['http'] });
      const res = await call('POST', '/assets/batch', { assets });
      for (const item of res.items) if (item.id) ids.push(item.id);
      if (ids.length - reported >= 100_000) {
        reported = ids.length;
        process.stderr.write(`  created ${ids.length} in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, creator));
  const createSec = (performance.now() - t0) / 1000;
  out.create = { assets: ids.length, seconds: Number(createSec.toFixed(1)), perSec: Math.round(ids.length / createSec) };
  say(`webmon on a Redis Cluster — ${new Date().toISOString().slice(0, 10)}, 3 masters, ${keys.layout.shards} shards, ${ids.length} assets every ${INTERVAL} s`);
  say(`created ${ids.length} assets through POST /assets/batch in ${createSec.toFixed(0)} s (${out.create.perSec}/s; ${BATCH} per request, ${PARALLEL} in flight)`);

  // --- 3. memory and balance -------------------------------------------------------------------
  const nodes = await Promise.all(
    masterNodes(redis).map(async (n) => {
      const memory = info(await n.info('memory'), 'used_memory');
      return { node: `${n.options.host}:${n.options.port}`, keys: await n.dbsize(), memory };
    }),
  );
  const total = nodes.reduce((s, n) => s + n.memory, 0);
  out.memory = { usedMemory: total, bytesPerAsset: Math.round(total / ids.length), nodes };
  say(`memory: ${mib(total)} used_memory over the masters, ${(total / ids.length / 1024).toFixed(2)} KB per asset (after creation, no history yet)`);
  for (const n of nodes) say(`  ${n.node}: ${n.keys} keys, ${mib(n.memory)} (${((100 * n.memory) / total).toFixed(1)} %)`);

  // --- 4. API latency ----------------------------------------------------------------------------
  const timed = async (name, path) => {
    const ms = [];
    for (let i = 0; i < RUNS + 3; i++) {
      const p = typeof path === 'function' ? path() : path;
      const t = performance.now();
      await call('GET', p);
      if (i >= 3) ms.push(performance.now() - t);
    }
    ms.sort((a, b) => a - b);
    out.latency = { ...out.latency, [name]: { p50: Number(pct(ms, 0.5).toFixed(1)), p95: Number(pct(ms, 0.95).toFixed(1)) } };
    say(`  ${name.padEnd(24)} p50 ${pct(ms, 0.5).toFixed(1).padStart(7)} ms   p95 ${pct(ms, 0.95).toFixed(1).padStart(7)} ms`);
  };
  say(`API latency (${RUNS} runs each):`);
  await timed('GET /assets', '/assets?limit=100');
  await timed('GET /stats', '/stats');
  await timed('GET /assets/:id/stats', () => `/assets/${ids[Math.floor(Math.random() * ids.length)]}/stats`);

  // --- 5. scheduling lag ---------------------------------------------------------------------------
  out.schedule = await scheduleWindow(redis, keys, new JobStore(redis, keys, core.scripts(redis), jobPolicy(config)));
  const s = out.schedule;
  say(`scheduling (fake executor, ${WINDOW} s window, ${CONCURRENCY} claims at once):`);
  say(`  completed ${s.perSec} checks/s of ${s.needed} needed (${((100 * s.perSec) / s.needed).toFixed(1)} %)`);
  say(`  lateness behind due time (${s.lateness.count} claims): p50 ${s.lateness.p50} s   p95 ${s.lateness.p95} s   p99 ${s.lateness.p99} s   max ${s.lateness.max} s`);
  say(`  skipped in the window: ${s.late} late, ${s.pending} pending`);
  say(`  schedule_claim alone: ${s.scheduleCapacity} jobs/s of its own round-trip time (${keys.layout.shards} shards, batches of 1000)`);
  if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  return 0;
});

/** Spreads the schedule evenly over one interval, then runs the scheduler and a fake executor for WINDOW seconds. */
async function scheduleWindow(redis, keys, jobs) {
  const now = Date.now();
  for (const n of keys.shardIds) {
    // Every member first: re-scoring while paging by rank would skip some.
    const schedule = keys.shard(n).schedule;
    const members = await redis.zrange(schedule, 0, -1);
    for (let i = 0; i < members.length; i += 10_000) {
      const pipe = redis.pipeline();
      for (const id of members.slice(i, i + 10_000)) pipe.zadd(schedule, now + Math.floor(Math.random() * INTERVAL * 1000), id);
      await pipe.exec();
    }
  }
  const lateness = [];
  const queue = [];
  let completed = 0;
  let late = 0;
  let pending = 0;
  let created = 0;
  let claimMs = 0;
  let running = true;
  const result = [{ plugin: 'http', status: 'ok', reason: null, message: 'ok', durationMs: 5, metrics: { statusCode: 200 } }];
  const scheduler = (async () => {
    while (running) {
      const tick = Date.now();
      for (const n of keys.shardIds) {
        const t = performance.now();
        const res = await jobs.scheduleDue(1000, 5000, Date.now(), n);
        claimMs += performance.now() - t;
        created += res.ids.length;
        late += res.late;
        pending += res.skipped;
        for (let i = 0; i < res.ids.length; i++) queue.push([res.ids[i], res.dueAt[i]]);
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - tick))));
    }
  })();
  const worker = async () => {
    while (running) {
      const job = queue.shift();
      if (!job) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      const [id, dueAt] = job;
      const claim = await jobs.claim(id, 'bench', 60_000);
      if (!claim.claimed) continue;
      lateness.push(Date.now() - dueAt);
      await jobs.complete({ jobId: id, token: 'bench', outcome: 'ok', reason: null, results: result, durationMs: 5, owner: claim.asset.owner, assetId: claim.asset.id });
      completed++;
    }
  };
  const started = Date.now();
  const workers = Array.from({ length: CONCURRENCY }, worker);
  await new Promise((r) => setTimeout(r, WINDOW * 1000));
  running = false;
  await Promise.all([scheduler, ...workers]);
  const seconds = (Date.now() - started) / 1000;
  lateness.sort((a, b) => a - b);
  const sec = (ms) => Number((ms / 1000).toFixed(2));
  return {
    needed: Math.round(ASSETS / INTERVAL),
    perSec: Math.round(completed / seconds),
    late,
    pending,
    /** Jobs schedule_claim created per second of its own round trips: how fast scheduling alone could go. */
    scheduleCapacity: Math.round(created / (claimMs / 1000)),
    lateness: { count: lateness.length, p50: sec(pct(lateness, 0.5) ?? 0), p95: sec(pct(lateness, 0.95) ?? 0), p99: sec(pct(lateness, 0.99) ?? 0), max: sec(lateness.at(-1) ?? 0) },
  };
}
