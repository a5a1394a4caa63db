/**
 * Zoned and cron maintenance windows: the UTC instants they open and close at, walked with
 * nextBoundary across the 2027 DST changes of Europe/Berlin (summer time from Sunday 2027-03-28
 * 01:00 UTC, back to winter time on Sunday 2027-10-31 01:00 UTC), and their Redis-backed state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedis, type TestRedis } from '../../../../test/helpers/redis.js';
import { normalizeUrl } from '../url.js';
import { AssetStore } from './assets.js';
import { cronProblem, timeZoneProblem } from './maintenance-schedule.js';
import { MaintenanceStore, nextBoundary, windowEnded, windowOpen, type MaintenanceSummary } from './maintenance.js';

const base = { id: 'z', owner: 'o', reason: 'r', tags: [], createdAt: 0 };
const at = (iso: string) => Date.parse(iso);

/**
 * Every change of the window's state in [from, to) as "open <iso>" / "close <iso>", found by
 * walking nextBoundary and checked against windowOpen just before and at each instant.
 */
function changes(w: MaintenanceSummary, from: string, to: string): string[] {
  const out: string[] = [];
  const end = at(to);
  let t = at(from);
  for (let i = 0; i < 200; i++) {
    t = nextBoundary(w, t);
    if (t >= end) return out;
    const before = windowOpen(w, t - 1);
    const now = windowOpen(w, t);
    if (before !== now) out.push(`${now ? 'open' : 'close'} ${new Date(t).toISOString().replace('.000Z', 'Z')}`);
  }
  throw new Error('more than 200 boundaries');
}

describe('weekly windows in Europe/Berlin', () => {
  // Sundays 02:30–03:30 local time.
  const sunday: MaintenanceSummary = { ...base, recurring: { days: [0], start: '02:30', durationMinutes: 60 }, timeZone: 'Europe/Berlin' };

  it('open at 02:30 local on both sides of the March change; a start in the gap starts at its end', () => {
    expect(changes(sunday, '2027-03-20T00:00:00Z', '2027-04-05T00:00:00Z')).toEqual([
      'open 2027-03-21T01:30:00Z', // CET (UTC+1)
      'close 2027-03-21T02:30:00Z',
      'open 2027-03-28T01:00:00Z', // 02:30 does not exist: 03:00 CEST, for 60 minutes
      'close 2027-03-28T02:00:00Z',
      'open 2027-04-04T00:30:00Z', // CEST (UTC+2)
      'close 2027-04-04T01:30:00Z',
    ]);
  });

  it('open at 02:30 local on both sides of the October change; a repeated start time opens once', () => {
    expect(changes(sunday, '2027-10-23T00:00:00Z', '2027-11-08T00:00:00Z')).toEqual([
      'open 2027-10-24T00:30:00Z', // CEST
      'close 2027-10-24T01:30:00Z',
      'open 2027-10-31T00:30:00Z', // the first 02:30 (CEST); not again at the second (CET)
      'close 2027-10-31T01:30:00Z',
      'open 2027-11-07T01:30:00Z', // CET
      'close 2027-11-07T02:30:00Z',
    ]);
    expect(windowOpen(sunday, at('2027-10-31T01:45:00Z'))).toBe(false);
  });

  it('a daily 01:00–02:00 window follows local time through both changes', () => {
    const daily: MaintenanceSummary = { ...base, recurring: { days: [0, 1, 2, 3, 4, 5, 6], start: '01:00', durationMinutes: 60 }, timeZone: 'Europe/Berlin' };
    expect(changes(daily, '2027-03-26T12:00:00Z', '2027-03-30T00:00:00Z')).toEqual([
      'open 2027-03-27T00:00:00Z',
      'close 2027-03-27T01:00:00Z',
      'open 2027-03-28T00:00:00Z', // still CET at 01:00 on the day of the change
      'close 2027-03-28T01:00:00Z', // 60 minutes: 03:00 CEST
      'open 2027-03-28T23:00:00Z', // 01:00 CEST on Monday
      'close 2027-03-29T00:00:00Z',
      'open 2027-03-29T23:00:00Z',
    ]);
    expect(changes(daily, '2027-10-29T12:00:00Z', '2027-11-02T12:00:00Z')).toEqual([
      'open 2027-10-29T23:00:00Z',
      'close 2027-10-30T00:00:00Z',
      'open 2027-10-30T23:00:00Z', // 01:00 CEST on Sunday, before the change
      'close 2027-10-31T00:00:00Z',
      'open 2027-11-01T00:00:00Z', // 01:00 CET
      'close 2027-11-01T01:00:00Z',
      'open 2027-11-02T00:00:00Z',
      'close 2027-11-02T01:00:00Z',
    ]);
  });

  it('answers the same whichever order the instants are asked in', () => {
    const asked = ['2027-03-28T01:30:00Z', '2027-03-21T01:29:59Z', '2027-03-21T02:00:00Z', '2027-03-28T00:59:59Z', '2027-03-28T01:30:00Z'];
    expect(asked.map((iso) => windowOpen(sunday, at(iso)))).toEqual([true, false, true, false, true]);
    expect(nextBoundary(sunday, at('2027-03-28T01:30:00Z'))).toBe(at('2027-03-28T02:00:00Z'));
    expect(nextBoundary(sunday, at('2027-03-21T00:00:00Z'))).toBe(at('2027-03-21T01:30:00Z'));
  });

  it('a weekly window without a zone keeps its UTC times, DST or not', () => {
    const utc: MaintenanceSummary = { ...base, recurring: { days: [0], start: '02:30', durationMinutes: 60 } };
    expect(changes(utc, '2027-03-27T00:00:00Z', '2027-04-05T00:00:00Z')).toEqual([
      'open 2027-03-28T02:30:00Z',
      'close 2027-03-28T03:30:00Z',
      'open 2027-04-04T02:30:00Z',
      'close 2027-04-04T03:30:00Z',
    ]);
  });
});

describe('cron windows', () => {
  it('open at each occurrence in their zone, for durationSec', () => {
    // The last Friday of each month, 22:00 New York time, for 90 minutes.
    const w: MaintenanceSummary = { ...base, cron: '0 22 * * 5#L', durationSec: 5400, timeZone: 'America/New_York' };
    expect(changes(w, '2027-02-01T00:00:00Z', '2027-04-01T00:00:00Z')).toEqual([
      'open 2027-02-27T03:00:00Z', // Fri 26 Feb 22:00 EST (UTC−5)
      'close 2027-02-27T04:30:00Z',
      'open 2027-03-27T02:00:00Z', // Fri 26 Mar 22:00 EDT (UTC−4)
      'close 2027-03-27T03:30:00Z',
    ]);
    expect(windowEnded(w, at('2030-01-01T00:00:00Z'))).toBe(false);
  });

  it('is in UTC without a zone, and overlapping occurrences keep it open', () => {
    const w: MaintenanceSummary = { ...base, cron: '0 */2 * * *', durationSec: 3 * 3600 };
    expect(changes(w, '2027-01-01T00:30:00Z', '2027-01-01T06:00:00Z')).toEqual([]);
    expect(windowOpen(w, at('2027-01-01T05:59:59Z'))).toBe(true);
    const hourly: MaintenanceSummary = { ...base, cron: '@hourly', durationSec: 600 };
    expect(changes(hourly, '2027-01-01T00:30:00Z', '2027-01-01T02:30:00Z')).toEqual([
      'open 2027-01-01T01:00:00Z',
      'close 2027-01-01T01:10:00Z',
      'open 2027-01-01T02:00:00Z',
      'close 2027-01-01T02:10:00Z',
    ]);
  });

  it('a window whose schedule cannot be read never opens (nothing throws on hot paths)', () => {
    const w: MaintenanceSummary = { ...base, cron: 'not a cron at all', durationSec: 60 };
    expect(windowOpen(w, at('2027-01-01T00:00:00Z'))).toBe(false);
    expect(nextBoundary(w, at('2027-01-01T00:00:00Z'))).toBe(Infinity);
  });
});

describe('schedule validation', () => {
  it('knows IANA zones and refuses others', () => {
    for (const tz of ['Europe/Berlin', 'UTC', 'America/Argentina/Buenos_Aires', 'Etc/GMT+1']) expect(timeZoneProblem(tz), tz).toBeNull();
    for (const tz of ['Mars/Olympus_Mons', 'Europe/Berlin ', '+01:00', '', 'x'.repeat(65), '../etc']) expect(timeZoneProblem(tz), tz).toMatch(/unknown time zone/);
  });

  it('accepts 5-field expressions and nicknames that fire, and says why others fail', () => {
    const now = at('2027-01-01T00:00:00Z');
    for (const c of ['0 2 * * 0', '30 1 * * 1#1', '@daily', '0 0 L * *']) expect(cronProblem(c, 'Europe/Berlin', now), c).toBeNull();
    expect(cronProblem('0 0 2 * * *', 'UTC', now)).toMatch(/5 fields/);
    expect(cronProblem('2027-05-01T00:00:00', 'UTC', now)).toMatch(/5 fields/);
    expect(cronProblem('61 * * * *', 'UTC', now)).toMatch(/not a valid cron expression/);
    expect(cronProblem('@reboot', 'UTC', now)).toMatch(/not a valid cron expression/);
    expect(cronProblem('0 0 30 2 *', 'UTC', now)).toBe('the cron expression never fires');
  });
});

describe('zoned windows in Redis', () => {
  let t: TestRedis;
  beforeAll(async () => {
    t = await testRedis('maint-tz');
  });
  afterAll(() => t.cleanup());

  it('sync puts covered assets in maintenance at the zoned open instant and takes them out at the close', async () => {
    const assets = new AssetStore(t.redis, t.keys, t.scripts);
    const store = new MaintenanceStore(t.redis, t.keys, 0);
    const owner = 'tz1';
    const id = (await assets.create({ owner, url: normalizeUrl('https://a.tz1.test/'), plugins: ['http'], config: {}, interval: 60, tags: ['db'] })).id;
    const sundayEve = at('2027-03-27T12:00:00Z');
    const w = await store.create({ owner, reason: 'dst', assetIds: [], tags: ['db'], recurring: { days: [0], start: '02:30', durationMinutes: 60 }, timeZone: 'Europe/Berlin' }, {}, sundayEve);
    expect(await store.get(w.id)).toMatchObject({ timeZone: 'Europe/Berlin', recurring: { days: [0], start: '02:30', durationMinutes: 60 } });
    const state = async () => (await assets.get(id))!.maintenance;
    await store.sync(sundayEve);
    expect(await state()).toBeNull();
    await store.sync(at('2027-03-28T00:59:59Z'));
    expect(await state()).toBeNull();
    await store.sync(at('2027-03-28T01:00:00Z'));
    expect(await state()).toBe(w.id);
    await store.sync(at('2027-03-28T01:59:59Z'));
    expect(await state()).toBe(w.id);
    await store.sync(at('2027-03-28T02:00:00Z'));
    expect(await state()).toBeNull();
    expect(await store.get(w.id)).not.toBeNull();

    const c = await store.create({ owner, reason: 'monthly', assetIds: [id], tags: [], cron: '0 3 1 * *', durationSec: 1800, timeZone: 'Europe/Berlin' }, {}, sundayEve);
    await store.sync(at('2027-04-01T01:00:00Z')); // 03:00 CEST
    expect(await state()).toBe(c.id);
    await store.sync(at('2027-04-01T01:30:00Z'));
    expect(await state()).toBeNull();
  });
});
