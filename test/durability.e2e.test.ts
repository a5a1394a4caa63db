/**
 * Durability: SNAPSHOT NOW over the control channel from another ZeroMQ binding, a valid RDB
 * file, and recovery when redis-server is killed with SIGKILL and restarted from its RDB —
 * with snapshots after writes `sync` (every acknowledged write survives) and `async`
 * (everything up to the last snapshot survives). Running processes reconnect by themselves.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startManagedRedis, type ManagedRedis } from '@webmon/core';
import { client, startRoles, startTarget, webmon } from './helpers/processes.js';

const run = promisify(execFile);
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
/**
 * The control-channel client is written with Python's zmq binding (Debian: python3-zmq). CI
 * installs it and never skips; elsewhere, without it, that one test is reported as skipped.
 */
const hasPythonZmq = (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import zmq'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
})();
const withPython = hasPythonZmq || Boolean(process.env.CI);
const CONTROL_CLIENT = fileURLToPath(new URL('./helpers/zmq_control.py', import.meta.url));
const KEY = 'durability-admin-key-0123456789';
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function deployment(afterWrites: 'sync' | 'async') {
  const dir = mkdtempSync(join(tmpdir(), 'webmon-durable-'));
  const port = await freePort();
  let redis: ManagedRedis = await startManagedRedis({ dir, port });
  const { env, apiUrl, procs } = await startRoles(['dispatcher', 'api'], { redisUrl: redis.url, prefix: 'webmon', adminKey: KEY, extraEnv: { WEBMON_SNAPSHOTS_AFTER_WRITES: afterWrites } });
  const d = {
    dir,
    env,
    procs,
    api: client(apiUrl, KEY),
    control: (...commands: string[]) => run(PYTHON, [CONTROL_CLIENT, env.WEBMON_ZMQ_CONTROL!, ...commands], { timeout: 60_000 }),
    async kill() {
      redis.process.kill('SIGKILL');
      await new Promise((r) => redis.process.once('exit', r));
    },
    async restart() {
      redis = await startManagedRedis({ dir, port });
    },
    async healthy(timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const h = await d.api.call('GET', '/health').catch(() => ({ status: 0 }));
        if (h.status === 200) return;
        if (Date.now() > deadline) throw new Error('not healthy again in time');
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
  cleanups.push(async () => {
    await Promise.all(d.procs.map((p) => p.stop()));
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return d;
}

// Each test starts redis-server twice and three or four webmon processes.
describe('durability', { timeout: 60_000 }, () => {
  it.skipIf(!withPython)('answers SNAPSHOT NOW from a Python zmq client with a valid RDB file', async () => {
    const d = await deployment('async');
    await d.api.call('POST', '/assets', { url: 'https://snap.test/' });
    const { stdout } = await d.control('SNAPSHOT NOW', 'STATUS', 'PING', 'MAKE COFFEE');
    const [snap, status, pong, unknown] = stdout.trim().split('\n');
    expect(snap).toMatch(/^OK \d{10}$/);
    const lastSave = Number(snap!.split(' ')[1]);
    expect(Math.abs(lastSave - Date.now() / 1000)).toBeLessThan(60);
    expect(JSON.parse(status!)).toMatchObject({ lastSnapshot: { at: lastSave, status: 'ok' }, queue: 0 });
    expect(pong).toBe('PONG');
    expect(unknown).toMatch(/^ERR unknown command/);
    const check = await run('redis-check-rdb', [join(d.dir, 'dump.rdb')]);
    expect(check.stdout).toMatch(/RDB looks OK/);
    // The dispatcher is still there.
    expect((await d.control('PING')).stdout.trim()).toBe('PONG');
  });

  it('with sync snapshots, keeps every acknowledged write across a SIGKILL of Redis', async () => {
    const d = await deployment('sync');
    const ids: string[] = [];
    for (let i = 0; i < 15; i++) {
      const res = await d.api.call('POST', '/assets', { url: `https://sync${i}.test/`, tags: ['durable'] });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    await d.kill();
    // While Redis is away: a stable 503, no crash.
    const down = await d.api.call('GET', '/assets');
    expect(down.status).toBe(503);
    expect(down.body.code).toBe('WEBMON_ERR_STORE_UNAVAILABLE');
    await new Promise((r) => setTimeout(r, 500));
    for (const p of d.procs) expect(p.child.exitCode).toBeNull();

    await d.restart();
    await d.healthy();
    const listed = await d.api.call('GET', '/assets?tag=durable&limit=100');
    expect(listed.body.items.map((a: { id: string }) => a.id).sort()).toEqual([...ids].sort());
  });

  it('with async snapshots, keeps everything up to the last snapshot; executors hold results until Redis is back', async () => {
    const d = await deployment('async');
    const target = await startTarget();
    cleanups.push(() => target.close());
    const executor = webmon(['executor'], d.env);
    d.procs.push(executor);
    await executor.waitFor(/executor ready/);

    const { body: a } = await d.api.call('POST', '/assets', { url: `${target.url}/wait?ms=1500`, plugins: ['http'] });
    const pushed = await d.api.call('POST', '/jobs', { assetIds: [a.id] });
    const jobId = pushed.body.jobs[0].id;
    // Snapshot now: the asset and the queued (or running) job are in it.
    const snap = webmon(['snapshot'], d.env);
    expect(await new Promise((r) => snap.child.once('exit', r))).toBe(0);
    expect(snap.output()).toMatch(/^OK \d+/);
    // The check is under way when Redis dies; its result waits in the executor.
    const deadline = Date.now() + 5000;
    while (!target.hits.get('/wait') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await d.kill();
    await new Promise((r) => setTimeout(r, 2000));
    for (const p of d.procs) expect(p.child.exitCode).toBeNull();
    await d.restart();
    await d.healthy();

    expect((await d.api.call('GET', `/assets/${a.id}`)).status).toBe(200);
    const job = await d.api.waitJob(jobId, 20_000);
    expect(job).toMatchObject({ status: 'done', outcome: 'ok' });
    expect(job.results[0].metrics.statusCode).toBe(200);
  });
});
