/**
 * Liveness of processes, in Redis: each role instance scores itself in `heartbeats:<role>` every
 * few seconds; "alive" means seen within three intervals. Used by /health and status reports.
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import type { Logger } from './log.js';

export const HEARTBEAT_INTERVAL_MS = 2000;
export const HEARTBEAT_ALIVE_MS = 3 * HEARTBEAT_INTERVAL_MS;

export function instanceId(role: string): string {
  return `${role}@${hostname()}:${process.pid}`;
}

export function startHeartbeat(redis: Redis, keys: Keys, role: string, id: string, log?: Logger): { stop(): Promise<void> } {
  const key = keys.heartbeats(role);
  const beat = () =>
    redis
      .multi()
      .zadd(key, Date.now(), id)
      .zremrangebyscore(key, '-inf', Date.now() - 3_600_000)
      .exec()
      .catch((err: Error) => log?.debug({ err: err.message }, 'heartbeat failed'));
  void beat();
  const timer = setInterval(beat, HEARTBEAT_INTERVAL_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await redis.zrem(key, id).catch(() => undefined);
    },
  };
}

/** Instances of a role seen within the liveness window. */
export async function aliveInstances(redis: Redis, keys: Keys, role: string, now = Date.now()): Promise<string[]> {
  return redis.zrangebyscore(keys.heartbeats(role), now - HEARTBEAT_ALIVE_MS, '+inf');
}
