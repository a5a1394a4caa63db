/**
 * Statistics over a time window, from roll-up buckets (see rollup.ts). Pure functions: the API
 * reads the buckets and the transitions, these turn them into numbers.
 *
 * - Uptime is time-based: time up or degraded over time up, degraded or down. Time unknown,
 *   paused, unsupported, in maintenance or unmonitored (`gap`) is left out; `coverage` says how
 *   much of the window was observed in a known state.
 * - Percentiles come from the latency histograms: exact to the bin, linearly interpolated
 *   inside it and never above the observed maximum.
 * - A bucket belongs to the window when it starts inside [from, to).
 */
import { round } from './util.js';
import { LATENCY_EDGES_MS, RESOLUTION_SECONDS, type Bucket, type PluginBucket, type Resolution } from './rollup.js';

export interface TimedBucket {
  /** Bucket start, ms. */
  start: number;
  bucket: Bucket;
}

export interface LatencyStats {
  count: number;
  meanMs: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface SeriesPoint {
  /** Start of the point's interval, ms. */
  t: number;
  checks: number;
  failures: number;
  uptimePercent: number | null;
  meanMs: number | null;
  p95Ms: number | null;
  /** Per plugin that ran in the point: its median and 95th percentile. */
  plugins: Record<string, { p50Ms: number | null; p95Ms: number | null }>;
}

export interface WindowStats {
  from: number;
  to: number;
  resolution: Resolution;
  checks: number;
  outcomes: Record<string, number>;
  failuresByReason: Record<string, number>;
  uptimePercent: number | null;
  /** Share of the window spent in a known state (up, degraded, down), percent. */
  coveragePercent: number;
  timeInStateMs: Record<string, number>;
  latency: Record<string, LatencyStats>;
  series: SeriesPoint[];
}

const UP_STATES = ['up', 'degraded'];

/** The resolution whose buckets suit a window of this length. */
export function resolutionFor(spanMs: number): Resolution {
  if (spanMs <= 86_400_000) return 'minute';
  if (spanMs <= 90 * 86_400_000) return 'hour';
  return 'day';
}

/** Merges plugin buckets (histograms add up). */
export function mergePlugin(into: PluginBucket | undefined, add: PluginBucket): PluginBucket {
  const out: PluginBucket = into ? { n: into.n, s: into.s, x: into.x, h: { ...into.h } } : { n: 0, s: 0, x: 0, h: {} };
  out.n += add.n;
  out.s += add.s;
  out.x = Math.max(out.x, add.x);
  for (const [bin, n] of Object.entries(add.h)) out.h[bin] = (out.h[bin] ?? 0) + n;
  return out;
}

/** The q-quantile (0–1) of a histogram, interpolated inside its bin, capped by `max`. */
export function quantile(h: Record<string, number>, q: number, max: number): number | null {
  const bins = Object.entries(h)
    .map(([bin, n]) => [Number(bin), n] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => a[0] - b[0]);
  const total = bins.reduce((s, [, n]) => s + n, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (const [bin, n] of bins) {
    if (seen + n >= rank) {
      const lo = bin === 0 ? 0 : LATENCY_EDGES_MS[bin - 1]!;
      const hi = Math.min(bin < LATENCY_EDGES_MS.length ? LATENCY_EDGES_MS[bin]! : max, max);
      const within = n === 0 ? 0 : (rank - seen) / n;
      return round(Math.min(lo + (Math.max(hi, lo) - lo) * within, max));
    }
    seen += n;
  }
  return round(max);
}

export function latencyOf(p: PluginBucket | undefined): LatencyStats {
  if (!p || p.n === 0) return { count: 0, meanMs: null, p50Ms: null, p95Ms: null, p99Ms: null, maxMs: null };
  return {
    count: p.n,
    meanMs: round(p.s / p.n),
    p50Ms: quantile(p.h, 0.5, p.x),
    p95Ms: quantile(p.h, 0.95, p.x),
    p99Ms: quantile(p.h, 0.99, p.x),
    maxMs: round(p.x),
  };
}

function uptime(t: Record<string, number>): number | null {
  const up = UP_STATES.reduce((s, k) => s + (t[k] ?? 0), 0);
  const known = up + (t.down ?? 0);
  return known > 0 ? round((100 * up) / known, 4) : null;
}

function add(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/**
 * Statistics of [from, to) from buckets of one resolution; `points` series points at most
 * (each covering whole buckets).
 */
export function windowStats(buckets: readonly TimedBucket[], from: number, to: number, resolution: Resolution, points = 60): WindowStats {
  const size = RESOLUTION_SECONDS[resolution] * 1000;
  const inside = buckets.filter((b) => b.start >= from && b.start < to).sort((a, b) => a.start - b.start);
  const outcomes: Record<string, number> = {};
  const reasons: Record<string, number> = {};
  const time: Record<string, number> = {};
  const plugins: Record<string, PluginBucket> = {};
  let checks = 0;
  for (const { bucket } of inside) {
    checks += bucket.n;
    add(outcomes, bucket.o);
    add(reasons, bucket.r);
    add(time, bucket.t);
    for (const [name, p] of Object.entries(bucket.p)) plugins[name] = mergePlugin(plugins[name], p);
  }
  const latency: Record<string, LatencyStats> = {};
  for (const [name, p] of Object.entries(plugins)) latency[name] = latencyOf(p);
  const known = UP_STATES.reduce((s, k) => s + (time[k] ?? 0), 0) + (time.down ?? 0);

  // Series: whole buckets per point, aligned to the window start.
  const firstBucket = Math.floor(from / size) * size;
  const buckets_ = Math.max(1, Math.ceil((to - firstBucket) / size));
  const perPoint = Math.max(1, Math.ceil(buckets_ / Math.max(1, points)));
  const series: SeriesPoint[] = [];
  for (let t = firstBucket; t < to; t += perPoint * size) {
    const part = inside.filter((b) => b.start >= t && b.start < t + perPoint * size);
    let n = 0;
    let failures = 0;
    const ts: Record<string, number> = {};
    let merged: PluginBucket | undefined;
    const byPlugin: Record<string, PluginBucket> = {};
    for (const { bucket } of part) {
      n += bucket.n;
      failures += bucket.o.error ?? 0;
      add(ts, bucket.t);
      for (const [name, p] of Object.entries(bucket.p)) {
        merged = mergePlugin(merged, p);
        byPlugin[name] = mergePlugin(byPlugin[name], p);
      }
    }
    const lat = latencyOf(merged);
    const plugins: SeriesPoint['plugins'] = {};
    for (const [name, p] of Object.entries(byPlugin)) {
      const l = latencyOf(p);
      plugins[name] = { p50Ms: l.p50Ms, p95Ms: l.p95Ms };
    }
    series.push({ t: Math.max(t, from), checks: n, failures, uptimePercent: uptime(ts), meanMs: lat.meanMs, p95Ms: lat.p95Ms, plugins });
  }

  return {
    from,
    to,
    resolution,
    checks,
    outcomes,
    failuresByReason: reasons,
    uptimePercent: uptime(time),
    coveragePercent: round(Math.min(100, (100 * known) / Math.max(1, to - from)), 4),
    timeInStateMs: time,
    latency,
    series,
  };
}

