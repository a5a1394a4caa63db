/** Stored state stays consistent across concurrent writers, deletes during checks and Redis restarts. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedis, type TestRedis } from '../../../../test/helpers/redis.js';
import { ALL_OWNERS } from '../keys.js';
import { ASSET_STATES } from '../types.js';
import { normalizeUrl } from '../url.js';
import { AssetStore } from './assets.js';
import { JobStore } from './jobs.js';
import { pluginStorage } from './plugin-storage.js';

let t: TestRedis;
let assets: AssetStore;
let jobs: JobStore;
const policy = { retentionSec: 60, maxAttempts: 3, historyMax: 10, eventsMax: 10, downAfter: 1, upAfter: 1 };

beforeAll(async () => {
  t = await testRedis('integrity');
  assets = new AssetStore(t.redis, t.keys, t.scripts);
  jobs = new JobStore(t.redis, t.keys, t.scripts, policy);
});
afterAll(() => t.cleanup());

let n = 0;
const newAsset = async (owner = 'o') =>
  (await assets.create({ owner, url: normalizeUrl(`http://i${n++}.test/`), plugins: ['http'], config: {}, interval: 60, tags: [] })).id;

async function claimed(assetId: string, owner = 'o') {
  const [jobId] = await jobs.enqueue([{ assetId, owner }], 0);
  expect((await jobs.claim(jobId!, 'tok', 60_000)).claimed).toBe(true);
  return jobId!;
}

const ok = (jobId: string, assetId: string, owner = 'o') => ({
  jobId,
  token: 'tok',
  outcome: 'ok' as const,
  reason: null,
  results: [{ plugin: 'http', status: 'ok' as const, reason: null, message: 'ok', durationMs: 3, metrics: {} }],
  durationMs: 3,
  owner,
  assetId,
});

/** The state indexes (owner and fleet) that hold the asset. */
async function stateIndexes(owner: string, id: string): Promise<string[]> {
  const out: string[] = [];
  for (const o of [owner, ALL_OWNERS]) {
    for (const s of ASSET_STATES) if ((await t.redis.zscore(t.keys.ownerIndex(o, 'state', s), id)) !== null) out.push(`${o}:${s}`);
  }
  return out;
}

describe('job_complete and concurrent updates', () => {
  it('bumps rev on a state change, so a PATCH computed before it re-reads (one state index)', async () => {
    const id = await newAsset();
    const jobId = await claimed(id);
    const revBefore = (await assets.get(id))!.rev;
    let computed = 0;
    let completion: Promise<unknown> | undefined;
    const updated = await assets.update(id, () => {
      computed++;
      // The check completes between the PATCH's read and its write: same connection, so Redis
      // runs job_complete first.
      if (computed === 1) completion = jobs.complete(ok(jobId, id));
      return { paused: true };
    });
    expect(await completion).toMatchObject({ recorded: true, from: 'unknown', to: 'up' });
    expect(computed).toBe(2);
    expect(updated).toMatchObject({ state: 'paused', paused: true });
    expect(updated!.rev).toBe(revBefore + 2);
    expect(await stateIndexes('o', id)).toEqual(['o:paused', '*:paused']);
  });

  it('keeps rev when a check does not change the state', async () => {
    const id = await newAsset();
    await jobs.complete(ok(await claimed(id), id));
    const rev = (await assets.get(id))!.rev;
    await jobs.complete(ok(await claimed(id), id));
    expect((await assets.get(id))!.rev).toBe(rev);
  });
});

describe('plugin storage of a deleted asset', () => {
  it('drops writes that arrive after the delete (no keys left without an owner)', async () => {
    const id = await newAsset();
    const storage = pluginStorage(t.redis, t.keys, id, 'htmlstats');
    await storage.set('baseline', '{"n":1}');
    expect(await storage.pushWindow('window', 'a', 3)).toEqual(['a']);
    expect(await t.redis.smembers(t.keys.assetPluginKeys(id))).toHaveLength(2);
    expect(await assets.delete(id)).toBe(true);
    // A check that was running when the asset was deleted finishes and writes.
    await storage.set('baseline', '{"n":2}');
    expect(await storage.pushWindow('window', 'b', 3)).toEqual([]);
    const left = await t.redis.keys(`${t.keys.asset(id)}*`);
    expect(left).toEqual([]);
  });

  it('still records while the asset exists', async () => {
    const id = await newAsset();
    const storage = pluginStorage(t.redis, t.keys, id, 'htmlstats');
    for (const v of ['a', 'b', 'c', 'd']) await storage.pushWindow('window', v, 3);
    expect(await storage.window('window')).toEqual(['b', 'c', 'd']);
    await storage.set('k', 'v');
    expect(await storage.get('k')).toBe('v');
  });
});

describe('scheduled job ids', () => {
  it('are not reused after Redis restarts from an older snapshot (the sequence goes back)', async () => {
    const id = await newAsset();
    await t.redis.del(t.keys.schedule, t.keys.jobsQueued);
    const seqBefore = await t.redis.get(t.keys.jobSeq);
    await t.redis.zadd(t.keys.schedule, 1, id);
    const first = await jobs.scheduleDue(10, 1000);
    expect(first.ids).toHaveLength(1);
    expect(first.ids[0]).toMatch(/^s[0-9a-f]+-\d+$/);
    // The restored snapshot predates that job: the counter, the job and the schedule go back.
    if (seqBefore === null) await t.redis.del(t.keys.jobSeq);
    else await t.redis.set(t.keys.jobSeq, seqBefore);
    await t.redis.del(t.keys.job(first.ids[0]!), t.keys.jobsQueued);
    await t.redis.hdel(t.keys.asset(id), 'pendingJob');
    await new Promise((r) => setTimeout(r, 5)); // the Redis clock moves on, as it does across a restart
    await t.redis.zadd(t.keys.schedule, 1, id);
    const second = await jobs.scheduleDue(10, 1000);
    expect(second.ids).toHaveLength(1);
    expect(second.ids[0]!.split('-')[1]).toBe(first.ids[0]!.split('-')[1]); // same sequence number…
    expect(second.ids[0]).not.toBe(first.ids[0]); // …yet another id
  });
});
