#!/usr/bin/env node
/**
 * Two versions of webmon's Lua scripts side by side on one Redis: the Redis time of a pushed
 * check (job_enqueue, job_claim, job_complete) under each, measured in alternation.
 *
 *   npm run build
 *   git archive HEAD~3 packages/core/lua | tar -x -C /tmp/old     # or any copy of the lua dir
 *   node bench/script-ab.mjs --a /tmp/old/packages/core/lua        # B: this checkout's scripts
 *   node bench/script-ab.mjs --a DIR --b DIR2 --assets 3000 --rounds 10 --gap-ms 2000 --json
 *
 * A cut of job_complete (the script returning early, `do return { 1, '', '' } end` inserted before
 * a section, the job id added to `unleased` first) as B against the whole script as A gives the
 * cost of everything after the cut: that is how the breakdown in bench/README.md was made.
 *
 * In one fresh managed redis-server, each side has its own key prefix and connection (its own
 * registered scripts) and `--assets` assets with the http plugin. Each round, on each side in
 * turn (the side that goes first alternates): every asset gets a job pushed as POST /jobs does
 * (JobStore.enqueue), the jobs are claimed 12 a call and completed 20 a call (as executors batch
 * them), with one http result each, the checks' clock `--gap-ms` after the round before (2 s:
 * the pace of bench/peer.mjs). EVALSHA's usec from INFO commandstats before and after each step
 * gives the server's own time per job, without the client. Rounds 0-2 lay out each asset's
 * roll-up rings; the medians are of rounds 3 on. Host speed drifts here by a quarter within
 * minutes: only the two sides of one run compare.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { AssetStore, CORE_SCRIPTS, JobStore, createKeys, jobPolicy, loadConfig, normalizeUrl, scriptLoader, scripts } from '@webmon/core';
import { commandStats, lifecycle, scratchRedis } from './lib.mjs';

const USAGE = `usage: node bench/script-ab.mjs --a DIR [--b DIR] [--assets N] [--rounds N] [--gap-ms MS] [--json]`;
let values;
try {
  ({ values } = parseArgs({
    options: {
      a: { type: 'string' },
      b: { type: 'string' },
      assets: { type: 'string', default: '3000' },
      rounds: { type: 'string', default: '10' },
      'gap-ms': { type: 'string', default: '2000' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (!values.a) throw new Error('--a DIR is required');
} catch (err) {
  process.stderr.write(`bench: ${err.message}\n${USAGE}\n`);
  process.exit(2);
}
const ASSETS = Math.max(20, Number(values.assets));
const ROUNDS = Math.max(4, Number(values.rounds));
const GAP_MS = Math.max(0, Number(values['gap-ms']));
const SETTLE = 3;
const CLAIM_BATCH = 12;
const COMPLETE_BATCH = 20;
// A copy of the scripts, loaded as core loads its own (every script the stores may run).
const loaderOf = (dir) => scriptLoader(new URL(`${pathToFileURL(resolve(dir)).href}/`), CORE_SCRIPTS);

const life = lifecycle({ timeoutSec: 3600 });
const bench = await scratchRedis(life, 'script-ab');
const admin = bench.connect();

const evalshaUsec = async () => (await commandStats(admin)).evalsha?.usec ?? 0;

async function side(label, loader, prefix) {
  const redis = bench.connect();
  const keys = createKeys(prefix);
  const sc = loader(redis);
  const assets = new AssetStore(redis, keys, sc);
  const jobs = new JobStore(redis, keys, sc, jobPolicy(loadConfig({ env: {} })));
  const ids = [];
  for (let i = 0; i < ASSETS; i++) ids.push((await assets.create({ owner: 'admin', url: normalizeUrl(`http://127.0.0.1:9/p?i=${i}`), plugins: ['http'], config: {}, interval: 60, tags: [] })).id);
  return { label, jobs, ids, enqueue: [], claim: [], complete: [] };
}

const result = (r) => [
  { plugin: 'http', status: 'ok', reason: null, message: 'HTTP 200', durationMs: 1.2 + (r % 3) * 0.1, metrics: { statusCode: 200, ttfbMs: 1, totalMs: 1.2, sizeBytes: 2, connectMs: 0.2 }, details: { statusCode: 200 } },
];

/** One round of one side: every asset pushed, claimed and completed; µs of Redis per job for each step. */
async function round(s, r, at) {
  const e0 = await evalshaUsec();
  const jobIds = await s.jobs.enqueue(s.ids.map((assetId) => ({ assetId, owner: 'admin' })), 0, at);
  const e1 = await evalshaUsec();
  const claims = [];
  for (let i = 0; i < jobIds.length; i += CLAIM_BATCH) claims.push(s.jobs.claimMany(jobIds.slice(i, i + CLAIM_BATCH).map((jobId) => ({ jobId, token: 't' })), 60_000, at));
  if ((await Promise.all(claims)).flat().some((c) => !c.claimed)) throw new Error(`${s.label}: a job was not claimed`);
  const e2 = await evalshaUsec();
  const completions = [];
  for (let i = 0; i < jobIds.length; i += COMPLETE_BATCH) {
    const batch = jobIds.slice(i, i + COMPLETE_BATCH).map((jobId, k) => ({ jobId, token: 't', outcome: 'ok', reason: null, results: result(r), durationMs: 2, owner: 'admin', assetId: s.ids[i + k] }));
    completions.push(s.jobs.completeMany(batch, at + 50));
  }
  if ((await Promise.all(completions)).flat().some((c) => !c.recorded)) throw new Error(`${s.label}: a check was not recorded`);
  const e3 = await evalshaUsec();
  s.enqueue.push((e1 - e0) / ASSETS);
  s.claim.push((e2 - e1) / ASSETS);
  s.complete.push((e3 - e2) / ASSETS);
}

async function main() {
  const sides = [await side('A', loaderOf(values.a), 'wa'), await side('B', values.b ? loaderOf(values.b) : scripts, 'wb')];
  let at = Date.now() - ROUNDS * GAP_MS;
  for (let r = 0; r < ROUNDS; r++) {
    for (const s of r % 2 ? [...sides].reverse() : sides) await round(s, r, at);
    at += GAP_MS;
  }
  const median = (xs) => {
    const v = xs.slice(SETTLE).sort((a, b) => a - b);
    return Number(v[Math.floor(v.length / 2)].toFixed(1));
  };
  const summary = {
    date: new Date().toISOString(),
    assets: ASSETS,
    rounds: ROUNDS,
    gapMs: GAP_MS,
    a: resolve(values.a),
    b: values.b ? resolve(values.b) : 'packages/core/lua',
    sides: sides.map((s) => ({ side: s.label, enqueueUs: median(s.enqueue), claimUs: median(s.claim), completeUs: median(s.complete), completeUsPerRound: s.complete.map((x) => Number(x.toFixed(1))) })),
  };
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(`Redis µs per pushed check (median of rounds ${SETTLE}-${ROUNDS - 1}), ${ASSETS} assets, rounds ${GAP_MS} ms apart\n`);
    for (const s of summary.sides) process.stdout.write(`  ${s.side} (${s.side === 'A' ? summary.a : summary.b}): job_enqueue ${s.enqueueUs}, job_claim ${s.claimUs}, job_complete ${s.completeUs}   [complete by round: ${s.completeUsPerRound.join(' ')}]\n`);
  }
  return 0;
}

life.run(main);
