import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedis, type TestRedis } from '../../../../test/helpers/redis.js';
import { MaintenanceStore, windowOpen, type MaintenanceWindow } from './maintenance.js';

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
