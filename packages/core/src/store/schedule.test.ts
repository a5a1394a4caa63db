import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedis, type TestRedis } from '../../../../test/helpers/redis.js';
import { scripts } from '../scripts.js';
import { normalizeUrl } from '../url.js';
import { AssetStore } from './assets.js';
import { JobStore } from './jobs.js';

let t: TestRedis;
let assets: AssetStore;
let jobs: JobStore;
const policy = { retentionSec: 60, maxAttempts: 3, historyMax: 10, eventsMax: 10, downAfter: 3, upAfter: 1 };

beforeAll(async () => {
  t = await testRedis('schedule');
  assets = new AssetStore(t.redis, t.keys, t.scripts);
  jobs = new JobStore(t.redis, t.keys, t.scripts, policy);
});
afterAll(() => t.cleanup());

let n = 0;
async function asset(interval = 60, extra: { paused?: boolean; owner?: string } = {}) {
  const { id } = await assets.create({ owner: extra.owner ?? 'o', url: normalizeUrl(`http://s${n++}.test/`), plugins: ['http'], config: {}, interval, tags: [], paused: extra.paused ?? false });
  return id;
}
const dueOf = async (id: string) => Number(await t.redis.zscore(t.keys.schedule, id));
const reset = async () => {
  await t.redis.del(t.keys.schedule, t.keys.jobsQueued);
};

describe('scheduler', () => {
  it('schedules a new asset within its first minute, and a paused one not at all', async () => {
    await reset();
    const now = Date.now();
    const a = await asset(300);
    const p = await asset(300, { paused: true });
    expect(await dueOf(a)).toBeGreaterThanOrEqual(now);
    expect(await dueOf(a)).toBeLessThanOrEqual(now + 61_000);
    expect(await t.redis.zscore(t.keys.schedule, p)).toBeNull();
    // Resuming schedules it; pausing again unschedules it; deleting removes it.
    await assets.update(p, () => ({ paused: false }));
    expect(await t.redis.zscore(t.keys.schedule, p)).not.toBeNull();
    await assets.update(p, () => ({ paused: true }));
    expect(await t.redis.zscore(t.keys.schedule, p)).toBeNull();
    await assets.delete(a);
    expect(await t.redis.zscore(t.keys.schedule, a)).toBeNull();
  });

  it('turns due assets into queued jobs and moves them one interval on', async () => {
    await reset();
    const a = await asset(60);
    const b = await asset(60);
    const t0 = Date.now() + 120_000; // both are due by then
    await t.redis.zadd(t.keys.schedule, t0 - 5000, a, t0 + 30_000, b);
    const res = await jobs.scheduleDue(100, 1000, t0);
    expect(res).toMatchObject({ skipped: 0, backpressure: false });
    expect(res.ids).toHaveLength(1);
    const job = await jobs.get(res.ids[0]!);
    expect(job).toMatchObject({ assetId: a, status: 'queued', priority: 0, owner: 'o' });
    expect(await dueOf(a)).toBe(t0 - 5000 + 60_000);
    expect(await dueOf(b)).toBe(t0 + 30_000);
    // Nothing more is due at the same instant.
    expect((await jobs.scheduleDue(100, 1000, t0)).ids).toEqual([]);
  });

  it('does not pile up checks behind one still queued or running', async () => {
    await reset();
    const a = await asset(10);
    const t0 = Date.now() + 120_000;
    await t.redis.zadd(t.keys.schedule, t0, a);
    const first = await jobs.scheduleDue(10, 1000, t0);
    expect(first.ids).toHaveLength(1);
    const second = await jobs.scheduleDue(10, 1000, t0 + 10_000);
    expect(second).toMatchObject({ ids: [], skipped: 1 });
    // Once it completes, the next interval schedules again.
    const claim = await jobs.claim(first.ids[0]!, 'tok', 10_000);
    expect(claim.claimed).toBe(true);
    await jobs.complete({ jobId: first.ids[0]!, token: 'tok', outcome: 'ok', reason: null, results: [], durationMs: 1, owner: 'o', assetId: a });
    expect((await jobs.scheduleDue(10, 1000, t0 + 20_000)).ids).toHaveLength(1);
  });

  it('spreads assets that fell behind over their interval instead of firing in a burst', async () => {
    await reset();
    const ids = [];
    for (let i = 0; i < 40; i++) ids.push(await asset(100));
    const t0 = Date.now() + 3_600_000;
    await t.redis.zadd(t.keys.schedule, ...ids.flatMap((id) => [t0 - 3_600_000, id]));
    const res = await jobs.scheduleDue(1000, 1000, t0);
    expect(res.ids).toHaveLength(40);
    const next = await Promise.all(ids.map(dueOf));
    for (const d of next) {
      expect(d).toBeGreaterThanOrEqual(t0);
      expect(d).toBeLessThan(t0 + 100_000);
    }
    // Spread: not all in the same tenth of the interval.
    expect(new Set(next.map((d) => Math.floor((d - t0) / 10_000))).size).toBeGreaterThan(3);
  });

  it('waits while the queue is over its bound (backpressure) and bounds each batch', async () => {
    await reset();
    const ids = [];
    for (let i = 0; i < 30; i++) ids.push(await asset(60));
    const t0 = Date.now() + 120_000;
    await t.redis.zadd(t.keys.schedule, ...ids.flatMap((id) => [t0 - 1, id]));
    const batch = await jobs.scheduleDue(10, 1000, t0);
    expect(batch.ids).toHaveLength(10);
    const bounded = await jobs.scheduleDue(100, 15, t0);
    expect(bounded).toMatchObject({ backpressure: true });
    expect(bounded.ids).toHaveLength(5);
    expect(await jobs.scheduleDue(100, 15, t0)).toMatchObject({ ids: [], skipped: 0, backpressure: true });
  });

  it('never schedules the same check twice from two dispatchers', async () => {
    await reset();
    const ids = [];
    for (let i = 0; i < 200; i++) ids.push(await asset(60));
    const t0 = Date.now() + 120_000;
    await t.redis.zadd(t.keys.schedule, ...ids.flatMap((id) => [t0 - 1, id]));
    const other = new Redis(t.url);
    const jobs2 = new JobStore(other, t.keys, scripts(other), policy);
    const results = await Promise.all([0, 1, 2, 3].map((i) => (i % 2 ? jobs2 : jobs).scheduleDue(60, 10_000, t0)));
    other.disconnect();
    const all = results.flatMap((r) => r.ids);
    expect(all).toHaveLength(200);
    const assetIds = await Promise.all(all.map(async (j) => (await jobs.get(j))!.assetId));
    expect(new Set(assetIds).size).toBe(200);
  });
});
