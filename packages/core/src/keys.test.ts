import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCluster, testRedis, type TestRedis } from '../../../test/helpers/redis.js';
import { createKeys, markShard, shardFor, shardOfId, SINGLE_LAYOUT } from './keys.js';
import { checkLayout, deploymentKeys, parseClusterUrl, parseUnixUrl, redactUrl } from './redis.js';

const SHARDED = { shards: 16, tagged: true };

describe('key layout', () => {
  it('keeps the key names of a single Redis as they always were', () => {
    const k = createKeys('wm', SINGLE_LAYOUT);
    expect([k.asset('abc'), k.schedule, k.shard(0).schedule, k.job('j1'), k.client('c'), k.events, k.hostSlot('h.test'), k.statusPages]).toEqual([
      'wm:asset:abc',
      'wm:schedule',
      'wm:schedule',
      'wm:job:j1',
      'wm:client:c',
      'wm:events',
      'wm:host:{h.test}',
      'wm:{statuspages}',
    ]);
    expect(markShard('abc', 0, SINGLE_LAYOUT)).toBe('abc');
  });

  it('tags every key of a shard with the shard and every global key with one tag of its own', () => {
    const k = createKeys('wm', SHARDED);
    expect(k.asset('abc.3')).toBe('wm:{wm:s3}:asset:abc.3');
    expect(k.assetHistory('abc.3')).toBe('wm:{wm:s3}:asset:abc.3:history');
    expect(k.job('s1-2.3')).toBe('wm:{wm:s3}:job:s1-2.3');
    expect(k.shard(3).schedule).toBe('wm:{wm:s3}:schedule');
    expect(k.asset('old')).toBe('wm:{wm:s0}:asset:old'); // an id without a marker is shard 0
    expect([k.client('c'), k.webhook('c'), k.statusPages, k.maintenanceOpen, k.assetSeq]).toEqual([
      'wm:{wm:g}:client:c',
      'wm:{wm:g}:webhook:c',
      'wm:{wm:g}:{statuspages}',
      'wm:{wm:g}:maintenance:open',
      'wm:{wm:g}:seq:asset',
    ]);
    expect(k.hostSlot('h.test')).toBe('wm:host:{h.test}');
    expect(k.shardIds).toEqual(Array.from({ length: 16 }, (_, n) => n));
  });

  it('derives shards from ids and from owner + URL', () => {
    expect([shardOfId('abc'), shardOfId('abc.7'), shardOfId('abc.1023'), shardOfId('a.b')]).toEqual([0, 7, 1023, 0]);
    expect(markShard('abc', 7, SHARDED)).toBe('abc.7');
    const urls = Array.from({ length: 400 }, (_, i) => `https://site${i}.test/`);
    const counts = new Array(16).fill(0);
    for (const u of urls) counts[shardFor('owner', u, SHARDED)]++;
    // Spread over every shard, none with more than twice its share.
    expect(Math.min(...counts)).toBeGreaterThan(0);
    expect(Math.max(...counts)).toBeLessThan(50);
    expect(shardFor('owner', urls[0]!, SHARDED)).toBe(shardFor('owner', urls[0]!, SHARDED));
    expect(shardFor('owner', urls[0]!, SINGLE_LAYOUT)).toBe(0);
  });

  it('refuses impossible layouts', () => {
    expect(() => createKeys('wm', { shards: 0, tagged: true })).toThrow(/shard count/);
    expect(() => createKeys('wm', { shards: 2, tagged: false })).toThrow(/tagged/);
  });
});

describe('cluster URLs', () => {
  it('reads seed nodes and credentials, and redacts the password', () => {
    expect(parseClusterUrl('redis+cluster://u:p%40ss@10.0.0.1:7000,10.0.0.2,[::1]:7002')).toEqual({
      seeds: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 6379 },
        { host: '::1', port: 7002 },
      ],
      username: 'u',
      password: 'p@ss',
      tls: false,
    });
    expect(parseClusterUrl('redis://:pw@a:1,b:2')).toMatchObject({ seeds: [{ host: 'a', port: 1 }, { host: 'b', port: 2 }], password: 'pw' });
    expect(parseClusterUrl('rediss+cluster://a:1')).toMatchObject({ tls: true });
    expect(parseClusterUrl('redis://:pw@127.0.0.1:6379')).toBeNull();
    expect(redactUrl('redis+cluster://:secret@a:1,b:2')).toBe('redis+cluster://***@a:1,b:2');
  });

  it('reads a Unix socket URL, its password redacted when logged', () => {
    expect(parseUnixUrl('redis+unix:///var/lib/webmon/redis/redis.sock?password=s3cret&username=u')).toEqual({ path: '/var/lib/webmon/redis/redis.sock', username: 'u', password: 's3cret' });
    expect(parseUnixUrl('redis+unix:///tmp/a%20b.sock')).toEqual({ path: '/tmp/a b.sock' });
    expect(parseUnixUrl('redis+unix://relative.sock')).toBeNull();
    expect(parseUnixUrl('redis://127.0.0.1:6379')).toBeNull();
    expect(redactUrl('redis+unix:///tmp/r.sock?password=s3cret')).toBe('redis+unix:///tmp/r.sock?password=***');
    expect(parseClusterUrl('redis+unix:///tmp/r.sock')).toBeNull();
  });
});

describe('the stored shard count', () => {
  let single: TestRedis;
  let cluster: TestRedis;
  beforeAll(async () => {
    [single, cluster] = await Promise.all([testRedis('layout'), testCluster('layout')]);
  });
  afterAll(() => Promise.all([single.cleanup(), cluster.cleanup()]));

  it('defaults to one shard on a single Redis and 16 on a Cluster', () => {
    expect(deploymentKeys(single.redis, { redis: { keyPrefix: single.prefix } }).layout).toEqual({ shards: 1, tagged: false });
    expect(deploymentKeys(cluster.redis, { redis: { keyPrefix: cluster.prefix } }).layout).toEqual({ shards: 16, tagged: true });
  });

  it('is recorded at the first start and a different one is refused', async () => {
    const config = (shards?: number) => ({ redis: { keyPrefix: cluster.prefix, shards } });
    await checkLayout(cluster.redis, deploymentKeys(cluster.redis, config()));
    await checkLayout(cluster.redis, deploymentKeys(cluster.redis, config(16)));
    await expect(checkLayout(cluster.redis, deploymentKeys(cluster.redis, config(8)))).rejects.toThrow(/redis\.shards: this deployment's Redis holds 16 shard\(s\), not 8/);
  });
});
