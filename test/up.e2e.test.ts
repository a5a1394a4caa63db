/**
 * `webmon up`: every role in one process with a managed local redis-server, as the README's
 * quick start runs it; and the ways start-up must fail.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '@webmon/core';
import { client, startTarget, webmon } from './helpers/processes.js';

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
  return {
    WEBMON_API_PORT: String(await freePort()),
    WEBMON_ZMQ_FRONTEND: `tcp://127.0.0.1:${await freePort()}`,
    WEBMON_ZMQ_BACKEND: `tcp://127.0.0.1:${await freePort()}`,
    WEBMON_ZMQ_CONTROL: `tcp://127.0.0.1:${await freePort()}`,
    WEBMON_EXECUTOR_METRICS_PORT: String(await freePort()),
  };
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

describe('webmon up', () => {
  it('runs all roles with a managed redis-server and stops everything on SIGTERM', async () => {
    const cwd = tmp();
    const env = await ports();
    const target = await startTarget();
    const up = webmon(['up'], env, { cwd });
    try {
      await up.waitFor(/webmon is running/, 20_000);
      const redisPort = Number(/"url":"redis:\/\/:\*\*\*@127\.0\.0\.1:(\d+)"/.exec(up.output())?.[1]);
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
      expect(JSON.parse(status.out)).toMatchObject({ executors: 1, lastSnapshot: { status: 'ok' } });
      const snap = await cli('snapshot');
      expect(snap).toMatchObject({ code: 0, out: expect.stringMatching(/^OK \d{10}\n$/) });
      expect(await cli('ping')).toMatchObject({ code: 0, out: 'PONG\n' });

      expect(await up.stop('SIGTERM')).toBe(0);
      expect(await portOpen(redisPort)).toBe(false);
      expect(existsSync(join(cwd, 'data', 'redis', 'dump.rdb'))).toBe(true);

      // Started again on the same data directory, the asset is still there.
      const env2 = await ports();
      const again = webmon(['up'], env2, { cwd });
      try {
        await again.waitFor(/webmon is running/, 20_000);
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
