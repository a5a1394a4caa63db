/**
 * Redis-backed storage a plugin gets for one asset. Every key written is recorded in the
 * asset's plugin-key set so that deleting the asset deletes the plugin's data too.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.js';

export interface AssetPluginStorage {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  del(key: string): Promise<void>;
  pushWindow(key: string, value: string, max: number): Promise<string[]>;
  window(key: string): Promise<string[]>;
}

export function pluginStorage(redis: Redis, keys: Keys, assetId: string, plugin: string): AssetPluginStorage {
  const name = (key: string) => keys.assetPluginData(assetId, plugin, key);
  const registry = keys.assetPluginKeys(assetId);
  return {
    async get(key) {
      return redis.get(name(key));
    },
    async set(key, value) {
      await redis.multi().set(name(key), value).sadd(registry, name(key)).exec();
    },
    async del(key) {
      await redis.multi().del(name(key)).srem(registry, name(key)).exec();
    },
    async pushWindow(key, value, max) {
      const res = await redis.multi().rpush(name(key), value).ltrim(name(key), -max, -1).lrange(name(key), 0, -1).sadd(registry, name(key)).exec();
      const [err, list] = res?.[2] ?? [];
      if (err) throw err;
      return list as string[];
    },
    async window(key) {
      return redis.lrange(name(key), 0, -1);
    },
  };
}
