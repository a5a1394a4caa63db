#!/usr/bin/env node
/**
 * The API at fleet size: GET /stats, GET /assets?q= and GET /assets?limit=1000 (with and without
 * `fields`) over many assets, many of them failing; then the snapshot policy under check load.
 *
 *   npm run build && node bench/api-scale.mjs [--assets 100000] [--failing 100000]
 *                                             [--snapshot-seconds 60] [--runs 15] [--timeout 900] [--json]
 *
 * Assets are created through the asset store (asset_create.lua) and failures recorded through
 * the job store (job_claim.lua + job_complete.lua), as the API and the executors do; requests
 * go over HTTP to an in-process api on a free loopback port. For each request: latency
 * (median, p95, max of --runs after 3 unmeasured), response bytes, and the longest single Redis
 * command while it ran (SLOWLOG, commands over 1 ms: how long it blocked every other client).
 *
 * Snapshot phase: --snapshot-seconds per policy with the dataset above, a steady check load
 * (job completions) and an API write every 250 ms followed by an after-write snapshot request
 * (as `snapshots.afterWrites: async` does): the old policy (`save 900 1 300 10 60 10000`, no
 * duration window) and the current one. Reports BGSAVEs started and the share of time saving.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { Redis } from 'ioredis';
import { buildApi } from '@webmon/api';
import * as core from '@webmon/core';
import { registry } from '@webmon/plugin-registry';

const { AssetStore, ClientStore, JobStore, SnapshotCoalescer, connectRedis, createKeys, createLogger, freePort, jobPolicy, loadConfig, normalizeUrl, persistenceInfo, scripts, startManagedRedis } = core;

const { values } = parseArgs({
  options: {
    assets: { type: 'string', default: '100000' },
    failing: { type: 'string', default: '100000' },
    'snapshot-seconds': { type: 'string', default: '60' },
    runs: { type: 'string', default: '15' },
    timeout: { type: 'string', default: '900' },
    json: { type: 'boolean', default: false },
  },
});
const ASSETS = Math.max(100, Number(values.assets));
const FAILING = Math.min(ASSETS, Math.max(0, Number(values.failing)));
const SNAP_SECONDS = Math.max(0, Number(values['snapshot-seconds']));
const RUNS = Math.max(1, Number(values.runs));
const TENANT_SHARE = 0.05; // every 20th asset belongs to a tenant
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';

const say = (line) => values.json || process.stdout.write(`${line}\n`);
const dir = mkdtempSync(join(tmpdir(), 'webmon-bench-scale-'));
const server = await startManagedRedis({ dir });
const redis = new Redis(server.url, { enableAutoPipelining: true });
let app;
const cleanup = async () => {
  await app?.close().catch(() => undefined);
  redis.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
};
const timer = setTimeout(() => {
  process.stderr.write(`timed out after ${values.timeout} s\n`);
  void cleanup().finally(() => process.exit(1));
}, Number(values.timeout) * 1000);
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
process.once('SIGTERM', () => void cleanup().then(() => process.exit(143)));

const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))[1]);
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((xs.length - 1) * p))];

try {
  const config = loadConfig({ env: {}, overrides: { redis: { keyPrefix: 'wm' }, api: { adminKey: ADMIN_KEY }, snapshots: { afterWrites: 'off' } } });
  const keys = createKeys('wm');
  const sc = scripts(redis);
  const assets = new AssetStore(redis, keys, sc);
  const jobs = new JobStore(redis, keys, sc, jobPolicy(config));
  const tenant = await new ClientStore(redis, keys, undefined).create('bench tenant');

  // --- dataset ---------------------------------------------------------------------------
  let t0 = performance.now();
  const ids = new Array(ASSETS);
  const owners = new Array(ASSETS);
  for (let from = 0; from < ASSETS; from += 2000) {
    await Promise.all(
      Array.from({ length: Math.min(2000, ASSETS - from) }, async (_, j) => {
        const i = from + j;
        const owner = i % Math.round(1 / TENANT_SHARE) === 0 ? tenant.client.id : 'admin';
        const url = normalizeUrl(`https://shop${i}.customer${i % 500}.example.com/status/health?probe=${i % 7}`);
        const { id } = await assets.create({ owner, url, plugins: ['http'], config: {}, interval: 60, tags: [] });
        ids[i] = id;
        owners[i] = owner;
      }),
    );
  }
  const createSeconds = (performance.now() - t0) / 1000;
  if (typeof assets.ensureSearchIndex === 'function') await assets.ensureSearchIndex();

  // Failures: one failed check each for FAILING assets, three more for every 97th of them.
  t0 = performance.now();
  let failedChecks = 0;
  const fail = async (i, at) => {
    const [jobId] = await jobs.enqueue([{ assetId: ids[i], owner: owners[i] }], 0, at);
    await jobs.claim(jobId, 'tok', 60_000, at);
    const r = { plugin: 'http', status: 'error', reason: 'refused', message: 'connection refused', durationMs: 3, metrics: {} };
    await jobs.complete({ jobId, token: 'tok', outcome: 'error', reason: 'refused', results: [r], durationMs: 3, owner: owners[i], assetId: ids[i] }, at);
    failedChecks++;
  };
  const now = Date.now();
  for (let from = 0; from < FAILING; from += 1000) {
    await Promise.all(Array.from({ length: Math.min(1000, FAILING - from) }, (_, j) => fail(from + j, now - 60_000 + j)));
  }
  for (let i = 0; i < FAILING; i += 97) for (let k = 0; k < 3; k++) await fail(i, now - 30_000 + k);
  const failSeconds = (performance.now() - t0) / 1000;
  // Finished jobs expire after jobs.retentionSec; they are not what this bench is about.
  for (let cursor = '0'; ; ) {
    const [next, found] = await redis.scan(cursor, 'MATCH', 'wm:job:*', 'COUNT', 5000);
    if (found.length) await redis.unlink(...found);
    cursor = next;
    if (cursor === '0') break;
  }

  const searchBytes = await keyBytes('wm:search:*');
  const failingBytes = (await keyBytes('wm:stats:failing:*')) + (await keyBytes('wm:stats:failures:*'));
  const memory = await usedMemory();
  say(`webmon API at scale — ${new Date().toISOString().slice(0, 10)}, ${ASSETS} assets (${Math.round(ASSETS * TENANT_SHARE)} of one tenant), ${FAILING} failing`);
  say(`dataset: created in ${createSeconds.toFixed(1)} s, ${failedChecks} failed checks recorded in ${failSeconds.toFixed(1)} s; used_memory ${(memory / 2 ** 20).toFixed(0)} MiB`);
  say(`search index: ${(searchBytes / 2 ** 20).toFixed(1)} MiB (${Math.round(searchBytes / ASSETS)} B per asset); failing-most sets: ${(failingBytes / 2 ** 20).toFixed(1)} MiB`);

  // --- requests ----------------------------------------------------------------------------
  const apiRedis = connectRedis({ url: server.url, failFast: true });
  await apiRedis.connect();
  app = await buildApi({ config, redis: apiRedis, log: createLogger({ level: 'silent', role: 'api' }), registry, jobs: { push: async () => 0 } });
  const port = await freePort();
  await app.listen({ host: '127.0.0.1', port });
  await redis.config('SET', 'slowlog-log-slower-than', '1000');
  await redis.config('SET', 'slowlog-max-len', '1024');

  const probe = Math.floor(ASSETS / 2) + 1;
  const cases = [
    ['GET /stats (admin)', '/stats', ADMIN_KEY],
    ['GET /stats (tenant)', '/stats', tenant.apiKey],
    [`GET /assets?q=shop${probe}. (1 match)`, `/assets?q=shop${probe}.`, ADMIN_KEY],
    ['GET /assets?q=customer20.example (page of 100)', '/assets?q=customer20.example', ADMIN_KEY],
    ['GET /assets?q=no-such-host (no match)', '/assets?q=no-such-host', ADMIN_KEY],
    ['GET /assets?q=customer20.example (tenant)', '/assets?q=customer20.example', tenant.apiKey],
    ['GET /assets?limit=1000', '/assets?limit=1000', ADMIN_KEY],
    ['GET /assets?limit=1000&fields=id,url,state', '/assets?limit=1000&fields=id,url,state', ADMIN_KEY],
  ];
  const results = [];
  for (const [name, path, key] of cases) {
    const headers = { authorization: `Bearer ${key}` };
    const first = await request(`http://127.0.0.1:${port}${path}`, { headers });
    const body = await first.body.text();
    if (first.statusCode !== 200) {
      results.push({ name, status: first.statusCode });
      say(`  ${name.padEnd(50)} HTTP ${first.statusCode}: ${body.slice(0, 120)}`);
      continue;
    }
    for (let i = 0; i < 2; i++) await (await request(`http://127.0.0.1:${port}${path}`, { headers })).body.text();
    await redis.slowlog('RESET');
    const ms = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      const res = await request(`http://127.0.0.1:${port}${path}`, { headers });
      await res.body.text();
      ms.push(performance.now() - t);
    }
    const slow = await redis.slowlog('GET', 1024);
    const longest = slow.reduce((m, e) => (m && Number(m[2]) >= Number(e[2]) ? m : e), null);
    const blockedMs = longest ? Number(longest[2]) / 1000 : 0;
    const blockedBy = longest ? String(longest[3][0]).toLowerCase() : '';
    const items = JSON.parse(body).items?.length;
    ms.sort((a, b) => a - b);
    const r = { name, status: 200, p50: pct(ms, 0.5), p95: pct(ms, 0.95), max: ms[ms.length - 1], bytes: Buffer.byteLength(body), items, redisBlockedMs: blockedMs, redisBlockedBy: blockedBy };
    results.push(r);
  }
  say('\n  request                                             median      p95      max    bytes  items  longest Redis command');
  for (const r of results) {
    if (r.status !== 200) continue;
    say(`  ${r.name.padEnd(50)} ${r.p50.toFixed(1).padStart(7)} ${r.p95.toFixed(1).padStart(8)} ${r.max.toFixed(1).padStart(8)} ${String(r.bytes).padStart(8)} ${String(r.items ?? '').padStart(6)}  ${r.redisBlockedMs ? `${r.redisBlockedMs.toFixed(1)} ms (${r.redisBlockedBy})` : '< 1 ms'}`);
  }
  await app.close();
  app = undefined;
  apiRedis.disconnect();

  // --- snapshots -----------------------------------------------------------------------------
  const snapshots = [];
  if (SNAP_SECONDS > 0) {
    const one = await core.snapshot(redis);
    say(`\nsnapshots: one BGSAVE of this dataset takes ${(one.saveMs ?? one.durationMs) / 1000} s; ${SNAP_SECONDS} s per policy, check load + an API write every 250 ms`);
    const policies = [
      { name: 'old: save 900 1 300 10 60 10000, no window', save: '900 1 300 10 60 10000', durationFactor: 0 },
      { name: `new: save 900 1 300 10, window ${core.DEFAULT_DURATION_FACTOR ?? '?'} x save`, save: '900 1 300 10', durationFactor: undefined },
    ];
    for (const p of policies) snapshots.push({ ...p, ...(await snapshotRun(p)) });
    for (const s of snapshots) {
      say(`  ${s.name.padEnd(48)} ${String(s.saves).padStart(3)} BGSAVEs in ${SNAP_SECONDS} s (${s.perHour}/h), saving ${s.savingPct}% of the time, ${s.checks} checks, ${s.writes} writes (longest wait for a snapshot ${s.longestWaitMs} ms)`);
    }
  }

  if (values.json) process.stdout.write(`${JSON.stringify({ assets: ASSETS, failing: FAILING, createSeconds, failSeconds, usedMemory: memory, searchBytes, failingBytes, results, snapshots })}\n`);

  /** Runs SNAP_SECONDS of check load and API writes under one policy; counts the saves Redis started. */
  async function snapshotRun(p) {
    await redis.config('SET', 'save', p.save);
    while ((await persistenceInfo(redis)).inProgress) await new Promise((r) => setTimeout(r, 100));
    const coalescer = new SnapshotCoalescer(redis, undefined, p.durationFactor === undefined ? {} : { durationFactor: p.durationFactor });
    const before = await persistenceInfo(redis);
    const end = Date.now() + SNAP_SECONDS * 1000;
    let checks = 0;
    let writes = 0;
    let longestWaitMs = 0;
    let savingMs = 0;
    let savingSince = null;
    const load = (async () => {
      // About 500 checks a second, some failing: a steady stream of changes.
      for (let n = 0; Date.now() < end; n++) {
        const t = Date.now();
        await Promise.all(Array.from({ length: 50 }, (_, j) => fail((n * 50 + j) % ASSETS, t)));
        checks += 50;
        await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - t))));
      }
    })();
    const writer = (async () => {
      for (let n = 0; Date.now() < end; n++) {
        await assets.update(ids[n % ASSETS], (cur) => ({ tags: cur.tags.length ? [] : ['touched'] }));
        writes++;
        const asked = Date.now();
        coalescer.request().then((_r) => (longestWaitMs = Math.max(longestWaitMs, Date.now() - asked)), () => undefined);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const watch = (async () => {
      while (Date.now() < end) {
        const info = await persistenceInfo(redis);
        if (info.inProgress && savingSince === null) savingSince = Date.now();
        if (!info.inProgress && savingSince !== null) [savingMs, savingSince] = [savingMs + Date.now() - savingSince, null];
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await Promise.all([load, writer, watch]);
    if (savingSince !== null) savingMs += Date.now() - savingSince;
    const after = await persistenceInfo(redis);
    await coalescer.close();
    while ((await persistenceInfo(redis)).inProgress) await new Promise((r) => setTimeout(r, 100));
    const saves = after.saves - before.saves;
    return { saves, perHour: Math.round((saves * 3600) / SNAP_SECONDS), savingPct: Math.round((savingMs / (SNAP_SECONDS * 1000)) * 100), checks, writes, longestWaitMs };
  }
} finally {
  clearTimeout(timer);
  await cleanup();
}

/** Bytes of every key matching a pattern (MEMORY USAGE). */
async function keyBytes(pattern) {
  let total = 0;
  for (let cursor = '0'; ; ) {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 5000);
    const sizes = await Promise.all(found.map((k) => redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0')));
    for (const s of sizes) total += Number(s ?? 0);
    cursor = next;
    if (cursor === '0') return total;
  }
}
