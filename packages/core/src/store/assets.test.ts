import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedis, type TestRedis } from '../../../../test/helpers/redis.js';
import { ALL_OWNERS } from '../keys.js';
import { normalizeUrl } from '../url.js';
import { AssetStore, type NewAsset } from './assets.js';

let t: TestRedis;
let store: AssetStore;

beforeAll(async () => {
  t = await testRedis('assets');
  store = new AssetStore(t.redis, t.keys, t.scripts);
});
afterAll(() => t.cleanup());

const asset = (url: string, extra: Partial<NewAsset> = {}): NewAsset => ({
  owner: 'alice',
  url: normalizeUrl(url),
  plugins: ['http'],
  config: { http: { timeoutMs: 1000 } },
  interval: 60,
  tags: [],
  ...extra,
});

describe('AssetStore', () => {
  it('creates an asset once per owner and URL spelling', async () => {
    const a = await store.create(asset('https://Example.COM:443/x#frag'));
    const b = await store.create(asset('https://example.com/x'));
    const other = await store.create(asset('https://example.com/x', { owner: 'bob' }));
    expect(a.created).toBe(true);
    expect(b).toEqual({ id: a.id, created: false });
    expect(other.created).toBe(true);
    expect(other.id).not.toBe(a.id);
    const rec = await store.get(a.id);
    expect(rec).toMatchObject({ id: a.id, owner: 'alice', url: 'https://example.com/x', state: 'unknown', plugins: ['http'], interval: 60, rev: 1 });
  });

  it('gives the owners of a batch of ids in one call, and none for ids of shards this deployment lacks', async () => {
    const a = await store.create(asset('https://owners.example/a'));
    const b = await store.create(asset('https://owners.example/b', { owner: 'bob' }));
    const calls: string[] = [];
    const counted = new AssetStore(t.redis, t.keys, {
      run: (name, keys, args) => {
        calls.push(name);
        return t.scripts.run(name, keys, args);
      },
    });
    // A client may post ids of any shard number (0-9999): those cost nothing.
    const strangers = Array.from({ length: 500 }, (_, i) => `x${i}.${i + 1}`);
    expect(await counted.owners([a.id, 'missing', b.id, ...strangers])).toEqual(['alice', null, 'bob', ...strangers.map(() => null)]);
    expect(calls).toEqual(['asset_owners']);
  });

  it('lists by filters with cursor pagination, every asset exactly once', async () => {
    const owner = 'pager';
    const ids: string[] = [];
    for (let i = 0; i < 57; i++) {
      const { id } = await store.create(asset(`http://host${i}.test/p`, { owner, tags: i % 3 === 0 ? ['third'] : [], plugins: i % 2 ? ['http'] : [] }));
      ids.push(id);
    }
    const seen: string[] = [];
    let cursor: number | undefined;
    for (let guard = 0; guard < 100; guard++) {
      const page = await store.list({ owner, limit: 10, cursor });
      seen.push(...page.ids);
      if (page.next === null) break;
      cursor = page.next;
    }
    expect(seen).toEqual(ids);

    const thirds = await store.list({ owner, tag: 'third', limit: 100 });
    expect(thirds.ids).toEqual(ids.filter((_, i) => i % 3 === 0));
    const httpThirds = await store.list({ owner, tag: 'third', plugin: 'http', limit: 100 });
    expect(httpThirds.ids).toEqual(ids.filter((_, i) => i % 3 === 0 && i % 2 === 1));
    const text = await store.list({ owner, q: 'HOST1', limit: 100 });
    expect(text.ids).toEqual(ids.filter((_, i) => String(i).startsWith('1')));
    const fleet = await store.list({ owner: ALL_OWNERS, q: 'host5', limit: 100 });
    expect(fleet.ids).toEqual(expect.arrayContaining([ids[5], ids[50], ids[56]]));
    const byState = await store.list({ owner, state: 'unknown', limit: 1000 });
    expect(byState.ids).toHaveLength(57);
  });

  it('fills a filtered page across several scans', async () => {
    const owner = 'sparse';
    const wanted: string[] = [];
    for (let i = 0; i < 30; i++) {
      const { id } = await store.create(asset(`http://s${i}.test/`, { owner, tags: i % 10 === 9 ? ['rare'] : ['common'] }));
      if (i % 10 === 9) wanted.push(id);
    }
    const page = await store.list({ owner, tag: 'rare', limit: 2 });
    expect(page.ids).toEqual(wanted.slice(0, 2));
    expect(page.next).not.toBeNull();
    const rest = await store.list({ owner, tag: 'rare', limit: 2, cursor: page.next! });
    expect(rest).toEqual({ ids: wanted.slice(2), next: null });
  });

  it('updates fields and moves index entries', async () => {
    const { id } = await store.create(asset('http://upd.test/', { owner: 'upd', tags: ['a'] }));
    const updated = await store.update(id, () => ({ tags: ['b'], interval: 120, paused: true }));
    expect(updated).toMatchObject({ tags: ['b'], interval: 120, paused: true, state: 'paused', rev: 2 });
    expect((await store.list({ owner: 'upd', tag: 'a', limit: 10 })).ids).toEqual([]);
    expect((await store.list({ owner: 'upd', tag: 'b', limit: 10 })).ids).toEqual([id]);
    expect((await store.list({ owner: 'upd', state: 'paused', limit: 10 })).ids).toEqual([id]);
    expect((await store.list({ owner: 'upd', state: 'unknown', limit: 10 })).ids).toEqual([]);
    const resumed = await store.update(id, () => ({ paused: false }));
    expect(resumed?.state).toBe('unknown');
  });

  it('refuses to move an asset onto a URL its owner already watches', async () => {
    const a = await store.create(asset('http://one.test/', { owner: 'mv' }));
    await store.create(asset('http://two.test/', { owner: 'mv' }));
    await expect(store.update(a.id, () => ({ url: normalizeUrl('http://TWO.test') }))).rejects.toMatchObject({ code: 'WEBMON_ERR_ASSET_EXISTS' });
    const moved = await store.update(a.id, () => ({ url: normalizeUrl('http://three.test/') }));
    expect(moved?.url).toBe('http://three.test/');
    expect((await store.create(asset('http://one.test/', { owner: 'mv' }))).created).toBe(true);
  });

  it('retries an update whose revision changed underneath', async () => {
    const { id } = await store.create(asset('http://race.test/', { owner: 'race' }));
    let calls = 0;
    const res = await store.update(id, () => {
      calls++;
      if (calls === 1) void t.redis.hincrby(t.keys.asset(id), 'rev', 1); // a concurrent writer
      return { interval: 99 };
    });
    expect(calls).toBe(2);
    expect(res?.interval).toBe(99);
  });

  it('deletes an asset with its results, plugin data and index entries', async () => {
    const { id } = await store.create(asset('http://del.test/', { owner: 'del', tags: ['x'] }));
    await t.redis.hset(t.keys.assetLatest(id), 'http', '{}');
    const pluginKey = t.keys.assetPluginData(id, 'htmlstats', 'window');
    await t.redis.rpush(pluginKey, '1');
    await t.redis.sadd(t.keys.assetPluginKeys(id), pluginKey);
    expect(await store.delete(id)).toBe(true);
    expect(await store.get(id)).toBeNull();
    expect(await t.redis.exists(t.keys.assetLatest(id), pluginKey, t.keys.assetPluginKeys(id))).toBe(0);
    expect((await store.list({ owner: 'del', tag: 'x', limit: 10 })).ids).toEqual([]);
    expect(await store.delete(id)).toBe(false);
    expect((await store.create(asset('http://del.test/', { owner: 'del' }))).created).toBe(true);
  });
});

describe('temporary assets', () => {
  const temp = (url: string, mark?: string): NewAsset => ({ owner: 'tmp-owner', url: normalizeUrl(url), plugins: ['http'], config: {}, interval: 300, tags: ['probe'], paused: true, ...(mark ? { temporaryMark: mark } : {}) });

  it('are deleted by their maker with their mark, and not with another', async () => {
    const { id, created } = await store.create(temp('https://temp-a.test/', 'mark-a'));
    expect(created).toBe(true);
    expect(await store.deleteTemporary(id, 'other-mark')).toBe(false);
    expect(await store.get(id)).not.toBeNull();
    expect(await store.deleteTemporary(id, 'mark-a')).toBe(true);
    expect(await store.get(id)).toBeNull();
  });

  it('are adopted by a create of the same URL without a mark, and then kept', async () => {
    const { id } = await store.create(temp('https://temp-b.test/', 'mark-b'));
    // Another temporary create of the same URL finds it and leaves the mark alone.
    expect(await store.create(temp('https://temp-b.test/', 'mark-c'))).toEqual({ id, created: false });
    expect(await t.redis.hget(t.keys.asset(id), 'temporaryMark')).toBe('mark-b');
    // The client's own create of that URL adopts it: its maker no longer deletes it.
    expect(await store.create(temp('https://temp-b.test/'))).toEqual({ id, created: false });
    expect(await store.deleteTemporary(id, 'mark-b')).toBe(false);
    expect(await store.get(id)).toMatchObject({ id, url: 'https://temp-b.test/' });
  });
});
