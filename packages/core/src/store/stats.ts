/**
 * Reads for statistics: roll-up buckets of a window, an asset's transitions, its raw results
 * page by page, and fleet-wide numbers. The arithmetic lives in ../stats.ts.
 */
import type { Redis } from 'ioredis';
import { WebmonError } from '../errors.js';
import type { Keys } from '../keys.js';
import { pipelineBy } from '../redis.js';
import { RESOLUTION_SECONDS, RING_HEADER_BYTES, composeRings, mergeBuckets, parseBucket, ringHorizon, type Bucket, type Resolution } from '../rollup.js';
import { windowStats, type TimedBucket, type WindowStats } from '../stats.js';
import { ASSET_STATES } from '../types.js';
import { round } from '../util.js';
import { readResults, type ResultEntry } from './history.js';

export interface Transition {
  at: number;
  from: string;
  to: string;
  reason: string;
}

export type { ResultEntry } from './history.js';

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

  /**
   * The buckets of one resolution that overlap [from, to): the ring's cells and the finer rings'
   * cells of the periods it does not hold yet (composeRings), plus (summed in) the buckets of the
   * JSON hash that preceded rings, while it exists.
   */
  async buckets(assetId: string, resolution: Resolution, from: number, to: number): Promise<TimedBucket[]> {
    const finer: Resolution[] = (['minute', 'hour', 'day'] as const).slice(0, ['minute', 'hour', 'day'].indexOf(resolution) + 1);
    const [legacy, ...rings] = await Promise.all([
      this.redis.hgetall(this.keys.assetRollupLegacy(assetId, resolution)),
      ...finer.map((r) => this.redis.getBuffer(this.keys.assetRollup(assetId, r))),
    ]);
    const size = RESOLUTION_SECONDS[resolution] * 1000;
    const byStart = new Map<number, Bucket>();
    const add = (start: number, bucket: Bucket) => {
      if (start + size <= from || start >= to) return;
      const prev = byStart.get(start);
      byStart.set(start, prev ? mergeBuckets(prev, bucket) : bucket);
    };
    for (const [start, json] of Object.entries(legacy)) {
      try {
        add(Number(start) * 1000, parseBucket(json));
      } catch {
        // an unreadable bucket is skipped, not fatal
      }
    }
    for (const cell of composeRings(rings as Array<Buffer | null>)) add(cell.bucket * size, cell.value);
    return [...byStart].map(([start, bucket]) => ({ start, bucket }));
  }

  /**
   * The statistics of a window at `preferred` resolution, or a coarser one when that resolution
   * no longer holds the window's start (a 1 h window of last week: minute cells are kept a day).
   */
  async window(assetId: string, preferred: Resolution, from: number, to: number, points?: number): Promise<WindowStats> {
    const resolution = await this.retainedResolution(assetId, preferred, from);
    // Buckets that start before `from` are left out: align the window to whole buckets.
    const size = RESOLUTION_SECONDS[resolution] * 1000;
    const alignedFrom = Math.floor(from / size) * size;
    return windowStats(await this.buckets(assetId, resolution, alignedFrom, to), alignedFrom, to, resolution, points);
  }

  /** The finest resolution, from `preferred` up, whose roll-ups still hold the bucket of `from`. */
  private async retainedResolution(assetId: string, preferred: Resolution, from: number): Promise<Resolution> {
    const order: Resolution[] = ['minute', 'hour', 'day'];
    for (const resolution of order.slice(order.indexOf(preferred), -1)) {
      const header = await this.redis.getrangeBuffer(this.keys.assetRollup(assetId, resolution), 0, RING_HEADER_BYTES - 1);
      const horizon = ringHorizon(header.length ? header : null);
      if (horizon === null || Math.floor(from / (RESOLUTION_SECONDS[resolution] * 1000)) > horizon) return resolution;
    }
    return 'day';
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
   * Raw results, newest first, from `before` (an exclusive entry id: a `next` this method
   * returned) or the latest. A page may hold fewer than `limit` items while `next` is set: the
   * scan is bounded, and `next` is then the last entry scanned.
   * Throws WEBMON_ERR_INVALID_CURSOR for a `before` that is not such an id.
   */
  async results(assetId: string, opts: { from: number; to: number; before?: string | undefined; limit: number; plugin?: string | undefined }): Promise<{ items: ResultEntry[]; next: string | null }> {
    const before = opts.before !== undefined ? resultsCursor(opts.before).split('-') : undefined;
    return readResults(this.redis, this.keys, assetId, { ...opts, before: before && [Number(before[0]), BigInt(before[1]!)] });
  }

  /** Fleet figures of an owner (or ALL_OWNERS): every shard's counts summed, its top failing merged. */
  async fleet(owner: string, now = Date.now()): Promise<FleetStats> {
    const shards = this.keys.shardIds.map((n) => this.keys.shard(n));
    const rows = await pipelineBy(this.redis, shards, (k) => shards.indexOf(k), (pipe, k) => {
      for (const s of ASSET_STATES) pipe.zcard(k.ownerIndex(owner, 'state', s));
      pipe.hgetall(k.statsChecks);
    });
    const counts = ASSET_STATES.map(() => 0);
    const minutes = new Map<number, number>();
    for (const replies of rows) {
      ASSET_STATES.forEach((_, i) => {
        counts[i]! += Number(replies[i]) || 0;
      });
      for (const [m, n] of Object.entries(replies[ASSET_STATES.length] as Record<string, string>)) minutes.set(Number(m), (minutes.get(Number(m)) ?? 0) + Number(n));
    }
    const assetsByState = Object.fromEntries(ASSET_STATES.map((s, i) => [s, counts[i] ?? 0]));
    const thisMinute = Math.floor(now / 60_000) * 60;
    const lastMinute = minutes.get(thisMinute - 60) ?? 0;
    let lastHour = 0;
    for (const [m, n] of minutes) if (m > thisMinute - 3600 && m <= thisMinute) lastHour += n;
    const failingMost = await this.failingMost(owner, now);
    return { assetsByState, checksPerSecond: round(lastMinute / 60), checksLastHour: lastHour, failingMost };
  }

  /**
   * The `limit` assets of an owner (or ALL_OWNERS) with the most failed checks today and
   * yesterday (UTC days), most first (ties in descending id order). One ZREVRANGE of a set
   * job_complete keeps per owner and day: O(log N + limit) however many assets fail.
   */
  async failingMost(owner: string, now = Date.now(), limit = 10): Promise<Array<{ assetId: string; failures: number }>> {
    const today = Math.floor(now / 86_400_000);
    const tops = await Promise.all(this.keys.shardIds.map((n) => this.redis.zrevrange(this.keys.shard(n).statsFailing(owner, today), 0, limit - 1, 'WITHSCORES')));
    const ranked: Array<{ assetId: string; failures: number }> = [];
    for (const rows of tops) for (let i = 0; i < rows.length; i += 2) ranked.push({ assetId: rows[i]!, failures: Number(rows[i + 1]) });
    // ZREVRANGE's order within each shard: most failures first, ties in descending id order.
    ranked.sort((a, b) => b.failures - a.failures || (a.assetId < b.assetId ? 1 : a.assetId > b.assetId ? -1 : 0));
    return ranked.slice(0, limit);
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
