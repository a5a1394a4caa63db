/**
 * What a stranger without a key can make the api do: public pages and badges are rate-limited per
 * address, a made-up badge token is no token (it cannot make a request miss the cache), answers
 * for pages that do not exist are not cached, and the cache drops its oldest answers first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApi, type TestApi } from '../../test/helpers/api.js';
import { TtlCache } from './publishing.js';

let api: TestApi;
beforeAll(async () => {
  api = await testApi('public-limits', { api: { publicPerMinute: 5 } });
});
afterAll(() => api.close());

describe('public routes', () => {
  it('answer at most publicPerMinute requests a minute to one address, then 429 with Retry-After', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await api.app.inject({ method: 'GET', url: `/public/status/nope-${i}` })).statusCode);
    expect(codes).toEqual([404, 404, 404, 404, 404]);
    const limited = await api.app.inject({ method: 'GET', url: '/public/status/nope-6' });
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ code: 'WEBMON_ERR_RATE_LIMITED' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Another address has its own count.
    const other = await api.app.inject({ method: 'GET', url: '/public/status/nope-x', remoteAddress: '203.0.113.9' });
    expect(other.statusCode).toBe(404);
    // Badges count the same way.
    const badges: number[] = [];
    for (let i = 0; i < 6; i++) badges.push((await api.app.inject({ method: 'GET', url: `/badge/nope-${i}/state.svg?token=made-up-${i}` })).statusCode);
    expect(badges).toEqual([404, 404, 404, 404, 404, 429]);
  });
});

describe('the public answer cache', () => {
  it('keeps no misses and drops the oldest answers first', async () => {
    const cache = new TtlCache<string | null>(60_000);
    let made = 0;
    const make = (v: string | null) => async () => {
      made++;
      return v;
    };
    expect(await cache.get('missing', make(null))).toBeNull();
    expect(await cache.get('missing', make(null))).toBeNull();
    expect(made).toBe(2); // a miss is asked again, never kept
    await cache.get('page', make('answer'));
    await cache.get('page', make('other'));
    expect(made).toBe(3); // a hit
    for (let i = 0; i < 1200; i++) await cache.get(`junk-${i}`, make(null));
    expect(await cache.get('page', make('other'))).toBe('answer'); // misses never pushed it out
    for (let i = 0; i < 1000; i++) await cache.get(`real-${i}`, make(`v${i}`));
    expect(cache.size).toBeLessThanOrEqual(1000);
    expect(await cache.get('real-999', make('again'))).toBe('v999'); // the newest stay
    expect(await cache.get('page', make('fresh'))).toBe('fresh'); // the oldest went first
  });
});
