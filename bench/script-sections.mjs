#!/usr/bin/env node
/**
 * Where `job_complete`'s Redis time goes at steady state: the script is cut after each of its
 * sections in turn (a `return` inserted before the next one), and each cut version completes a
 * round of checks of assets that have a day of history. The difference between two cuts is the
 * cost of the section between them.
 *
 *   npm run build && node bench/script-sections.mjs [--assets 300] [--hours 24] [--repeat 3] [--batch 16] [--json]
 *
 * `--batch`: completions a call, as the executor sends them (JobStore.completeMany); the numbers
 * are µs per completion. SECTIONS_CUTS='[["name", "line the cut returns before"], …, ["last", null]]'
 * in the environment replaces the cuts below (a cut inside an included function returns from
 * that function only).
 *
 * In a fresh managed redis-server, `--assets` assets (interval 60 s) get `--hours` of history
 * the way the scheduler bench gives it (seedHistory in lib.mjs: one asset checked through
 * JobStore, durations log-uniform from 0.5 ms to 5 s, its keys copied to the others), then a
 * check a minute up to the next hour. Then, for each cut, every asset is claimed and completed
 * once (JobStore, `--batch` completions a call), one minute after the round before on the checks' clock,
 * and EVALSHA's usec per call is read from `INFO commandstats` (reset before each round): the
 * server's own time, without the client. Each round folds about a sixtieth of the assets' closed
 * hours into hour cells (fold points are spread over the hour by seq), as at steady state, so
 * the roll-up section includes that share.
 * A cut version is the real script with `do return … end` inserted; it is registered on its own
 * connection (ioredis defineCommand), so rounds after a cut still see the rings and history the
 * earlier full rounds wrote. Sections, in script order:
 *
 *   args      the flat arguments read into tables (plus EVALSHA's own cost)
 *   job       the job's status, the asset's counters and state, events on a transition
 *   rollups   the roll-up rings (the minute ring; the hour and day rings when a period closes)
 *   fleet     checks per minute, failing sets
 *   history   latest results and the raw results list (the whole script)
 *
 * Each cut round follows a whole round one minute before it, so that every measured round
 * folds the same share of assets. Numbers on a shared VM drift by ±20 % between
 * rounds: `--repeat` runs the whole sequence again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AssetStore, JobStore, createKeys, jobPolicy, loadConfig, loadScript, normalizeUrl, openRedis, scripts, startManagedRedis } from '@webmon/core';
import { commandStats, seedHistory } from './lib.mjs';

const { values } = parseArgs({
  options: {
    assets: { type: 'string', default: '300' },
    hours: { type: 'string', default: '24' },
    repeat: { type: 'string', default: '3' },
    batch: { type: 'string', default: '16' },
    json: { type: 'boolean', default: false },
  },
});
const ASSETS = Math.max(1, Number(values.assets));
const HOURS = Math.max(0, Number(values.hours));
const REPEAT = Math.max(1, Number(values.repeat));
const BATCH = Math.max(1, Number(values.batch));
const say = (msg) => process.stderr.write(`${msg}\n`);

/** Each section ends where the next begins: the text before which its cut returns. */
const CUTS = [
  ['args', 'local job = redis.call(\'HMGET\', KEYS[1], \'status\', \'token\', \'scheduled\')'],
  ['job', '-- Roll-ups (includes/rollups.lua)'],
  ['rollups', '-- Fleet statistics: checks per minute'],
  ['fleet', 'if tokensAt > latestAt then'],
  ['history', null],
];
if (process.env.SECTIONS_CUTS) CUTS.splice(0, CUTS.length, ...JSON.parse(process.env.SECTIONS_CUTS));
const FULL = loadScript(new URL('../packages/core/lua/', import.meta.url), 'job_complete');
function cutAt(marker) {
  if (!marker) return FULL;
  const at = FULL.indexOf(marker);
  if (at < 0) throw new Error(`job_complete.lua no longer has the line "${marker}": update CUTS`);
  return `${FULL.slice(0, at)}do return { 1, 'cut', 'cut' } end\n${FULL.slice(at)}`;
}

const dir = mkdtempSync(join(tmpdir(), 'webmon-bench-sections-'));
const server = await startManagedRedis({ dir });
const connections = [];
const cleanup = async () => {
  for (const c of connections) c.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
process.once('SIGTERM', () => void cleanup().then(() => process.exit(143)));

try {
  const config = loadConfig({ env: {} });
  const keys = createKeys('webmon');
  const redis = await openRedis({ url: server.url, name: 'webmon-bench-sections' });
  connections.push(redis);
  const assets = new AssetStore(redis, keys, scripts(redis));
  say(`creating ${ASSETS} assets, then ${HOURS} h of history each ...`);
  const ids = [];
  for (let i = 0; i < ASSETS; i++) ids.push((await assets.create({ owner: 'admin', url: normalizeUrl(`http://site${i}.example.com/`), plugins: ['http'], config: {}, interval: 60, tags: [] })).id);
  if (HOURS > 0) await seedHistory(server.url, { ids, owner: 'admin' }, { intervalMs: 60_000, hours: HOURS });

  const evalshaUsec = async () => (await commandStats(redis)).evalsha?.usec ?? 0;
  /** Claims and completes one check of every asset at `at` through `jobs`, BATCH completions a
   * call as the executor sends them; EVALSHA's µs per completion. */
  const round = async (jobs, at) => {
    const jobIds = await jobs.enqueue(ids.map((assetId) => ({ assetId, owner: 'admin' })), 0, at);
    // Scheduled jobs, as the scheduler makes them (deleted when done).
    const mark = redis.pipeline();
    for (const id of jobIds) mark.hset(keys.job(id), 'scheduled', 1);
    await mark.exec();
    for (let i = 0; i < ids.length; i++) await jobs.claim(jobIds[i], 'bench', 60_000, at);
    await redis.config('RESETSTAT');
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = [];
      for (let k = i; k < Math.min(ids.length, i + BATCH); k++) {
        const ms = Math.round(0.5 * 10_000 ** Math.random() * 1000) / 1000;
        const result = { plugin: 'http', status: 'ok', reason: null, message: `HTTP 200 in ${Math.round(ms)} ms`, durationMs: ms, metrics: { statusCode: 200, totalMs: ms, ttfbMs: ms, bytes: 108, redirects: 0 }, details: {} };
        batch.push({ jobId: jobIds[k], token: 'bench', outcome: 'ok', reason: null, results: [result], durationMs: ms, owner: 'admin', assetId: ids[k] });
      }
      await jobs.completeMany(batch, at + 5);
    }
    return Math.round(((await evalshaUsec()) * 10) / ids.length) / 10;
  };
  // A check a minute up to the next hour. Each asset folds its closed hour into an hour cell at
  // its fold point, 0-59 minutes into the hour (its seq mod 60): every round below folds about a
  // sixtieth of the assets, as at steady state, and its sections include that share.
  const full = new JobStore(redis, keys, scripts(redis), jobPolicy(config));
  const nextHour = Math.ceil(Date.now() / 3_600_000) * 3_600_000;
  let at = Date.now() + 60_000;
  for (; at < nextHour; at += 60_000) await round(full, at);
  const rows = [];
  for (let rep = 0; rep < REPEAT; rep++) {
    for (const [section, marker] of CUTS) {
      const conn = await openRedis({ url: server.url, name: `webmon-bench-sections-${section}` });
      connections.push(conn);
      // The loader first: it defines every script on the connection, then the cut replaces one.
      const runner = scripts(conn);
      conn.defineCommand('job_complete', { lua: cutAt(marker) });
      // A whole round first: a cut round leaves the minute it ran unwritten, and the next round
      // would fold the assets whose fold points fell in it as well as its own.
      at += 60_000;
      await round(full, at);
      at += 60_000;
      rows.push({ repeat: rep, cut: section, usPerCall: await round(new JobStore(conn, keys, runner, jobPolicy(config)), at) });
    }
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ assets: ASSETS, hours: HOURS, rows })}\n`);
  } else {
    process.stdout.write(`\njob_complete cut after each section: ${ASSETS} assets with ${HOURS} h of history, ${BATCH} completions a call, EVALSHA µs per completion (server time)\n\n`);
    process.stdout.write(`${'section'.padEnd(10)}${Array.from({ length: REPEAT }, (_, r) => `cut ${r + 1}`.padStart(10) + `section ${r + 1}`.padStart(12)).join('')}\n`);
    CUTS.forEach(([section], i) => {
      const cells = Array.from({ length: REPEAT }, (_, r) => {
        const here = rows.find((x) => x.repeat === r && x.cut === section).usPerCall;
        const before = i === 0 ? 0 : rows.find((x) => x.repeat === r && x.cut === CUTS[i - 1][0]).usPerCall;
        return `${here.toFixed(1).padStart(10)}${(here - before).toFixed(1).padStart(12)}`;
      });
      process.stdout.write(`${section.padEnd(10)}${cells.join('')}\n`);
    });
  }
} finally {
  await cleanup();
}
