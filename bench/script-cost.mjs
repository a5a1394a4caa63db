#!/usr/bin/env node
/**
 * Redis CPU per call of the two scripts every check runs, `job_claim` and `job_complete`, read
 * from the server's own accounting (INFO commandstats: usec / calls of EVALSHA), so that the
 * client, the network and the event loop are left out.
 *
 *   npm run build && node bench/script-cost.mjs [--assets 2000] [--rounds 8] [--interval 60]
 *                                                [--plugins 1] [--pushed] [--json]
 *
 * In a fresh managed redis-server (the configuration `webmon up` runs), `--assets` assets are
 * created, then checked `--rounds` times each through the real write path (JobStore.enqueue,
 * claim, complete, one asset after the other), each round `--interval` seconds after the one
 * before on the checks' clock (0: every round in the same minute). Jobs are scheduled jobs (the
 * `scheduled` field schedule_claim.lua writes: deleted when done), or with `--pushed` jobs as
 * `POST /jobs` makes them (kept, results included, for jobs.retentionSec). Each check is ok, with
 * `--plugins` http-like results (1 or 2) whose durations cycle through 41.2, 52.7 and 63.1 ms.
 * The default retentions apply (minute roll-ups one day, hour 14 days, day 366 days).
 *
 * Rounds 0-2 change the roll-up layouts (round 0 creates every ring, round 1 adds the time in
 * state, round 2 a latency bin), and a ring grows every few buckets (by 1/8 of its cells): these
 * rounds re-lay rings out. "steady" is the median of the rounds from 3 on, the cost of a re-check
 * that changes no state. The minute ring fills over a day of checks; once full, a check also
 * reads the stamp of the cell it retires (one GETRANGE more), which this bench does not reach.
 */
import { parseArgs } from 'node:util';
import { AssetStore, JobStore, createKeys, jobPolicy, loadConfig, normalizeUrl, scripts } from '@webmon/core';
import { commandStats, lifecycle, say, scratchRedis } from './lib.mjs';

const { values } = parseArgs({
  options: {
    assets: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '8' },
    interval: { type: 'string', default: '60' },
    plugins: { type: 'string', default: '1' },
    pushed: { type: 'boolean', default: false },
    spread: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const ASSETS = Math.max(1, Number(values.assets));
const ROUNDS = Math.max(4, Number(values.rounds));
const INTERVAL_MS = Math.max(0, Number(values.interval)) * 1000;
const PLUGINS = ['http', 'htmlstats'].slice(0, Math.min(2, Math.max(1, Number(values.plugins))));
const SETTLE = 3;

const life = lifecycle({ timeoutSec: 3600 });
const redis = (await scratchRedis(life, 'scripts')).connect();

/** µs and calls of EVALSHA so far (every script call of JobStore is an EVALSHA). */
const evalsha = async () => (await commandStats(redis)).evalsha ?? { calls: 0, usec: 0 };
const perCall = (a, b) => (b.usec - a.usec) / Math.max(1, b.calls - a.calls);

const DURATIONS = [41.2, 52.7, 63.1];
// --spread: durations of a real site, log-normal around 40 ms (about 15-110 ms for 95 %).
const spread = () => Math.round(40 * Math.exp(0.5 * Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random())) * 1000) / 1000;
const durationOf = (round) => (values.spread ? spread() : DURATIONS[round % DURATIONS.length]);
const results = (round) =>
  PLUGINS.map((plugin) => {
    const ms = durationOf(round);
    return {
      plugin,
      status: 'ok',
      reason: null,
      message: 'HTTP 200',
      durationMs: ms,
      metrics: { statusCode: 200, ttfbMs: ms * 0.8, totalMs: ms, sizeBytes: 48213, connectMs: 0.2 },
      details: { statusCode: 200 },
    };
  });

async function main() {
  const config = loadConfig({ env: {}, overrides: { redis: { keyPrefix: 'wm' } } });
  const keys = createKeys('wm');
  const sc = scripts(redis);
  const assets = new AssetStore(redis, keys, sc);
  const jobs = new JobStore(redis, keys, sc, jobPolicy(config));
  say(`creating ${ASSETS} assets`);
  const ids = [];
  for (let i = 0; i < ASSETS; i++) {
    const url = normalizeUrl(`https://site${i}.example.com/`);
    ids.push((await assets.create({ owner: 'admin', url, plugins: PLUGINS, config: {}, interval: 60, tags: [] })).id);
  }
  let at = Date.now() - ROUNDS * INTERVAL_MS;
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const jobIds = await jobs.enqueue(ids.map((assetId) => ({ assetId, owner: 'admin' })), 0, at);
    if (!values.pushed) await Promise.all(jobIds.map((id) => redis.hset(keys.job(id), 'scheduled', 1)));
    const s0 = await evalsha();
    for (const id of jobIds) await jobs.claim(id, 'bench', 60_000, at);
    const s1 = await evalsha();
    for (let i = 0; i < jobIds.length; i++) {
      const done = await jobs.complete({ jobId: jobIds[i], token: 'bench', outcome: 'ok', reason: null, results: results(r), durationMs: 70, owner: 'admin', assetId: ids[i] }, at + 80);
      if (!done.recorded) throw new Error(`check not recorded: ${done.why}`);
    }
    const s2 = await evalsha();
    rounds.push({ round: r, claimUs: perCall(s0, s1), completeUs: perCall(s1, s2) });
    say(`round ${r}: job_claim ${perCall(s0, s1).toFixed(1)} µs/call, job_complete ${perCall(s1, s2).toFixed(1)} µs/call`);
    at += INTERVAL_MS;
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const steady = rounds.slice(SETTLE);
  const summary = {
    date: new Date().toISOString().slice(0, 10),
    assets: ASSETS,
    rounds: ROUNDS,
    intervalSec: INTERVAL_MS / 1000,
    plugins: PLUGINS.length,
    jobs: values.pushed ? 'pushed' : 'scheduled',
    steadyClaimUs: Number(median(steady.map((r) => r.claimUs)).toFixed(1)),
    steadyCompleteUs: Number(median(steady.map((r) => r.completeUs)).toFixed(1)),
    perRound: rounds.map((r) => ({ round: r.round, claimUs: Number(r.claimUs.toFixed(1)), completeUs: Number(r.completeUs.toFixed(1)) })),
  };
  if (values.json) {
    console.log(JSON.stringify(summary));
  } else {
    console.log(`webmon script cost — ${summary.date}, ${ASSETS} assets, ${PLUGINS.length} plugin(s), ${summary.jobs} jobs, rounds ${INTERVAL_MS / 1000} s apart`);
    console.log('round   job_claim µs/call   job_complete µs/call');
    for (const r of summary.perRound) console.log(`${String(r.round).padStart(5)}   ${r.claimUs.toFixed(1).padStart(17)}   ${r.completeUs.toFixed(1).padStart(20)}`);
    console.log(`steady (median of rounds ${SETTLE}-${ROUNDS - 1}): job_claim ${summary.steadyClaimUs} µs, job_complete ${summary.steadyCompleteUs} µs per call`);
  }
  return 0;
}

life.run(main);
