/**
 * Assets in Redis: a hash per asset, a per-owner URL hash for de-duplication and sorted-set
 * indexes (all / state / plugin / tag, per owner and fleet-wide) that listings intersect.
 * Every multi-key change is one Lua script; updates and deletes are guarded by a revision.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { WebmonError } from '../errors.js';
import { pipelineBy } from '../redis.js';
import { ALL_OWNERS, byShard, markShard, shardFor, shardOfId, type IndexKind, type Keys, type ShardKeys } from '../keys.js';
import type { Scripts } from '../scripts.js';
import type { AssetState, CheckOutcome } from '../types.js';
import type { NormalizedUrl } from '../url.js';
import { applyMaintenance } from './maintenance.js';

export type PluginConfigs = Record<string, Record<string, unknown>>;

export interface AssetRecord {
  id: string;
  seq: number;
  rev: number;
  owner: string;
  url: string;
  scheme: string;
  host: string;
  plugins: string[];
  config: PluginConfigs;
  interval: number;
  tags: string[];
  paused: boolean;
  state: AssetState;
  stateReason: string | null;
  stateChangedAt: number | null;
  createdAt: number;
  updatedAt: number;
  checks: number;
  okCount: number;
  failCount: number;
  lastCheckAt: number | null;
  lastDurationMs: number | null;
  lastOutcome: CheckOutcome | null;
  lastReason: string | null;
  lastJobId: string | null;
  /** The open maintenance window covering the asset (its state reads `maintenance`), or null. */
  maintenance: string | null;
}

export interface NewAsset {
  owner: string;
  url: NormalizedUrl;
  plugins: string[];
  config: PluginConfigs;
  interval: number;
  tags: string[];
  paused?: boolean;
  /** Initial state when not 'unknown' (e.g. 'unsupported' when no plugin handles the URL). */
  state?: AssetState;
  stateReason?: string | null;
  /**
   * Marks an asset made for a moment (a probe's), to be deleted by its maker with
   * deleteTemporary(id, mark). Creating the same URL for the same owner without a mark (a
   * client's own create) adopts such an asset: the mark goes, and nothing deletes it any more.
   */
  temporaryMark?: string;
}

export interface AssetChange {
  url?: NormalizedUrl;
  plugins?: string[];
  config?: PluginConfigs;
  interval?: number;
  tags?: string[];
  paused?: boolean;
  /** A state forced by the change itself (plugins removed → unsupported, …). */
  state?: { state: AssetState; reason: string };
}

export interface ListFilter {
  /** Owner whose assets to list; ALL_OWNERS for the whole fleet. */
  owner: string;
  state?: AssetState | undefined;
  plugin?: string | undefined;
  tag?: string | undefined;
  /** Case-insensitive substring of the URL. */
  q?: string | undefined;
  /** Sequence after which to continue (0 or undefined to start). */
  cursor?: number | undefined;
  limit: number;
}

export interface ListPage {
  ids: string[];
  /** Where to continue, or null when the listing is complete. */
  next: number | null;
}

/** Candidates one asset_list call scans (bounds how long one call blocks Redis). */
const LIST_SCAN_BUDGET = 5_000;
/** Candidates one list() call scans in all; past it, a page may be short and carry a cursor. */
const LIST_SCAN_PER_PAGE = 50_000;
/** Leading characters of a URL the trigram search index covers; longer URLs are also in searchLong. */
export const SEARCH_INDEXED_CHARS = 256;
/** Most trigram indexes one search intersects (the URL itself is compared anyway). */
const SEARCH_MAX_TRIGRAMS = 16;
const MAX_RETRIES = 5;

export function newId(bytes = 9): string {
  return randomBytes(bytes).toString('base64url');
}

export class AssetStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly scripts: Scripts,
  ) {}

  /**
   * Index keys an asset with these properties belongs to, for its owner and the fleet. `state`
   * is the effective state: `maintenance` while a window covers the asset (see maintenance.ts).
   */
  private indexKeys(k: ShardKeys, owner: string, state: string, plugins: readonly string[], tags: readonly string[], url: string): string[] {
    const out: string[] = [];
    for (const o of [owner, ALL_OWNERS]) {
      out.push(k.ownerAssets(o), k.ownerIndex(o, 'state', state));
      for (const p of plugins) out.push(k.ownerIndex(o, 'plugin', p));
      for (const t of tags) out.push(k.ownerIndex(o, 'tag', t));
    }
    out.push(...searchKeys(k, url));
    return out;
  }

  /** The owner URL hash holding `url`'s entry: in the shard the owner and URL hash to. */
  private urlsKey(owner: string, url: string): string {
    return this.keys.shard(shardFor(owner, url, this.keys.layout)).ownerUrls(owner);
  }

  /** Assets of `owner` in every shard but `except` (quota checks; 0 with a single shard). */
  private async countElsewhere(owner: string, except: number): Promise<number> {
    const others = this.keys.shardIds.filter((n) => n !== except);
    const counts = await Promise.all(others.map((n) => this.redis.zcard(this.keys.shard(n).ownerAssets(owner))));
    return counts.reduce((a, b) => a + b, 0);
  }

  /**
   * Creates an asset; when the owner already has this URL, returns the existing one's id.
   * With `maxAssets`, an owner that already has that many gets WEBMON_ERR_QUOTA_EXCEEDED
   * (checked in the same script as the create: concurrent creates cannot overshoot).
   */
  async create(a: NewAsset, now = Date.now(), opts: { maxAssets?: number | undefined } = {}): Promise<{ id: string; created: boolean }> {
    const shard = shardFor(a.owner, a.url.url, this.keys.layout);
    const k = this.keys.shard(shard);
    const id = markShard(newId(), shard, this.keys.layout);
    const state: AssetState = a.paused ? 'paused' : (a.state ?? 'unknown');
    const fields: (string | number)[] = [
      'id', id,
      'owner', a.owner,
      'url', a.url.url,
      'scheme', a.url.scheme,
      'host', a.url.host,
      'plugins', JSON.stringify(a.plugins),
      'config', JSON.stringify(a.config),
      'interval', a.interval,
      'tags', JSON.stringify(a.tags),
      'paused', a.paused ? 1 : 0,
      'state', state,
      'stateReason', a.stateReason ?? '',
      'createdAt', now,
      'updatedAt', now,
      'checks', 0,
      'okCount', 0,
      'failCount', 0,
      ...(a.temporaryMark ? ['temporaryMark', a.temporaryMark] : []),
    ];
    const keys = [k.ownerUrls(a.owner), k.asset(id), k.schedule, ...this.indexKeys(k, a.owner, state, a.plugins, a.tags, a.url.url)];
    const due = scheduled(state) ? firstDue(now, a.interval) : '';
    // With several shards the quota is checked against the other shards' counts read just
    // before: concurrent creates in different shards may overshoot it by their number.
    const elsewhere = opts.maxAssets === undefined ? 0 : await this.countElsewhere(a.owner, shard);
    const room = opts.maxAssets === undefined ? '' : Math.max(0, opts.maxAssets - elsewhere);
    const seq = await this.redis.incr(this.keys.assetSeq);
    const res = await this.scripts.run<[number, string | number, number?]>('asset_create', keys, [a.url.url, id, due, room, seq, ...fields]);
    if (res[0] === -1) {
      const value = Number(res[1]) + elsewhere;
      throw new WebmonError('WEBMON_ERR_QUOTA_EXCEEDED', `client ${a.owner} has ${value} assets, the most it may have`, { limit: opts.maxAssets, value });
    }
    if (res[0] === 1) await applyMaintenance(this.redis, this.keys, [id]);
    // An existing asset created for a moment is adopted by a create that is not itself one.
    else if (!a.temporaryMark) await this.redis.hdel(this.keys.asset(String(res[1])), 'temporaryMark');
    return { id: String(res[1]), created: res[0] === 1 };
  }

  /**
   * Deletes an asset made with `temporaryMark` if it still carries that mark (nobody adopted it
   * meanwhile); returns whether it did.
   */
  async deleteTemporary(id: string, mark: string): Promise<boolean> {
    if ((await this.redis.hget(this.keys.asset(id), 'temporaryMark')) !== mark) return false;
    await this.delete(id);
    return true;
  }

  async get(id: string): Promise<AssetRecord | null> {
    const h = await this.redis.hgetall(this.keys.asset(id));
    return parseAsset(h);
  }

  /**
   * Several assets in one round trip. With `fields` (names of AssetRecord fields), only those
   * hash fields (and `id`) are read: the others hold their empty values in the records.
   */
  async getMany(ids: readonly string[], fields?: readonly (keyof AssetRecord)[]): Promise<(AssetRecord | null)[]> {
    if (ids.length === 0) return [];
    const names = fields ? [...new Set(['id', ...fields])] : null;
    const rows = await pipelineBy(this.redis, ids, shardOfId, (pipe, id) => {
      if (names) pipe.hmget(this.keys.asset(id), ...names);
      else pipe.hgetall(this.keys.asset(id));
    });
    return rows.map(([h]) => {
      if (!names) return parseAsset(h as Record<string, string>);
      const values = h as (string | null)[];
      return parseAsset(Object.fromEntries(names.flatMap((n, i) => (values[i] === null ? [] : [[n, values[i]!]]))));
    });
  }

  /**
   * Owner of each asset id (null when missing): one asset_owners call per shard. An id marked
   * with a shard this deployment does not have names no asset, and costs no call (a client's
   * list of ids cannot make one call per id).
   */
  async owners(ids: readonly string[]): Promise<(string | null)[]> {
    const out: (string | null)[] = new Array(ids.length).fill(null);
    await Promise.all(
      [...byShard(ids, (id) => id)].map(async ([shard, at]) => {
        if (shard >= this.keys.layout.shards) return;
        const owners = await this.scripts.run<(string | null)[]>('asset_owners', at.map((i) => this.keys.asset(ids[i]!)), []);
        at.forEach((i, n) => {
          out[i] = owners[n] ?? null;
        });
      }),
    );
    return out;
  }

  /**
   * Applies a change computed from the current record. `compute` may run more than once: it is
   * re-run on a fresh read when another writer got in between.
   */
  async update(id: string, compute: (current: AssetRecord) => AssetChange, now = Date.now()): Promise<AssetRecord | null> {
    for (let attempt = 0; attempt < MAX_RETRIES; attempt++) {
      const cur = await this.get(id);
      if (!cur) return null;
      const change = compute(cur);
      const next = {
        plugins: change.plugins ?? cur.plugins,
        tags: change.tags ?? cur.tags,
        paused: change.paused ?? cur.paused,
      };
      let state = change.state?.state ?? cur.state;
      let reason = change.state?.reason ?? '';
      if (next.paused && !cur.paused) [state, reason] = ['paused', 'paused'];
      if (!next.paused && cur.paused) [state, reason] = [change.state?.state ?? (next.plugins.length ? 'unknown' : 'unsupported'), 'resumed'];
      const k = this.keys.shardOf(id);
      const before = new Set(this.indexKeys(k, cur.owner, effectiveState(cur.state, cur), cur.plugins, cur.tags, cur.url));
      const after = new Set(this.indexKeys(k, cur.owner, effectiveState(state, cur), next.plugins, next.tags, change.url?.url ?? cur.url));
      const leave = [...before].filter((k) => !after.has(k));
      const join = [...after].filter((k) => !before.has(k));
      const fields: (string | number)[] = ['updatedAt', now];
      if (change.url) fields.push('url', change.url.url, 'scheme', change.url.scheme, 'host', change.url.host);
      if (change.plugins) fields.push('plugins', JSON.stringify(change.plugins));
      if (change.config) fields.push('config', JSON.stringify(change.config));
      if (change.interval !== undefined) fields.push('interval', change.interval);
      if (change.tags) fields.push('tags', JSON.stringify(change.tags));
      if (change.paused !== undefined) fields.push('paused', change.paused ? 1 : 0);
      if (state !== cur.state) fields.push('state', state, 'stateChangedAt', now, 'stateReason', reason, 'failStreak', 0, 'okStreak', 0);
      const newUrl = change.url?.url ?? cur.url;
      const interval = change.interval ?? cur.interval;
      let schedule: string | number = '';
      if (!scheduled(state)) schedule = scheduled(cur.state) ? '-' : '';
      else if (!scheduled(cur.state) || change.interval !== undefined) schedule = firstDue(now, interval);
      const here = k.ownerUrls(cur.owner);
      const [oldKey, newKey] = [this.urlsKey(cur.owner, cur.url), this.urlsKey(cur.owner, newUrl)];
      const claimed = newUrl !== cur.url && newKey !== here ? await this.claimUrl(newKey, newUrl, id) : false;
      const res = await this.scripts.run<[number, (number | string)?]>(
        'asset_update',
        [this.keys.asset(id), here, k.schedule, this.keys.assetPluginKeys(id), ...leave, ...join],
        [cur.rev, cur.url, newUrl, leave.length, schedule, `${oldKey === here ? 1 : 0}${newKey === here ? 1 : 0}`, ...fields],
      );
      if (res[0] !== 1 && claimed) await this.releaseUrl(newKey, newUrl, id);
      if (res[0] === 1) {
        if (newUrl !== cur.url && oldKey !== here) await this.releaseUrl(oldKey, cur.url, id);
        if (change.tags) await applyMaintenance(this.redis, this.keys, [id]);
        return this.get(id);
      }
      if (res[0] === 0) return null;
      if (res[0] === -2) throw new WebmonError('WEBMON_ERR_ASSET_EXISTS', `asset ${String(res[1])} already watches ${newUrl}`, { assetId: res[1] });
    }
    throw new WebmonError('WEBMON_ERR_CONFLICT', `asset ${id} kept changing; retry`);
  }

  /**
   * Takes `url`'s entry in an owner URL hash of another shard than the asset's, for a URL
   * change; true when taken now (false: the asset already held it). Another asset holding it
   * is WEBMON_ERR_ASSET_EXISTS.
   */
  private async claimUrl(key: string, url: string, id: string): Promise<boolean> {
    if ((await this.redis.hsetnx(key, url, id)) === 1) return true;
    const other = await this.redis.hget(key, url);
    if (other === id) return false;
    throw new WebmonError('WEBMON_ERR_ASSET_EXISTS', `asset ${other} already watches ${url}`, { assetId: other });
  }

  /** Drops `url`'s entry from an owner URL hash of another shard, while it still names `id`. */
  private async releaseUrl(key: string, url: string, id: string): Promise<void> {
    if ((await this.redis.hget(key, url)) === id) await this.redis.hdel(key, url);
  }

  async delete(id: string): Promise<boolean> {
    for (let attempt = 0; attempt < MAX_RETRIES; attempt++) {
      const cur = await this.get(id);
      if (!cur) return false;
      const k = this.keys.shardOf(id);
      const res = await this.scripts.run<number>(
        'asset_delete',
        [
          this.keys.asset(id),
          k.ownerUrls(cur.owner),
          this.keys.assetLatest(id),
          this.keys.assetHistory(id),
          this.keys.assetPluginKeys(id),
          k.schedule,
          this.keys.assetRollup(id, 'minute'),
          this.keys.assetRollup(id, 'hour'),
          this.keys.assetRollup(id, 'day'),
          this.keys.assetEvents(id),
          ...this.indexKeys(k, cur.owner, effectiveState(cur.state, cur), cur.plugins, cur.tags, cur.url),
        ],
        [cur.rev, cur.url],
      );
      if (res === 1) {
        const urls = this.urlsKey(cur.owner, cur.url);
        if (urls !== k.ownerUrls(cur.owner)) await this.releaseUrl(urls, cur.url, id);
        await this.redis.del(this.keys.maintenanceByAsset(id), this.keys.assetHistoryLegacy(id), ...(['minute', 'hour', 'day'] as const).map((r) => this.keys.assetRollupLegacy(id, r)));
        return true;
      }
      if (res === 0) return false;
    }
    throw new WebmonError('WEBMON_ERR_CONFLICT', `asset ${id} kept changing; retry`);
  }

  /**
   * One page of asset ids matching the filter, in creation order. A page may hold fewer than
   * `limit` ids while `next` is set: the candidates scanned per call are bounded.
   *
   * `q` (a case-insensitive substring of the URL) is answered from the trigram index once it
   * covers every asset (ensureSearchIndex); before that, and for `q` shorter than 3
   * characters, by comparing the URLs of the filter's candidates.
   */
  async list(f: ListFilter): Promise<ListPage> {
    const needle = (f.q ?? '').toLowerCase();
    const indexed = needle.length >= 3 && (await this.searchIndexed());
    const shards = this.keys.shardIds;
    const ids: string[] = [];
    let cursor = f.cursor ?? 0;
    // A scan budget bounds each script call; keep calling until the page is full, the listing
    // is done, or this page has scanned its share.
    for (let scanned = 0; ; scanned += LIST_SCAN_BUDGET) {
      const want = f.limit - ids.length;
      const pages = await Promise.all(shards.map((n) => this.listShard(this.keys.shard(n), f, needle, indexed, cursor, want)));
      const { rows, horizon } = mergeShardPages(pages);
      const take = rows.slice(0, want);
      ids.push(...take.map((r) => r.id));
      if (take.length === want && take.length > 0) {
        const more = rows.length > take.length || horizon !== Number.POSITIVE_INFINITY;
        return { ids, next: more ? take[take.length - 1]!.seq : null };
      }
      if (horizon === Number.POSITIVE_INFINITY) return { ids, next: null };
      cursor = horizon;
      if (scanned + LIST_SCAN_BUDGET >= LIST_SCAN_PER_PAGE) return { ids, next: cursor };
    }
  }

  /** One asset_list call on one shard: `[next, id, seq, …]`. */
  private listShard(k: ShardKeys, f: ListFilter, needle: string, indexed: boolean, cursor: number, limit: number): Promise<string[]> {
    const filters = [k.ownerAssets(f.owner)];
    const add = (kind: IndexKind, v: string | undefined) => {
      if (v !== undefined) filters.push(k.ownerIndex(f.owner, kind, v));
    };
    add('state', f.state);
    add('plugin', f.plugin);
    add('tag', f.tag);
    const search = indexed ? searchPlan(k, needle) : { keys: [], long: false };
    const keys = [...filters, ...search.keys, ...(search.long ? [k.searchLong] : [])];
    return this.scripts.run<string[]>('asset_list', keys, [
      cursor, limit, needle, LIST_SCAN_BUDGET, k.assetPrefix, filters.length, search.keys.length, search.long ? 1 : 0, 1,
    ]);
  }

  private indexing: Promise<void> | null = null;
  private indexed = false;

  /** Whether the search index covers every asset; starts building it (once per store) when not. */
  private async searchIndexed(): Promise<boolean> {
    if (this.indexed) return true;
    const ready = await Promise.all(this.keys.shardIds.map((n) => this.redis.exists(this.keys.shard(n).searchReady)));
    if (ready.every((r) => r === 1)) {
      this.indexed = true;
      return true;
    }
    this.indexing ??= this.ensureSearchIndex().catch(() => {
      this.indexing = null; // retried by the next search
    });
    return false;
  }

  /**
   * Adds every existing asset to the search index (assets created or changed since the index
   * exists are added by their own scripts), then marks it complete. Idempotent; safe while
   * assets change: an entry added for an asset deleted or moved to another URL meanwhile is
   * taken back.
   */
  async ensureSearchIndex(chunk = 1000): Promise<void> {
    for (const n of this.keys.shardIds) await this.indexShard(this.keys.shard(n), chunk);
    this.indexed = true;
  }

  private async indexShard(k: ShardKeys, chunk: number): Promise<void> {
    if ((await this.redis.exists(k.searchReady)) === 1) return;
    const all = k.ownerAssets(ALL_OWNERS);
    for (let after = '-inf'; ; ) {
      const rows = await this.redis.zrangebyscore(all, after, '+inf', 'WITHSCORES', 'LIMIT', 0, chunk);
      if (rows.length === 0) break;
      const batch: Array<{ id: string; seq: string }> = [];
      for (let i = 0; i < rows.length; i += 2) batch.push({ id: rows[i]!, seq: rows[i + 1]! });
      const urls = await this.urlsOf(batch.map((b) => b.id));
      const add = this.redis.pipeline();
      batch.forEach((b, i) => {
        for (const key of urls[i] === null ? [] : searchKeys(k, urls[i]!)) add.zadd(key, b.seq, b.id);
      });
      await add.exec();
      const now = await this.urlsOf(batch.map((b) => b.id));
      const undo = this.redis.pipeline();
      batch.forEach((b, i) => {
        if (urls[i] === null || now[i] === urls[i]) return;
        const keep = new Set(now[i] === null ? [] : searchKeys(k, now[i]!));
        for (const key of searchKeys(k, urls[i]!)) if (!keep.has(key)) undo.zrem(key, b.id);
      });
      await undo.exec();
      after = `(${batch[batch.length - 1]!.seq}`;
    }
    await this.redis.set(k.searchReady, '1');
  }

  private async urlsOf(ids: readonly string[]): Promise<(string | null)[]> {
    const rows = await pipelineBy(this.redis, ids, shardOfId, (pipe, id) => pipe.hget(this.keys.asset(id), 'url'));
    return rows.map(([v]) => (v as string | null) ?? null);
  }

  /** Latest result per plugin, parsed. */
  async latest(id: string): Promise<Record<string, unknown>> {
    const h = await this.redis.hgetall(this.keys.assetLatest(id));
    const out: Record<string, unknown> = {};
    for (const [plugin, json] of Object.entries(h)) out[plugin] = safeJson(json);
    return out;
  }
}

/** The trigram indexes to intersect for a lowercased needle of 3 or more characters. */
function searchPlan(k: ShardKeys, needle: string): { keys: string[]; long: boolean } {
  const all = urlTrigrams(needle);
  if (all.length === 0) return { keys: [], long: false };
  // Spread the chosen trigrams over the needle: its ends are as selective as its middle.
  const step = Math.max(1, all.length / SEARCH_MAX_TRIGRAMS);
  const chosen = new Set<string>();
  for (let i = 0; i < all.length && chosen.size < SEARCH_MAX_TRIGRAMS; i += step) chosen.add(all[Math.floor(i)]!);
  chosen.add(all[all.length - 1]!);
  return { keys: [...chosen].map((t) => k.searchTrigram(t)), long: true };
}


/** The search indexes an asset with this URL is in: its trigrams, and searchLong when the URL is longer than they cover. */
function searchKeys(k: ShardKeys, url: string): string[] {
  const keys = urlTrigrams(url.slice(0, SEARCH_INDEXED_CHARS)).map((t) => k.searchTrigram(t));
  if (url.length > SEARCH_INDEXED_CHARS) keys.push(k.searchLong);
  return keys;
}

/**
 * The rows of one listing round over every shard, in sequence order, and up to where they are
 * complete: a shard that stopped early (page full or scan budget) has only scanned up to its
 * cursor, so rows past the lowest such cursor may be missing another shard's assets and are
 * left for the next round. `horizon` is +Infinity when every shard finished.
 */
function mergeShardPages(pages: string[][]): { rows: Array<{ id: string; seq: number }>; horizon: number } {
  let horizon = Number.POSITIVE_INFINITY;
  const rows: Array<{ id: string; seq: number }> = [];
  for (const [next, ...flat] of pages) {
    if (next) horizon = Math.min(horizon, Number(next));
    for (let i = 0; i < flat.length; i += 2) rows.push({ id: flat[i]!, seq: Number(flat[i + 1]) });
  }
  rows.sort((a, b) => a.seq - b.seq);
  return { rows: rows.filter((r) => r.seq <= horizon), horizon };
}

/**
 * Trigrams in nearly every URL: indexing them would cost memory in every asset and narrow no
 * search. Left out of the index and of searches alike (the URL is compared anyway).
 */
const STOP_TRIGRAMS = new Set(['https://', 'http://', 'www.'].flatMap((s) => [...s.slice(2)].map((_, i) => s.slice(i, i + 3))));

/**
 * Distinct trigrams of a text, lowercased, but STOP_TRIGRAMS, each as the hex of its UTF-8
 * bytes (a key-safe name: URLs may hold `{`, which Redis Cluster reads as a hash tag).
 */
export function urlTrigrams(text: string): string[] {
  const lower = text.toLowerCase();
  const out = new Set<string>();
  for (let i = 0; i + 3 <= lower.length; i++) {
    const gram = lower.slice(i, i + 3);
    if (!STOP_TRIGRAMS.has(gram)) out.add(Buffer.from(gram).toString('hex'));
  }
  return [...out];
}

/** The state an asset's index entry shows: `maintenance` while a window covers it. */
function effectiveState(state: AssetState, a: { maintenance: string | null }): AssetState {
  return a.maintenance ? 'maintenance' : state;
}

/** Paused and unsupported assets are not checked on a schedule. */
function scheduled(state: AssetState): boolean {
  return state !== 'paused' && state !== 'unsupported';
}

/**
 * First due time of a newly scheduled asset: soon (new monitors should show a result quickly),
 * spread over up to a minute so that a large batch does not fire at once.
 */
function firstDue(now: number, intervalSec: number): number {
  return now + Math.floor(Math.random() * Math.min(intervalSec, 60) * 1000);
}

export function parseAsset(h: Record<string, string> | null | undefined): AssetRecord | null {
  if (!h?.id) return null;
  const num = (v: string | undefined) => (v === undefined || v === '' ? null : Number(v));
  return {
    id: h.id,
    seq: Number(h.seq),
    rev: Number(h.rev),
    owner: h.owner ?? '',
    url: h.url ?? '',
    scheme: h.scheme ?? '',
    host: h.host ?? '',
    plugins: (safeJson(h.plugins) as string[] | null) ?? [],
    config: (safeJson(h.config) as PluginConfigs | null) ?? {},
    interval: Number(h.interval),
    tags: (safeJson(h.tags) as string[] | null) ?? [],
    paused: h.paused === '1',
    state: (h.state as AssetState | undefined) ?? 'unknown',
    stateReason: h.stateReason || null,
    stateChangedAt: num(h.stateChangedAt),
    createdAt: Number(h.createdAt),
    updatedAt: Number(h.updatedAt),
    checks: Number(h.checks ?? 0),
    okCount: Number(h.okCount ?? 0),
    failCount: Number(h.failCount ?? 0),
    lastCheckAt: num(h.lastCheckAt),
    lastDurationMs: num(h.lastDurationMs),
    lastOutcome: (h.lastOutcome as CheckOutcome | undefined) ?? null,
    lastReason: h.lastReason || null,
    lastJobId: h.lastJobId ?? null,
    maintenance: h.maintenance || null,
  };
}

export function safeJson(text: string | undefined | null): unknown {
  if (text === undefined || text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
