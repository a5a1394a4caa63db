#!/usr/bin/env node
/**
 * webmon side by side with Prometheus blackbox_exporter, in one invocation, on one local target:
 *
 *   apt-get install -y prometheus-blackbox-exporter    # once; not needed by tests or CI
 *   npm run build && node bench/peer.mjs
 *
 * Three phases, each using both cores, each a new connection per request (the http plugin's
 * default, and blackbox_exporter's: a new HTTP client per probe):
 *
 *   raw       undici in two client processes (the ceiling of this machine's HTTP requests)
 *   webmon    `webmon up` (one executor per core, defaults, per-host politeness off as every
 *             asset is on the one target host): N assets checked unmeasured (--warm-rounds),
 *             then every one checked through POST /jobs, measured; the clock stops when Redis
 *             has no job queued or leased. As many measured runs as blackbox_exporter gets (one
 *             per --probe-concurrency), the best kept. CPU: webmon's processes and its redis-server.
 *   blackbox  prometheus-blackbox-exporter (http_2xx) driven through GET /probe by this process
 *             at several concurrencies; the best is kept. CPU: the exporter's process (the
 *             driver stands in for Prometheus and is reported apart).
 *
 * Probes/s and CPU ms per probe from /proc/<pid>/stat of each process, then the ratios. Targets:
 * webmon ≥ 1.5× blackbox_exporter's probes/s, and less CPU per check than it.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { createKeys, freePort, loadConfig, openRedis, startManagedRedis } from '@webmon/core';
import {
  api,
  cpuOf,
  createAssets,
  gitRevision,
  lifecycle,
  machineBusyMs,
  round,
  stealMs,
  say,
  sleep,
  startTarget,
  startWebmonUp,
  targetHits,
  webmonPids,
} from './lib.mjs';

const USAGE = `usage: node bench/peer.mjs [options]

  --checks N         requests, checks and probes per phase (default 10000)
  --concurrency N    per raw client process (default 20)
  --webmon-concurrency N   per webmon executor (default: webmon's own, executor.concurrency)
  --webmon-executors N     executors of \`webmon up\` (default: its own, one per core)
  --probe-concurrency LIST   blackbox driver concurrencies tried, best kept (default 64,256)
  --blackbox PATH    the exporter binary (default prometheus-blackbox-exporter)
  --rounds N         webmon and blackbox_exporter measured N times, in turn (default 1); the
                     verdict is on the median round (this host's speed drifts by a third within
                     minutes, and a single pair of phases can fall on either side of a change)
  --warm-rounds N    unmeasured checks of every asset before webmon's measured round (default
                     3: the first checks lay out each asset's roll-up rings)
  --timeout S        overall limit in seconds (default 180 a round)
  --only PHASE       run one phase alone (raw, webmon or blackbox), for work on one side;
                     no ratios are printed
  --json             one JSON line instead of the table
  -h, --help         this help`;

let opts;
try {
  const { values } = parseArgs({
    options: {
      checks: { type: 'string', default: '10000' },
      concurrency: { type: 'string', default: '20' },
      'webmon-concurrency': { type: 'string' },
      'webmon-executors': { type: 'string' },
      'probe-concurrency': { type: 'string', default: '64,256' },
      blackbox: { type: 'string', default: 'prometheus-blackbox-exporter' },
      'warm-rounds': { type: 'string', default: '3' },
      rounds: { type: 'string', default: '1' },
      timeout: { type: 'string' },
      only: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const int = (name, v, min, max) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name}: must be an integer from ${min} to ${max} (got ${v})`);
    return n;
  };
  opts = {
    checks: int('checks', values.checks, 100, 1_000_000),
    concurrency: int('concurrency', values.concurrency, 1, 10_000),
    webmonConcurrency: values['webmon-concurrency'] === undefined ? undefined : int('webmon-concurrency', values['webmon-concurrency'], 1, 10_000),
    webmonExecutors: values['webmon-executors'] === undefined ? undefined : int('webmon-executors', values['webmon-executors'], 1, 64),
    probeConcurrency: values['probe-concurrency'].split(',').map((v) => int('probe-concurrency', v.trim(), 1, 10_000)),
    blackbox: values.blackbox,
    warmRounds: int('warm-rounds', values['warm-rounds'], 1, 20),
    rounds: int('rounds', values.rounds, 1, 20),
    timeoutSec: values.timeout === undefined ? 180 * int('rounds', values.rounds, 1, 20) : int('timeout', values.timeout, 10, 3600),
    json: values.json,
    only: values.only,
  };
  if (opts.only !== undefined && !['raw', 'webmon', 'blackbox'].includes(opts.only)) throw new Error(`--only: raw, webmon or blackbox (got ${opts.only})`);
} catch (err) {
  process.stderr.write(`bench: ${err.message}\n\n${USAGE}\n`);
  process.exit(2);
}

const life = lifecycle({ timeoutSec: opts.timeoutSec, stopOrder: ['webmon', 'blackbox', 'raw', 'target'] });
const CORES = availableParallelism();

// ---------------------------------------------------------------------------------------------
// raw: one client process per core, undici with a new connection per request

const RAW_SRC = `
import { Agent, request } from 'undici';
const [url, count, concurrency] = process.argv.slice(-3);
const agent = new Agent({ connect: { timeout: 5000 }, connections: null });
async function run(n, prefix) {
  let next = 0, ok = 0, bad = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      try {
        const res = await request(url + prefix + i, { dispatcher: agent, reset: true, headers: { 'user-agent': 'webmon/0.1 (+https://github.com/webmon)' } });
        for await (const _ of res.body);
        if (res.statusCode === 200) ok++; else bad++;
      } catch { bad++; }
    }
  };
  await Promise.all(Array.from({ length: Number(concurrency) }, worker));
  return { ok, bad };
}
await run(500, 'w');
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const r = await run(Number(count), '');
const elapsedMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(JSON.stringify({ ...r, elapsedMs, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\\n');
await agent.close();
`;

async function rawPhase(targetUrl, targetPid) {
  const per = Math.ceil(opts.checks / CORES);
  const cpuTarget0 = cpuOf([targetPid]);
  const procs = Array.from({ length: CORES }, (_, k) =>
    life.track('raw', spawn(process.execPath, ['--input-type=module', '-e', RAW_SRC, '--', `${targetUrl}/r${k}?i=`, String(per), String(opts.concurrency)], { stdio: ['ignore', 'pipe', 'pipe'] })),
  );
  const results = await Promise.all(procs.map(async (p) => {
    await p.exited;
    return JSON.parse(/\{.*\}/.exec(p.output())?.[0] ?? '{"ok":0,"bad":1,"cpuMs":0,"elapsedMs":0}');
  }));
  for (const p of procs) life.untrack(p);
  // Each process times its own measured part (after a warm-up); they overlap, the slowest counts.
  const elapsedMs = Math.max(...results.map((r) => r.elapsedMs));
  const ok = results.reduce((s, r) => s + r.ok, 0);
  const bad = results.reduce((s, r) => s + r.bad, 0);
  if (bad) throw new Error(`raw: ${bad} requests failed`);
  const clientMs = results.reduce((s, r) => s + r.cpuMs, 0);
  return { requests: ok, perSec: ok / (elapsedMs / 1000), cpuMsPerReq: clientMs / ok, targetMsPerReq: (cpuOf([targetPid])[targetPid] - cpuTarget0[targetPid]) / ok };
}

// ---------------------------------------------------------------------------------------------
// webmon end to end

async function webmonPhase(targetUrl, targetPid, workDir, roundNo) {
  const redis = await startManagedRedis({ dir: join(workDir, `redis-${roundNo}`) });
  life.onCleanup(() => redis.stop(10_000));
  const executors = opts.webmonExecutors ?? CORES;
  const { base, pid, up } = await startWebmonUp(life, {
    // Through the Unix socket, as `webmon up` reaches the redis-server it manages.
    redisUrl: redis.socketUrl ?? redis.url,
    executors,
    workDir,
    // webmon as configured by default (one executor per core, its concurrency), as blackbox_exporter
    // runs at its best driver concurrency.
    env: {
      WEBMON_POLITENESS_HOST_INTERVAL_MS: '0',
      WEBMON_SCHEDULER_ENABLED: 'false',
      ...(opts.webmonConcurrency ? { WEBMON_EXECUTOR_CONCURRENCY: String(opts.webmonConcurrency) } : {}),
    },
  });
  const db = await openRedis({ url: redis.url, name: 'webmon-bench' });
  const keys = createKeys('webmon');
  try {
    const ids = await createAssets(base, targetUrl, opts.checks);
    for (let round = 1; round <= opts.warmRounds; round++) {
      say(`webmon: warm-up, check ${round} of ${opts.warmRounds} of every asset ...`);
      await runJobs(base, db, keys, ids);
    }
    await sleep(300);
    const pids = [...webmonPids(pid), redis.process.pid];
    // As many measured runs as blackbox_exporter gets (one per --probe-concurrency), the best
    // kept on both sides: the best of two noisy runs is a few per cent above a single run's
    // expectation, and only one side taking it would favour that side.
    const runs = [];
    for (let n = 1; n <= opts.probeConcurrency.length; n++) {
      say(`webmon: ${opts.checks} checks through api → dispatcher → ${executors} executors (run ${n} of ${opts.probeConcurrency.length}) ...`);
      runs.push(await measureWebmon(targetUrl, targetPid, pids, base, db, keys, ids));
    }
    const best = runs.reduce((a, b) => (b.perSec > a.perSec ? b : a));
    return {
      checks: opts.checks,
      executors: pids.length - 1,
      concurrency: opts.webmonConcurrency ?? loadConfig({ env: {} }).executor.concurrency,
      runs: runs.map((r) => ({ perSec: round(r.perSec), cpuMsPerCheck: round(r.cpuMsPerCheck, 3) })),
      ...best,
    };
  } finally {
    db.disconnect();
    await up.stop();
    life.untrack(up);
    await redis.stop(10_000); // the next round starts a fresh one
  }
}

/** Runs `work`: its wall time, the machine's cores busy meanwhile, and of them those the hypervisor stole. */
async function timed(work) {
  const machine0 = machineBusyMs();
  const steal0 = stealMs();
  const t0 = performance.now();
  await work();
  const elapsedMs = performance.now() - t0;
  return { elapsedMs, busyCores: (machineBusyMs() - machine0) / elapsedMs, stolenCores: (stealMs() - steal0) / elapsedMs };
}

/** One measured check of every asset: checks/s, CPU per check of webmon and its Redis, busy cores. */
async function measureWebmon(targetUrl, targetPid, pids, base, db, keys, ids) {
  const cpu0 = cpuOf([...pids, targetPid]);
  const hits0 = await targetHits(targetUrl);
  const { elapsedMs, busyCores, stolenCores } = await timed(() => runJobs(base, db, keys, ids));
  const cpu1 = cpuOf([...pids, targetPid]);
  const hits = (await targetHits(targetUrl)) - hits0;
  if (hits !== opts.checks) throw new Error(`webmon: the target saw ${hits} requests for ${opts.checks} checks`);
  const failed = await db.zcard(keys.jobsFailed);
  if (failed) throw new Error(`webmon: ${failed} jobs failed`);
  const ms = (list) => list.reduce((s, p) => s + (cpu1[p] - cpu0[p]), 0);
  const webmonMs = ms(pids.slice(0, -1));
  const redisMs = ms(pids.slice(-1));
  return {
    perSec: opts.checks / (elapsedMs / 1000),
    cpuMsPerCheck: (webmonMs + redisMs) / opts.checks,
    webmonMsPerCheck: webmonMs / opts.checks,
    redisMsPerCheck: redisMs / opts.checks,
    targetMsPerCheck: ms([targetPid]) / opts.checks,
    busyCores,
    stolenCores,
  };
}

async function runJobs(base, db, keys, ids) {
  for (let i = 0; i < ids.length; i += 1000) {
    const res = await api(base, 'POST', '/jobs', { assetIds: ids.slice(i, i + 1000) });
    if (res.status !== 202) throw new Error(`POST /jobs: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  }
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [[, queued], [, leased]] = await db.pipeline().zcard(keys.jobsQueued).zcard(keys.jobsLeases).exec();
    if (queued === 0 && leased === 0) return;
    life.assertAlive();
    if (Date.now() > deadline) throw new Error(`jobs not finished in 60 s: ${queued} queued, ${leased} leased`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------
// blackbox_exporter

async function blackboxPhase(targetUrl, targetPid, workDir) {
  let version;
  try {
    version = execFileSync(opts.blackbox, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0];
  } catch {
    throw new Error(`${opts.blackbox} not found: apt-get install -y prometheus-blackbox-exporter (or --blackbox PATH)`);
  }
  const config = join(workDir, 'blackbox.yml');
  writeFileSync(config, 'modules:\n  http_2xx:\n    prober: http\n    timeout: 10s\n    http:\n      preferred_ip_protocol: ip4\n');
  const port = await freePort();
  const bb = life.track('blackbox', spawn(opts.blackbox, [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const base = `http://127.0.0.1:${port}`;
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 256 });
  const probe = async (i) => {
    const target = encodeURIComponent(`${targetUrl}/b?i=${i}`);
    const res = await request(`${base}/probe?target=${target}&module=http_2xx`, { dispatcher: agent });
    const text = await res.body.text();
    if (res.statusCode !== 200 || !/^probe_success 1$/m.test(text)) throw new Error(`probe ${i}: ${res.statusCode} ${text.slice(0, 300)}`);
  };
  for (let i = 0; ; i++) {
    try {
      await probe(-1);
      break;
    } catch (err) {
      if (i > 100) throw err;
      life.assertAlive();
      await sleep(100);
    }
  }
  const runs = [];
  try {
    // Warm-up, then each concurrency in turn.
    await drive(probe, Math.min(2000, opts.checks), opts.probeConcurrency[0]);
    for (const c of opts.probeConcurrency) {
      const pid = bb.child.pid;
      const cpu0 = cpuOf([pid, targetPid]);
      const driver0 = process.cpuUsage();
      const { elapsedMs, busyCores, stolenCores } = await timed(() => drive(probe, opts.checks, c));
      const cpu1 = cpuOf([pid, targetPid]);
      const driver = process.cpuUsage(driver0);
      runs.push({
        concurrency: c,
        perSec: opts.checks / (elapsedMs / 1000),
        cpuMsPerProbe: (cpu1[pid] - cpu0[pid]) / opts.checks,
        driverMsPerProbe: (driver.user + driver.system) / 1000 / opts.checks,
        targetMsPerProbe: (cpu1[targetPid] - cpu0[targetPid]) / opts.checks,
        busyCores,
        stolenCores,
      });
    }
  } finally {
    await agent.close();
    await bb.stop();
    life.untrack(bb);
  }
  const best = runs.reduce((a, b) => (b.perSec > a.perSec ? b : a));
  return { version, runs, ...best };
}

async function drive(probe, count, concurrency) {
  let next = 0;
  const worker = async () => {
    while (next < count) await probe(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const workDir = mkdtempSync(join(tmpdir(), 'webmon-peer-bench-'));
  life.tempDir(workDir);
  const target = await startTarget(life);
  say(`target ${target.url}, ${CORES} cores, node ${process.version}`);
  if (opts.only) return onlyPhase(target, workDir);
  const machine0 = machineBusyMs();
  const t0 = Date.now();
  say(`raw: ${opts.checks} requests from ${CORES} undici processes (concurrency ${opts.concurrency} each) ...`);
  const raw = await rawPhase(target.url, target.pid);
  say(`raw: ${raw.perSec.toFixed(0)} req/s`);
  const rounds = [];
  for (let n = 1; n <= opts.rounds; n++) {
    if (opts.rounds > 1) say(`round ${n} of ${opts.rounds}`);
    const webmon = await webmonPhase(target.url, target.pid, workDir, n);
    say(`webmon: ${webmon.perSec.toFixed(0)} checks/s`);
    say(`blackbox: ${opts.checks} probes at concurrency ${opts.probeConcurrency.join(', ')} ...`);
    const blackbox = await blackboxPhase(target.url, target.pid, workDir);
    say(`blackbox: ${blackbox.perSec.toFixed(0)} probes/s`);
    rounds.push({ webmon, blackbox, rate: webmon.perSec / blackbox.perSec, cpu: webmon.cpuMsPerCheck / blackbox.cpuMsPerProbe });
  }
  // The round of the median rate ratio is shown in full; every round's ratios are listed.
  const { webmon, blackbox } = [...rounds].sort((a, b) => a.rate - b.rate)[Math.floor((rounds.length - 1) / 2)];
  const median = (values) => {
    const v = [...values].sort((a, b) => a - b);
    return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  };
  const machineMs = machineBusyMs() - machine0;
  const result = {
    date: new Date().toISOString(),
    commit: gitRevision(),
    node: process.version,
    cores: CORES,
    checks: opts.checks,
    raw: { perSec: round(raw.perSec), cpuMsPerReq: round(raw.cpuMsPerReq, 3), targetMsPerReq: round(raw.targetMsPerReq, 3) },
    webmon: {
      executors: webmon.executors,
      concurrency: webmon.concurrency,
      perSec: round(webmon.perSec),
      cpuMsPerCheck: round(webmon.cpuMsPerCheck, 3),
      webmonMsPerCheck: round(webmon.webmonMsPerCheck, 3),
      redisMsPerCheck: round(webmon.redisMsPerCheck, 3),
      targetMsPerCheck: round(webmon.targetMsPerCheck, 3),
      runs: webmon.runs,
    },
    blackbox: {
      version: blackbox.version,
      concurrency: blackbox.concurrency,
      perSec: round(blackbox.perSec),
      cpuMsPerProbe: round(blackbox.cpuMsPerProbe, 3),
      driverMsPerProbe: round(blackbox.driverMsPerProbe, 3),
      targetMsPerProbe: round(blackbox.targetMsPerProbe, 3),
      runs: blackbox.runs.map((r) => ({ concurrency: r.concurrency, perSec: round(r.perSec), cpuMsPerProbe: round(r.cpuMsPerProbe, 3) })),
    },
    rounds: rounds.map((r) => ({
      webmonPerSec: round(r.webmon.perSec),
      webmonCpuMsPerCheck: round(r.webmon.cpuMsPerCheck, 3),
      blackboxPerSec: round(r.blackbox.perSec),
      blackboxCpuMsPerProbe: round(r.blackbox.cpuMsPerProbe, 3),
      rateRatio: round(r.rate, 2),
      cpuRatio: round(r.cpu, 2),
      // Cores busy while each side was measured, and of them the time the hypervisor stole.
      webmonBusyCores: round(r.webmon.busyCores, 2),
      webmonStolenCores: round(r.webmon.stolenCores, 2),
      blackboxBusyCores: round(r.blackbox.busyCores, 2),
      blackboxStolenCores: round(r.blackbox.stolenCores, 2),
    })),
    ratios: {
      // Medians over the rounds (one round: its own ratios).
      webmonVsBlackboxRate: round(median(rounds.map((r) => r.rate)), 2),
      webmonVsRawRate: round(webmon.perSec / raw.perSec, 2),
      blackboxVsRawRate: round(blackbox.perSec / raw.perSec, 2),
      webmonVsBlackboxCpu: round(median(rounds.map((r) => r.cpu)), 2),
    },
    machineBusyCores: round(machineMs / (Date.now() - t0), 2),
  };
  result.targets = {
    rate: { target: '>= 1.5x blackbox_exporter probes/s', met: result.ratios.webmonVsBlackboxRate >= 1.5 },
    cpu: { target: '< blackbox_exporter CPU per probe', met: result.ratios.webmonVsBlackboxCpu < 1 },
  };
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stdout.write(table(result));
  return 0;
}

/** `--only PHASE`: that phase alone, each round with the cores the machine had busy during it. */
async function onlyPhase(target, workDir) {
  const run = { raw: () => rawPhase(target.url, target.pid), webmon: (n) => webmonPhase(target.url, target.pid, workDir, n), blackbox: () => blackboxPhase(target.url, target.pid, workDir) }[opts.only];
  const rounds = [];
  for (let n = 1; n <= opts.rounds; n++) {
    const r = await run(n);
    const busy = r.busyCores === undefined ? undefined : round(r.busyCores, 2);
    const stolen = r.stolenCores === undefined ? undefined : round(r.stolenCores, 2);
    const cpu = r.cpuMsPerCheck ?? r.cpuMsPerProbe ?? r.cpuMsPerReq;
    rounds.push({ perSec: round(r.perSec), cpuMs: round(cpu, 3), busyCores: busy, stolenCores: stolen, ...(r.redisMsPerCheck === undefined ? {} : { webmonMs: round(r.webmonMsPerCheck, 3), redisMs: round(r.redisMsPerCheck, 3) }) });
    say(`${opts.only} ${n}: ${JSON.stringify(rounds.at(-1))}`);
  }
  const perSec = rounds.map((r) => r.perSec).sort((a, b) => a - b);
  const result = { date: new Date().toISOString(), commit: gitRevision(), phase: opts.only, checks: opts.checks, rounds, medianPerSec: perSec[Math.floor((perSec.length - 1) / 2)] };
  process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `\n${opts.only} alone, ${opts.checks} a round (busy: cores of the machine busy while measured): median ${result.medianPerSec}/s\n`);
  return 0;
}

function table(r) {
  const row = (name, perSec, cpu, note) => `  ${name.padEnd(22)}${String(perSec).padStart(9)}${cpu.padStart(12)}   ${note}`;
  return [
    '',
    `webmon vs blackbox_exporter — ${r.date.slice(0, 16)}Z, commit ${r.commit}, ${r.cores} cores, node ${r.node}, ${r.checks} per phase, new connection per request`,
    '',
    row('', 'per s', 'CPU ms/each', ''),
    row('raw undici', r.raw.perSec, r.raw.cpuMsPerReq.toFixed(3), `${r.cores} client processes`),
    row('webmon end to end', r.webmon.perSec, r.webmon.cpuMsPerCheck.toFixed(3), `webmon up, ${r.webmon.executors} executors × concurrency ${r.webmon.concurrency}; webmon ${r.webmon.webmonMsPerCheck.toFixed(3)} + redis ${r.webmon.redisMsPerCheck.toFixed(3)}; results stored`),
    row('blackbox_exporter', r.blackbox.perSec, r.blackbox.cpuMsPerProbe.toFixed(3), `${r.blackbox.version}; /probe at concurrency ${r.blackbox.concurrency} (driver ${r.blackbox.driverMsPerProbe.toFixed(3)} ms/probe, not counted)`),
    `  webmon runs: ${r.webmon.runs.map((x) => `${x.perSec}/s ${x.cpuMsPerCheck} ms`).join(', ')}; blackbox runs: ${r.blackbox.runs.map((x) => `c=${x.concurrency} ${x.perSec}/s ${x.cpuMsPerProbe} ms`).join(', ')} (the best of each kept)`,
    `  target CPU per request (not counted): raw ${r.raw.targetMsPerReq}, webmon ${r.webmon.targetMsPerCheck}, blackbox ${r.blackbox.targetMsPerProbe} ms`,
    ...(r.rounds.length > 1
      ? [
          `  rounds (webmon /s at ms, blackbox /s at ms: rate ratio, CPU ratio; cores busy, of them stolen, webmon | blackbox); the median round is shown above:`,
          ...r.rounds.map((x, i) => `    ${i + 1}: ${x.webmonPerSec}/s at ${x.webmonCpuMsPerCheck}, ${x.blackboxPerSec}/s at ${x.blackboxCpuMsPerProbe}: ${x.rateRatio}x, ${x.cpuRatio}x; ${x.webmonBusyCores}, ${x.webmonStolenCores} | ${x.blackboxBusyCores}, ${x.blackboxStolenCores}`),
        ]
      : []),
    '',
    `webmon / blackbox probes/s${r.rounds.length > 1 ? ` (median of ${r.rounds.length} rounds)` : ''}: ${r.ratios.webmonVsBlackboxRate}x   (target >= 1.5x: ${r.targets.rate.met ? 'met' : 'NOT met'})`,
    `webmon / blackbox CPU per check${r.rounds.length > 1 ? ` (median)` : ''}: ${r.ratios.webmonVsBlackboxCpu}x   (target < 1: ${r.targets.cpu.met ? 'met' : 'NOT met'})`,
    `webmon / raw: ${r.ratios.webmonVsRawRate}x   blackbox / raw: ${r.ratios.blackboxVsRawRate}x`,
    `machine busy: ${r.machineBusyCores} of ${r.cores} cores on average over the run`,
    '',
  ].join('\n');
}

life.run(main);
