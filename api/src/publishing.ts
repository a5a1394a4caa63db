/**
 * What is public without a key: status pages (the assets a page names, by id or tag) and badges
 * (assets on a status page, or with a badge token). Only the owner's own assets are shown (an
 * admin's page may show any asset the admin named). Public answers are computed from roll-ups
 * and kept a few seconds per page, so that a popular page costs Redis little.
 */
import {
  ADMIN_CLIENT_ID,
  ALL_OWNERS,
  StatsStore,
  nextBoundary,
  windowOpen,
  type AssetRecord,
  type MaintenanceWindow,
  type StatusPage,
} from '@webmon/core';
import type { ApiContext } from './context.js';
import { iso, presentAsset } from './present.js';

const DAY_MS = 86_400_000;
const UPTIME_DAYS = 90;
/** Most assets one status page shows (its ids first, then its tags' assets). */
export const MAX_PAGE_ASSETS = 200;
/** Maintenance shown on a public page: open now, or opening within this long. */
const MAINTENANCE_AHEAD_MS = 7 * DAY_MS;
const CACHE_MS = 5000;
const CACHE_MAX = 1000;

export const BADGE_WINDOWS: Record<string, number> = { '24h': DAY_MS, '7d': 7 * DAY_MS, '30d': 30 * DAY_MS, '90d': 90 * DAY_MS };

/** Host (and port) and path of a URL: no credentials, query or fragment. */
export function publicName(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return '';
  }
}

/**
 * A small cache of computed answers, each kept `ttlMs`, at most CACHE_MAX (the oldest entry goes
 * first). Misses (null) and failures are not kept: requests for pages that do not exist cannot
 * push real answers out.
 */
export class TtlCache<T> {
  private readonly entries = new Map<string, { at: number; value: Promise<T> }>();
  constructor(private readonly ttlMs: number) {}

  get(key: string, make: () => Promise<T>, now = Date.now()): Promise<T> {
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    this.entries.delete(key);
    while (this.entries.size >= CACHE_MAX) this.entries.delete(this.entries.keys().next().value!);
    const value = make();
    const entry = { at: now, value };
    this.entries.set(key, entry);
    const drop = () => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    };
    value.then((v) => (v === null ? drop() : undefined), drop);
    return value;
  }

  get size(): number {
    return this.entries.size;
  }

  delete(prefix: string): void {
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key);
  }
}

export interface WindowNumbers {
  uptimePercent: number | null;
  p95Ms: number | null;
}

/** Uptime and p95 latency (all plugins) of an asset over the `spanMs` ending now, from hourly roll-ups (daily past 14 days). */
export async function windowNumbers(stats: StatsStore, assetId: string, spanMs: number, now = Date.now()): Promise<WindowNumbers> {
  const w = await stats.window(assetId, spanMs <= 14 * DAY_MS ? 'hour' : 'day', now - spanMs, now, 1);
  return { uptimePercent: w.uptimePercent, p95Ms: w.series[0]?.p95Ms ?? null };
}

export class Publishing {
  private readonly stats: StatsStore;
  private readonly cache = new TtlCache<unknown>(CACHE_MS);

  constructor(private readonly ctx: ApiContext) {
    this.stats = new StatsStore(ctx.redis, ctx.keys);
  }

  numbers(assetId: string, spanMs: number): Promise<WindowNumbers> {
    return windowNumbers(this.stats, assetId, spanMs);
  }

  /** The assets a page shows, at most MAX_PAGE_ASSETS: those it names, then its tags' (newest first). */
  async pageAssets(page: StatusPage): Promise<AssetRecord[]> {
    const admin = page.owner === ADMIN_CLIENT_ID;
    const ids = new Set(page.assetIds.slice(0, MAX_PAGE_ASSETS));
    const scope = admin ? ALL_OWNERS : page.owner;
    for (const tag of page.tags) {
      if (ids.size >= MAX_PAGE_ASSETS) break;
      const room = MAX_PAGE_ASSETS - ids.size;
      const keys = this.ctx.keys;
      const perShard = await Promise.all(keys.shardIds.map((n) => this.ctx.redis.zrevrange(keys.shard(n).ownerIndex(scope, 'tag', tag), 0, room - 1, 'WITHSCORES')));
      const tagged: Array<[string, number]> = [];
      for (const flat of perShard) for (let i = 0; i < flat.length; i += 2) tagged.push([flat[i]!, Number(flat[i + 1])]);
      // Newest first across shards: scores are the global creation sequence.
      tagged.sort((a, b) => b[1] - a[1]);
      for (const [id] of tagged.slice(0, room)) ids.add(id);
    }
    const records = await this.ctx.assets.getMany([...ids]);
    return records.filter((r): r is AssetRecord => r !== null && (admin || r.owner === page.owner));
  }

  /** The public answer of a page (cached a few seconds); null for no such page. */
  publicStatus(slug: string) {
    return this.cache.get(`status:${slug}`, () => this.computeStatus(slug)) as ReturnType<Publishing['computeStatus']>;
  }

  /** Forgets what was cached for a page (after a change to it). */
  forget(slug: string): void {
    this.cache.delete(`status:${slug}`);
    this.cache.delete(`badge:${slug}/`);
  }

  /** Cached answers of badges: `key` names the badge and its window. */
  cached<T>(key: string, make: () => Promise<T>): Promise<T> {
    return this.cache.get(`badge:${key}`, make) as Promise<T>;
  }

  /** Whether a status page shows the asset (pages of its owner, and the admin's). */
  async onPublicPage(asset: AssetRecord): Promise<boolean> {
    const owners = asset.owner === ADMIN_CLIENT_ID ? [ADMIN_CLIENT_ID] : [asset.owner, ADMIN_CLIENT_ID];
    for (const owner of owners) {
      for (const page of await this.ctx.statusPages.listOwned(owner)) {
        if (page.assetIds.includes(asset.id)) return true;
        if (page.tags.some((t) => asset.tags.includes(t)) && (owner === ADMIN_CLIENT_ID || asset.owner === owner)) return true;
      }
    }
    return false;
  }

  private async computeStatus(slug: string) {
    const page = await this.ctx.statusPages.get(slug);
    if (!page) return null;
    const now = Date.now();
    const [records, windows] = await Promise.all([this.pageAssets(page), this.ctx.maintenance.all(now)]);
    const assets = [];
    for (const r of records) assets.push(await this.publicAsset(r, windows, now));
    return {
      title: page.title,
      description: page.description,
      updatedAt: iso(now)!,
      assets,
      maintenance: publicMaintenance(windows, records, now),
    };
  }

  private async publicAsset(r: AssetRecord, windows: readonly MaintenanceWindow[], now: number) {
    const firstDay = Math.floor(now / DAY_MS) * DAY_MS - (UPTIME_DAYS - 1) * DAY_MS;
    const w = await this.stats.window(r.id, 'day', firstDay, now, UPTIME_DAYS);
    return {
      id: r.id,
      name: publicName(r.url),
      state: presentAsset(r, this.ctx.registry, windows).state,
      uptimeDays: w.series.map((p) => ({ day: new Date(p.t).toISOString().slice(0, 10), uptimePercent: p.uptimePercent, checks: p.checks })),
      uptime90dPercent: w.uptimePercent,
    };
  }
}

/** Windows covering any of the assets, open now or opening soon, with their current or next occurrence. */
function publicMaintenance(windows: readonly MaintenanceWindow[], assets: readonly AssetRecord[], now: number) {
  const out: Array<{ title: string; from: string; to: string }> = [];
  for (const w of windows) {
    const covers = assets.some((a) => a.owner === w.owner && (w.assetIds.includes(a.id) || w.tags.some((t) => a.tags.includes(t))));
    if (!covers) continue;
    const span = occurrence(w, now);
    if (span && span.from - now <= MAINTENANCE_AHEAD_MS) out.push({ title: w.reason, from: iso(span.from)!, to: iso(span.to)! });
  }
  return out.sort((a, b) => a.from.localeCompare(b.from));
}

/** The window's current occurrence, else its next one; null when it never opens again. */
function occurrence(w: MaintenanceWindow, now: number): { from: number; to: number } | null {
  if (!w.recurring) return w.start !== undefined && w.end !== undefined && w.end > now ? { from: w.start, to: w.end } : null;
  const duration = w.recurring.durationMinutes * 60_000;
  const edge = nextBoundary(w, now);
  if (!Number.isFinite(edge)) return null;
  return windowOpen(w, now) ? { from: edge - duration, to: edge } : { from: edge, to: edge + duration };
}
