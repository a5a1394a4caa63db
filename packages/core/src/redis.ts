/**
 * Redis connections. The api fails fast when Redis is away (no offline queue: requests get a
 * 503 at once); workers queue commands and wait for the reconnect. Both reconnect forever.
 *
 * A URL `redis+cluster://[user:pass@]host:port[,host:port…]` (or `rediss+cluster://`, or a
 * `redis://` URL naming several comma-separated hosts) opens an ioredis Cluster on those seed
 * nodes. The Cluster client is handed around as a `Redis`: it takes the same commands and
 * routes each to the master of its key's slot; what differs (commands without a key, SCAN,
 * INFO, BGSAVE) goes through masterNodes().
 *
 * A URL `redis+unix:///absolute/path.sock[?password=…&username=…]` connects through a Unix
 * socket: the managed local redis-server of `webmon up` is reached that way (a round trip costs
 * both sides about half the CPU it costs over TCP on loopback).
 */
import { type ChainableCommander, Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { ConfigError } from './errors.js';
import { createKeys, type KeyLayout, type Keys } from './keys.js';
import type { Logger } from './log.js';

export type { Redis } from 'ioredis';

/** A parsed cluster URL: seed nodes and what every node connection needs. */
export interface ClusterUrl {
  seeds: Array<{ host: string; port: number }>;
  username?: string;
  password?: string;
  tls: boolean;
}

/** The seed nodes of a cluster URL, or null for a single-Redis URL. */
export function parseClusterUrl(url: string): ClusterUrl | null {
  const m = /^(rediss?)(\+cluster)?:\/\/(?:([^@/]*)@)?([^/?#]+)(.*)$/.exec(url);
  if (!m) return null;
  const hosts = m[4]!.split(',');
  if (!m[2] && hosts.length < 2) return null;
  const seeds = hosts.map((h) => {
    const hp = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(h);
    if (!hp) throw new Error(`bad cluster seed node "${h}" in redis.url`);
    return { host: hp[1]!.replace(/^\[|\]$/g, ''), port: Number(hp[2] ?? 6379) };
  });
  const auth = m[3] ?? '';
  const colon = auth.indexOf(':');
  const username = colon < 0 ? '' : decodeURIComponent(auth.slice(0, colon));
  const password = colon < 0 ? decodeURIComponent(auth) : decodeURIComponent(auth.slice(colon + 1));
  return { seeds, tls: m[1] === 'rediss', ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

/** The socket path and credentials of a `redis+unix://` URL, or null for any other URL. */
export function parseUnixUrl(url: string): { path: string; username?: string; password?: string } | null {
  const m = /^redis\+unix:\/\/(\/[^?#]+)(?:\?([^#]*))?$/.exec(url);
  if (!m) return null;
  const q = new URLSearchParams(m[2] ?? '');
  const username = q.get('username');
  const password = q.get('password');
  return { path: decodeURIComponent(m[1]!), ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

/** Whether a connection is a Cluster client. */
export function isCluster(redis: Redis): boolean {
  return redis instanceof Cluster;
}

/** The connections to every master (the connection itself on a single Redis). */
export function masterNodes(redis: Redis): Redis[] {
  return redis instanceof Cluster ? (redis as Cluster).nodes('master') : [redis];
}

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
  const cluster = parseClusterUrl(opts.url);
  const unix = parseUnixUrl(opts.url);
  const redis = cluster ? openCluster(cluster, options) : unix ? new Redis({ ...options, ...unix }) : new Redis(opts.url, options);
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

function openCluster(c: ClusterUrl, node: RedisOptions): Redis {
  const options: ClusterOptions = {
    lazyConnect: true,
    scaleReads: 'master',
    enableReadyCheck: true,
    enableOfflineQueue: node.enableOfflineQueue ?? true,
    // Off on a Cluster: ioredis files an auto-pipelined script call under the slot of its first
    // argument, which for our scripts is the key count, and the batch then spans slots.
    enableAutoPipelining: false,
    maxRedirections: 16,
    clusterRetryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    redisOptions: {
      connectionName: node.connectionName,
      maxRetriesPerRequest: node.maxRetriesPerRequest,
      ...(c.username ? { username: c.username } : {}),
      ...(c.password ? { password: c.password } : {}),
      ...(c.tls ? { tls: {} } : {}),
    },
  };
  return new Cluster(c.seeds, options) as unknown as Redis;
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
  if (parseClusterUrl(url)) return url.replace(/^([^:]+:\/\/)[^@/]*@/, (_m, scheme: string) => `${scheme}***@`);
  if (parseUnixUrl(url)) return url.replace(/([?&]password=)[^&#]*/, '$1***');
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable redis url)';
  }
}

/** Shards used when redis.shards is unset: 1 on a single Redis (key names as they always were), 16 on a Cluster. */
export const DEFAULT_CLUSTER_SHARDS = 16;

/** The key layout for a connection and the configured shard count (redis.shards). */
export function keyLayout(redis: Redis, shards?: number): KeyLayout {
  const cluster = isCluster(redis);
  const n = shards ?? (cluster ? DEFAULT_CLUSTER_SHARDS : 1);
  return { shards: n, tagged: cluster || n > 1 };
}

/** The keys of the deployment `redis` connects to, as configured (redis.keyPrefix, redis.shards). */
export function deploymentKeys(redis: Redis, config: { redis: { keyPrefix: string; shards?: number | undefined } }): Keys {
  return createKeys(config.redis.keyPrefix, keyLayout(redis, config.redis.shards));
}

/**
 * Records the deployment's shard count the first time, and refuses (throws) a process whose
 * count differs from the recorded one: changing it would strand every asset in a shard that no
 * longer exists.
 */
export async function checkLayout(redis: Redis, keys: Keys): Promise<void> {
  const want = String(keys.layout.shards);
  await redis.set(keys.layoutKey, want, 'NX');
  const have = await redis.get(keys.layoutKey);
  if (have !== want) throw new ConfigError(`invalid configuration: redis.shards: this deployment's Redis holds ${have} shard(s), not ${want}; the shard count cannot change`);
}

/**
 * Runs one or more commands per item in pipelines, one per group (`groupOf`, e.g. the item's
 * shard; a Cluster pipeline must stay within one node), and returns each item's replies, in
 * item order. A failed command throws.
 */
export async function pipelineBy<T>(redis: Redis, items: readonly T[], groupOf: (item: T) => number, add: (pipe: ChainableCommander, item: T) => void): Promise<unknown[][]> {
  const groups = new Map<number, { pipe: ChainableCommander; items: number[] }>();
  const single = !isCluster(redis);
  items.forEach((item, i) => {
    const g = single ? 0 : groupOf(item);
    const group = groups.get(g) ?? { pipe: redis.pipeline(), items: [] };
    groups.set(g, group);
    const before = group.pipe.length;
    add(group.pipe, item);
    group.items.push(i, group.pipe.length - before);
  });
  const out: unknown[][] = new Array(items.length);
  await Promise.all(
    [...groups.values()].map(async ({ pipe, items: at }) => {
      const rows = (await pipe.exec()) ?? [];
      let r = 0;
      for (let j = 0; j < at.length; j += 2) {
        const replies: unknown[] = [];
        for (let c = 0; c < at[j + 1]!; c++, r++) {
          const [err, value] = rows[r] ?? [null, null];
          if (err) throw err;
          replies.push(value);
        }
        out[at[j]!] = replies;
      }
    }),
  );
  return out;
}
