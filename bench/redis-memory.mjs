#!/usr/bin/env node
/**
 * Redis bytes per asset with full history: fills every per-asset structure to its retention
 * cap through the real write path (job_complete.lua), then measures.
 *
 *   npm run build && node bench/redis-memory.mjs [--assets 20] [--json]
 *
 * Per asset (plugins http + htmlstats, the defaults for an http URL), checks are recorded at
 * past times so that each structure reaches the cap of the default retention:
 *   - one check a day for 5 years          → day roll-ups (5 years)
 *   - one check an hour for 90 days        → hour roll-ups (90 days)
 *   - one check every 5 minutes for 1 day  → minute roll-ups (1 day)
 *   - then history.maxResults (1000) more  → the raw results stream at its count cap
 * plus an htmlstats baseline of 30 samples. Finished jobs expire (jobs.retentionSec) and are
 * deleted before measuring, as they would be in steady state.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { AssetStore, JobStore, createKeys, jobPolicy, loadConfig, normalizeUrl, pluginStorage, scripts, startManagedRedis } from '@webmon/core';

const { values } = parseArgs({ options: { assets: { type: 'string', default: '20' }, json: { type: 'boolean', default: false } } });
const ASSETS = Math.max(1, Number(values.assets));
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const dir = mkdtempSync(join(tmpdir(), 'webmon-bench-mem-'));
const server = await startManagedRedis({ dir });
const redis = new Redis(server.url, { enableAutoPipelining: true });
const cleanup = async () => {
  redis.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

try {
  const config = loadConfig({ env: {}, overrides: { redis: { keyPrefix: 'wm' } } });
  const keys = createKeys('wm');
  const sc = scripts(redis);
  const assets = new AssetStore(redis, keys, sc);
  const jobs = new JobStore(redis, keys, sc, jobPolicy(config));
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))[1]);

  const features = { bytes: 48213, elements: 812, tag_a: 96, tag_img: 31, tag_script: 18, tag_link: 9, tag_div: 240, tag_p: 57, tag_form: 1, tag_iframe: 0, tag_table: 0, tag_meta: 14, text_length: 9120, links: 96, link_hosts: 7 };
  const httpResult = (ms) => ({
    plugin: 'http', status: 'ok', reason: null, message: `HTTP 200 in ${Math.round(ms)} ms`, durationMs: ms,
    metrics: { statusCode: 200, totalMs: ms, ttfbMs: ms * 0.7, bytes: 48213, redirects: 0, dnsMs: 1.2, connectMs: 3.4, tlsMs: 12.5, certDaysLeft: 61.5 },
    details: { finalUrl: 'https://www.example.com/', certificate: { subject: 'www.example.com', issuer: "Let's Encrypt / R11", validTo: '2027-01-22T00:00:00.000Z' } },
  });
  const htmlResult = (ms) => ({
    plugin: 'htmlstats', status: 'ok', reason: null, message: 'no deviation', durationMs: ms,
    metrics: { ...features, samples: 30, ...Object.fromEntries(Object.keys(features).map((f) => [`z_${f}`, 0.42])) },
    details: { finalUrl: 'https://www.example.com/' },
  });

  const before = await usedMemory();
  const now = Date.now();
  let checks = 0;
  const started = performance.now();
  for (let a = 0; a < ASSETS; a++) {
    const { id } = await assets.create({ owner: 'admin', url: normalizeUrl(`https://site${a}.example.com/`), plugins: ['http', 'htmlstats'], config: {}, interval: 300, tags: ['bench'] });
    const times = [];
    for (let t = now - 5 * 365 * DAY; t < now - 90 * DAY; t += DAY) times.push(t);
    for (let t = now - 90 * DAY; t < now - DAY; t += HOUR) times.push(t);
    for (let t = now - DAY; t < now - 1000 * 300_000 / 100; t += 300_000) times.push(t);
    const rawFrom = times[times.length - 1] + 1;
    for (let i = 0; i < config.history.maxResults; i++) times.push(rawFrom + i * 300);
    // Record in batches: enqueue, claim and complete concurrently (auto-pipelined).
    for (let i = 0; i < times.length; i += 500) {
      await Promise.all(
        times.slice(i, i + 500).map(async (at, j) => {
          const ms = 40 + ((i + j) % 97);
          const [jobId] = await jobs.enqueue([{ assetId: id, owner: 'admin' }], 0, at);
          await jobs.claim(jobId, 'tok', 60_000, at);
          const results = [httpResult(ms), htmlResult(ms / 4)];
          await jobs.complete({ jobId, token: 'tok', outcome: 'ok', reason: null, results, durationMs: ms, owner: 'admin', assetId: id }, at);
        }),
      );
      // The per-asset transition stream and roll-ups are written in time order above; jobs are
      // fine in any order.
    }
    checks += times.length;
    const storage = pluginStorage(redis, keys, id, 'htmlstats');
    for (let s = 0; s < 30; s++) await storage.pushWindow('window', JSON.stringify({ t: now - s * 300_000, ...features }), 30);
  }
  const fillSeconds = (performance.now() - started) / 1000;
  // Finished jobs expire after jobs.retentionSec; in steady state they are gone.
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', 'wm:job:*', 'COUNT', 5000);
    if (found.length) await redis.unlink(...found);
    cursor = next;
  } while (cursor !== '0');
  await redis.call('MEMORY', 'PURGE').catch(() => undefined);
  const after = await usedMemory();

  // Breakdown for one asset.
  const [sample] = (await assets.list({ owner: 'admin', limit: 1 })).ids;
  const usage = async (key) => Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
  const parts = {
    'asset hash': keys.asset(sample),
    'latest results': keys.assetLatest(sample),
    'raw results (stream)': keys.assetHistory(sample),
    'minute roll-ups': keys.assetRollup(sample, 'minute'),
    'hour roll-ups': keys.assetRollup(sample, 'hour'),
    'day roll-ups': keys.assetRollup(sample, 'day'),
    'state events': keys.assetEvents(sample),
    'htmlstats baseline': keys.assetPluginData(sample, 'htmlstats', 'window'),
  };
  const breakdown = {};
  for (const [name, key] of Object.entries(parts)) breakdown[name] = await usage(key);
  const counts = {
    rawResults: await redis.xlen(keys.assetHistory(sample)),
    minuteBuckets: await redis.hlen(keys.assetRollup(sample, 'minute')),
    hourBuckets: await redis.hlen(keys.assetRollup(sample, 'hour')),
    dayBuckets: await redis.hlen(keys.assetRollup(sample, 'day')),
  };
  const perAsset = Math.round((after - before) / ASSETS);
  const result = { date: new Date().toISOString().slice(0, 10), assets: ASSETS, checksRecorded: checks, fillSeconds: Math.round(fillSeconds), bytesPerAsset: perAsset, breakdown, counts };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const kb = (b) => `${(b / 1024).toFixed(1)} KiB`;
    process.stdout.write(`webmon Redis memory per asset — ${result.date}, ${ASSETS} assets, ${checks} checks recorded in ${result.fillSeconds} s\n\n`);
    process.stdout.write(`used_memory per asset (everything, indexes included): ${kb(perAsset)}\n\n`);
    process.stdout.write(`one asset, by key (MEMORY USAGE):\n`);
    for (const [name, bytes] of Object.entries(breakdown)) process.stdout.write(`  ${name.padEnd(22)} ${kb(bytes).padStart(11)}\n`);
    process.stdout.write(`\nat their caps: ${counts.rawResults} raw results, ${counts.minuteBuckets} minute / ${counts.hourBuckets} hour / ${counts.dayBuckets} day buckets\n`);
  }
} finally {
  await cleanup();
}
