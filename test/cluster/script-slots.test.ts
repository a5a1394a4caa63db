/**
 * Every Lua script path, run through the stores against the shared Redis Cluster (16 shards on
 * 3 masters), with each script call checked: its keys, and the key prefixes it is given to
 * build keys from, must all be in one hash slot. Redis itself refuses declared keys of several
 * slots (CROSSSLOT) and undeclared keys on another node; the guard also catches undeclared keys
 * of another slot on the same node, which Redis 7.0 lets through.
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  AssetStore,
  ClientStore,
  JobStore,
  MaintenanceStore,
  StatsStore,
  StatusPageStore,
  applyMaintenance,
  connectRedis,
  createKeys,
  createLogger,
  masterNodes,
  normalizeUrl,
  pluginStorage,
  scripts,
  shardFor,
  shardOfId,
  sleep,
  type CheckResult,
  type Keys,
  type Redis,
} from '@webmon/core';
import { WebhookStore, startNotifier } from '@webmon/notifier';
import { FAST, loopbackEgress, startReceiver } from '../../packages/notifier/test/harness.js';
import { Outbox } from '../../packages/notifier/src/outbox.js';
import { ShardLeases } from '../../dispatcher/src/shards.js';
import { guardScriptSlots, slotOf } from '../helpers/slots.js';

let redis: Redis;
let keys: Keys;
let assets: AssetStore;
let jobs: JobStore;
const prefix = `t-slots-${Date.now().toString(36)}`;
const violations: string[] = [];
let calls: Map<string, number>;

beforeAll(async () => {
  redis = connectRedis({ url: inject('redisClusterUrl') });
  calls = guardScriptSlots(redis, prefix, violations);
  await redis.connect();
  keys = createKeys(prefix, { shards: 16, tagged: true });
  const sc = scripts(redis);
  assets = new AssetStore(redis, keys, sc);
  jobs = new JobStore(redis, keys, sc, { retentionSec: 60, maxAttempts: 2, retryBaseMs: 1, historyMax: 10, eventsMax: 100, downAfter: 1, upAfter: 1 });
});

afterAll(async () => {
  for (const node of masterNodes(redis)) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      for (const key of found) await node.del(key);
      cursor = next;
    } while (cursor !== '0');
  }
  redis.disconnect();
});

const url = (n: number | string) => normalizeUrl(`http://slots-${n}.test/path`);
const result = (status: CheckResult['status']): CheckResult => ({ plugin: 'http', status, reason: status === 'ok' ? null : 'http_status', message: status, durationMs: 3, metrics: {} });

async function create(owner: string, n: number | string, tags: string[] = []): Promise<string> {
  return (await assets.create({ owner, url: url(n), plugins: ['http'], config: {}, interval: 60, tags })).id;
}

describe('scripts on a Redis Cluster', () => {
  it('computes hash slots as the cluster does', async () => {
    for (const key of [keys.asset('abc.3'), keys.shard(7).schedule, keys.client('c1'), keys.hostSlot('example.com'), 'plain-key']) {
      expect(slotOf(key)).toBe(Number(await redis.cluster('KEYSLOT', key)));
    }
  });

  it('spreads one owner over the shards and keeps the URL de-duplication per owner', async () => {
    const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => create('spread', i)));
    expect(new Set(ids.map(shardOfId)).size).toBeGreaterThan(8);
    // The same URL again: the same asset, found in the shard the owner and URL hash to.
    expect(await assets.create({ owner: 'spread', url: url(5), plugins: ['http'], config: {}, interval: 60, tags: [] })).toEqual({ id: ids[5], created: false });
    // A quota over every shard.
    await expect(assets.create({ owner: 'spread', url: url('over'), plugins: [], config: {}, interval: 60, tags: [] }, Date.now(), { maxAssets: 40 })).rejects.toMatchObject({
      code: 'WEBMON_ERR_QUOTA_EXCEEDED',
    });
  });

  it('lists across shards in creation order, with filters, search and cursors', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push(await create('lister', `l${i}`, i % 3 === 0 ? ['third'] : []));
    const seen: string[] = [];
    let cursor: number | undefined;
    for (let page = 0; page < 20; page++) {
      const res = await assets.list({ owner: 'lister', limit: 7, cursor });
      seen.push(...res.ids);
      if (res.next === null) break;
      cursor = res.next;
    }
    expect(seen).toEqual(ids);
    expect((await assets.list({ owner: 'lister', tag: 'third', limit: 100 })).ids).toEqual(ids.filter((_, i) => i % 3 === 0));
    await assets.ensureSearchIndex();
    expect((await assets.list({ owner: 'lister', q: 'slots-l1', limit: 100 })).ids).toEqual([ids[1], ...ids.slice(10, 20)]);
  });

  it('updates (tags, a URL whose entry is in another shard) and deletes', async () => {
    const id = await create('mover', 'm0');
    const target = Array.from({ length: 64 }, (_, i) => `moved${i}`).find((n) => shardOfId(id) !== shardFor('mover', url(n).url, keys.layout))!;
    expect(await assets.update(id, () => ({ tags: ['x'] }))).toMatchObject({ tags: ['x'] });
    expect(await assets.update(id, () => ({ url: url(target) }))).toMatchObject({ url: url(target).url });
    // The moved URL is taken; the old one is free again.
    expect(await assets.create({ owner: 'mover', url: url(target), plugins: [], config: {}, interval: 60, tags: [] })).toEqual({ id, created: false });
    const other = await create('mover', 'm0');
    expect(other).not.toBe(id);
    await expect(assets.update(other, () => ({ url: url(target) }))).rejects.toMatchObject({ code: 'WEBMON_ERR_ASSET_EXISTS' });
    const storage = pluginStorage(redis, keys, id, 'http');
    await storage.set('k', 'v');
    await storage.pushWindow('w', '1', 3);
    expect(await assets.delete(id)).toBe(true);
    expect(await assets.get(id)).toBeNull();
    expect(await assets.create({ owner: 'mover', url: url(target), plugins: [], config: {}, interval: 60, tags: [] })).toMatchObject({ created: true });
  });

  it('runs jobs through claim, extend, complete, defer, fail, retry, sweep and the schedule', async () => {
    const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => create('runner', `j${i}`)));
    // Owners of assets spread over the shards (who may push jobs for them), and of one that is not there.
    expect(await assets.owners([...ids, `${ids[0]}x`])).toEqual([...ids.map(() => 'runner'), null]);
    const jobIds = await jobs.enqueue(ids.map((assetId) => ({ assetId, owner: 'runner' })), 1);
    expect(jobIds.map(shardOfId)).toEqual(ids.map(shardOfId));
    const [a, b, c] = jobIds as [string, string, string];
    expect(await jobs.claim(a, 'ta', 10_000)).toMatchObject({ claimed: true });
    expect(await jobs.extend(a, 'ta', 10_000)).toBe(true);
    expect(await jobs.complete({ jobId: a, token: 'ta', outcome: 'error', reason: 'http_status', results: [result('error')], durationMs: 3, owner: 'runner', assetId: ids[0]! })).toMatchObject({
      recorded: true,
      to: 'down',
    });
    expect(await jobs.claim(b, 'tb', 10_000)).toMatchObject({ claimed: true });
    expect(await jobs.defer(b, 'tb', Date.now() - 1)).toBe(true);
    expect(await jobs.claim(c, 'tc', 10_000)).toMatchObject({ claimed: true });
    expect(await jobs.fail(c, 'tc', 'boom')).toBe('retry');
    // Jobs of several shards claimed together: one call per shard.
    const rest = jobIds.slice(3);
    expect((await jobs.claimMany(rest.map((jobId, i) => ({ jobId, token: `tr${i}` })), 10_000)).map((r) => r.claimed)).toEqual([true, true, true]);
    expect(await jobs.hostSlot('slots.test', 'runner', 10, 1000)).toBeGreaterThanOrEqual(0);
    await jobs.hostBackoff('slots.test', Date.now() + 10);
    const stale = [];
    for (const shard of keys.shardIds) stale.push(...(await jobs.sweep(0, 1000, Date.now() + 1000, shard)).stale);
    expect(stale.map((s) => s.id)).toEqual(expect.arrayContaining([b, c]));
    const due = [];
    for (const shard of keys.shardIds) due.push(...(await jobs.scheduleDue(100, 1000, Date.now() + 120_000, shard)).ids);
    expect(due.length).toBeGreaterThan(0);
    for (const id of due) expect(await jobs.get(id)).toMatchObject({ id, status: 'queued' });
    expect((await jobs.counts()).queued).toBeGreaterThanOrEqual(due.length);
    expect(await jobs.retry(a)).toBe('not_failed');
    const fleet = await new StatsStore(redis, keys).fleet('runner');
    expect(fleet.assetsByState.down).toBe(1);
    expect(fleet.failingMost).toEqual([{ assetId: ids[0], failures: 1 }]);
  });

  it('opens and closes maintenance windows over assets of several shards', async () => {
    const ids = await Promise.all(Array.from({ length: 8 }, (_, i) => create('maint', `w${i}`, i < 4 ? ['db'] : [])));
    const store = new MaintenanceStore(redis, keys, 0);
    const now = Date.now();
    const w = await store.create({ owner: 'maint', reason: 'upgrade', assetIds: [ids[7]!], tags: ['db'], start: now - 1000, end: now + 60_000 });
    const covered = (await assets.getMany(ids)).map((r) => r?.maintenance);
    expect(covered).toEqual([w.id, w.id, w.id, w.id, undefined, undefined, undefined, w.id].map((v) => v ?? null));
    await store.sync(now + 120_000);
    expect((await assets.getMany(ids)).every((r) => r?.maintenance === null)).toBe(true);
    expect(await applyMaintenance(redis, keys, ids)).toBe(0);
    expect(await store.delete(w.id)).toBe(false); // ended windows are deleted by sync
  });

  it('keeps clients, API keys and status pages in the global slot', async () => {
    const clients = new ClientStore(redis, keys, undefined);
    const { client, apiKey } = await clients.create('acme');
    expect(await clients.authenticate(apiKey)).toMatchObject({ id: client.id });
    const { key } = await clients.createKey(client.id, { name: 'second' });
    expect(await clients.revokeKey(key.id)).toBe('revoked');
    expect(await clients.update(client.id, { name: 'acme 2' })).toBe(true);
    const pages = new StatusPageStore(redis, keys);
    const id = await create(client.id, 'page');
    await pages.create({ slug: `s-${prefix}`, owner: client.id, title: 't', description: '', assetIds: [id], tags: [] }, 10);
    expect(await pages.setBadgeToken(id, 'token')).toBe(true);
    expect(await pages.delete((await pages.get(`s-${prefix}`))!)).toBe(true);
    expect(await clients.remove(client.id)).toBe(true);
  });

  it('notifies from the events of a shard through a channel in the global slot, and fires reminders and timers there', async () => {
    const secret = 'a-secret-long-enough-for-hmac-1234';
    const receiver = await startReceiver(secret);
    const log = createLogger({ role: 'dispatcher', level: 'silent' });
    const egress = loopbackEgress(redis, keys);
    const notifier = await startNotifier({ redis, keys, log, egress, options: FAST });
    try {
      const hooks = new WebhookStore(redis, keys, { egress });
      await hooks.set('notified', { url: receiver.url, secret, remindEverySec: 60 });
      expect(await hooks.enable('notified')).toMatchObject({ enabled: true });
      const id = await create('notified', 'n0');
      const [jobId] = await jobs.enqueue([{ assetId: id, owner: 'notified' }], 0);
      await jobs.claim(jobId!, 'tn', 10_000);
      await jobs.complete({ jobId: jobId!, token: 'tn', outcome: 'error', reason: 'http_status', results: [result('error')], durationMs: 3, owner: 'notified', assetId: id });
      for (let i = 0; i < 200 && receiver.received.length === 0; i++) await sleep(50);
      expect(receiver.received.map((r) => [r.body.asset.id, r.body.to, r.verified])).toEqual([[id, 'down', true]]);
      expect(await redis.hget(keys.notified, id)).toBe(receiver.received[0]!.body.id);
      // The paths a short test does not reach by time: a reminder and a timer coming due, a failed and a released lease.
      const outbox = new Outbox(redis, keys);
      const channelKey = keys.webhook('notified');
      const [member, score] = await redis.zrange(keys.reminders, '0', '0', 'WITHSCORES');
      expect(member).toBe(`notified|${id}`);
      const reminder = { member: member!, score: score!, clientId: 'notified', channelId: 'webhook', down: true, deliver: true, payload: '{"n":2}', now: Date.now(), maxOutbox: 100 };
      expect(await outbox.remind(reminder)).toBe(true);
      expect(await outbox.remind(reminder)).toBe(false); // its due time moved on
      expect(await outbox.timer({ member: `hold|notified|${id}`, score: '1', unit: 'notified', deliver: true, message: '{}', now: Date.now(), maxOutbox: 100 }, channelKey)).toBe(-1);
      expect(await outbox.fail(channelKey, 'notified', 'not-the-lease', { error: 'x', now: Date.now(), backoffBaseMs: 1, backoffMaxMs: 10, maxFailures: 5, retryAfterMs: 0, drop: 0, head: '' })).toEqual({ code: -1 });
      expect(await outbox.release(channelKey, 'notified', 'not-the-lease', Date.now())).toBeLessThanOrEqual(0);
    } finally {
      await notifier.stop();
      await receiver.close();
    }
  });

  it('marks a window that opens later, in every shard', async () => {
    const store = new MaintenanceStore(redis, keys, 0);
    const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => create('later', `o${i}`, ['app'])));
    const now = Date.now();
    const w = await store.create({ owner: 'later', reason: 'deploy', assetIds: [], tags: ['app'], start: now + 60_000, end: now + 120_000 }, {}, now);
    expect((await assets.getMany(ids)).every((r) => r?.maintenance === null)).toBe(true);
    await store.sync(now + 61_000);
    expect((await assets.getMany(ids)).map((r) => r?.maintenance)).toEqual(ids.map(() => w.id));
  });

  it('divides the shards between dispatchers by lease', async () => {
    const log = createLogger({ role: 'dispatcher', level: 'silent' });
    const a = new ShardLeases(redis, keys, 'dispatcher-a', log);
    await a.start();
    expect(a.shards()).toEqual(keys.shardIds);
    const b = new ShardLeases(redis, keys, 'dispatcher-b', log);
    await b.start();
    expect(b.shards()).toEqual([]); // every shard is held, and b is not seen alive yet
    await a.stop();
    await b.balance();
    expect(b.shards()).toEqual(keys.shardIds);
    await b.stop();
  });

  it('called no script with keys of more than one slot', () => {
    expect(violations).toEqual([]);
    // Every script of every package ran at least once, but those no path here reaches.
    const all = ['packages/core/lua', 'packages/notifier/lua'].flatMap((dir) =>
      readdirSync(new URL(`../../${dir}/`, import.meta.url))
        .filter((f) => f.endsWith('.lua'))
        .map((f) => f.slice(0, -4)),
    );
    const unreached = [
      'client_key_migrate', // keys made before key records: single-Redis installs only
    ];
    expect(all.filter((name) => !calls.has(name)).sort()).toEqual(unreached.sort());
  });
});

