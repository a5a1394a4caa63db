/**
 * `webmon up`: every role in one process with a managed local redis-server, as the README's
 * quick start runs it; and the ways start-up must fail.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '@webmon/core';
import { NODE_FLAGS } from '../packages/cli/src/node-flags.js';
import { client, freshPorts, startRunning, startTarget, webmon } from './helpers/processes.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'webmon-up-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function ports() {
  return { ...(await freshPorts()), WEBMON_EXECUTOR_METRICS_PORT: String(await freePort()) };
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

/** A free port whose successor is free too (an extra executor's metrics port is base + 1). */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await freePort();
    if (port < 65535 && !(await portOpen(port + 1))) return port;
  }
  throw new Error('no pair of free ports');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('webmon up', () => {
  it('runs all roles with a managed redis-server and stops everything on SIGTERM', async () => {
    const cwd = tmp();
    const target = await startTarget();
    const { proc: up, env } = await startRunning(['up'], ports, { cwd, timeoutMs: 20_000 });
    try {
      // The roles reach it through its Unix socket (the password redacted in the log).
      const redisPort = Number(/"url":"redis\+unix:\/\/[^"]*\/data\/redis\/redis\.sock\?password=\*\*\*","port":(\d+)/.exec(up.output())?.[1]);
      expect(redisPort).toBeGreaterThan(0);
      const keyFile = join(cwd, 'data', 'admin.key');
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      const key = readFileSync(keyFile, 'utf8').trim();
      expect(up.output()).not.toContain(key); // the key is in the file, never in the logs

      const api = client(`http://127.0.0.1:${env.WEBMON_API_PORT}`, key);
      let health = await api.call('GET', '/health');
      for (let i = 0; i < 50 && health.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        health = await api.call('GET', '/health');
      }
      expect(health.body).toMatchObject({ status: 'ok', redis: { ok: true }, dispatcher: { ok: true } });
      const { body: asset } = await api.call('POST', '/assets', { url: `${target.url}/ok` });
      const { body: pushed } = await api.call('POST', '/jobs', { assetIds: [asset.id] });
      const job = await api.waitJob(pushed.jobs[0].id);
      expect(job).toMatchObject({ status: 'done', outcome: 'ok' });

      // The control channel from the CLI.
      const cli = async (...args: string[]) => {
        const p = webmon(args, env, { cwd });
        const code = await new Promise<number | null>((r) => p.child.once('exit', r));
        return { code, out: p.output() };
      };
      const status = await cli('status');
      expect(status.code).toBe(0);
      // One executor per core by default.
      expect(JSON.parse(status.out)).toMatchObject({ executors: availableParallelism(), lastSnapshot: { status: 'ok' } });
      const snap = await cli('snapshot');
      expect(snap).toMatchObject({ code: 0, out: expect.stringMatching(/^OK \d{10}\n$/) });
      expect(await cli('ping')).toMatchObject({ code: 0, out: 'PONG\n' });

      expect(await up.stop('SIGTERM')).toBe(0);
      expect(await portOpen(redisPort)).toBe(false);
      expect(existsSync(join(cwd, 'data', 'redis', 'dump.rdb'))).toBe(true);

      // Started again on the same data directory, the asset is still there.
      const { proc: again, env: env2 } = await startRunning(['up'], ports, { cwd, timeoutMs: 20_000 });
      try {
        const api2 = client(`http://127.0.0.1:${env2.WEBMON_API_PORT}`, key);
        expect((await api2.call('GET', `/assets/${asset.id}`)).body).toMatchObject({ id: asset.id, lastCheckAt: expect.any(String) });
        expect(await again.stop('SIGINT')).toBe(0);
      } finally {
        await again.stop('SIGKILL');
      }
    } finally {
      await up.stop('SIGKILL');
      await target.close();
    }
  }, 90_000);

  it('runs --executors N executor processes that all check, restarts a killed one, and stops them all', async () => {
    const cwd = tmp();
    const target = await startTarget();
    const envWithPair = async () => ({ ...(await ports()), WEBMON_EXECUTOR_METRICS_PORT: String(await freePortPair()), WEBMON_POLITENESS_HOST_INTERVAL_MS: '0' });
    const { proc: up, env } = await startRunning(['up', '--executors', '2'], envWithPair, { cwd });
    try {
      const childPid = () => [...up.output().matchAll(/"executor":1,"childPid":(\d+)[^\n]*"msg":"executor process started"/g)].map((m) => Number(m[1]));
      const [first] = childPid();
      expect(first).toBeGreaterThan(0);
      expect(first).not.toBe(up.child.pid);
      // The parent was started without webmon's Node.js options: the forked executor has them.
      expect(readFileSync(`/proc/${first}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining([...NODE_FLAGS]));
      const status = async () => {
        const p = webmon(['status'], env, { cwd });
        await new Promise((r) => p.child.once('exit', r));
        return JSON.parse(p.output()) as { executors: number; scheduler: { executors: number; concurrency: number } };
      };
      expect((await status()).executors).toBe(2);

      const key = readFileSync(join(cwd, 'data', 'admin.key'), 'utf8').trim();
      const api = client(`http://127.0.0.1:${env.WEBMON_API_PORT}`, key);
      const runChecks = async (n: number) => {
        const assets = Array.from({ length: n }, (_, i) => ({ url: `${target.url}/ok?i=${i}&r=${Math.random()}`, plugins: ['http'] }));
        const { body: created } = await api.call('POST', '/assets/batch', { assets });
        const { body: pushed } = await api.call('POST', '/jobs', { assetIds: created.items.map((it: { id: string }) => it.id) });
        for (const j of pushed.jobs) expect(await api.waitJob(j.id, 30_000)).toMatchObject({ status: 'done', outcome: 'ok' });
      };
      await runChecks(200);
      // The child process ran some of them: its own metrics endpoint (base port + 1) counts them.
      const childMetrics = await fetch(`http://127.0.0.1:${Number(env.WEBMON_EXECUTOR_METRICS_PORT) + 1}/metrics`).then((r) => r.text());
      expect(Number(/webmon_checks_total\{plugin="http",status="ok",reason=""\} (\d+)/.exec(childMetrics)?.[1] ?? 0)).toBeGreaterThan(0);
      // The scheduler sizes its queue from both executors' advertised concurrency (100 each).
      for (let i = 0; i < 50 && (await status()).scheduler.concurrency !== 200; i++) await new Promise((r) => setTimeout(r, 200));
      expect((await status()).scheduler).toMatchObject({ executors: 2, concurrency: 200 });

      // A crashed executor process is started again, and checks still complete.
      process.kill(first!, 'SIGKILL');
      await up.waitFor(/executor process exited; restarting it/, 10_000);
      for (let i = 0; i < 100 && childPid().length < 2; i++) await new Promise((r) => setTimeout(r, 100));
      const second = childPid()[1];
      expect(second).toBeGreaterThan(0);
      expect(second).not.toBe(first);
      await runChecks(20);

      expect(await up.stop('SIGTERM')).toBe(0);
      expect(alive(second!)).toBe(false);
    } finally {
      await up.stop('SIGKILL');
      await target.close();
    }
  });

  it('fails at once, saying what to do, when redis-server is not installed', async () => {
    // An empty PATH: node itself is started by absolute path, redis-server cannot be found.
    const up = webmon(['up'], await ports(), { cwd: tmp(), path: tmp() });
    const started = Date.now();
    const code = await new Promise<number | null>((res) => up.child.once('exit', res));
    expect(code).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(up.output()).toMatch(/redis-server was not found/);
    expect(up.output()).toMatch(/apt-get install redis-server/);
    expect(up.output()).toMatch(/WEBMON_REDIS_URL/);
  });

  it('refuses a bad configuration, naming the field', async () => {
    const bad = webmon(['api'], { WEBMON_API_PORT: '70000' }, { cwd: tmp() });
    const code = await new Promise<number | null>((res) => bad.child.once('exit', res));
    expect(code).toBe(2);
    expect(bad.output()).toMatch(/invalid configuration: api\.port/);
    const unknown = webmon(['frobnicate'], {}, { cwd: tmp() });
    expect(await new Promise((res) => unknown.child.once('exit', res))).toBe(2);
    expect(unknown.output()).toMatch(/unknown command "frobnicate"/);
  });
});
