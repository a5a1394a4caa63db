import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedis, type TestRedis } from '../../../../test/helpers/redis.js';
import { ALL_OWNERS } from '../keys.js';
import { normalizeUrl } from '../url.js';
import { AssetStore } from './assets.js';
import { JobStore } from './jobs.js';
import { MaintenanceStore, coveringWindow, nextBoundary, windowOpen, type MaintenanceWindow } from './maintenance.js';
import { StatsStore } from './stats.js';

let t: TestRedis;
beforeAll(async () => {
  t = await testRedis('maint');
});
afterAll(() => t.cleanup());

const base = { id: 'w', owner: 'o', reason: 'upgrade', assetIds: [], tags: [], createdAt: 0 };
const at = (iso: string) => Date.parse(iso);

describe('maintenance windows', () => {
  it('opens a one-off window between start and end', () => {
    const w: MaintenanceWindow = { ...base, start: at('2026-11-22T10:00:00Z'), end: at('2026-11-22T11:00:00Z') };
    expect(windowOpen(w, at('2026-11-22T09:59:59Z'))).toBe(false);
    expect(windowOpen(w, at('2026-11-22T10:00:00Z'))).toBe(true);
    expect(windowOpen(w, at('2026-11-22T10:59:59Z'))).toBe(true);
    expect(windowOpen(w, at('2026-11-22T11:00:00Z'))).toBe(false);
  });

  it('opens a recurring window on its days, across midnight too', () => {
    // Sundays 23:00 UTC for 2 hours (2026-11-22 is a Sunday).
    const w: MaintenanceWindow = { ...base, recurring: { days: [0], start: '23:00', durationMinutes: 120 } };
    expect(windowOpen(w, at('2026-11-22T22:59:00Z'))).toBe(false);
    expect(windowOpen(w, at('2026-11-22T23:30:00Z'))).toBe(true);
    expect(windowOpen(w, at('2026-11-23T00:59:00Z'))).toBe(true); // Monday, still Sunday's window
    expect(windowOpen(w, at('2026-11-23T01:00:00Z'))).toBe(false);
    expect(windowOpen(w, at('2026-11-23T23:30:00Z'))).toBe(false); // Monday evening
    expect(windowOpen(w, at('2026-11-29T23:10:00Z'))).toBe(true); // next Sunday
  });

  it('covers assets of its owner by id or tag', async () => {
    const store = new MaintenanceStore(t.redis, t.keys, 0);
    const now = Date.now();
    const w = await store.create({ owner: 'o', reason: 'db upgrade', assetIds: ['a1'], tags: ['db'], start: now - 1000, end: now + 60_000 });
    expect(await store.covering({ id: 'a1', owner: 'o', tags: [] })).toMatchObject({ id: w.id, reason: 'db upgrade' });
    expect(await store.covering({ id: 'a2', owner: 'o', tags: ['db', 'x'] })).toMatchObject({ id: w.id });
    expect(await store.covering({ id: 'a3', owner: 'o', tags: ['web'] })).toBeNull();
    expect(await store.covering({ id: 'a1', owner: 'someone-else', tags: ['db'] })).toBeNull();
    expect(await store.covering({ id: 'a1', owner: 'o', tags: [] }, now + 120_000)).toBeNull();
    expect((await store.list('o')).map((x) => x.id)).toEqual([w.id]);
    expect(await store.list('p')).toEqual([]);
    expect(await store.delete(w.id)).toBe(true);
    expect(await store.covering({ id: 'a1', owner: 'o', tags: [] })).toBeNull();
  });
});

describe('maintenance as an indexed state', () => {
  const policy = { retentionSec: 60, maxAttempts: 3, historyMax: 100, eventsMax: 100, downAfter: 1, upAfter: 1 };
  let assets: AssetStore;
  let store: MaintenanceStore;
  let jobs: JobStore;
  let stats: StatsStore;
  beforeAll(() => {
    assets = new AssetStore(t.redis, t.keys, t.scripts);
    store = new MaintenanceStore(t.redis, t.keys, 0);
    jobs = new JobStore(t.redis, t.keys, t.scripts, policy);
    stats = new StatsStore(t.redis, t.keys);
  });

  const newAsset = async (owner: string, url: string, tags: string[] = []) =>
    (await assets.create({ owner, url: normalizeUrl(url), plugins: ['http'], config: {}, interval: 60, tags })).id;
  const listed = async (owner: string, state: 'maintenance' | 'up' | 'unknown') => (await assets.list({ owner, state, limit: 100 })).ids.sort();
  /** Every state index of the owner and the fleet that holds the asset. */
  const indexesOf = async (owner: string, id: string) => {
    const found: string[] = [];
    for (const o of [owner, ALL_OWNERS]) {
      for (const s of ['unknown', 'up', 'degraded', 'down', 'unsupported', 'paused', 'maintenance']) {
        if ((await t.redis.zscore(t.keys.ownerIndex(o, 'state', s), id)) !== null) found.push(`${o === ALL_OWNERS ? '*' : 'own'}:${s}`);
      }
    }
    return found;
  };
  const check = async (owner: string, assetId: string, outcome: 'ok' | 'error', at: number) => {
    const [jobId] = await jobs.enqueue([{ assetId, owner }], 0, at);
    await jobs.claim(jobId!, 'tok', 60_000, at);
    const result = { plugin: 'http', status: outcome, reason: null, message: outcome, durationMs: 5, metrics: {} };
    return jobs.complete({ jobId: jobId!, token: 'tok', outcome, reason: null, results: [result], durationMs: 5, owner, assetId }, at);
  };

  it('lists, counts and restores covered assets as windows open, close and go', async () => {
    const owner = 'idx1';
    const byId = await newAsset(owner, 'https://a.idx1.test/');
    const byTag = await newAsset(owner, 'https://b.idx1.test/', ['db']);
    const free = await newAsset(owner, 'https://c.idx1.test/');
    await check(owner, byId, 'ok', Date.now());
    const now = Date.now();
    const w = await store.create({ owner, reason: 'upgrade', assetIds: [byId], tags: ['db'], start: now - 1000, end: now + 60_000 });
    expect(await listed(owner, 'maintenance')).toEqual([byId, byTag].sort());
    expect(await listed(owner, 'up')).toEqual([]);
    expect(await listed(ALL_OWNERS, 'maintenance')).toEqual(expect.arrayContaining([byId, byTag]));
    expect((await stats.fleet(owner)).assetsByState).toMatchObject({ maintenance: 2, up: 0, unknown: 1 });
    expect(await assets.get(byId)).toMatchObject({ state: 'up', maintenance: w.id });
    expect(await indexesOf(owner, byId)).toEqual(['own:maintenance', '*:maintenance']);
    expect(await indexesOf(owner, free)).toEqual(['own:unknown', '*:unknown']);

    // Checks still change the stored state; the index stays maintenance until the window goes.
    expect(await check(owner, byId, 'error', Date.now())).toMatchObject({ recorded: true, from: 'up', to: 'down' });
    expect(await indexesOf(owner, byId)).toEqual(['own:maintenance', '*:maintenance']);
    // Ended: a sync after the end removes the one-off window and restores what checks say.
    await store.sync(now + 60_001);
    expect(await store.get(w.id)).toBeNull();
    expect(await listed(owner, 'maintenance')).toEqual([]);
    expect(await indexesOf(owner, byId)).toEqual(['own:down', '*:down']);
    expect(await indexesOf(owner, byTag)).toEqual(['own:unknown', '*:unknown']);
    expect((await assets.get(byId))!.maintenance).toBeNull();
    expect(await store.count(owner)).toBe(0);
  });

  it('opens a future window on sync, covers assets created or retagged later, and forgets deleted ones', async () => {
    const owner = 'idx2';
    const now = Date.now();
    const early = await newAsset(owner, 'https://a.idx2.test/', ['web']);
    const w = await store.create({ owner, reason: 'later', assetIds: [], tags: ['web'], start: now + 10_000, end: now + 20_000 });
    expect(await listed(owner, 'maintenance')).toEqual([]);
    await store.sync(now + 10_000);
    expect(await listed(owner, 'maintenance')).toEqual([early]);
    // Real clock: the window is not open now, so a sync with the real time closes it again.
    await store.sync(now);
    expect(await listed(owner, 'maintenance')).toEqual([]);
    await store.sync(now + 10_001);
    const late = await newAsset(owner, 'https://b.idx2.test/', ['web']);
    const other = await newAsset(owner, 'https://c.idx2.test/');
    expect(await listed(owner, 'maintenance')).toEqual([early, late].sort());
    await assets.update(other, () => ({ tags: ['web'] }));
    await assets.update(late, () => ({ tags: [] }));
    expect(await listed(owner, 'maintenance')).toEqual([early, other].sort());
    expect(await indexesOf(owner, late)).toEqual(['own:unknown', '*:unknown']);
    // A PATCH while covered (pause) keeps one index entry: maintenance.
    const paused = await assets.update(other, () => ({ paused: true }));
    expect(paused).toMatchObject({ state: 'paused', maintenance: w.id });
    expect(await indexesOf(owner, other)).toEqual(['own:maintenance', '*:maintenance']);
    expect(await assets.delete(other)).toBe(true);
    expect(await indexesOf(owner, other)).toEqual([]);
    expect(await t.redis.exists(t.keys.maintenanceByAsset(other))).toBe(0);
    expect(await store.delete(w.id)).toBe(true);
    expect(await listed(owner, 'maintenance')).toEqual([]);
    expect(await indexesOf(owner, early)).toEqual(['own:unknown', '*:unknown']);
    expect(await t.redis.smembers(`${t.keys.maintenanceByTagPrefix}${owner}:web`)).toEqual([]);
  });

  it('keeps an asset in maintenance while any open window covers it, through overlaps', async () => {
    const owner = 'idx5';
    const now = Date.now();
    const id = await newAsset(owner, 'https://a.idx5.test/', ['db']);
    const first = await store.create({ owner, reason: 'first', assetIds: [id], tags: [], start: now - 1000, end: now + 60_000 });
    const second = await store.create({ owner, reason: 'second', assetIds: [], tags: ['db'], start: now - 1000, end: now + 60_000 });
    expect((await assets.get(id))!.maintenance).toBe(first.id); // the covering window stays the same
    await store.delete(first.id);
    expect((await assets.get(id))!.maintenance).toBe(second.id);
    expect(await indexesOf(owner, id)).toEqual(['own:maintenance', '*:maintenance']);
    await store.delete(second.id);
    expect((await assets.get(id))!.maintenance).toBeNull();
    expect(await indexesOf(owner, id)).toEqual(['own:unknown', '*:unknown']);
  });

  it('counts windows against a quota atomically, and indexes windows stored before the index existed', async () => {
    const owner = 'idx3';
    const now = Date.now();
    const make = () => store.create({ owner, reason: 'q', assetIds: [], tags: ['x'], start: now, end: now + 60_000 }, { maxWindows: 3 });
    const results = await Promise.allSettled([make(), make(), make(), make(), make()]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ code: 'WEBMON_ERR_QUOTA_EXCEEDED', statusCode: 429, details: { limit: 3, value: 3 } });
    expect(await store.count(owner)).toBe(3);
    expect(await store.create({ owner, reason: 'unlimited', assetIds: [], tags: ['x'], start: now, end: now + 60_000 })).toMatchObject({ owner });

    const legacyOwner = 'idx4';
    const a = await newAsset(legacyOwner, 'https://a.idx4.test/');
    const legacy: MaintenanceWindow = { id: 'legacy1', owner: legacyOwner, reason: 'old', assetIds: [a], tags: [], start: now - 1000, end: now + 60_000, createdAt: now };
    await t.redis.hset(t.keys.maintenance, legacy.id, JSON.stringify(legacy));
    expect(await store.migrate()).toBe(1);
    expect(await store.migrate()).toBe(0);
    expect(await listed(legacyOwner, 'maintenance')).toEqual([a]);
    expect((await store.list(legacyOwner)).map((w) => w.id)).toEqual(['legacy1']);
  });

  it('finds the windows covering an asset without scanning every id of every window', () => {
    const windows: MaintenanceWindow[] = [];
    for (let i = 0; i < 100; i++) {
      windows.push({ ...base, id: `w${i}`, owner: 'big', assetIds: Array.from({ length: 10_000 }, (_, j) => `a${i}-${j}`), start: 0, end: 2 ** 50 });
    }
    windows.push({ ...base, id: 'tagged', owner: 'big', tags: ['t'], start: 0, end: 2 ** 50 });
    // The first lookup builds the index; ten thousand more are answered from it.
    expect(coveringWindow(windows, { id: 'a42-9999', owner: 'big', tags: [] }, 1)?.id).toBe('w42');
    let hits = 0;
    for (let j = 0; j < 10_000; j++) if (coveringWindow(windows, { id: `a7-${j}`, owner: 'big', tags: [] }, 1)?.id === 'w7') hits++;
    expect(hits).toBe(10_000);
    expect(coveringWindow(windows, { id: 'zz', owner: 'big', tags: ['t'] }, 1)?.id).toBe('tagged');
    expect(coveringWindow(windows, { id: 'a1-1', owner: 'other', tags: [] }, 1)).toBeNull();
  });
});

describe('nextBoundary', () => {
  const at = Date.UTC(2026, 0, 5, 10, 0); // a Monday, 10:00 UTC
  it('is the start of a future one-off window, then its end, then never', () => {
    const w = { id: 'w', owner: 'o', reason: '', tags: [], createdAt: 0, start: at + 60_000, end: at + 120_000 } as never;
    expect(nextBoundary(w, at)).toBe(at + 60_000);
    expect(nextBoundary(w, at + 60_000)).toBe(at + 120_000);
    expect(nextBoundary(w, at + 120_000)).toBe(Infinity);
  });

  it('is the next start or end of a recurring window, across days and midnight', () => {
    // Mondays and Wednesdays 23:30 for 60 minutes.
    const w = { id: 'r', owner: 'o', reason: '', tags: [], createdAt: 0, recurring: { days: [1, 3], start: '23:30', durationMinutes: 60 } } as never;
    expect(nextBoundary(w, at)).toBe(Date.UTC(2026, 0, 5, 23, 30));
    expect(nextBoundary(w, Date.UTC(2026, 0, 5, 23, 45))).toBe(Date.UTC(2026, 0, 6, 0, 30));
    expect(nextBoundary(w, Date.UTC(2026, 0, 6, 0, 30))).toBe(Date.UTC(2026, 0, 7, 23, 30));
  });
});
