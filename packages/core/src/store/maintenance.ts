/**
 * Maintenance windows: while one covers an asset, checks still run and states still change,
 * but nobody is notified, and the API shows the asset as `maintenance`. A window covers assets
 * by id and/or by tag, of its owner only, and is one-off (start–end) or recurring (days of the
 * week, a start time and a duration, in UTC).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.js';

export interface RecurringSpec {
  /** Days of the week, 0 = Sunday … 6 = Saturday (UTC). */
  days: number[];
  /** Start time of day, "HH:MM" (UTC). */
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
  createdAt: number;
}

export interface CoveredAsset {
  id: string;
  owner: string;
  tags: readonly string[];
}

const DAY = 86_400_000;

/** Whether the window is open at `at` (ignoring which assets it covers). */
export function windowOpen(w: MaintenanceWindow, at: number): boolean {
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

/** The first open window that covers the asset, or null. */
export function coveringWindow(windows: readonly MaintenanceWindow[], asset: CoveredAsset, at: number): MaintenanceWindow | null {
  for (const w of windows) {
    if (w.owner !== asset.owner) continue;
    if (!w.assetIds.includes(asset.id) && !w.tags.some((t) => asset.tags.includes(t))) continue;
    if (windowOpen(w, at)) return w;
  }
  return null;
}

export class MaintenanceStore {
  private cache: { at: number; windows: MaintenanceWindow[] } | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    /** How long all() may serve a cached copy, ms (0: always read). */
    private readonly cacheMs = 5000,
  ) {}

  async create(w: Omit<MaintenanceWindow, 'id' | 'createdAt'>, now = Date.now()): Promise<MaintenanceWindow> {
    const window: MaintenanceWindow = { ...w, id: randomBytes(6).toString('base64url'), createdAt: now };
    await this.redis.hset(this.keys.maintenance, window.id, JSON.stringify(window));
    this.cache = null;
    return window;
  }

  /** Every window (cached for cacheMs: hot paths read this once per few seconds). */
  async all(now = Date.now()): Promise<MaintenanceWindow[]> {
    if (this.cache && now - this.cache.at < this.cacheMs) return this.cache.windows;
    const raw = await this.redis.hvals(this.keys.maintenance);
    const windows = raw.flatMap((j) => {
      try {
        return [JSON.parse(j) as MaintenanceWindow];
      } catch {
        return [];
      }
    });
    this.cache = { at: now, windows };
    return windows;
  }

  async list(owner: string | '*'): Promise<MaintenanceWindow[]> {
    this.cache = null;
    const all = await this.all();
    return all.filter((w) => owner === '*' || w.owner === owner).sort((a, b) => a.createdAt - b.createdAt);
  }

  async get(id: string): Promise<MaintenanceWindow | null> {
    const raw = await this.redis.hget(this.keys.maintenance, id);
    return raw ? (JSON.parse(raw) as MaintenanceWindow) : null;
  }

  async delete(id: string): Promise<boolean> {
    this.cache = null;
    return (await this.redis.hdel(this.keys.maintenance, id)) === 1;
  }

  /** The open window covering the asset at `at`, or null. */
  async covering(asset: CoveredAsset, at = Date.now()): Promise<MaintenanceWindow | null> {
    return coveringWindow(await this.all(at), asset, at);
  }
}
