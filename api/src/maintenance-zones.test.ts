/** POST /maintenance with timeZone and cron: stored and shown, and bad input named by field. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApi, type TestApi } from '../../test/helpers/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await testApi('maint-zones');
});
afterAll(() => api.close());

/** "HH:MM" of an ISO instant on the wall clock of `timeZone`. */
const wallClock = (isoText: string, timeZone: string) => new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(isoText));

describe('maintenance windows in a time zone', () => {
  it('stores a zoned weekly window and a cron window, and shows when each next opens or closes', async () => {
    const c = await api.newClient('Zones Co');
    const weekly = await api.call('POST', '/maintenance', { reason: 'backup', tags: ['db'], recurring: { days: [0, 1, 2, 3, 4, 5, 6], start: '03:00', durationMinutes: 1 }, timeZone: 'Asia/Kolkata' }, c.apiKey);
    expect(weekly.status).toBe(201);
    expect(weekly.body).toMatchObject({ timeZone: 'Asia/Kolkata', recurring: { days: [0, 1, 2, 3, 4, 5, 6], start: '03:00', durationMinutes: 1 } });
    expect(weekly.body).not.toHaveProperty('cron');
    // Kolkata is UTC+05:30 all year: the next change is at 03:00 or 03:01 there, never at 03:00 UTC.
    expect(['03:00', '03:01']).toContain(wallClock(weekly.body.nextChangeAt, 'Asia/Kolkata'));

    const cron = await api.call('POST', '/maintenance', { reason: 'patch day', tags: ['web'], cron: ' 30 4 * * 2 ', durationSec: 7200, timeZone: 'Europe/Berlin' }, c.apiKey);
    expect(cron.status).toBe(201);
    expect(cron.body).toMatchObject({ cron: '30 4 * * 2', durationSec: 7200, timeZone: 'Europe/Berlin' });
    expect(cron.body).not.toHaveProperty('recurring');
    expect(['04:30', '06:30']).toContain(wallClock(cron.body.nextChangeAt, 'Europe/Berlin'));

    const utcCron = await api.call('POST', '/maintenance', { reason: 'hourly', tags: ['x'], cron: '@hourly', durationSec: 60 }, c.apiKey);
    expect(utcCron.status).toBe(201);
    expect(utcCron.body).not.toHaveProperty('timeZone');
    expect(utcCron.body.nextChangeAt).toMatch(/:0[01]:00\.000Z$/);

    const listed = (await api.call('GET', '/maintenance', undefined, c.apiKey)).body.items as Array<Record<string, unknown>>;
    expect(listed.map((w) => [w.id, w.timeZone ?? null, w.cron ?? null])).toEqual([
      [weekly.body.id, 'Asia/Kolkata', null],
      [cron.body.id, 'Europe/Berlin', '30 4 * * 2'],
      [utcCron.body.id, null, '@hourly'],
    ]);
  });

  it('keeps windows without a zone as they were: UTC, no new fields', async () => {
    const res = await api.call('POST', '/maintenance', { reason: 'nightly', tags: ['n'], recurring: { days: [3], start: '22:15', durationMinutes: 30 } });
    expect(res.status).toBe(201);
    expect(res.body).not.toHaveProperty('timeZone');
    expect(res.body).not.toHaveProperty('cron');
    expect(res.body.nextChangeAt).toMatch(/T22:(15|45):00\.000Z$/);
  });

  const tags = ['a'];
  const weekly = { days: [0], start: '02:30', durationMinutes: 60 };
  it.each([
    ['body.timeZone', { reason: 'x', tags, recurring: weekly, timeZone: 'Mars/Olympus_Mons' }, /unknown time zone "Mars\/Olympus_Mons"/],
    ['body.timeZone', { reason: 'x', tags, cron: '0 2 * * *', durationSec: 60, timeZone: 'Europe/Atlantis' }, /unknown time zone/],
    ['body.timeZone', { reason: 'x', tags, start: '2030-01-01T00:00:00Z', end: '2030-01-01T01:00:00Z', timeZone: 'Europe/Berlin' }, /recurring or cron only/],
    ['body.durationSec', { reason: 'x', tags, cron: '0 2 * * *' }, /needs durationSec/],
    ['body.durationSec', { reason: 'x', tags, recurring: weekly, durationSec: 600 }, /cron only/],
    ['body.cron', { reason: 'x', tags, cron: '61 * * * *', durationSec: 60 }, /not a valid cron expression/],
    ['body.cron', { reason: 'x', tags, cron: '0 0 2 * * *', durationSec: 60 }, /5 fields/],
    ['body.cron', { reason: 'x', tags, cron: '0 0 30 2 *', durationSec: 60, timeZone: 'UTC' }, /never fires/],
  ])('rejects %s in %j', async (field, body, message) => {
    const res = await api.call('POST', '/maintenance', body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('WEBMON_ERR_VALIDATION');
    expect(res.body.message).toMatch(new RegExp(`^${field.replace('.', '\\.')}: `));
    expect(res.body.message).toMatch(message);
    expect(res.body.details.problems[0].field).toBe(field);
  });

  it.each([
    [{ reason: 'x', tags, recurring: weekly, timeZone: '+01:00' }, /timeZone/],
    [{ reason: 'x', tags, cron: '0 2 * * *', durationSec: 30 }, /durationSec/],
    [{ reason: 'x', tags, cron: '0 2 * * *', durationSec: 60, recurring: weekly }, /either start and end, or recurring, or cron/],
    [{ reason: 'x', tags, durationSec: 60 }, /either start and end, or recurring, or cron/],
  ])('rejects the form of %j', async (body, message) => {
    const res = await api.call('POST', '/maintenance', body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('WEBMON_ERR_VALIDATION');
    expect(res.body.message).toMatch(message);
  });
});
