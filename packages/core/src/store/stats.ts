/**
 * Reads for statistics: roll-up buckets of a window, an asset's transitions, its raw results
 * page by page, and fleet-wide numbers. The arithmetic lives in ../stats.ts.
 */
import type { Redis } from 'ioredis';
import { WebmonError } from '../errors.js';
import { ALL_OWNERS, type Keys } from '../keys.js';
import { RESOLUTION_SECONDS, parseBucket, type Resolution } from '../rollup.js';
import { windowStats, type TimedBucket, type WindowStats } from '../stats.js';
import { ASSET_STATES, type CheckResult } from '../types.js';
import { safeJson } from './assets.js';

export interface Transition {
  at: number;
  from: string;
  to: string;
  reason: string;
}

export interface ResultEntry {
  /** Stream id: the page cursor. */
  id: string;
  at: number;
  jobId: string;
  outcome: string;
  results: CheckResult[];
}

export interface FleetStats {
  assetsByState: Record<string, number>;
  /** Over the last complete minute. */
  checksPerSecond: number;
  checksLastHour: number;
  failingMost: Array<{ assetId: string; failures: number }>;
}

export class StatsStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async buckets(assetId: string, resolution: Resolution, from: number, to: number): Promise<TimedBucket[]> {
    const all = await this.redis.hgetall(this.keys.assetRollup(assetId, resolution));
    const size = RESOLUTION_SECONDS[resolution] * 1000;
    const out: TimedBucket[] = [];
    for (const [start, json] of Object.entries(all)) {
      const ms = Number(start) * 1000;
      if (ms + size <= from || ms >= to) continue;
      try {
        out.push({ start: ms, bucket: parseBucket(json) });
      } catch {
        // an unreadable bucket is skipped, not fatal
      }
    }
    return out;
  }

  async window(assetId: string, resolution: Resolution, from: number, to: number, points?: number): Promise<WindowStats> {
    // Buckets that start before `from` are left out: align the window to whole buckets.
    const size = RESOLUTION_SECONDS[resolution] * 1000;
    const alignedFrom = Math.floor(from / size) * size;
    return windowStats(await this.buckets(assetId, resolution, alignedFrom, to), alignedFrom, to, resolution, points);
  }

  async transitions(assetId: string, from: number, to: number, limit = 1000): Promise<Transition[]> {
    // Stream ids start at 0: a window reaching before 1970 (e.g. `to` near the epoch) reads from there.
    if (to < 0) return [];
    const rows = await this.redis.xrange(this.keys.assetEvents(assetId), String(Math.max(0, Math.floor(from))), String(Math.floor(to)), 'COUNT', limit);
    return rows.map(([, fields]) => {
      const f = fieldsOf(fields);
      return { at: Number(f.at), from: f.from ?? '', to: f.to ?? '', reason: f.reason ?? '' };
    });
  }

  /**
   * Raw results, newest first, from `before` (an exclusive stream id: a `next` this method
   * returned) or the latest. A page may hold fewer than `limit` items while `next` is set: the
   * scan is bounded, and `next` is then the last entry scanned.
   * Throws WEBMON_ERR_INVALID_CURSOR for a `before` that is not such an id.
   */
  async results(assetId: string, opts: { from: number; to: number; before?: string | undefined; limit: number; plugin?: string | undefined }): Promise<{ items: ResultEntry[]; next: string | null }> {
    const items: ResultEntry[] = [];
    let end = opts.before !== undefined ? `(${resultsCursor(opts.before)}` : String(Math.floor(opts.to));
    if (opts.to < 0) return { items, next: null };
    const start = String(Math.max(0, Math.floor(opts.from)));
    let scanned: string | null = null;
    // Filtering by plugin may skip entries: read in chunks until the page is full (bounded).
    for (let round = 0; round < 50 && items.length < opts.limit; round++) {
      const rows = await this.redis.xrevrange(this.keys.assetHistory(assetId), end, start, 'COUNT', opts.limit + 1);
      for (const [id, fields] of rows) {
        const f = fieldsOf(fields);
        let results = (safeJson(f.results) as CheckResult[] | null) ?? [];
        if (opts.plugin) results = results.filter((r) => r.plugin === opts.plugin);
        if (results.length === 0 && opts.plugin) {
          [scanned, end] = [id, `(${id}`];
          continue;
        }
        if (items.length === opts.limit) return { items, next: items[items.length - 1]!.id };
        items.push({ id, at: Number(f.at ?? id.split('-')[0]), jobId: f.job ?? '', outcome: f.outcome ?? '', results });
        [scanned, end] = [id, `(${id}`];
      }
      if (rows.length < opts.limit + 1) return { items, next: null };
    }
    return { items, next: scanned };
  }

  async fleet(owner: string, now = Date.now()): Promise<FleetStats> {
    const pipe = this.redis.pipeline();
    for (const s of ASSET_STATES) pipe.zcard(this.keys.ownerIndex(owner, 'state', s));
    const counts = ((await pipe.exec()) ?? []).map(([, n]) => Number(n) || 0);
    const assetsByState = Object.fromEntries(ASSET_STATES.map((s, i) => [s, counts[i] ?? 0]));
    const minutes = await this.redis.hgetall(this.keys.statsChecks);
    const thisMinute = Math.floor(now / 60_000) * 60;
    const lastMinute = Number(minutes[String(thisMinute - 60)] ?? 0);
    let lastHour = 0;
    for (const [m, n] of Object.entries(minutes)) if (Number(m) > thisMinute - 3600 && Number(m) <= thisMinute) lastHour += Number(n);
    const today = Math.floor(now / 86_400_000);
    const failing = await this.redis.zunion(2, this.keys.statsFailures(today), this.keys.statsFailures(today - 1), 'WITHSCORES');
    const ranked: Array<{ assetId: string; failures: number }> = [];
    for (let i = 0; i < failing.length; i += 2) ranked.push({ assetId: failing[i]!, failures: Number(failing[i + 1]) });
    ranked.sort((a, b) => b.failures - a.failures);
    let failingMost = ranked;
    if (owner !== ALL_OWNERS) {
      const pipe2 = this.redis.pipeline();
      for (const r of ranked.slice(0, 1000)) pipe2.hget(this.keys.asset(r.assetId), 'owner');
      const owners = ((await pipe2.exec()) ?? []).map(([, o]) => o);
      failingMost = ranked.slice(0, 1000).filter((_, i) => owners[i] === owner);
    }
    return { assetsByState, checksPerSecond: Math.round((lastMinute / 60) * 100) / 100, checksLastHour: lastHour, failingMost: failingMost.slice(0, 10) };
  }
}

/** A results cursor as a stream id, or WEBMON_ERR_INVALID_CURSOR: ids this API issued are `<ms>-<seq>` with ms > 0. */
export function resultsCursor(cursor: string): string {
  const m = /^(\d{1,15})-(\d{1,19})$/.exec(cursor);
  if (!m || Number(m[1]) === 0 || BigInt(m[2]!) > 18_446_744_073_709_551_615n) {
    throw new WebmonError('WEBMON_ERR_INVALID_CURSOR', 'cursor: not a cursor returned by this API');
  }
  return `${Number(m[1])}-${BigInt(m[2]!)}`;
}

function fieldsOf(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}
