/**
 * Maintenance windows: while one covers an asset, checks still run and states still change,
 * but nobody is notified, and the asset's state reads `maintenance`. A window covers assets
 * by id and/or by tag, of its owner only, and is one-off (start–end), weekly (days of the week,
 * a start time and a duration; in UTC, or in `timeZone`) or a cron schedule with a duration (in
 * UTC or `timeZone`). Zoned and cron windows are computed by maintenance-schedule.ts; weekly
 * windows without a zone by the UTC arithmetic below, as they always were.
 *
 * `maintenance` is a real, indexed state with one source of truth: an asset's `state` field stays
 * what its checks say, its `maintenance` field names the open window covering it, and its state
 * index entry is the effective state (`maintenance` while covered). Windows are indexed by the
 * asset ids and tags they name, so finding the windows of one asset never reads every window.
 * Coverage changes when a window is created or deleted, when one opens or closes (sync(), called
 * by readers and periodically), and when an asset is created or retagged (AssetStore).
 * One-off windows are deleted once they have ended (by sync()).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { WebmonError } from '../errors.js';
import { shardOfId, type Keys } from '../keys.js';
import { scriptLoader } from '../scripts.js';
import { scheduledBoundary, scheduledOpen, weeklyPattern, type ZonedSchedule } from './maintenance-schedule.js';

export interface RecurringSpec {
  /** Days of the week, 0 = Sunday … 6 = Saturday (UTC, or the window's timeZone). */
  days: number[];
  /** Start time of day, "HH:MM" (UTC, or the window's timeZone). */
  start: string;
  durationMinutes: number;
}

export interface MaintenanceWindow {
  id: string;
  owner: string;
  reason: string;
  assetIds: string[];
  tags: string[];
  /** One-off window, ms since the epoch. */
  start?: number;
  end?: number;
  recurring?: RecurringSpec;
  /** 5-field cron expression: the window opens at each occurrence, for durationSec. */
  cron?: string;
  durationSec?: number;
  /** IANA zone of `recurring` or `cron` (absent: UTC). */
  timeZone?: string;
  createdAt: number;
}

/** A window without its asset ids: what deciding open/closed and showing a reason need. */
export type MaintenanceSummary = Omit<MaintenanceWindow, 'assetIds'>;

export interface CoveredAsset {
  id: string;
  owner: string;
  tags: readonly string[];
}

export interface WindowLimits {
  /** Most windows the owner may have (undefined: no limit). */
  maxWindows?: number | undefined;
}

const DAY = 86_400_000;
/** Assets per maintenance_apply call: bounds how long one script holds Redis. */
const APPLY_CHUNK = 500;

const maintenanceScripts = scriptLoader(new URL('../../lua/', import.meta.url), [
  'maintenance_create',
  'maintenance_delete',
  'maintenance_mark',
  'maintenance_apply',
] as const);

/** The schedule of a cron window or a zoned weekly one; null for one-off and UTC weekly windows. */
function zonedSchedule(w: MaintenanceSummary): ZonedSchedule | null {
  if (w.cron !== undefined) return { pattern: w.cron, timeZone: w.timeZone ?? 'UTC', durationMs: (w.durationSec ?? 0) * 1000 };
  if (w.recurring && w.timeZone !== undefined) return { pattern: weeklyPattern(w.recurring.days, w.recurring.start), timeZone: w.timeZone, durationMs: w.recurring.durationMinutes * 60_000 };
  return null;
}

/** Whether the window is open at `at` (ignoring which assets it covers). */
export function windowOpen(w: MaintenanceSummary, at: number): boolean {
  const zoned = zonedSchedule(w);
  if (zoned) return scheduledOpen(zoned, at);
  if (w.recurring) {
    const [hh, mm] = w.recurring.start.split(':').map(Number) as [number, number];
    const duration = w.recurring.durationMinutes * 60_000;
    // A window may have started on one of the previous days and still be open.
    for (let back = 0; back * DAY <= duration + DAY; back++) {
      const day = new Date(at - back * DAY);
      const startAt = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), hh, mm);
      if (w.recurring.days.includes(new Date(startAt).getUTCDay()) && at >= startAt && at < startAt + duration) return true;
    }
    return false;
  }
  return w.start !== undefined && w.end !== undefined && at >= w.start && at < w.end;
}

/** The first time after `at` when the window opens or closes (Infinity: never again). */
export function nextBoundary(w: MaintenanceSummary, at: number): number {
  const zoned = zonedSchedule(w);
  if (zoned) return scheduledBoundary(zoned, at);
  if (w.recurring) {
    const [hh, mm] = w.recurring.start.split(':').map(Number) as [number, number];
    const duration = w.recurring.durationMinutes * 60_000;
    let next = Infinity;
    // From the earliest day whose window may still be open to a week ahead.
    for (let offset = -Math.ceil(duration / DAY) - 1; offset <= 8; offset++) {
      const day = new Date(at + offset * DAY);
      const startAt = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), hh, mm);
      if (!w.recurring.days.includes(new Date(startAt).getUTCDay())) continue;
      for (const edge of [startAt, startAt + duration]) if (edge > at && edge < next) next = edge;
    }
    return next;
  }
  if (w.start !== undefined && w.start > at) return w.start;
  return w.end !== undefined && w.end > at ? w.end : Infinity;
}

/** A one-off window whose end has passed: it will never open again. */
export function windowEnded(w: MaintenanceSummary, at: number): boolean {
  return !w.recurring && w.cron === undefined && w.end !== undefined && w.end <= at;
}

interface WindowIndex {
  byAsset: Map<string, number[]>;
  byTag: Map<string, number[]>;
}

const coverIndexes = new WeakMap<readonly MaintenanceWindow[], WindowIndex>();

/** Positions of the windows naming each asset id / owner+tag, built once per windows array. */
function coverIndex(windows: readonly MaintenanceWindow[]): WindowIndex {
  let index = coverIndexes.get(windows);
  if (index) return index;
  index = { byAsset: new Map(), byTag: new Map() };
  const add = (map: Map<string, number[]>, key: string, i: number) => {
    const list = map.get(key);
    if (!list) map.set(key, [i]);
    else if (list[list.length - 1] !== i) list.push(i);
  };
  windows.forEach((w, i) => {
    for (const id of w.assetIds) add(index!.byAsset, `${w.owner}\u0000${id}`, i);
    for (const tag of w.tags) add(index!.byTag, `${w.owner}\u0000${tag}`, i);
  });
  coverIndexes.set(windows, index);
  return index;
}

/** The first open window that covers the asset, or null (cost: the windows naming it, not all). */
export function coveringWindow(windows: readonly MaintenanceWindow[], asset: CoveredAsset, at: number): MaintenanceWindow | null {
  const index = coverIndex(windows);
  const positions = [...(index.byAsset.get(`${asset.owner}\u0000${asset.id}`) ?? [])];
  for (const tag of asset.tags) positions.push(...(index.byTag.get(`${asset.owner}\u0000${tag}`) ?? []));
  positions.sort((a, b) => a - b);
  for (const i of positions) {
    const w = windows[i]!;
    if (windowOpen(w, at)) return w;
  }
  return null;
}

const byIdIndexes = new WeakMap<readonly { id: string }[], Map<string, { id: string; reason: string }>>();

/** The window with this id in a list of windows (a map built once per list). */
export function windowById<W extends { id: string; reason: string }>(windows: readonly W[], id: string): W | undefined {
  let map = byIdIndexes.get(windows);
  if (!map) {
    map = new Map(windows.map((w) => [w.id, w]));
    byIdIndexes.set(windows, map);
  }
  return map.get(id) as W | undefined;
}

function parseAll<T>(raw: string[]): T[] {
  return raw.flatMap((j) => {
    try {
      return [JSON.parse(j) as T];
    } catch {
      return [];
    }
  });
}

function summaryOf(w: MaintenanceWindow): MaintenanceSummary {
  const { assetIds: _ids, ...rest } = w;
  return rest;
}

export class MaintenanceStore {
  private cache: { at: number; windows: MaintenanceWindow[] } | null = null;
  private summaryCache: { at: number; windows: MaintenanceSummary[] } | null = null;
  private syncing: Promise<void> | null = null;
  /** Before this time (ms), as far as the last sync knows, no window opens, closes or ends. */
  private dueAt = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    /** How long all() and summaries() may serve a cached copy, ms (0: always read). */
    private readonly cacheMs = 5000,
  ) {}

  private get scripts() {
    return maintenanceScripts(this.redis);
  }

  private forget(): void {
    this.cache = null;
    this.summaryCache = null;
    this.dueAt = 0;
  }

  /**
   * Stores a window and puts the assets it covers now in maintenance. Throws
   * WEBMON_ERR_QUOTA_EXCEEDED when the owner already has `limits.maxWindows` windows.
   */
  async create(w: Omit<MaintenanceWindow, 'id' | 'createdAt'>, limits: WindowLimits = {}, now = Date.now()): Promise<MaintenanceWindow> {
    return this.store({ ...w, id: randomBytes(6).toString('base64url'), createdAt: now }, limits, now);
  }

  /** Indexes windows stored before summaries and indexes existed; returns how many. */
  async migrate(now = Date.now()): Promise<number> {
    const [ids, indexed] = await Promise.all([this.redis.hkeys(this.keys.maintenance), this.redis.hkeys(this.keys.maintenanceSummaries)]);
    const have = new Set(indexed);
    let n = 0;
    for (const id of ids.filter((i) => !have.has(i))) {
      const w = await this.get(id);
      if (!w) continue;
      await this.redis.hdel(this.keys.maintenance, id);
      await this.store(w, {}, now);
      n++;
    }
    return n;
  }

  private async store(window: MaintenanceWindow, limits: WindowLimits, now: number): Promise<MaintenanceWindow> {
    const w = window;
    const open = windowOpen(window, now);
    const res = await this.scripts.run<[number, number?]>(
      'maintenance_create',
      [this.keys.maintenance, this.keys.maintenanceSummaries, this.keys.maintenanceOwned(w.owner), this.keys.maintenanceOpen],
      [
        window.id, JSON.stringify(window), JSON.stringify(summaryOf(window)), window.createdAt, limits.maxWindows ?? -1, open ? '1' : '0',
        // The indexes by asset and tag are in the shards (indexInShards below).
        '', '', 0,
      ],
    );
    if (Number(res[0]) !== 1) {
      const count = Number(res[1]);
      throw new WebmonError('WEBMON_ERR_QUOTA_EXCEEDED', `maintenance windows: at most ${limits.maxWindows} per client (you have ${count})`, {
        quota: 'maxMaintenanceWindows',
        limit: limits.maxWindows,
        value: count,
      });
    }
    await this.indexInShards(window, 'add', open);
    this.forget();
    if (open) await this.applyWindow(window);
    return window;
  }

  /** Every window, with its asset ids (cached for cacheMs). */
  async all(now = Date.now()): Promise<MaintenanceWindow[]> {
    if (this.cache && now - this.cache.at < this.cacheMs) return this.cache.windows;
    const windows = parseAll<MaintenanceWindow>(await this.redis.hvals(this.keys.maintenance));
    this.cache = { at: now, windows };
    return windows;
  }

  /** Every window without its asset ids (cached for cacheMs): cheap to read on hot paths. */
  async summaries(now = Date.now()): Promise<MaintenanceSummary[]> {
    if (this.summaryCache && now - this.summaryCache.at < this.cacheMs) return this.summaryCache.windows;
    const windows = parseAll<MaintenanceSummary>(await this.redis.hvals(this.keys.maintenanceSummaries));
    this.summaryCache = { at: now, windows };
    return windows;
  }

  /** The windows of one owner (ALL_OWNERS: every one), oldest first. */
  async list(owner: string | '*'): Promise<MaintenanceWindow[]> {
    let windows: MaintenanceWindow[];
    if (owner === '*') {
      windows = parseAll<MaintenanceWindow>(await this.redis.hvals(this.keys.maintenance));
    } else {
      const ids = await this.redis.zrange(this.keys.maintenanceOwned(owner), '0', '-1');
      const raw = ids.length ? await this.redis.hmget(this.keys.maintenance, ...ids) : [];
      windows = parseAll<MaintenanceWindow>(raw.filter((r): r is string => r !== null));
    }
    return windows.sort((a, b) => a.createdAt - b.createdAt);
  }

  /** How many windows an owner has. */
  async count(owner: string): Promise<number> {
    return this.redis.zcard(this.keys.maintenanceOwned(owner));
  }

  async get(id: string): Promise<MaintenanceWindow | null> {
    const raw = await this.redis.hget(this.keys.maintenance, id);
    return raw ? (JSON.parse(raw) as MaintenanceWindow) : null;
  }

  /** Deletes a window; the assets it covered leave maintenance (unless another window covers them). */
  async delete(id: string): Promise<boolean> {
    const w = await this.get(id);
    if (!w) return false;
    const res = await this.scripts.run<number>(
      'maintenance_delete',
      [this.keys.maintenance, this.keys.maintenanceSummaries, this.keys.maintenanceOwned(w.owner), this.keys.maintenanceOpen],
      [id, '', '', 0],
    );
    if (res > 0) await this.indexInShards(w, 'remove', false);
    this.forget();
    if (res === 2) await this.applyWindow(w);
    return res > 0;
  }

  /** The open window covering the asset at `at`, or null. */
  async covering(asset: CoveredAsset, at = Date.now()): Promise<MaintenanceWindow | null> {
    return coveringWindow(await this.all(at), asset, at);
  }

  /**
   * Brings the maintenance state in line with the clock: deletes one-off windows that have
   * ended, marks windows that opened or closed since the last sync and moves the assets they
   * cover. Cheap when nothing changed (cached summaries and one SMEMBERS). Concurrent calls
   * share one run; several processes may sync at once (every step is idempotent).
   */
  sync(now = Date.now()): Promise<void> {
    this.syncing ??= this.syncOnce(now).finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  /**
   * sync() only when a window may have opened, closed or ended since the last one (or the cached
   * summaries expired): what readers of asset states call on every request, O(1) otherwise.
   */
  syncIfDue(now = Date.now()): Promise<void> {
    return now < this.dueAt ? Promise.resolve() : this.sync(now);
  }

  private async syncOnce(now: number): Promise<void> {
    const summaries = await this.summaries(now);
    const live: MaintenanceSummary[] = [];
    for (const w of summaries) {
      if (windowEnded(w, now)) await this.delete(w.id);
      else live.push(w);
    }
    // Windows created by other processes show up when the cached summaries are read again.
    this.dueAt = live.reduce((due, w) => Math.min(due, nextBoundary(w, now)), now + this.cacheMs);
    if (live.length === 0) return;
    const marked = new Set(await this.redis.smembers(this.keys.maintenanceOpen));
    const flips = live.filter((w) => windowOpen(w, now) !== marked.has(w.id)).flatMap((w) => [w.id, windowOpen(w, now) ? '1' : '0']);
    if (flips.length === 0) return;
    const changed = await this.scripts.run<string[]>('maintenance_mark', [this.keys.maintenance, this.keys.maintenanceOpen], flips);
    for (const id of changed) {
      const w = await this.get(id);
      if (!w) continue;
      await this.markInShards(w.id, windowOpen(w, now));
      await this.applyWindow(w);
    }
  }

  /**
   * Adds (or removes) a window's index entries in every shard: by asset id in the asset's shard,
   * by tag in each (an owner's tagged assets spread over all), with the shard's copy of its
   * open mark. One MULTI per shard, after the window itself is stored (or before it is gone).
   */
  private async indexInShards(w: MaintenanceWindow, op: 'add' | 'remove', open: boolean): Promise<void> {
    await Promise.all(
      this.keys.shardIds.map(async (n) => {
        const k = this.keys.shard(n);
        const sets = [...w.assetIds.filter((id) => shardOfId(id) === n).map((id) => k.maintenanceByAsset(id)), ...w.tags.map((t) => `${k.maintenanceByTagPrefix}${w.owner}:${t}`)];
        const tx = this.redis.multi();
        for (const set of sets) (op === 'add' ? tx.sadd(set, w.id) : tx.srem(set, w.id));
        if (op === 'remove' || !open) tx.srem(k.maintenanceOpen, w.id);
        else tx.sadd(k.maintenanceOpen, w.id);
        await tx.exec();
      }),
    );
  }

  /** Copies a window's open mark to every shard (what maintenance_apply judges assets by). */
  private async markInShards(id: string, open: boolean): Promise<void> {
    await Promise.all(this.keys.shardIds.map((n) => (open ? this.redis.sadd(this.keys.shard(n).maintenanceOpen, id) : this.redis.srem(this.keys.shard(n).maintenanceOpen, id))));
  }

  /** Re-decides the maintenance state of every asset the window names (by id or tag). */
  private async applyWindow(w: MaintenanceWindow): Promise<void> {
    const ids = new Set(w.assetIds);
    for (const tag of w.tags) {
      for (const n of this.keys.shardIds) for (const id of await this.redis.zrange(this.keys.shard(n).ownerIndex(w.owner, 'tag', tag), '0', '-1')) ids.add(id);
    }
    await applyMaintenance(this.redis, this.keys, [...ids]);
  }
}

/**
 * Re-decides the maintenance state of these assets from the open windows naming them (see
 * maintenance_apply.lua). AssetStore calls it for new and retagged assets.
 */
export async function applyMaintenance(redis: Redis, keys: Keys, assetIds: readonly string[]): Promise<number> {
  let changed = 0;
  const byShard = new Map<number, string[]>();
  for (const id of assetIds) {
    const n = shardOfId(id);
    byShard.set(n, byShard.get(n) ?? []).get(n)!.push(id);
  }
  for (const [n, ids] of byShard) {
    const k = keys.shard(n);
    for (let i = 0; i < ids.length; i += APPLY_CHUNK) {
      changed += await maintenanceScripts(redis).run<number>(
        'maintenance_apply',
        [k.maintenanceOpen],
        [k.assetPrefix, k.ownerPrefix, k.maintenanceByAssetPrefix, k.maintenanceByTagPrefix, ...ids.slice(i, i + APPLY_CHUNK)],
      );
    }
  }
  return changed;
}

/** Raised by create() callers: the window names more asset ids and tags than allowed. */
export function idsQuotaError(limit: number, value: number): WebmonError {
  return new WebmonError('WEBMON_ERR_QUOTA_EXCEEDED', `maintenance window: at most ${limit} asset ids and tags (got ${value})`, {
    quota: 'maxIdsPerWindow',
    limit,
    value,
  });
}
