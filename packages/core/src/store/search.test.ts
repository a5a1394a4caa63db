/** Asset search (`q`): the trigram index, its upkeep on create/update/delete, long URLs, tenants and the build of the index over older assets. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedis, type TestRedis } from '../../../../test/helpers/redis.js';
import { ALL_OWNERS } from '../keys.js';
import { normalizeUrl } from '../url.js';
import { AssetStore, SEARCH_INDEXED_CHARS, urlTrigrams, type ListFilter, type NewAsset } from './assets.js';

let t: TestRedis;
let store: AssetStore;

beforeAll(async () => {
  t = await testRedis('search');
  store = new AssetStore(t.redis, t.keys, t.scripts);
  await store.ensureSearchIndex();
});
afterAll(() => t.cleanup());

const asset = (owner: string, url: string, extra: Partial<NewAsset> = {}): NewAsset => ({
  owner,
  url: normalizeUrl(url),
  plugins: ['http'],
  config: {},
  interval: 60,
  tags: [],
  ...extra,
});

/** Every id of a listing, page by page (bounded). */
async function all(f: Omit<ListFilter, 'limit' | 'cursor'>, limit = 100): Promise<string[]> {
  const ids: string[] = [];
  let cursor: number | undefined;
  for (let pages = 0; pages < 200; pages++) {
    const page = await store.list({ ...f, cursor, limit });
    ids.push(...page.ids);
    if (page.next === null) return ids;
    cursor = page.next;
  }
  throw new Error('listing did not end');
}

/** Ids of the assets whose URL contains `needle` (case-insensitive), in creation order: what a search must return. */
async function expected(owner: string, needle: string): Promise<string[]> {
  const ids = await t.redis.zrange(t.keys.ownerAssets(owner), '0', '-1');
  const records = await store.getMany(ids);
  return records.filter((r) => r?.url.toLowerCase().includes(needle.toLowerCase())).map((r) => r!.id);
}

async function searchKeysHolding(id: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await t.redis.scan(cursor, 'MATCH', `${t.prefix}:search:*`, 'COUNT', 1000);
    for (const k of keys) if ((await t.redis.type(k)) === 'zset' && (await t.redis.zscore(k, id)) !== null) found.push(k);
    cursor = next;
  } while (cursor !== '0');
  return found.sort();
}

describe('asset search', () => {
  it('finds assets by any part of the URL, case-insensitively, in creation order', async () => {
    const owner = 'shop';
    for (let i = 0; i < 40; i++) {
      await store.create(asset(owner, `https://www.shop${i % 4}.example.com/catalog/item-${i}?ref=Newsletter${i % 3}`));
    }
    await store.create(asset(owner, 'tcp://db.internal:5432'));
    for (const needle of ['shop2', 'EXAMPLE.COM', 'item-1', 'tem-3', 'ref=newsletter2', '/catalog/', 'db.internal:5432', 'tcp://', 'https://www.shop3', 'HTTPS://WWW', 'nothing-like-this']) {
      const want = await expected(owner, needle);
      expect(await all({ owner, q: needle }, 7), needle).toEqual(want);
      expect(await all({ owner: ALL_OWNERS, q: needle }, 7), needle).toEqual(want); // no other owner has such URLs
    }
    expect((await all({ owner, q: 'item-1' })).length).toBe(11); // item-1, item-10 … item-19
    // Filters still apply to a search.
    const tagged = await store.create(asset(owner, 'https://www.shop1.example.com/tagged', { tags: ['vip'] }));
    expect(await all({ owner, q: 'shop1', tag: 'vip' })).toEqual([tagged.id]);
  });

  it('answers from the index: an asset missing from a trigram of the needle is not found', async () => {
    const { id } = await store.create(asset('probe', 'https://probe-index.test/zzq'));
    expect(await all({ owner: 'probe', q: 'probe-index' })).toEqual([id]);
    const key = t.keys.searchTrigram(urlTrigrams('dex')[0]!);
    expect(await t.redis.zscore(key, id)).not.toBeNull();
    await t.redis.zrem(key, id);
    expect(await all({ owner: 'probe', q: 'probe-index' })).toEqual([]);
    // Needles under 3 characters have no trigram: the URLs of the candidates are compared.
    expect(await all({ owner: 'probe', q: 'zq' })).toEqual([id]);
  });

  it('keeps each tenant to its own assets', async () => {
    const mine = await store.create(asset('tenant-a', 'https://shared-name.test/a'));
    const theirs = await store.create(asset('tenant-b', 'https://shared-name.test/b'));
    expect(await all({ owner: 'tenant-a', q: 'shared-name' })).toEqual([mine.id]);
    expect(await all({ owner: 'tenant-b', q: 'shared-name' })).toEqual([theirs.id]);
    expect(await all({ owner: ALL_OWNERS, q: 'shared-name' })).toEqual([mine.id, theirs.id]);
    expect(await all({ owner: 'tenant-c', q: 'shared-name' })).toEqual([]);
  });

  it('follows URL changes and deletes, leaving nothing in the index', async () => {
    const { id } = await store.create(asset('mover', 'https://before-move.test/old-path'));
    const indexed = await searchKeysHolding(id);
    expect(indexed.length).toBe(urlTrigrams('https://before-move.test/old-path').length);
    await store.update(id, () => ({ url: normalizeUrl('https://after-move.test/new-path') }));
    expect(await all({ owner: 'mover', q: 'before-move' })).toEqual([]);
    expect(await all({ owner: 'mover', q: 'after-move.test/new' })).toEqual([id]);
    expect(await searchKeysHolding(id)).toEqual(urlTrigrams('https://after-move.test/new-path').map((g) => t.keys.searchTrigram(g)).sort());
    await store.delete(id);
    expect(await searchKeysHolding(id)).toEqual([]);
    expect(await all({ owner: 'mover', q: 'after-move' })).toEqual([]);
  });

  it('finds text past the indexed part of a long URL, and pages through long and short URLs in order', async () => {
    const owner = 'long';
    const tail = 'x'.repeat(SEARCH_INDEXED_CHARS);
    const ids: string[] = [];
    for (let i = 0; i < 9; i++) {
      const url = i % 3 === 0 ? `https://long.test/${tail}/needle-${i}` : `https://short.test/needle-${i}`;
      ids.push((await store.create(asset(owner, url))).id);
    }
    await store.create(asset('long-other', `https://long.test/${tail}/needle-0`));
    expect(await t.redis.zcard(t.keys.searchLong)).toBeGreaterThanOrEqual(4);
    expect(await all({ owner, q: 'needle-' }, 2)).toEqual(ids);
    expect(await all({ owner, q: 'needle-6' }, 2)).toEqual([ids[6]]);
    expect(await all({ owner, q: `${tail.slice(0, 10)}/needle-3` })).toEqual([ids[3]]);
    const long = ids[3]!;
    const keys = await searchKeysHolding(long);
    expect(keys).toContain(t.keys.searchLong);
    expect(keys.length).toBeLessThanOrEqual(SEARCH_INDEXED_CHARS); // bounded however long the URL
    await store.delete(long);
    expect(await searchKeysHolding(long)).toEqual([]);
  });

  it('indexes assets stored before the index existed, and searches them meanwhile', async () => {
    const s = await testRedis('search-build');
    try {
      const old = new AssetStore(s.redis, s.keys, s.scripts);
      const ids: string[] = [];
      for (let i = 0; i < 25; i++) ids.push((await old.create(asset(i % 2 ? 'odd' : 'even', `https://legacy${i}.test/page`))).id);
      // As stored before: no search keys at all.
      let cursor = '0';
      do {
        const [next, keys] = await s.redis.scan(cursor, 'MATCH', `${s.prefix}:search:*`, 'COUNT', 1000);
        if (keys.length) await s.redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      const fresh = new AssetStore(s.redis, s.keys, s.scripts);
      // Not indexed yet: found by comparing URLs (this also starts building the index).
      expect((await fresh.list({ owner: 'odd', q: 'legacy1', limit: 100 })).ids).toEqual([ids[1], ids[11], ids[13], ids[15], ids[17], ids[19]]);
      await fresh.ensureSearchIndex(4);
      expect(await s.redis.get(s.keys.searchReady)).toBe('1');
      const key = s.keys.searchTrigram(urlTrigrams('y13')[0]!);
      expect(await s.redis.zrange(key, '0', '-1')).toEqual([ids[13]]);
      expect((await fresh.list({ owner: 'odd', q: 'legacy13', limit: 100 })).ids).toEqual([ids[13]]);
      expect((await fresh.list({ owner: 'even', q: 'legacy13', limit: 100 })).ids).toEqual([]);
    } finally {
      await s.cleanup();
    }
  });
});
