import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startManagedRedis, type ManagedRedis } from './redis-server.js';
import { SnapshotCoalescer, SnapshotError, persistenceInfo, snapshot, type SnapshotResult } from './snapshot.js';

let server: ManagedRedis;
let redis: Redis;
const dir = mkdtempSync(join(tmpdir(), 'webmon-snapshot-'));

beforeAll(async () => {
  server = await startManagedRedis({ dir });
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('snapshots', () => {
  it('writes an RDB snapshot and reports the new LASTSAVE', async () => {
    await redis.set('k', 'v');
    const before = await persistenceInfo(redis);
    expect(before.changesSinceLastSave).toBeGreaterThan(0);
    const res = await snapshot(redis);
    expect(res.joined).toBe(false);
    expect(res.lastSave).toBeGreaterThanOrEqual(before.lastSave);
    const after = await persistenceInfo(redis);
    expect(after.saves).toBe(before.saves + 1);
    expect(after.changesSinceLastSave).toBe(0);
    expect(statSync(join(dir, 'dump.rdb')).size).toBeGreaterThan(0);
  });

  it('joins a save already running, or waits it out for a fresh one', async () => {
    // A slow save: enough data that the fork takes a moment is not needed; start one by hand.
    await redis.bgsave();
    const joined = await snapshot(redis).catch((e: Error) => e);
    expect(joined).not.toBeInstanceOf(Error);
    const before = (await persistenceInfo(redis)).saves;
    await redis.set('k2', 'v2');
    await redis.bgsave();
    const fresh = await snapshot(redis, { fresh: true });
    expect(fresh.joined).toBe(false);
    expect((await persistenceInfo(redis)).saves).toBeGreaterThanOrEqual(before + 1);
    expect((await persistenceInfo(redis)).changesSinceLastSave).toBe(0);
  });

  it('coalesces many requests into at most one running and one waiting snapshot', async () => {
    const before = (await persistenceInfo(redis)).saves;
    const coalescer = new SnapshotCoalescer(redis);
    const all = await Promise.all(Array.from({ length: 20 }, () => coalescer.request()));
    expect(all.every((r) => r.lastSave > 0)).toBe(true);
    const saves = (await persistenceInfo(redis)).saves - before;
    expect(saves).toBeGreaterThanOrEqual(1);
    expect(saves).toBeLessThanOrEqual(2);
    await coalescer.idle();
  });

  it('answers every request with a save that began after it, sharing the next save while one runs', async () => {
    // Slow saves (Redis's own test knob: a delay per key written), so requests surely arrive
    // while one runs.
    await redis.mset(Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`slow:${i}`, 'x'])));
    await redis.config('SET', 'rdb-key-save-delay', '1000');
    try {
      const coalescer = new SnapshotCoalescer(redis);
      const before = (await persistenceInfo(redis)).saves;
      const t0 = Date.now();
      const first = coalescer.request();
      for (let i = 0; i < 200 && !(await persistenceInfo(redis)).inProgress; i++) await new Promise((r) => setTimeout(r, 5));
      expect((await persistenceInfo(redis)).inProgress).toBe(true);
      const asked: Array<{ at: number; reply: Promise<SnapshotResult> }> = [];
      for (let i = 0; i < 20; i++) asked.push({ at: Date.now(), reply: coalescer.request() });
      expect((await first).startedAt).toBeGreaterThanOrEqual(t0);
      const replies = await Promise.all(asked.map((a) => a.reply));
      replies.forEach((r, i) => {
        expect(r.startedAt).toBeGreaterThanOrEqual(asked[i]!.at);
      });
      expect(new Set(replies.map((r) => r.startedAt)).size).toBe(1); // one shared save
      expect((await persistenceInfo(redis)).saves - before).toBe(2);
    } finally {
      await redis.config('SET', 'rdb-key-save-delay', '0');
    }
  });

  it('starts saves at most once per minIntervalMs; requests in between share the next one', async () => {
    const coalescer = new SnapshotCoalescer(redis, undefined, { minIntervalMs: 800 });
    const before = (await persistenceInfo(redis)).saves;
    const a = await coalescer.request();
    const t1 = Date.now();
    const [b, c] = await Promise.all([coalescer.request(), coalescer.request()]);
    expect(b.startedAt).toBe(c.startedAt);
    expect(b.startedAt).toBeGreaterThanOrEqual(t1);
    expect(b.startedAt - a.startedAt).toBeGreaterThanOrEqual(800);
    expect((await persistenceInfo(redis)).saves - before).toBe(2);
  });

  it('fails requests still waiting for their turn when closed, and refuses new ones', async () => {
    const coalescer = new SnapshotCoalescer(redis, undefined, { minIntervalMs: 60_000 });
    await coalescer.request();
    const waiting = coalescer.request();
    const started = Date.now();
    await coalescer.close();
    await expect(waiting).rejects.toThrow(/shutting down/);
    expect(Date.now() - started).toBeLessThan(10_000); // did not wait out the interval
    await expect(coalescer.request()).rejects.toThrow(SnapshotError);
  });

  it('reports why a save failed', async () => {

    // The snapshot cannot be renamed into place: its name is taken by a directory.
    const dir2 = mkdtempSync(join(tmpdir(), 'webmon-snapshot-fail-'));
    const broken = await startManagedRedis({ dir: dir2 });
    const r = new Redis(broken.url);
    try {
      mkdirSync(join(dir2, 'dump.rdb'));
      await r.set('k3', 'v3');
      await expect(snapshot(r, { timeoutMs: 10_000 })).rejects.toThrow(/background save failed \(rdb_last_bgsave_status:err\)/);
    } finally {
      r.disconnect();
      rmSync(join(dir2, 'dump.rdb'), { recursive: true, force: true });
      await broken.stop();
      rmSync(dir2, { recursive: true, force: true });
    }
  });
});
