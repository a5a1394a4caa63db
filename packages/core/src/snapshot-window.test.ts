/** Snapshots scale with the dataset: the coalescing window grows with the last save's duration. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startManagedRedis, type ManagedRedis } from './redis-server.js';
import { SnapshotCoalescer, persistenceInfo, snapshot } from './snapshot.js';

let server: ManagedRedis;
let redis: Redis;
const dir = mkdtempSync(join(tmpdir(), 'webmon-snapshot-window-'));

beforeAll(async () => {
  server = await startManagedRedis({ dir });
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Makes every save take about `ms` (Redis's test knob: a delay per key written). */
async function slowSaves(ms: number): Promise<void> {
  await redis.flushall();
  await redis.mset(Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`slow:${i}`, 'x'])));
  await redis.config('SET', 'rdb-key-save-delay', String(Math.round((ms * 1000) / 200)));
}

describe('snapshot policy', () => {
  it('has no save rule of its own but an hourly safety net (the dispatcher takes paced snapshots)', async () => {
    const [, save] = (await redis.config('GET', 'save')) as [string, string];
    expect(save).toBe('3600 1');
  });

  it('starts no snapshot within durationFactor × the last save\'s duration after it ended', async () => {
    await slowSaves(400);
    try {
      const coalescer = new SnapshotCoalescer(redis, undefined, { durationFactor: 2 });
      const before = (await persistenceInfo(redis)).saves;
      const a = await coalescer.request();
      expect(a.saveMs).toBeGreaterThanOrEqual(300);
      const aEnd = a.startedAt + a.durationMs;
      // A burst of writers right after: all share one later save.
      const burst = await Promise.all(Array.from({ length: 10 }, () => coalescer.request()));
      expect(new Set(burst.map((r) => r.startedAt)).size).toBe(1);
      expect(burst[0]!.startedAt - aEnd).toBeGreaterThanOrEqual(2 * a.saveMs - 25);
      expect((await persistenceInfo(redis)).saves - before).toBe(2);
      // A writer still gets a snapshot begun after its request (afterWrites: sync), once the window allows.
      const asked = Date.now();
      const c = await coalescer.request();
      expect(c.startedAt).toBeGreaterThanOrEqual(asked);
      expect(c.startedAt + c.durationMs - c.saveMs - (burst[0]!.startedAt + burst[0]!.durationMs)).toBeGreaterThanOrEqual(2 * burst[0]!.saveMs - 25);
      expect((await persistenceInfo(redis)).saves - before).toBe(3);
      await coalescer.close();
    } finally {
      await redis.config('SET', 'rdb-key-save-delay', '0');
    }
  });

  it('counts a save it did not start (another process, Redis\'s own schedule) once its duration, whatever its own factor', async () => {
    await slowSaves(2200);
    try {
      await redis.bgsave();
      for (let i = 0; i < 500 && !(await persistenceInfo(redis)).inProgress; i++) await new Promise((r) => setTimeout(r, 5));
      for (let i = 0; i < 1000 && (await persistenceInfo(redis)).inProgress; i++) await new Promise((r) => setTimeout(r, 10));
      const info = await persistenceInfo(redis);
      expect(info.lastSaveDurationMs).toBeGreaterThanOrEqual(2000);
      await redis.config('SET', 'rdb-key-save-delay', '0');
      const coalescer = new SnapshotCoalescer(redis); // the default factor, 3
      const res = await coalescer.request();
      // Redis reports whole seconds; the window is (reported - 1 s) after LASTSAVE: once, as most
      // such saves are paced periodic ones, whose length overstates their cost.
      const issued = res.startedAt + res.durationMs - res.saveMs;
      const foreignMs = info.lastSaveDurationMs - 1000;
      expect(issued).toBeGreaterThanOrEqual(info.lastSave * 1000 + foreignMs);
      expect(issued).toBeLessThan(info.lastSave * 1000 + 2 * foreignMs + 1000); // not 3 ×
      await coalescer.close();
    } finally {
      await redis.config('SET', 'rdb-key-save-delay', '0');
    }
  });

  it('does not wait when saves are quick (durationFactor 0 turns the window off)', async () => {
    await redis.flushall();
    const coalescer = new SnapshotCoalescer(redis, undefined, { durationFactor: 0 });
    const before = (await persistenceInfo(redis)).saves;
    for (let i = 0; i < 3; i++) await coalescer.request();
    expect((await persistenceInfo(redis)).saves - before).toBe(3);
    await coalescer.close();
  });
});

describe('paced snapshots', () => {
  const delay = async () => ((await redis.config('GET', 'rdb-key-save-delay')) as [string, string])[1];
  const waitWhile = async (cond: () => Promise<boolean>) => {
    for (let i = 0; i < 1000 && (await cond()); i++) await new Promise((r) => setTimeout(r, 10));
  };

  it('pauses after each key in the snapshot process only: the server is back at 0 while it runs', async () => {
    await redis.flushall();
    await redis.mset(Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`paced:${i}`, 'x'])));
    const fast = await snapshot(redis);
    const paced = snapshot(redis, { keyDelayUs: 2000 });
    await waitWhile(async () => !(await persistenceInfo(redis)).inProgress);
    expect((await persistenceInfo(redis)).inProgress).toBe(true);
    // The fork has its own copy: the server's setting is 0 again, so SHUTDOWN's save is not paced.
    expect(await delay()).toBe('0');
    const res = await paced;
    expect(res.joined).toBe(false);
    expect(res.saveMs).toBeGreaterThanOrEqual(400 * 2); // 400 keys × at least 2 ms
    expect(fast.saveMs).toBeLessThan(res.saveMs / 2);
    expect(await delay()).toBe('0');
  });

  it('leaves a delay the operator set alone', async () => {
    await redis.flushall();
    await redis.mset(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`paced:${i}`, 'x'])));
    await redis.config('SET', 'rdb-key-save-delay', '3000');
    try {
      const res = await snapshot(redis, { keyDelayUs: 1 });
      expect(res.saveMs).toBeGreaterThanOrEqual(100 * 3); // their 3 ms a key, not our 1 µs
      expect(await delay()).toBe('3000');
    } finally {
      await redis.config('SET', 'rdb-key-save-delay', '0');
    }
  });

  it('every(ms): snapshots once the last save is that old and something changed, not otherwise', async () => {
    await redis.flushall();
    const coalescer = new SnapshotCoalescer(redis, undefined, { durationFactor: 0, keyDelayUs: 10 });
    await coalescer.request();
    const before = (await persistenceInfo(redis)).saves;
    coalescer.every(1000);
    await new Promise((r) => setTimeout(r, 2500));
    expect((await persistenceInfo(redis)).saves).toBe(before); // nothing changed: no save
    await redis.set('periodic', '1');
    await waitWhile(async () => (await persistenceInfo(redis)).changesSinceLastSave > 0);
    const info = await persistenceInfo(redis);
    expect(info.saves).toBe(before + 1);
    expect(info.changesSinceLastSave).toBe(0);
    await coalescer.close();
    await redis.set('periodic', '2');
    await new Promise((r) => setTimeout(r, 1500));
    expect((await persistenceInfo(redis)).saves).toBe(before + 1); // closed: no more
  });

  it('every(ms): after a failed save, tries again a period later, not at every look', async () => {
    // A server of its own whose data directory is gone: every save fails to create its file.
    const goneDir = mkdtempSync(join(tmpdir(), 'webmon-snapshot-gone-'));
    const failing = await startManagedRedis({ dir: goneDir });
    const client = new Redis(failing.url);
    const errors: Error[] = [];
    const coalescer = new SnapshotCoalescer(client, (err) => errors.push(err), { durationFactor: 0 });
    try {
      await client.set('periodic', 'failing');
      rmSync(goneDir, { recursive: true, force: true });
      coalescer.every(1000); // looks every 100 ms
      await new Promise((r) => setTimeout(r, 2500));
      expect(errors.length).toBeGreaterThanOrEqual(1);
      expect(errors.length).toBeLessThanOrEqual(3); // about one a second, not one a look
      expect(errors[0]!.message).toMatch(/failed/);
    } finally {
      await coalescer.close();
      client.disconnect();
      await failing.stop(1000); // its final save fails too: killed after 1 s
    }
  });

  it('a paced coalescer waits 1 × (not 3 ×) its last save\'s duration: that save took a fraction of a core', async () => {
    await redis.flushall();
    await redis.mset(Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`paced:${i}`, 'x'])));
    const coalescer = new SnapshotCoalescer(redis, undefined, { keyDelayUs: 3000 });
    const a = await coalescer.request();
    expect(a.saveMs).toBeGreaterThanOrEqual(900);
    const b = await coalescer.request();
    const gap = b.startedAt + b.durationMs - b.saveMs - (a.startedAt + a.durationMs);
    expect(gap).toBeGreaterThanOrEqual(a.saveMs - 25);
    expect(gap).toBeLessThan(2 * a.saveMs);
    await coalescer.close();
  });

  it('close(false) stops waiting for a running paced save, which Redis finishes, and reports no error', async () => {
    await redis.flushall();
    await redis.mset(Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`paced:${i}`, 'x'])));
    const errors: Error[] = [];
    const coalescer = new SnapshotCoalescer(redis, (err) => errors.push(err), { durationFactor: 0, keyDelayUs: 5000 });
    const asked = coalescer.request();
    await waitWhile(async () => !(await persistenceInfo(redis)).inProgress);
    const t0 = Date.now();
    await coalescer.close(false);
    expect(Date.now() - t0).toBeLessThan(500); // the save needs 1.5 s more
    await expect(asked).rejects.toThrow(/shutting down/);
    expect((await persistenceInfo(redis)).inProgress).toBe(true);
    await waitWhile(async () => (await persistenceInfo(redis)).inProgress);
    expect((await persistenceInfo(redis)).lastStatus).toBe('ok');
    expect(errors).toEqual([]);
  });
});
