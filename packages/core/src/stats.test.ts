import { describe, expect, it } from 'vitest';
import type { Bucket } from './rollup.js';
import { latencyOf, quantile, resolutionFor, windowStats, type TimedBucket } from './stats.js';

const H = 3_600_000;
const bucket = (over: Partial<Bucket> = {}): Bucket => ({ n: 0, o: {}, r: {}, p: {}, t: {}, ...over });

describe('percentiles from histograms', () => {
  it('interpolates inside the bin and never passes the observed maximum', () => {
    // 12 ms → bin 6 (10–15], 250 ms → bin 14 (200–300], 5000 ms → bin 21 (3000–5000]
    const h = { '6': 1, '14': 1, '21': 1 };
    expect(quantile(h, 0.5, 5000)).toBe(250); // rank 1.5: halfway through (200, 300]
    expect(quantile(h, 0.95, 5000)).toBe(4700); // rank 2.85: 3000 + 0.85 × 2000
    expect(quantile(h, 0.99, 5000)).toBe(4940);
    // The last bin ends at the maximum seen: (3000, 4000] → 3000 + 0.97 × 1000.
    expect(quantile(h, 0.99, 4000)).toBe(3970);
    expect(quantile({}, 0.5, 0)).toBeNull();
  });

  it('computes p50/p95/p99/mean/max of a known distribution', () => {
    // 100 checks: 90 in (70, 100], 9 in (300, 500], 1 slow at 12 s (bin 24: 10–15 s).
    // mean = (90·85 + 9·400 + 12000) / 100 = 232.5; p50: rank 50 of 90 in (70,100] → 70 + 30·50/90;
    // p95: rank 95, 5 of 9 in (300,500] → 300 + 200·5/9; p99: rank 99 = the last of that bin → 500.
    const stats = latencyOf({ n: 100, s: 90 * 85 + 9 * 400 + 12_000, x: 12_000, h: { '11': 90, '15': 9, '24': 1 } });
    expect(stats).toEqual({ count: 100, meanMs: 232.5, p50Ms: 86.67, p95Ms: 411.11, p99Ms: 500, maxMs: 12_000 });
    expect(latencyOf(undefined)).toMatchObject({ count: 0, p50Ms: null });
  });
});

describe('window statistics', () => {
  const from = Date.UTC(2026, 10, 21, 0, 0);
  const to = from + 8 * H;
  const buckets: TimedBucket[] = [
    // Before the window: must not count.
    { start: from - H, bucket: bucket({ n: 99, o: { error: 99 }, t: { down: H } }) },
    { start: from, bucket: bucket({ n: 12, o: { ok: 12 }, t: { up: H, gap: 2 * H }, p: { http: { n: 12, s: 1200, x: 150, h: { '11': 10, '12': 2 } } } }) },
    { start: from + H, bucket: bucket({ n: 12, o: { ok: 10, error: 2 }, r: { timeout: 2 }, t: { up: 2 * H, down: H, unknown: H / 2 }, p: { http: { n: 12, s: 2400, x: 900, h: { '11': 8, '17': 4 } } } }) },
    { start: from + 7 * H, bucket: bucket({ n: 1, o: { warn: 1 }, r: { slow: 1 }, t: { degraded: 0 } }) },
    // At the end of the window: excluded ([from, to)).
    { start: to, bucket: bucket({ n: 50, o: { error: 50 } }) },
  ];

  it('counts only buckets that start inside [from, to)', () => {
    const s = windowStats(buckets, from, to, 'hour', 8);
    expect(s.checks).toBe(25);
    expect(s.outcomes).toEqual({ ok: 22, error: 2, warn: 1 });
    expect(s.failuresByReason).toEqual({ timeout: 2, slow: 1 });
  });

  it('computes uptime over known time only, with coverage for the gaps', () => {
    const s = windowStats(buckets, from, to, 'hour', 8);
    // up 3 h, down 1 h: 75 %. Gaps (2 h) and unknown (0.5 h) are not counted either way.
    expect(s.uptimePercent).toBe(75);
    expect(s.coveragePercent).toBe(50); // 4 h known of 8 h
    expect(s.timeInStateMs).toEqual({ up: 3 * H, gap: 2 * H, down: H, unknown: H / 2, degraded: 0 });
  });

  it('merges latency across buckets per plugin', () => {
    const s = windowStats(buckets, from, to, 'hour', 8);
    // 24 runs: 18 in (70,100], 2 in (100,150], 4 in (700,1000] (ending at the max, 900); sum 3600.
    // p50: rank 12 of 18 → 70 + 30·12/18 = 90; p95: rank 22.8, 2.8 of 4 → 700 + 200·0.7 = 840;
    // p99: rank 23.76 → 700 + 200·0.94 = 888.
    expect(s.latency.http).toEqual({ count: 24, meanMs: 150, p50Ms: 90, p95Ms: 840, p99Ms: 888, maxMs: 900 });
  });

  it('builds a series of whole buckets', () => {
    const s = windowStats(buckets, from, to, 'hour', 4); // 8 buckets → 4 points of 2 h
    expect(s.series.map((p) => p.t)).toEqual([from, from + 2 * H, from + 4 * H, from + 6 * H]);
    expect(s.series.map((p) => p.checks)).toEqual([24, 0, 0, 1]);
    expect(s.series[0]).toMatchObject({ failures: 2, uptimePercent: 75 });
    expect(s.series[1]).toMatchObject({ uptimePercent: null, meanMs: null });
  });

  it('gives each series point the median and p95 of every plugin that ran in it', () => {
    const two: TimedBucket[] = [
      { start: from, bucket: bucket({ n: 10, p: { http: { n: 10, s: 850, x: 100, h: { '11': 10 } }, tcp: { n: 10, s: 40, x: 5, h: { '3': 10 } } } }) },
      { start: from + H, bucket: bucket({ n: 10, p: { http: { n: 10, s: 4000, x: 500, h: { '15': 10 } } } }) },
    ];
    const s = windowStats(two, from, from + 2 * H, 'hour', 2);
    // http: 10 in (70,100] → p50 85, p95 98.5; tcp: 10 in (3,5] → p50 4, p95 4.9.
    expect(s.series[0]!.plugins).toEqual({ http: { p50Ms: 85, p95Ms: 98.5 }, tcp: { p50Ms: 4, p95Ms: 4.9 } });
    // http: 10 in (300,500] → p50 400, p95 490; tcp did not run in this point.
    expect(s.series[1]!.plugins).toEqual({ http: { p50Ms: 400, p95Ms: 490 } });
    expect(windowStats([], from, from + H, 'hour', 1).series[0]!.plugins).toEqual({});
  });

  it('picks a resolution by window length', () => {
    expect(resolutionFor(3_600_000)).toBe('minute');
    expect(resolutionFor(86_400_000)).toBe('minute');
    expect(resolutionFor(7 * 86_400_000)).toBe('hour');
    expect(resolutionFor(365 * 86_400_000)).toBe('day');
  });
});
