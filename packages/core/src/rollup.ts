/**
 * Roll-ups: per-asset aggregates per minute, hour and day, updated by job_complete.lua on the
 * write path. This module holds their shared definition: the latency bins (substituted into
 * the Lua source as {{LATENCY_EDGES}}) and the bucket shape.
 */

/** Upper edges (ms) of the latency bins; a last, open bin holds anything slower. */
export const LATENCY_EDGES_MS = [
  1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000, 1500, 2000, 3000, 5000, 7000, 10_000, 15_000, 20_000, 30_000, 60_000,
] as const;

export type Resolution = 'minute' | 'hour' | 'day';

export const RESOLUTION_SECONDS: Record<Resolution, number> = { minute: 60, hour: 3600, day: 86_400 };

export interface PluginBucket {
  /** Runs. */
  n: number;
  /** Sum of durations, ms. */
  s: number;
  /** Longest duration, ms. */
  x: number;
  /** Latency histogram: bin index (as a string) → runs. */
  h: Record<string, number>;
}

export interface Bucket {
  /** Checks. */
  n: number;
  /** Checks by outcome (ok, warn, error, unsupported). */
  o: Record<string, number>;
  /** Failed or warning checks by reason. */
  r: Record<string, number>;
  /** Per plugin. */
  p: Record<string, PluginBucket>;
  /** Time spent in each state, ms (and 'gap' for unmonitored stretches). */
  t: Record<string, number>;
}

/** Parses a stored bucket; cjson writes an empty table as {} or [], both mean empty. */
export function parseBucket(json: string): Bucket {
  const raw = JSON.parse(json) as Partial<Bucket>;
  const obj = <T>(v: unknown): Record<string, T> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, T>) : {});
  const p: Record<string, PluginBucket> = {};
  for (const [name, b] of Object.entries(obj<PluginBucket>(raw.p))) p[name] = { n: b.n ?? 0, s: b.s ?? 0, x: b.x ?? 0, h: obj<number>(b.h) };
  return { n: raw.n ?? 0, o: obj(raw.o), r: obj(raw.r), p, t: obj(raw.t) };
}
