/**
 * Completions whose claim was lost: after a Redis restart from a snapshot taken before the
 * claim, or after the sweep re-queued an expired lease. The result is real, so it is recorded
 * once, unless another executor has claimed the job since.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedis, type TestRedis } from '../../../../test/helpers/redis.js';
import type { CheckResult } from '../types.js';
import { normalizeUrl } from '../url.js';
import { AssetStore } from './assets.js';
import { JobStore } from './jobs.js';

let t: TestRedis;
let assets: AssetStore;
let jobs: JobStore;

beforeAll(async () => {
  t = await testRedis('jobrec');
  assets = new AssetStore(t.redis, t.keys, t.scripts);
  jobs = new JobStore(t.redis, t.keys, t.scripts, { retentionSec: 3600, maxAttempts: 3, historyMax: 100, eventsMax: 1000, downAfter: 3, upAfter: 1 });
});
afterAll(() => t.cleanup());

let n = 0;
async function queuedJob(): Promise<{ id: string; assetId: string }> {
  const { id: assetId } = await assets.create({ owner: 'o', url: normalizeUrl(`http://rec${n++}.test/`), plugins: ['http'], config: {}, interval: 60, tags: [] });
  const [id] = await jobs.enqueue([{ assetId, owner: 'o' }], 0);
  return { id: id!, assetId };
}

const ok: CheckResult = { plugin: 'http', status: 'ok', reason: null, message: 'ok', durationMs: 1, metrics: { statusCode: 200 } };
const completion = (jobId: string, assetId: string, token: string) => ({ jobId, token, outcome: 'ok' as const, reason: null, results: [ok], durationMs: 1, owner: 'o', assetId });

describe('completions of jobs whose claim was lost', () => {
  it('records the result of a job Redis forgot was claimed (restored from an older snapshot), once', async () => {
    const { id, assetId } = await queuedJob();
    const snapshot = await t.redis.hgetall(t.keys.job(id));
    expect((await jobs.claim(id, 'tok-a', 30_000)).claimed).toBe(true);
    // Redis comes back from a snapshot taken before the claim: the job is queued again.
    await t.redis.del(t.keys.job(id));
    await t.redis.hset(t.keys.job(id), snapshot);
    await t.redis.zrem(t.keys.jobsLeases, id);
    await t.redis.zadd(t.keys.jobsQueued, Date.now(), id);

    expect(await jobs.complete(completion(id, assetId, 'tok-a'))).toEqual({ recorded: true, from: 'unknown', to: 'up' });
    expect(await t.redis.zscore(t.keys.jobsQueued, id)).toBeNull();
    expect(await jobs.get(id)).toMatchObject({ status: 'done', outcome: 'ok' });
    // The id re-sent by the sweep finds the job done: the check is not run or recorded twice.
    expect(await jobs.claim(id, 'tok-b', 30_000)).toEqual({ claimed: false, why: 'done' });
    expect(await jobs.complete(completion(id, assetId, 'tok-a'))).toEqual({ recorded: false, why: 'done' });
    expect(await t.redis.llen(t.keys.assetHistory(assetId))).toBe(1);
  });

  it('records a late result after the lease expired, unless another executor claimed the job meanwhile', async () => {
    const late = await queuedJob();
    const t0 = Date.now();
    expect((await jobs.claim(late.id, 'slow', 1000, t0)).claimed).toBe(true);
    expect((await jobs.sweep(3_600_000, 100, t0 + 1500)).requeued).toContain(late.id);
    expect(await jobs.complete(completion(late.id, late.assetId, 'slow'))).toMatchObject({ recorded: true });
    // The retry it was waiting for is gone with it.
    expect(await t.redis.zscore(t.keys.jobsDelayed, late.id)).toBeNull();
    expect(await t.redis.zscore(t.keys.jobsQueued, late.id)).toBeNull();
    expect(await jobs.get(late.id)).toMatchObject({ status: 'done' });
    expect((await jobs.get(late.id))?.error ?? null).toBeNull();

    const raced = await queuedJob();
    expect((await jobs.claim(raced.id, 'slow', 1000, t0)).claimed).toBe(true);
    expect((await jobs.sweep(3_600_000, 100, t0 + 1500)).requeued).toContain(raced.id);
    expect((await jobs.claim(raced.id, 'fresh', 30_000, t0 + 60_000)).claimed).toBe(true);
    expect(await jobs.complete(completion(raced.id, raced.assetId, 'slow'))).toEqual({ recorded: false, why: 'stale' });
    expect(await jobs.complete(completion(raced.id, raced.assetId, 'fresh'))).toMatchObject({ recorded: true });
    expect(await t.redis.llen(t.keys.assetHistory(raced.assetId))).toBe(1);
  });
});
