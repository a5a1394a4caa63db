/** Test access to the shared redis-server, with a key prefix of the test's own. */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { Redis } from 'ioredis';
import { createKeys, scripts, type Keys, type Scripts } from '@webmon/core';

export interface TestRedis {
  url: string;
  redis: Redis;
  prefix: string;
  keys: Keys;
  scripts: Scripts;
  /** Deletes every key with this test's prefix and closes the connection. */
  cleanup(): Promise<void>;
}

export async function testRedis(name: string): Promise<TestRedis> {
  const url = inject('redisUrl');
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  const prefix = `t-${name}-${randomBytes(3).toString('hex')}`;
  return {
    url,
    redis,
    prefix,
    keys: createKeys(prefix),
    scripts: scripts(redis),
    async cleanup() {
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        if (found.length) await redis.del(...found);
        cursor = next;
      } while (cursor !== '0');
      redis.disconnect();
    },
  };
}
