/**
 * Redis-backed storage a plugin gets for one asset. Every key written is recorded in the
 * asset's plugin-key set so that deleting the asset deletes the plugin's data too; writes to a
 * deleted asset (a check that outlived it) are dropped (plugin_write.lua).
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.js';
import { scriptLoader } from '../scripts.js';

const writeScript = scriptLoader(new URL('../../lua/', import.meta.url), ['plugin_write'] as const);

/** Small per-plugin, per-asset state (baselines, windows of samples): the plugin SDK's `ctx.storage`. */
export interface PluginStorage {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  del(key: string): Promise<void>;
  /** Appends to a list and keeps its last `max` entries; returns the list after the append. */
  pushWindow(key: string, value: string, max: number): Promise<string[]>;
  /** The list written by pushWindow, oldest first. */
  window(key: string): Promise<string[]>;
}

export function pluginStorage(redis: Redis, keys: Keys, assetId: string, plugin: string): PluginStorage {
  const name = (key: string) => keys.assetPluginData(assetId, plugin, key);
  const registry = keys.assetPluginKeys(assetId);
  return {
    async get(key) {
      return redis.get(name(key));
    },
    async set(key, value) {
      await writeScript(redis).run('plugin_write', [keys.asset(assetId), name(key), registry], ['set', value]);
    },
    async del(key) {
      await redis.multi().del(name(key)).srem(registry, name(key)).exec();
    },
    async pushWindow(key, value, max) {
      return writeScript(redis).run<string[]>('plugin_write', [keys.asset(assetId), name(key), registry], ['push', value, max]);
    },
    async window(key) {
      return redis.lrange(name(key), 0, -1);
    },
  };
}
