/** Building blocks of a plugin context: the per-check shared cache, and storage kept in memory. */
import type { PluginStorage, SharedCache } from './index.js';

/** A SharedCache for one check: the first caller of a key loads it, the others get its promise. */
export function createSharedCache(): SharedCache {
  const entries = new Map<string, Promise<unknown>>();
  return {
    once<T>(key: string, load: () => Promise<T>): Promise<T> {
      let p = entries.get(key) as Promise<T> | undefined;
      if (!p) {
        p = load();
        entries.set(key, p);
      }
      return p;
    },
  };
}

/** PluginStorage kept in memory (plugin tests, tools); the executor's is in Redis. */
export function memoryStorage(): PluginStorage {
  const kv = new Map<string, string>();
  const lists = new Map<string, string[]>();
  return {
    async get(key) {
      return kv.get(key) ?? null;
    },
    async set(key, value) {
      kv.set(key, value);
    },
    async del(key) {
      kv.delete(key);
      lists.delete(key);
    },
    async pushWindow(key, value, max) {
      const list = [...(lists.get(key) ?? []), value].slice(-max);
      lists.set(key, list);
      return [...list];
    },
    async window(key) {
      return [...(lists.get(key) ?? [])];
    },
  };
}
