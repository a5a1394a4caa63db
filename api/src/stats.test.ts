import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobStore, jobPolicy, type CheckResult } from '@webmon/core';
import { testApi, type TestApi } from '../../test/helpers/api.js';
import { TOPOLOGIES } from '../../test/helpers/redis.js';

let api: TestApi;
let jobs: JobStore;
const H = 3_600_000;

/** Records one check as an executor would, at a chosen time. */
async function inject(assetId: string, at: number, status: CheckResult['status'], durationMs: number, reason: CheckResult['reason'] = null, plugin = 'http') {
  const [id] = await jobs.enqueue([{ assetId, owner: 'admin' }], 0, at);
  await jobs.claim(id!, 'tok', 60_000, at);
  const result: CheckResult = { plugin, status, reason, message: status, durationMs, metrics: {} };
  await jobs.complete({ jobId: id!, token: 'tok', outcome: status, reason, results: [result], durationMs, owner: 'admin', assetId }, at);
}

describe.each(TOPOLOGIES)('statistics (%s Redis)', (topology) => {
  beforeAll(async () => {
    api = await testApi('stats', { history: { maxResults: 1000 } }, undefined, { topology }); // the paging tests below keep more than the default cap
    jobs = new JobStore(api.t.redis, api.t.keys, api.t.scripts, jobPolicy(api.config));
  });
  afterAll(() => api.close());

  describe('asset statistics', () => {
    it('equal hand-computed values over a window', async () => {
      const { body: a } = await api.call('POST', '/assets', { url: 'https://stats.test/', plugins: ['http'], interval: 1800 });
      const day = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000; // yesterday, 00:00 UTC
      // 10:00–14:00: a check every 30 minutes. Up until 11:30, then three failures (down at
      // 12:30 after the third), up again at 13:00.
      const plan: Array<[number, CheckResult['status'], number, CheckResult['reason']]> = [
        [10 * H, 'ok', 80, null],
        [10.5 * H, 'ok', 90, null],
        [11 * H, 'ok', 95, null],
        [11.5 * H, 'error', 10_000, 'timeout'],
        [12 * H, 'error', 10_000, 'timeout'],
        [12.5 * H, 'error', 400, 'http_status'],
        [13 * H, 'ok', 120, null],
        [13.5 * H, 'ok', 85, null],
        [14 * H, 'ok', 88, null],
      ];
      for (const [t, status, ms, reason] of plan) await inject(a.id, day + t, status, ms, reason);

      const from = new Date(day + 10 * H).toISOString();
      const to = new Date(day + 14.5 * H).toISOString();
      const res = await api.call('GET', `/assets/${a.id}/stats?from=${from}&to=${to}&points=9`);
      expect(res.status).toBe(200);
      const w = res.body.window;
      expect(w.resolution).toBe('minute');
      expect(w.checks).toBe(9);
      expect(w.outcomes).toEqual({ ok: 6, error: 3 });
      expect(w.failuresByReason).toEqual({ timeout: 2, http_status: 1 });
      // State time (each interval counts for the state before the check): 10:00–12:30 up (2.5 h:
      // failures 1 and 2 do not take it down yet), 12:30–13:00 down, 13:00–14:00 up.
      expect(w.timeInStateMs).toEqual({ up: 3.5 * H, down: 0.5 * H });
      expect(w.uptimePercent).toBe(87.5);
      expect(w.coveragePercent).toBe(88.8889); // 4 h known of 4.5 h
      // Latency: 80, 85, 88, 90, 95 → (70,100]; 120 → (100,150]; 400 → (300,500]; 2 × 10000 → (7000,10000].
      // mean 20958/9; p50: rank 4.5, 4.5 of 5 in (70,100] → 70 + 30·0.9 = 97;
      // p95: rank 8.55, 1.55 of 2 in (7000,10000] → 7000 + 3000·0.775 = 9325; p99: rank 8.91 → 9865.
      expect(w.latency.http).toEqual({ count: 9, meanMs: 2328.67, p50Ms: 97, p95Ms: 9325, p99Ms: 9865, maxMs: 10_000 });
      expect(w.transitions.map((t: { from: string; to: string }) => `${t.from}>${t.to}`)).toEqual(['unknown>up', 'up>down', 'down>up']);
      expect(w.transitions[1]).toMatchObject({ at: new Date(day + 12.5 * H).toISOString(), reason: 'http_status' });
      // 270 minute buckets in 9 points of 30 minutes: one check each (14:00 in the last).
      expect(w.series).toHaveLength(9);
      expect(w.series.map((p: { checks: number }) => p.checks)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1]);
      expect(w.series[3]).toMatchObject({ t: new Date(day + 11.5 * H).toISOString(), failures: 1 });
    });

    it('reports a window edge exactly: checks at [from, to) only', async () => {
      const { body: a } = await api.call('POST', '/assets', { url: 'https://edge.test/', plugins: ['http'] });
      const base = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 2 * 86_400_000;
      for (const m of [0, 59, 60, 119, 120]) await inject(a.id, base + m * 60_000, 'ok', 50);
      const q = (f: number, t: number) => `/assets/${a.id}/stats?from=${new Date(base + f * 60_000).toISOString()}&to=${new Date(base + t * 60_000).toISOString()}`;
      expect((await api.call('GET', q(60, 120))).body.window.checks).toBe(2); // minutes 60 and 119
      expect((await api.call('GET', q(0, 60))).body.window.checks).toBe(2); // minutes 0 and 59
      expect((await api.call('GET', q(0, 121))).body.window.checks).toBe(5);
      expect((await api.call('GET', `/assets/${a.id}/stats?window=7d`)).body.window.resolution).toBe('hour');
      expect((await api.call('GET', `/assets/${a.id}/stats?window=365d`)).body.window.resolution).toBe('day');
      expect((await api.call('GET', `/assets/${a.id}/stats?window=2d`)).body.code).toBe('WEBMON_ERR_VALIDATION');
      expect((await api.call('GET', q(10, 5))).body.code).toBe('WEBMON_ERR_VALIDATION');
    });
  });

  describe('raw results', () => {
    it('pages through every result exactly once, newest first', async () => {
      const { body: a } = await api.call('POST', '/assets', { url: 'https://paged.test/', plugins: ['http'] });
      // In the past: a page ends at the request's time (`to`), and a fast loop of 230 injections
      // would otherwise leave its newest results a few ms ahead of the first page.
      const now = Date.now() - 1000;
      for (let i = 0; i < 230; i++) await inject(a.id, now + i, i % 3 ? 'ok' : 'error', i, i % 3 ? null : 'refused', i % 2 ? 'http' : 'htmlstats');
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let guard = 0; guard < 20; guard++) {
        const page: { body: { items: Array<{ jobId: string; at: string }>; nextCursor: string | null } } = await api.call('GET', `/assets/${a.id}/results?limit=40${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...page.body.items.map((r) => r.jobId));
        cursor = page.body.nextCursor;
        if (!cursor) break;
      }
      expect(seen).toHaveLength(230);
      expect(new Set(seen).size).toBe(230);
      const durations = [];
      let c: string | null = null;
      do {
        const page: { body: { items: Array<{ results: Array<{ plugin: string; durationMs: number }> }>; nextCursor: string | null } } = await api.call('GET', `/assets/${a.id}/results?limit=50&plugin=http${c ? `&cursor=${c}` : ''}`);
        for (const r of page.body.items) durations.push(r.results[0]!.durationMs);
        c = page.body.nextCursor;
      } while (c);
      expect(durations).toEqual(Array.from({ length: 115 }, (_, i) => 229 - 2 * i)); // odd i, newest first
      expect((await api.call('GET', `/assets/${a.id}/results?to=${new Date(0).toISOString()}`)).body.items).toEqual([]);
      for (const cursor of ['abc', '0-0', '0-5', '1-18446744073709551616', '-1-0', '1e3-0', `${'9'.repeat(16)}-0`, 'x'.repeat(300)]) {
        const res = await api.call('GET', `/assets/${a.id}/results?cursor=${encodeURIComponent(cursor)}`);
        expect(res.status, cursor).toBe(400);
        expect(res.body.code, cursor).toBe(cursor.length > 256 ? 'WEBMON_ERR_VALIDATION' : 'WEBMON_ERR_INVALID_CURSOR');
      }
    });

    it('continues past a long run of entries that do not match the plugin filter', async () => {
      const { body: a } = await api.call('POST', '/assets', { url: 'https://sparse.test/', plugins: ['http'] });
      const start = Date.now() - 3_600_000;
      // Two old tcp results, then 50 × (limit + 1) + 40 newer http-only results.
      await inject(a.id, start, 'ok', 1, null, 'tcp');
      await inject(a.id, start + 1, 'ok', 2, null, 'tcp');
      const limit = 1;
      for (let i = 0; i < 50 * (limit + 1) + 40; i++) await inject(a.id, start + 10 + i, 'ok', 3, null, 'http');
      const found: number[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: { body: { items: Array<{ results: Array<{ durationMs: number }> }>; nextCursor: string | null } } = await api.call(
          'GET',
          `/assets/${a.id}/results?plugin=tcp&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`,
        );
        for (const r of page.body.items) found.push(r.results[0]!.durationMs);
        cursor = page.body.nextCursor;
        pages++;
      } while (cursor && pages < 20);
      expect(found).toEqual([2, 1]);
      expect(cursor).toBeNull();
    });

    it('refuses dates outside 1970..9999 and leap seconds before reading anything', async () => {
      const { body: a } = await api.call('POST', '/assets', { url: 'https://dates.test/', plugins: ['http'] });
      for (const date of ['1969-12-31T23:59:59Z', '2016-12-31T23:59:60Z', '1970-01-01T00:30:00+01:00', '2026-02-30T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01', '10000-01-01T00:00:00Z', '2026-01-01T00:00:00+24:00']) {
        for (const url of [`/assets/${a.id}/results?from=${encodeURIComponent(date)}`, `/assets/${a.id}/stats?to=${encodeURIComponent(date)}`]) {
          const res = await api.call('GET', url);
          expect(res.status, url).toBe(400);
          expect(res.body.code, url).toBe('WEBMON_ERR_VALIDATION');
        }
      }
      for (const date of ['1970-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z', '2026-01-01T00:00:00.123456+05:30']) {
        expect((await api.call('GET', `/assets/${a.id}/results?to=${encodeURIComponent(date)}`)).status, date).toBe(200);
      }
      expect((await api.call('GET', `/assets/${a.id}/stats?from=${encodeURIComponent('1970-01-01T00:00:00Z')}&to=${encodeURIComponent('1970-01-02T00:00:00Z')}`)).status).toBe(200);
      // A named window ending near the epoch reaches before it (found by the fuzz test: was 500).
      const early = await api.call('GET', `/assets/${a.id}/stats?to=${encodeURIComponent('1970-01-01T00:00:00Z')}&window=365d`);
      expect(early.status).toBe(200);
      expect(early.body.window.transitions).toEqual([]);
    });
  });

  describe('fleet statistics', () => {
    it('counts assets by state and names the assets failing most', async () => {
      const { body: bad } = await api.call('POST', '/assets', { url: 'https://failing.test/', plugins: ['http'] });
      for (let i = 0; i < 4; i++) await inject(bad.id, Date.now(), 'error', 10, 'refused');
      const res = await api.call('GET', '/stats');
      expect(res.status).toBe(200);
      expect(res.body.assetsByState.down).toBeGreaterThanOrEqual(1);
      expect(res.body.failingMost).toContainEqual({ assetId: bad.id, url: 'https://failing.test/', failures: 4 });
      expect(res.body.checksLastHour).toBeGreaterThanOrEqual(4);
      expect(res.body.queue).toMatchObject({ queued: expect.any(Number), running: expect.any(Number), failed: expect.any(Number) });
      const c = await api.newClient('stats client');
      const theirs = await api.call('GET', '/stats', undefined, c.apiKey);
      expect(theirs.body.failingMost).toEqual([]);
      expect(theirs.body.assetsByState.down).toBe(0);
    });
  });
});
