/** Snapshots scale with the dataset: the coalescing window grows with the last save's duration. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startManagedRedis, type ManagedRedis } from './redis-server.js';
import { SnapshotCoalescer, persistenceInfo } from './snapshot.js';

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
  it('has no save rule that fires every minute under load', async () => {
    const [, save] = (await redis.config('GET', 'save')) as [string, string];
    expect(save).toBe('900 1 300 10');
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

  it('counts saves it did not start (another process, Redis\'s own schedule)', async () => {
    await slowSaves(2200);
    try {
      await redis.bgsave();
      for (let i = 0; i < 500 && !(await persistenceInfo(redis)).inProgress; i++) await new Promise((r) => setTimeout(r, 5));
      for (let i = 0; i < 1000 && (await persistenceInfo(redis)).inProgress; i++) await new Promise((r) => setTimeout(r, 10));
      const info = await persistenceInfo(redis);
      expect(info.lastSaveDurationMs).toBeGreaterThanOrEqual(2000);
      await redis.config('SET', 'rdb-key-save-delay', '0');
      const coalescer = new SnapshotCoalescer(redis, undefined, { durationFactor: 1 });
      const res = await coalescer.request();
      // Redis reports whole seconds; the window is factor × (reported - 1 s) after LASTSAVE.
      expect(res.startedAt + res.durationMs - res.saveMs).toBeGreaterThanOrEqual(info.lastSave * 1000 + info.lastSaveDurationMs - 1000);
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
