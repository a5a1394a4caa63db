/**
 * Liveness of processes, in Redis: each role instance scores itself in `heartbeats:<role>` every
 * few seconds; "alive" means seen within three intervals. Used by /health and status reports.
 *
 * An instance may also advertise numbers with each beat (executors: their concurrency and how
 * many checks they completed so far), kept as JSON in `heartbeats:<role>:info`; the dispatcher's
 * scheduler sizes its work from them.
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import type { Logger } from './log.js';

export const HEARTBEAT_INTERVAL_MS = 2000;
export const HEARTBEAT_ALIVE_MS = 3 * HEARTBEAT_INTERVAL_MS;
/** Advertisements older than this are deleted by readers (the instance is long gone). */
const INFO_FORGET_MS = 3_600_000;
/**
 * How long stop() waits for Redis to take the instance off. A stopping process must not wait for
 * a Redis that is gone (a worker's commands queue until it is back): the entry then ages out.
 */
export const HEARTBEAT_STOP_WAIT_MS = 2000;

export function instanceId(role: string): string {
  return `${role}@${hostname()}:${process.pid}`;
}

/** Numbers an instance advertises with its heartbeat. */
export type HeartbeatInfo = Record<string, number>;

export function startHeartbeat(
  redis: Redis,
  keys: Keys,
  role: string,
  id: string,
  log?: Logger,
  info?: () => HeartbeatInfo,
): { stop(): Promise<void> } {
  const key = keys.heartbeats(role);
  const beat = () => {
    const now = Date.now();
    const tx = redis.multi().zadd(key, now, id).zremrangebyscore(key, '-inf', now - INFO_FORGET_MS);
    if (info) tx.hset(keys.heartbeatInfo(role), id, JSON.stringify({ ...info(), at: now }));
    return tx.exec().catch((err: Error) => log?.debug({ err: err.message }, 'heartbeat failed'));
  };
  void beat();
  const timer = setInterval(beat, HEARTBEAT_INTERVAL_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      let waited: NodeJS.Timeout | undefined;
      await Promise.race([
        redis.multi().zrem(key, id).hdel(keys.heartbeatInfo(role), id).exec().catch(() => undefined),
        new Promise<void>((done) => {
          waited = setTimeout(done, HEARTBEAT_STOP_WAIT_MS);
          waited.unref();
        }),
      ]);
      clearTimeout(waited);
    },
  };
}

/** Instances of a role seen within the liveness window. */
export async function aliveInstances(redis: Redis, keys: Keys, role: string, now = Date.now()): Promise<string[]> {
  return redis.zrangebyscore(keys.heartbeats(role), now - HEARTBEAT_ALIVE_MS, '+inf');
}

/**
 * Alive instances of a role with their latest advertisement (`at`: when it was sent, ms).
 * Advertisements of instances gone for an hour are deleted on the way.
 */
export async function aliveInstanceInfo(redis: Redis, keys: Keys, role: string, now = Date.now()): Promise<Array<{ id: string; info: HeartbeatInfo }>> {
  const [alive, all] = await Promise.all([aliveInstances(redis, keys, role, now), redis.hgetall(keys.heartbeatInfo(role))]);
  const forget: string[] = [];
  const parsed = new Map<string, HeartbeatInfo>();
  for (const [id, json] of Object.entries(all)) {
    const info = parseInfo(json);
    if (!info || !(info.at! > now - INFO_FORGET_MS)) forget.push(id);
    else parsed.set(id, info);
  }
  if (forget.length) await redis.hdel(keys.heartbeatInfo(role), ...forget);
  return alive.map((id) => ({ id, info: parsed.get(id) ?? {} }));
}

function parseInfo(json: string): HeartbeatInfo | null {
  try {
    const v = JSON.parse(json) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
    const out: HeartbeatInfo = {};
    for (const [k, n] of Object.entries(v)) if (typeof n === 'number' && Number.isFinite(n)) out[k] = n;
    return out;
  } catch {
    return null;
  }
}
