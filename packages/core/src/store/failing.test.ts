/** The assets failing most (`/stats` failingMost): counted by job_complete, read from the top of one set. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPOLOGIES, testRedisOf, type TestRedis } from '../../../../test/helpers/redis.js';
import { ALL_OWNERS } from '../keys.js';
import { normalizeUrl } from '../url.js';
import { AssetStore } from './assets.js';
import { JobStore } from './jobs.js';
import { StatsStore } from './stats.js';

const DAY = 86_400_000;
let t: TestRedis;
let assets: AssetStore;
let jobs: JobStore;
let stats: StatsStore;

/** Records one finished check of an asset at `at` through job_complete. */
async function check(assetId: string, owner: string, outcome: 'ok' | 'error', at: number): Promise<void> {
  const [jobId] = await jobs.enqueue([{ assetId, owner }], 0, at);
  expect((await jobs.claim(jobId!, 'tok', 60_000, at)).claimed).toBe(true);
  const result = { plugin: 'http', status: outcome === 'ok' ? 'ok' : 'error', reason: outcome === 'ok' ? null : 'refused', message: '', durationMs: 5, metrics: {} } as const;
  expect((await jobs.complete({ jobId: jobId!, token: 'tok', outcome, reason: result.reason, results: [result], durationMs: 5, owner, assetId }, at)).recorded).toBe(true);
}

describe.each(TOPOLOGIES)('failing most (%s Redis)', (topology) => {
  beforeAll(async () => {
    t = await testRedisOf(topology, 'failing');
    assets = new AssetStore(t.redis, t.keys, t.scripts);
    jobs = new JobStore(t.redis, t.keys, t.scripts, { retentionSec: 3600, maxAttempts: 2, historyMax: 100, eventsMax: 1000, downAfter: 3, upAfter: 1 });
    stats = new StatsStore(t.redis, t.keys);
  });
  afterAll(() => t.cleanup());

  describe('assets failing most', () => {
    it('ranks failures of today and yesterday per owner and fleet-wide, at most `limit` of them', async () => {
      const now = Date.now();
      const today = Math.floor(now / DAY) * DAY;
      const at = { today: today + 1000, yesterday: today - DAY + 1000, before: today - 2 * DAY + 1000 };
      const owners = ['red', 'blue'];
      const want = new Map<string, { owner: string; failures: number }>();
      // 24 assets with failure counts spread over three days; only the last two count.
      for (let i = 0; i < 24; i++) {
        const owner = owners[i % 2]!;
        const { id } = await assets.create({ owner, url: normalizeUrl(`https://fail${i}.test/`), plugins: ['http'], config: {}, interval: 60, tags: [] });
        const plan = { before: (i * 7) % 5, yesterday: (i * 5) % 4, today: (i * 3) % 5 };
        for (const [when, n] of Object.entries(plan) as Array<[keyof typeof at, number]>) {
          for (let k = 0; k < n; k++) await check(id, owner, 'error', at[when] + k);
        }
        await check(id, owner, 'ok', at.today + 500); // successes are not counted
        const failures = plan.yesterday + plan.today;
        if (failures > 0) want.set(id, { owner, failures });
      }
      const ranking = (owner: string) =>
        [...want].filter(([, v]) => owner === ALL_OWNERS || v.owner === owner).map(([assetId, v]) => ({ assetId, failures: v.failures }));
      for (const owner of [ALL_OWNERS, ...owners]) {
        const top = await stats.failingMost(owner, now);
        const expectedAll = ranking(owner).sort((a, b) => b.failures - a.failures);
        expect(top.length, owner).toBe(Math.min(10, expectedAll.length));
        // Exactly the top counts, each with its own count; ties may come in any order.
        expect(top.map((x) => x.failures), owner).toEqual(expectedAll.slice(0, 10).map((x) => x.failures));
        for (const x of top) expect(want.get(x.assetId), owner).toMatchObject({ failures: x.failures, ...(owner === ALL_OWNERS ? {} : { owner }) });
        expect(await stats.failingMost(owner, now, 1000), owner).toHaveLength(expectedAll.length);
        expect((await stats.fleet(owner, now)).failingMost, owner).toEqual(top);
      }
      expect(await stats.failingMost('nobody', now)).toEqual([]);
    });

    it('keeps a day set no longer than the day after it needs it', async () => {
      const now = Date.now();
      const { id } = await assets.create({ owner: 'ttl', url: normalizeUrl('https://ttl.test/'), plugins: ['http'], config: {}, interval: 60, tags: [] });
      await check(id, 'ttl', 'error', now);
      const day = Math.floor(now / DAY);
      for (const d of [day, day + 1]) {
        const ttl = await t.redis.ttl(t.keys.shardOf(id).statsFailing('ttl', d));
        expect(ttl).toBeGreaterThan(0);
        expect(ttl * 1000).toBeLessThanOrEqual((d + 1) * DAY + 3_600_000 - now + 1000);
      }
      // A failure recorded for a day long gone keeps nothing.
      await check(id, 'ttl', 'error', now - 5 * DAY);
      expect(await t.redis.exists(t.keys.shardOf(id).statsFailing('ttl', day - 5), t.keys.shardOf(id).statsFailing('ttl', day - 4))).toBe(0);
      expect(await stats.failingMost('ttl', now)).toEqual([{ assetId: id, failures: 1 }]);
    });
  });
});
