#!/usr/bin/env node
// End-to-end test of docker/: builds the image, runs its default command, then starts
// docker/docker-compose.yml with podman-compose (three executors), creates an asset through the
// api container, sees it checked, kills an executor and sees checks go on, restarts Redis and finds
// the asset again (RDB on the volume). Everything it started is removed at the end, on failure and
// on SIGINT/SIGTERM too. Every wait is bounded. Exit 0 when every step passed.
//
// Run by `npm run test:docker` (test/docker/run.sh prepares podman first). Needs podman,
// podman-compose and the base images named in docker/; it does not run under vitest.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMPOSE_FILE = 'docker/docker-compose.yml';
const IMAGE = 'webmon:latest'; // the image docker-compose.yml names
const PROJECT = `webmontest${process.pid}`;
const EXECUTORS = 3;
const INTERVAL_SEC = 10; // checks.minIntervalSec's default
const ADMIN_KEY = `wm_test_${randomBytes(18).toString('hex')}`;
const ENV = {
  ...process.env,
  WEBMON_REDIS_PASSWORD: randomBytes(18).toString('hex'),
  WEBMON_API_ADMIN_KEY: ADMIN_KEY,
  WEBMON_EXECUTORS: String(EXECUTORS),
  BUILDAH_FORMAT: 'docker', // keep the Dockerfile's HEALTHCHECK (OCI images have none)
};

const containers = {
  redis: `${PROJECT}_redis_1`,
  dispatcher: `${PROJECT}_dispatcher_1`,
  api: `${PROJECT}_api_1`,
  executors: Array.from({ length: EXECUTORS }, (_, i) => `${PROJECT}_executor_${i + 1}`),
};
const standalone = `${PROJECT}_standalone`;
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const log = (msg) => process.stdout.write(`[docker-test ${elapsed()}] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs a command to completion; rejects on a non-zero exit unless `allowFail`. */
function run(cmd, args, { timeoutMs = 120_000, allowFail = false } = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: ROOT, env: ENV, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const status = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      if (err && !allowFail) {
        const why = err.killed ? `timed out after ${timeoutMs} ms` : `exit ${err.code}`;
        reject(new Error(`${cmd} ${args.join(' ')}: ${why}\n${tail(stderr || stdout, 40)}`));
      } else resolve({ status, stdout, stderr });
    });
  });
}

// podman says this for every container with a health check on hosts without systemd; noise here.
const NOISE = /^.*unable to get systemd connection.*$\n?/gm;
const tail = (text, lines) => String(text).replace(NOISE, '').trimEnd().split('\n').slice(-lines).join('\n');
const compose = (args, opts) => run('podman-compose', ['-p', PROJECT, '-f', COMPOSE_FILE, ...args], opts);

/** Calls `probe` until it returns a truthy value, at most `timeoutMs`; the last error explains a timeout. */
async function waitFor(what, probe, { timeoutMs = 60_000, intervalMs = 1000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(intervalMs);
  }
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

/** A port free on 127.0.0.1 right now (for the published api port). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function api(base, method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** `podman healthcheck run`: runs the container's own health check command once. */
async function healthy(name) {
  return (await run('podman', ['healthcheck', 'run', name], { timeoutMs: 30_000, allowFail: true })).status === 0;
}

async function running(name) {
  const r = await run('podman', ['inspect', '--format', '{{.State.Running}}', name], { allowFail: true });
  return r.stdout.trim() === 'true';
}

/** The target the asset points at: counts the checks that reach it. */
async function startTarget(host) {
  const hits = [];
  const server = createServer((req, res) => {
    if (req.url === '/probe') hits.push(Date.now());
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  return { hits, server, url: `http://${host}:${server.address().port}/probe` };
}

async function buildImage() {
  await run('podman', ['build', '--format', 'docker', '-f', 'docker/Dockerfile', '-t', IMAGE, '.'], { timeoutMs: 20 * 60_000 });
  const health = (await run('podman', ['image', 'inspect', '--format', '{{json .Config.Healthcheck}}', IMAGE])).stdout;
  check(/healthcheck\.mjs/.test(health), `the image has no HEALTHCHECK (got ${health.trim()})`);
  const cmd = (await run('podman', ['image', 'inspect', '--format', '{{json .Config.Cmd}}', IMAGE])).stdout.trim();
  log(`image built; default command ${cmd}, health check ${health.trim()}`);
}

/** The image's default command alone (`webmon up` with its own redis-server) answers /health. */
async function defaultCommand() {
  const port = await freePort();
  await run('podman', ['run', '-d', '--init', '--name', standalone, '-p', `127.0.0.1:${port}:8080`, IMAGE]);
  const health = await waitFor(
    'the default command to answer GET /health',
    async () => {
      const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5000) });
      return res.status === 200 && (await res.json());
    },
    { timeoutMs: 90_000 },
  );
  check(await waitFor('its health check', () => healthy(standalone), { timeoutMs: 30_000 }), 'health check failed');
  log(`default command: GET /health ${JSON.stringify(health)}`);
  await run('podman', ['rm', '-f', '-v', '-t', '5', standalone]);
}

async function startStack(apiPort) {
  ENV.WEBMON_API_PUBLISH = `127.0.0.1:${apiPort}`;
  await compose(['up', '-d', '--no-build'], { timeoutMs: 5 * 60_000 });
  for (const name of [containers.redis, containers.dispatcher, containers.api, ...containers.executors]) {
    await waitFor(`${name} to be healthy`, async () => (await running(name)) && healthy(name), { timeoutMs: 120_000, intervalMs: 2000 });
  }
  log(`stack up and healthy: redis, dispatcher, api, ${EXECUTORS} executors`);
}

async function gatewayAddress() {
  const [net] = JSON.parse((await run('podman', ['network', 'inspect', `${PROJECT}_default`])).stdout);
  const gateway = net?.subnets?.find((s) => /^\d+\.\d+\.\d+\.\d+$/.test(s.gateway ?? ''))?.gateway;
  check(gateway, `no IPv4 gateway on ${PROJECT}_default: ${JSON.stringify(net?.subnets)}`);
  return gateway;
}

async function scenario() {
  await buildImage();
  await defaultCommand();

  const apiPort = await freePort();
  const base = `http://127.0.0.1:${apiPort}`;
  await startStack(apiPort);
  const health = await api(base, 'GET', '/health');
  check(health.status === 200, `GET /health: ${health.status} ${JSON.stringify(health.body)}`);
  await waitFor(`${EXECUTORS} executors alive`, async () => (await api(base, 'GET', '/health')).body?.executors?.alive === EXECUTORS, { timeoutMs: 60_000 });

  // The containers reach the host on their network's gateway; the admin's assets may check private
  // addresses (tenants' may not), so the asset is created with the admin key.
  const target = await startTarget(await gatewayAddress());
  try {
    const created = await api(base, 'POST', '/assets', { url: target.url, plugins: ['http'], interval: INTERVAL_SEC });
    check(created.status === 201, `POST /assets: ${created.status} ${JSON.stringify(created.body)}`);
    const id = created.body.id;
    log(`asset ${id} created through the api container: ${target.url}`);

    const first = await waitFor(
      'the first check',
      async () => {
        const a = await api(base, 'GET', `/assets/${id}`);
        return a.body?.lastCheckAt && a.body.state === 'up' && target.hits.length > 0 && a.body;
      },
      { timeoutMs: 60_000 },
    );
    log(`checked: state ${first.state} at ${first.lastCheckAt}`);

    await run('podman', ['kill', containers.executors[0]]);
    const killedAt = Date.now();
    const checksBefore = (await api(base, 'GET', `/assets/${id}/stats`)).body.checks;
    log(`killed ${containers.executors[0]}; ${checksBefore} checks so far`);
    await waitFor(
      'two more checks after the kill',
      async () => target.hits.filter((t) => t > killedAt).length >= 2 && (await api(base, 'GET', `/assets/${id}/stats`)).body.checks >= checksBefore + 2,
      { timeoutMs: 6 * INTERVAL_SEC * 1000 },
    );
    log(`checks go on without ${containers.executors[0]} (running: ${await running(containers.executors[0])})`);

    await run('podman', ['restart', '-t', '30', containers.redis], { timeoutMs: 90_000 });
    await waitFor('redis to be healthy again', () => healthy(containers.redis), { timeoutMs: 60_000 });
    const again = await waitFor('the asset after the Redis restart', async () => {
      const a = await api(base, 'GET', `/assets/${id}`);
      return a.status === 200 && a.body;
    });
    check(again.url === target.url && again.interval === INTERVAL_SEC, `asset changed across the restart: ${JSON.stringify(again)}`);
    const restartedAt = Date.now();
    await waitFor('a check after the Redis restart', async () => target.hits.some((t) => t > restartedAt), { timeoutMs: 4 * INTERVAL_SEC * 1000 });
    log(`asset ${id} found again after the Redis restart (RDB on the volume), and checked again`);
  } finally {
    target.server.closeAllConnections();
    target.server.close();
  }
}

/** What failed looked like: container states and the last log lines of each. */
async function diagnose() {
  const ps = await run('podman', ['ps', '-a', '--filter', `label=io.podman.compose.project=${PROJECT}`, '--format', '{{.Names}} {{.Status}}'], { allowFail: true });
  process.stdout.write(`\n--- containers\n${ps.stdout}`);
  for (const name of [standalone, containers.redis, containers.dispatcher, containers.api, ...containers.executors]) {
    const logs = await run('podman', ['logs', '--tail', '25', name], { allowFail: true });
    if (logs.status === 0) process.stdout.write(`--- ${name}\n${tail(`${logs.stdout}${logs.stderr}`, 25)}\n`);
  }
}

let tornDown = false;
async function teardown() {
  if (tornDown) return;
  tornDown = true;
  // Containers first, with their anonymous /data volumes (the image declares one): podman-compose
  // 1.0.3's `down -v` leaves those behind. Then the named volume and the network.
  const left = await run('podman', ['ps', '-aq', '--filter', `label=io.podman.compose.project=${PROJECT}`], { allowFail: true });
  const ids = [standalone, ...left.stdout.split('\n').filter(Boolean)];
  await run('podman', ['rm', '-f', '-v', '--ignore', '-t', '5', ...ids], { allowFail: true, timeoutMs: 120_000 });
  await compose(['down', '-v', '-t', '5'], { allowFail: true, timeoutMs: 180_000 });
  await run('podman', ['volume', 'rm', '-f', `${PROJECT}_redis-data`], { allowFail: true });
  await run('podman', ['network', 'rm', '-f', `${PROJECT}_default`], { allowFail: true });
  log('torn down');
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    log(`${signal}: tearing down`);
    teardown().finally(() => process.exit(1));
  });
}

let failed = false;
try {
  await scenario();
} catch (err) {
  failed = true;
  log(`FAILED: ${err.message}`);
  await diagnose();
} finally {
  await teardown();
}
log(failed ? 'docker test failed' : 'docker test passed');
process.exit(failed ? 1 : 0);
