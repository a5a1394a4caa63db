/**
 * The dispatcher role: a ZeroMQ streamer (PULL frontend ← api, PUSH backend → executors) with a
 * priority queue in between (relay.ts), the scheduler that turns due assets into jobs
 * (scheduler.ts), a sweep that re-dispatches expired leases and lost ids from Redis
 * (sweeper.ts), start-up recovery of every job still queued, the control channel (control.ts,
 * commands.ts) and, when enabled, the notifier.
 *
 * Every socket authenticates its peers even on loopback (a tenant's check could otherwise speak
 * to it): see sockets.ts.
 */
import {
  ConfigError,
  JobStore,
  OwnerEgress,
  ClientStore,
  isLocalEndpoint,
  jobPolicy,
  checkLayout,
  deploymentKeys,
  instanceId,
  openRedis,
  scripts,
  SnapshotCoalescer,
  startHeartbeat,
  type Config,
  type Logger,
  type Keys,
  type Redis,
} from '@webmon/core';
import { startNotifier, type RunningNotifier } from '@webmon/notifier';
import { channelRegistry } from '@webmon/plugin-registry';
import { controlCommands } from './commands.js';
import { ControlChannel } from './control.js';
import { PriorityQueue } from './queue.js';
import { startRelay } from './relay.js';
import { Scheduler } from './scheduler.js';
import { openSockets } from './sockets.js';
import { ShardLeases } from './shards.js';
import { startSweeper } from './sweeper.js';
import { RateLimitedWarnings } from './warnings.js';

export { PriorityQueue } from './queue.js';
export { ControlChannel } from './control.js';
export { Scheduler, TakeRate, backpressureWaitMs, queueBound } from './scheduler.js';

export interface RunningDispatcher {
  stats(): DispatcherStats;
  stop(): Promise<void>;
}

export interface DispatcherStats {
  received: number;
  sent: number;
  dropped: number;
  requeued: number;
  failed: number;
  scheduled: number;
  queue: number;
}

export async function startDispatcher(config: Readonly<Config>, log: Logger, redisUrl: string): Promise<RunningDispatcher> {
  // Reachable from other hosts, the control channel must be authenticated.
  if (!isLocalEndpoint(config.zmq.control) && !config.zmq.curve.serverSecretKey) {
    throw new ConfigError(
      `invalid configuration: zmq.control: ${config.zmq.control} is reachable from other hosts; set zmq.curve (serverPublicKey, serverSecretKey, allowedClientKeys; see webmon keys) or bind 127.0.0.1`,
    );
  }
  const redis = await openRedis({ url: redisUrl, name: 'webmon-dispatcher', log });
  const keys = deploymentKeys(redis, config);
  await checkLayout(redis, keys);
  const jobs = new JobStore(redis, keys, scripts(redis), jobPolicy(config));
  const queue = new PriorityQueue();
  const stats: DispatcherStats = { received: 0, sent: 0, dropped: 0, requeued: 0, failed: 0, scheduled: 0, queue: 0 };

  const sockets = await openSockets(config, log).catch((err: unknown) => {
    redis.disconnect();
    throw err;
  });
  const { zap, secure, frontend, backend } = sockets;
  // Due assets become queued jobs (see scheduler.ts), then go out like any other; started below.
  const id = instanceId('dispatcher');
  const leases = new ShardLeases(redis, keys, id, log);
  await leases.start();
  const shards = () => leases.shards();
  const scheduler = config.scheduler.enabled ? new Scheduler({ config, jobs, queue, redis, keys, log, shards }) : null;
  const relay = startRelay({ frontend, backend, queue, scheduler, stats, log, warnings: new RateLimitedWarnings(log) });

  // Everything still queued in Redis (a restart, or ids sent while no dispatcher ran).
  let recovered = 0;
  for await (const chunk of jobs.queued()) for (const j of chunk) if (queue.add(j.id, j.priority)) recovered++;
  if (recovered) log.info({ jobs: recovered }, 'recovered queued jobs from redis');

  const sweeper = startSweeper({ jobs, queue, stats, log, intervalMs: config.dispatcher.sweepIntervalMs, requeueAfterMs: config.dispatcher.requeueAfterMs, shards });
  await scheduler?.start();
  const notifier = config.notifier.enabled ? await startConfiguredNotifier(config, redis, keys, log) : null;

  const heartbeat = startHeartbeat(redis, keys, 'dispatcher', id, log);
  // SNAPSHOT NOW: an operator waits for it, at full speed; snapshots.minIntervalMs rate-limits it.
  const snapshots = new SnapshotCoalescer(redis, undefined, { minIntervalMs: config.snapshots.minIntervalMs, durationFactor: 0 });
  // Periodic snapshots, paced: the checks keep the cores busy while a large one is written.
  const periodic = new SnapshotCoalescer(redis, (err) => log.error({ err: err.message }, 'periodic snapshot failed'), { keyDelayUs: config.snapshots.keyDelayUs });
  if (config.snapshots.everySec > 0) periodic.every(config.snapshots.everySec * 1000);
  const control = new ControlChannel(secure, controlCommands({ instance: id, redis, keys, jobs, queue, scheduler, snapshots, stats, log }), log);
  await control.bind(config.zmq.control);
  log.info({ frontend: config.zmq.frontend, backend: config.zmq.backend, control: config.zmq.control }, 'dispatcher ready');

  return {
    stats: () => ({ ...stats, scheduled: scheduler?.stats().scheduled ?? 0, queue: queue.size }),
    async stop() {
      sweeper.stop();
      scheduler?.stop();
      await leases.stop();
      await relay.stop();
      await notifier?.stop();
      await Promise.all([snapshots.close(), periodic.close(false)]);
      await control.close();
      await zap.close();
      await heartbeat.stop();
      redis.disconnect();
    },
  };
}

/** The notifier inside the dispatcher process, on the dispatcher's connection, with config's settings. */
function startConfiguredNotifier(config: Readonly<Config>, redis: Redis, keys: Keys, log: Logger): Promise<RunningNotifier> {
  return startNotifier({
    redis,
    keys,
    log,
    consumer: instanceId('notifier'),
    egress: new OwnerEgress(config, new ClientStore(redis, keys, undefined)),
    channels: channelRegistry,
    options: { publicUrl: config.api.publicUrl, maxFailures: config.notifier.maxFailures, backoffBaseMs: config.notifier.backoffBaseMs, timeoutMs: config.notifier.timeoutMs, leaseMs: config.notifier.timeoutMs + 5000 },
  });
}
