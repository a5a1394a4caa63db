/**
 * What an owner publishes: status pages and badge tokens.
 *
 * A status page has a slug (unique across the install: it is a public URL), its owner, and the
 * assets it shows (ids and tags of the owner's assets). Stored as JSON in one hash with a set of
 * slugs per owner, both written by status_page_write.lua. A badge token opens one asset's badges
 * without a status page; only its SHA-256 is kept, in the asset's hash (deleted with it).
 */
import { timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { WebmonError } from '../errors.js';
import type { Keys } from '../keys.js';
import { scriptLoader } from '../scripts.js';
import { digestKey } from './clients.js';

export interface StatusPage {
  slug: string;
  owner: string;
  title: string;
  description: string;
  assetIds: string[];
  tags: string[];
  createdAt: number;
  updatedAt: number;
}

export type StatusPageChange = Partial<Pick<StatusPage, 'title' | 'description' | 'assetIds' | 'tags'>>;

const statusPageScripts = scriptLoader(new URL('../../lua/', import.meta.url), ['status_page_write', 'asset_badge_token'] as const);

function parsePage(json: string | null | undefined): StatusPage | null {
  if (!json) return null;
  try {
    return JSON.parse(json) as StatusPage;
  } catch {
    return null;
  }
}

export class StatusPageStore {
  private readonly scripts: ReturnType<typeof statusPageScripts>;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {
    this.scripts = statusPageScripts(redis);
  }

  async get(slug: string): Promise<StatusPage | null> {
    return parsePage(await this.redis.hget(this.keys.statusPages, slug));
  }

  /** One owner's pages, by slug. */
  async listOwned(owner: string): Promise<StatusPage[]> {
    const slugs = (await this.redis.smembers(this.keys.statusPagesOwned(owner))).sort();
    if (slugs.length === 0) return [];
    const pages = await this.redis.hmget(this.keys.statusPages, ...slugs);
    return pages.map(parsePage).filter((p): p is StatusPage => p !== null);
  }

  /** Every page (the admin's listing), by slug. */
  async listAll(): Promise<StatusPage[]> {
    const all = await this.redis.hgetall(this.keys.statusPages);
    return Object.keys(all)
      .sort()
      .map((slug) => parsePage(all[slug]))
      .filter((p): p is StatusPage => p !== null);
  }

  /** Throws WEBMON_ERR_STATUS_PAGE_EXISTS for a taken slug, WEBMON_ERR_QUOTA_EXCEEDED past `maxPerOwner`. */
  async create(page: Omit<StatusPage, 'createdAt' | 'updatedAt'>, maxPerOwner: number, now = Date.now()): Promise<StatusPage> {
    const stored: StatusPage = { ...page, createdAt: now, updatedAt: now };
    const [res, count] = await this.write('create', stored.slug, stored.owner, JSON.stringify(stored), maxPerOwner);
    if (res === 'exists') throw new WebmonError('WEBMON_ERR_STATUS_PAGE_EXISTS', `a status page with the slug ${page.slug} exists; choose another slug`);
    if (res === 'quota') {
      throw new WebmonError('WEBMON_ERR_QUOTA_EXCEEDED', `client ${page.owner} has ${count} status pages, the most it may have`, { limit: maxPerOwner, value: count });
    }
    return stored;
  }

  /** The page with `change` applied, or null when it no longer exists. */
  async update(page: StatusPage, change: StatusPageChange, now = Date.now()): Promise<StatusPage | null> {
    const next: StatusPage = { ...page, ...change, updatedAt: now };
    const [res] = await this.write('update', page.slug, page.owner, JSON.stringify(next), 0);
    return res === 'ok' ? next : null;
  }

  async delete(page: StatusPage): Promise<boolean> {
    const [res] = await this.write('delete', page.slug, page.owner, '', 0);
    return res === 'ok';
  }

  /** Makes `token` the asset's badge token (replacing any other); false when the asset does not exist. */
  async setBadgeToken(assetId: string, token: string): Promise<boolean> {
    return (await this.scripts.run<number>('asset_badge_token', [this.keys.asset(assetId)], [digestKey(token)])) === 1;
  }

  /** Whether `token` is the asset's badge token. */
  async badgeTokenValid(assetId: string, token: string): Promise<boolean> {
    const stored = await this.redis.hget(this.keys.asset(assetId), 'badgeDigest');
    if (stored?.length !== 64) return false;
    return timingSafeEqual(Buffer.from(stored, 'hex'), Buffer.from(digestKey(token), 'hex'));
  }

  private write(mode: 'create' | 'update' | 'delete', slug: string, owner: string, json: string, max: number): Promise<[string, number]> {
    return this.scripts.run<[string, number]>('status_page_write', [this.keys.statusPages, this.keys.statusPagesOwned(owner)], [mode, slug, json, max]);
  }
}
