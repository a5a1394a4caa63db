#!/usr/bin/env node
/**
 * Redis bytes per asset at steady state with every retention cap reached, for assets checked
 * every 5 minutes and every 60 s: fills every per-asset structure through the real write path
 * (JobStore.complete → job_complete.lua), then measures.
 *
 *   npm run build && node bench/redis-memory.mjs [--assets 20] [--background 2000] [--json]
 *
 * Per scenario (one fresh Redis database each), with the default configuration:
 *   1. `--background` paused assets (never checked) are created first, so that every index
 *      (sorted sets, URL hashes, search index) holds them and is measured in the encoding it has
 *      in a large fleet, not the compact one of a few entries. Memory is read after them.
 *   2. `--assets` assets (plugins http + htmlstats, the defaults for an https URL) get their
 *      history at past times, each check a scheduled job (the field `scheduled` that
 *      schedule_claim.lua writes) enqueued, claimed and completed:
 *        one check a day for 5 years → day roll-ups; one an hour for 90 days → hour roll-ups;
 *        one per interval from the start of yesterday (UTC) → minute roll-ups, and a day cell
 *        with a whole day of checks (as at steady state, whatever the hour the bench runs);
 *        then history.maxResults more, one per interval, up to now → raw results at their cap;
 *      plus a 30-sample htmlstats baseline (in the plugin's own encoding).
 *   3. Two scheduler rounds through schedule_claim.lua (JobStore.scheduleDue), claimed and
 *      completed, as the dispatcher and an executor do: what remains of their jobs is what
 *      steady state keeps. Nothing is deleted by the bench.
 * Before the scenarios, one is run for a single asset and thrown away (what the server
 * allocates once for the first data of each kind is no asset's memory).
 * Reported: used_memory growth (client buffers left out) over steps 2-3 divided by --assets
 * (everything, indexes and allocator overhead included), and MEMORY USAGE per key type;
 * "keyspace tables" is the growth of Redis's own key tables (they double in steps: with few
 * assets measured, a step lands on them whole) and script cache; "indexes and fleet" the growth
 * of the keys no asset owns (indexes, schedule, fleet statistics, event stream); "unattributed"
 * the rest of used_memory's growth (what MEMORY USAGE does not see).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import * as core from '@webmon/core';
import { encodeSample } from '@webmon/plugin-htmlstats';

const { AssetStore, JobStore, createKeys, jobPolicy, loadConfig, normalizeUrl, pluginStorage, scripts, startManagedRedis } = core;
const { values } = parseArgs({
  options: { assets: { type: 'string', default: '20' }, background: { type: 'string', default: '2000' }, json: { type: 'boolean', default: false } },
});
const ASSETS = Math.max(1, Number(values.assets));
const BACKGROUND = Math.max(0, Number(values.background));
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SCENARIOS = [
  { name: '5 min', interval: 300, targetBytes: 64_000 },
  { name: '60 s', interval: 60, targetBytes: 128_000 },
];
const say = (msg) => process.stderr.write(`${msg}\n`);

const dir = mkdtempSync(join(tmpdir(), 'webmon-bench-mem-'));
const server = await startManagedRedis({ dir });
const redis = new Redis(server.url, { enableAutoPipelining: true });
// The slow log keeps the arguments of up to 128 slow commands: a fixed cost of the server,
// not of assets, which would land whole on the first scenario.
await redis.config('SET', 'slowlog-max-len', '0');
const cleanup = async () => {
  redis.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
process.once('SIGTERM', () => void cleanup().then(() => process.exit(143)));

const features = { bytes: 48213, elements: 812, tag_a: 96, tag_img: 31, tag_script: 18, tag_link: 9, tag_div: 240, tag_p: 57, tag_form: 1, tag_iframe: 0, tag_table: 0, tag_meta: 14, text_length: 9120, links: 96, link_hosts: 7 };
// Results as the plugins write them (http rounds timings to 0.01 ms, htmlstats z-scores too).
const httpResult = (ms, certDays) => ({
  plugin: 'http', status: 'ok', reason: null, message: `HTTP 200 in ${Math.round(ms)} ms`, durationMs: ms,
  metrics: { statusCode: 200, totalMs: ms, ttfbMs: Math.round(ms * 70) / 100, bytes: 48213, redirects: 0, dnsMs: 1.2, connectMs: 3.4, tlsMs: 12.5, certDaysLeft: certDays },
  details: { finalUrl: 'https://www.example.com/', certificate: { subject: 'www.example.com', issuer: "Let's Encrypt / R11", validTo: '2027-01-22T00:00:00.000Z' } },
});
// A page whose size, element count and text length change from check to check (a dynamic
// page: their z-scores change too); the tag counts stay (their z-scores are 0).
const VOLATILE = ['bytes', 'elements', 'text_length'];
const htmlResult = (ms, i) => {
  const z = (k) => Math.round(Math.sin(i * 7 + k) * 150) / 100;
  const page = { ...features, bytes: features.bytes + Math.round(z(0) * 40), elements: features.elements + Math.round(z(1) * 3), text_length: features.text_length + Math.round(z(2) * 25) };
  const zs = Object.fromEntries(Object.keys(features).map((f) => [`z_${f}`, VOLATILE.includes(f) ? z(VOLATILE.indexOf(f)) : 0]));
  return { plugin: 'htmlstats', status: 'ok', reason: null, message: 'no deviation from 30 samples', durationMs: ms, metrics: { ...page, samples: 30, ...zs }, details: { finalUrl: 'https://www.example.com/' } };
};

/** Key type of a key name (prefix `wm:`). */
function keyType(key) {
  if (/^wm:asset:[^:]+$/.test(key)) return 'asset hash';
  if (key.endsWith(':latest')) return 'latest results';
  if (/:history(:v1)?$/.test(key)) return 'raw results';
  const rollup = /:(?:rollup|agg):(minute|hour|day)$/.exec(key);
  if (rollup) return `roll-ups per ${rollup[1]}`;
  if (/^wm:asset:[^:]+:events$/.test(key)) return 'state events';
  if (/^wm:asset:[^:]+:(plugin:|pluginkeys$)/.test(key)) return 'plugin storage';
  if (/^wm:jobs?:/.test(key)) return 'jobs';
  return null; // indexes and fleet-wide keys: measured as the rest
}
const ORDER = ['asset hash', 'latest results', 'raw results', 'state events', 'roll-ups per minute', 'roll-ups per hour', 'roll-ups per day', 'plugin storage', 'jobs', 'keyspace tables', 'indexes and fleet', 'unattributed'];

/** used_memory without client buffers (the bench's own pipelined connection grows them). */
async function usedMemory() {
  await new Promise((r) => setTimeout(r, 2500)); // idle query buffers are shrunk by clientsCron
  await redis.call('MEMORY', 'PURGE').catch(() => undefined);
  const info = await redis.info('memory');
  const field = (name) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return field('used_memory') - field('mem_clients_normal');
}

/** MEMORY USAGE of the keys no asset owns: indexes, schedule, fleet statistics and events. */
async function sharedKeyBytes() {
  let total = 0;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', 'wm:*', 'COUNT', 5000);
    cursor = next;
    for (const key of found) {
      if (!keyType(key)) total += Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
    }
  } while (cursor !== '0');
  return total;
}

/** Bytes of the keyspace's own hash tables (they grow in powers of two) and of cached scripts. */
async function tableBytes() {
  const flat = await redis.call('MEMORY', 'STATS');
  const stats = {};
  for (let i = 0; i < flat.length; i += 2) stats[flat[i]] = flat[i + 1];
  const db = stats['db.0'] ?? [];
  let tables = 0;
  for (let i = 0; i < db.length; i += 2) tables += Number(db[i + 1]);
  return tables + Number(stats['lua.caches'] ?? 0);
}

async function scenario({ name, interval, targetBytes }, count = ASSETS, bgCount = BACKGROUND) {
  await redis.flushall();
  const config = loadConfig({ env: {}, overrides: { redis: { keyPrefix: 'wm' } } });
  const keys = createKeys('wm');
  const sc = scripts(redis);
  const assets = new AssetStore(redis, keys, sc);
  const jobs = new JobStore(redis, keys, sc, jobPolicy(config));
  const create = (url, paused) => assets.create({ owner: 'admin', url: normalizeUrl(url), plugins: ['http', 'htmlstats'], config: {}, interval, tags: ['bench'], paused });

  say(`${name}: ${bgCount} background assets…`);
  for (let i = 0; i < bgCount; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, bgCount - i) }, (_, k) => create(`https://bg${i + k}.example.org/page`, true)));
  }
  const before = await usedMemory();
  const tablesBefore = await tableBytes();
  const sharedBefore = await sharedKeyBytes();

  const now = Date.now();
  const step = interval * 1000;
  const times = [];
  for (let t = now - 5 * 365 * DAY; t < now - 90 * DAY; t += DAY) times.push(t);
  // Checks every interval from the start of yesterday (UTC): at least one whole day cell holds
  // a full day of checks, as every day cell does at steady state (at 5 minutes, 288: two-byte
  // counts), whatever the hour the bench runs.
  const fullFrom = Math.floor(now / DAY) * DAY - DAY;
  for (let t = now - 90 * DAY; t < fullFrom; t += HOUR) times.push(t);
  const rawFrom = now - config.history.maxResults * step;
  for (let t = fullFrom; t < rawFrom; t += step) times.push(t);
  for (let t = rawFrom; t < now; t += step) times.push(t);
  let checks = 0;
  const started = performance.now();
  const ids = [];
  for (let a = 0; a < count; a++) {
    const { id } = await create(`https://site${a}.example.com/`, false);
    ids.push(id);
    // Checks of one asset complete in time order (its history and state follow the checks);
    // the batches below pipeline enqueue, claim and complete of many checks.
    for (let i = 0; i < times.length; i += 500) {
      const batch = times.slice(i, i + 500);
      const jobIds = await Promise.all(batch.map(async (at) => {
        const [jobId] = await jobs.enqueue([{ assetId: id, owner: 'admin' }], 0, at);
        await redis.hset(keys.job(jobId), 'scheduled', 1);
        await jobs.claim(jobId, 'tok', 60_000, at);
        return jobId;
      }));
      await Promise.all(batch.map((at, j) => {
        const ms = 40 + ((i + j) % 97);
        const results = [httpResult(ms, Math.floor((Date.parse('2027-01-22') - at) / 864_000) / 100), htmlResult(Math.round(ms * 25) / 100, i + j)];
        return jobs.complete({ jobId: jobIds[j], token: 'tok', outcome: 'ok', reason: null, results, durationMs: ms, owner: 'admin', assetId: id }, at);
      }));
    }
    checks += times.length;
    const storage = pluginStorage(redis, keys, id, 'htmlstats');
    for (let s = 0; s < 30; s++) await storage.pushWindow('window', encodeSample(now - s * step, features), 30);
  }
  // Steady state: scheduler rounds as the dispatcher runs them, completed as an executor does.
  for (let round = 1; round <= 2; round++) {
    const at = now + round * Math.max(step, 61_000);
    const due = await jobs.scheduleDue(10_000, 1_000_000, at);
    await Promise.all(due.ids.map(async (jobId, j) => {
      const claim = await jobs.claim(jobId, 'tok', 60_000, at);
      if (!claim.claimed) return;
      const results = [httpResult(50 + j, 300), htmlResult(12, j)];
      await jobs.complete({ jobId, token: 'tok', outcome: 'ok', reason: null, results, durationMs: 62, owner: 'admin', assetId: claim.asset.id }, at);
    }));
    checks += due.ids.length;
  }
  const fillSeconds = Math.round((performance.now() - started) / 1000);
  const after = await usedMemory();
  const tables = Math.round((await tableBytes() - tablesBefore) / count);
  const shared = Math.round((await sharedKeyBytes() - sharedBefore) / count);

  const byType = Object.fromEntries(ORDER.map((t) => [t, 0]));
  const counts = { jobHashes: 0, rawResults: 0 };
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', 'wm:*', 'COUNT', 5000);
    cursor = next;
    for (const key of found) {
      const type = keyType(key);
      if (!type) continue;
      const id = /^wm:asset:([^:]+)/.exec(key)?.[1];
      if (id && !ids.includes(id)) continue; // a background asset's own keys: in `before`
      byType[type] += Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
      if (/^wm:job:/.test(key)) counts.jobHashes++;
    }
  } while (cursor !== '0');
  counts.rawResults = await redis.llen(keys.assetHistory(ids[0]));
  const perAsset = Math.round((after - before) / count);
  for (const t of ORDER) byType[t] = Math.round(byType[t] / count);
  byType['keyspace tables'] = tables;
  byType['indexes and fleet'] = shared;
  byType.unattributed = perAsset - ORDER.slice(0, -1).reduce((s, t) => s + byType[t], 0);
  const rollups = byType['roll-ups per minute'] + byType['roll-ups per hour'] + byType['roll-ups per day'];
  return { name, interval, checksRecorded: checks, fillSeconds, bytesPerAsset: perAsset, withoutRollups: perAsset - rollups, byType, counts, target: targetBytes, met: perAsset <= targetBytes };
}

/**
 * One asset with a few checks through every script, then FLUSHALL: what the server allocates
 * once on first use (script cache, buffers of its own) must not be counted as the first
 * scenario's assets' memory.
 */
async function warmUp() {
  await redis.flushall();
  const config = loadConfig({ env: {}, overrides: { redis: { keyPrefix: 'wm' } } });
  const keys = createKeys('wm');
  const sc = scripts(redis);
  const assets = new AssetStore(redis, keys, sc);
  const jobs = new JobStore(redis, keys, sc, jobPolicy(config));
  const { id } = await assets.create({ owner: 'admin', url: normalizeUrl('https://warm-up.example.com/'), plugins: ['http', 'htmlstats'], config: {}, interval: 60, tags: ['bench'] });
  for (const at of [Date.now() - DAY, Date.now() + 120_000]) {
    const [jobId] = at < Date.now() ? await jobs.enqueue([{ assetId: id, owner: 'admin' }], 0, at) : (await jobs.scheduleDue(10, 1000, at)).ids;
    await jobs.claim(jobId, 'tok', 60_000, at);
    await jobs.complete({ jobId, token: 'tok', outcome: 'ok', reason: null, results: [httpResult(50, 300), htmlResult(12, 0)], durationMs: 62, owner: 'admin', assetId: id }, at);
  }
  await pluginStorage(redis, keys, id, 'htmlstats').pushWindow('window', '{}', 30);
  await redis.flushall();
}

try {
  await warmUp();
  // A whole scenario for one asset, thrown away: what the server allocates once for the first
  // data of each kind (allocator size classes, script cache, stream and list nodes of every
  // size) is not any asset's memory, and would otherwise land on the first scenario.
  await scenario(SCENARIOS[0], 1, 0);
  const results = [];
  for (const s of SCENARIOS) results.push(await scenario(s));
  const out = { date: new Date().toISOString().slice(0, 10), assets: ASSETS, background: BACKGROUND, scenarios: results };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else {
    const kb = (b) => `${(b / 1000).toFixed(1)} KB`;
    process.stdout.write(`webmon Redis memory per asset — ${out.date}, ${ASSETS} assets with full history among ${BACKGROUND} more\n\n`);
    process.stdout.write(`${'bytes per asset'.padEnd(22)}${results.map((r) => `every ${r.name}`.padStart(14)).join('')}\n`);
    for (const t of ORDER) process.stdout.write(`  ${t.padEnd(20)}${results.map((r) => kb(r.byType[t]).padStart(14)).join('')}\n`);
    process.stdout.write(`  ${'total (used_memory)'.padEnd(20)}${results.map((r) => kb(r.bytesPerAsset).padStart(14)).join('')}\n`);
    process.stdout.write(`  ${'without roll-ups'.padEnd(20)}${results.map((r) => kb(r.withoutRollups).padStart(14)).join('')}\n\n`);
    for (const r of results) {
      process.stdout.write(`every ${r.name}: ${r.checksRecorded} checks recorded in ${r.fillSeconds} s; ${r.counts.rawResults} raw results kept, ${r.counts.jobHashes} job hashes left\n`);
    }
    process.stdout.write('\n');
    for (const r of results) process.stdout.write(`target every ${r.name}: <= ${kb(r.target)} per asset   ${r.met ? 'met' : 'NOT met'} (${kb(r.bytesPerAsset)})\n`);
  }
} finally {
  await cleanup();
}
