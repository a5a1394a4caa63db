/** Test access to the shared redis-server or Redis Cluster, with a key prefix of the test's own. */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { Redis } from 'ioredis';
import { connectRedis, createKeys, isCluster, masterNodes, scripts, type KeyLayout, type Keys, type Scripts } from '@webmon/core';

export interface TestRedis {
  url: string;
  redis: Redis;
  prefix: string;
  keys: Keys;
  scripts: Scripts;
  /** Deletes every key with this test's prefix and closes the connection. */
  cleanup(): Promise<void>;
}

/** The two deployments suites run against: one Redis (one shard), and a Cluster of 16 shards. */
export const TOPOLOGIES = ['single', 'cluster'] as const;
export type Topology = (typeof TOPOLOGIES)[number];

/** The URL of the shared Redis of a topology. */
export function redisUrlOf(topology: Topology): string {
  return topology === 'cluster' ? inject('redisClusterUrl') : inject('redisUrl');
}

export async function testRedis(name: string): Promise<TestRedis> {
  const url = inject('redisUrl');
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  return withPrefix(url, redis, name, undefined);
}

/** A connection to the shared Redis Cluster (ioredis Cluster), keys laid out in `shards` shards. */
export async function testCluster(name: string, shards = 16): Promise<TestRedis> {
  const url = inject('redisClusterUrl');
  const redis = connectRedis({ url });
  await redis.connect();
  return withPrefix(url, redis, name, { shards, tagged: true });
}

function withPrefix(url: string, redis: Redis, name: string, layout: KeyLayout | undefined): TestRedis {
  const prefix = `t-${name}-${randomBytes(3).toString('hex')}`;
  return {
    url,
    redis,
    prefix,
    keys: createKeys(prefix, layout),
    scripts: scripts(redis),
    async cleanup() {
      for (const node of masterNodes(redis)) {
        let cursor = '0';
        do {
          const [next, found] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
          // On a Cluster one DEL per key: keys of several slots cannot go in one command.
          if (!isCluster(redis) && found.length) await node.del(...found);
          else for (const key of found) await node.del(key);
          cursor = next;
        } while (cursor !== '0');
      }
      redis.disconnect();
    },
  };
}

/** testRedis or testCluster, by topology. */
export function testRedisOf(topology: Topology, name: string): Promise<TestRedis> {
  return topology === 'cluster' ? testCluster(name) : testRedis(name);
}
