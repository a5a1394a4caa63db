/**
 * Redis connections. The api fails fast when Redis is away (no offline queue: requests get a
 * 503 at once); workers queue commands and wait for the reconnect. Both reconnect forever.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './log.js';

export type { Redis } from 'ioredis';

export interface ConnectOptions {
  url: string;
  /** Reject commands at once while disconnected (api) instead of queueing them (workers). */
  failFast?: boolean;
  /** Batch concurrent commands into one write (hot paths with many small calls). */
  autoPipelining?: boolean;
  name?: string;
  log?: Logger;
}

export function connectRedis(opts: ConnectOptions): Redis {
  const options: RedisOptions = {
    lazyConnect: true,
    connectionName: opts.name,
    enableAutoPipelining: opts.autoPipelining ?? false,
    maxRetriesPerRequest: opts.failFast ? 0 : null,
    enableOfflineQueue: !opts.failFast,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    reconnectOnError: () => false,
  };
  const redis = new Redis(opts.url, options);
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) opts.log?.warn({ err: err.message }, 'redis connection error');
    down = true;
  });
  redis.on('ready', () => {
    if (down) opts.log?.info('redis connection restored');
    down = false;
  });
  return redis;
}

/** Connects and waits until the server answers, or throws after `timeoutMs`. */
export async function openRedis(opts: ConnectOptions, timeoutMs = 10_000): Promise<Redis> {
  const redis = connectRedis(opts);
  // The connection's own error (e.g. NOAUTH) says more than the "Connection is closed" it causes.
  let cause = '';
  const onError = (err: Error) => (cause ||= err.message);
  redis.on('error', onError);
  const timer = setTimeout(() => redis.disconnect(), timeoutMs);
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch (err) {
    redis.disconnect();
    const message = cause && cause !== (err as Error).message ? `${(err as Error).message} (${cause})` : (err as Error).message;
    const hint = /NOAUTH|WRONGPASS|invalid password/i.test(message) ? '; put the password (or ACL user and password) in redis.url: redis://[user]:password@host:port' : '';
    throw new Error(`cannot reach Redis at ${redactUrl(opts.url)}: ${message}${hint}`);
  } finally {
    clearTimeout(timer);
    redis.off('error', onError);
  }
}

/** True for errors that mean "Redis is not reachable right now" rather than a bad command. */
export function isStoreUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  return /Connection is closed|Stream isn't writeable|enableOfflineQueue|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|LOADING|max retries per request/i.test(
    err.message,
  );
}

/** A Redis URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable redis url)';
  }
}
