/**
 * The executor role: pulls job ids from the dispatcher, claims each job in Redis with a lease,
 * runs every plugin of the asset (concurrently, each with its own deadline), and records the
 * results and completes the job in one script. At most `executor.concurrency` checks run at
 * once; ids are only received when a slot is free, so the backlog stays with the dispatcher
 * where priorities apply.
 *
 * Trust: each check runs with the egress guard of its asset's owner (the admin's: config
 * `policy` only; a client's: public addresses plus the ranges allowed to it), judged by the
 * plugins on the address they connect to. A refused address makes the asset `unsupported` with
 * the refusal as its reason, never a retried error.
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { Pull } from 'zeromq';
import {
  ClientStore,
  JobStore,
  OwnerEgress,
  jobPolicy,
  ProtocolError,
  checkLayout,
  deploymentKeys,
  CONTENT_TYPE,
  curveClientOptions,
  processMetrics,
  decode,
  instanceId,
  openRedis,
  scripts,
  startHeartbeat,
  type Config,
  type Logger,
  type ProcessMetrics,
} from '@webmon/core';
import { closeRegexPool, type PluginRegistry } from '@webmon/plugin-sdk';
import { registry as installed } from '@webmon/plugin-registry';
import { JobRunner } from './job-runner.js';
import { startMetricsServer } from './metrics-server.js';
import { Slots } from './slots.js';

export { checkAsset, hostSpacing, outcomeOf, withBodyCap } from './check.js';

export interface ExecutorStats {
  received: number;
  claimed: number;
  completed: number;
  skipped: number;
  /** Given back to run later because their host had no free slot soon enough. */
  deferred: number;
  inFlight: number;
}

export interface RunningExecutor {
  stats(): ExecutorStats;
  /** Stops taking work, lets running checks finish (up to `graceMs`), then closes. */
  stop(graceMs?: number): Promise<void>;
}

export interface ExecutorOptions {
  registry?: PluginRegistry;
}

export async function startExecutor(config: Readonly<Config>, log: Logger, redisUrl: string, opts: ExecutorOptions = {}): Promise<RunningExecutor> {
  const registry = opts.registry ?? installed;
  const redis = await openRedis({ url: redisUrl, name: 'webmon-executor', autoPipelining: true, log });
  const keys = deploymentKeys(redis, config);
  await checkLayout(redis, keys);
  const jobs = new JobStore(redis, keys, scripts(redis), jobPolicy(config));
  // Settings are cached per owner for a few seconds: an admin's change applies within them.
  const owners = new OwnerEgress(config, new ClientStore(redis, keys, undefined));
  const metrics = processMetrics();
  metrics.jobsInFlight.set(0);
  const concurrency = config.executor.concurrency;
  const stats: ExecutorStats = { received: 0, claimed: 0, completed: 0, skipped: 0, deferred: 0, inFlight: 0 };
  const stopping = new AbortController();
  // Listeners for shutdown: one per check waiting for its host slot, and one that every plugin
  // run in flight shares (runPlugin). More than that is a leak worth Node's warning.
  setMaxListeners(concurrency + 16, stopping.signal);
  const runner = new JobRunner({ config, redis, keys, jobs, owners, registry, metrics, log, stats, stopping: stopping.signal }, `${randomBytes(9).toString('base64url')}.`);
  const slots = new Slots(concurrency);

  const pull = new Pull({ receiveHighWaterMark: Math.max(1, Math.ceil(concurrency / 2)), linger: 0, ...curveClientOptions(config) });
  pull.connect(config.zmq.backend);
  const receiving = { closing: false };
  const receiveLoop = receiveJobs({ pull, slots, runner, stats, metrics, log, receiving });

  const id = instanceId('executor');
  // What the dispatcher's scheduler sizes its queue bound from (dispatcher/src/scheduler.ts).
  const heartbeat = startHeartbeat(redis, keys, 'executor', id, log, () => ({ concurrency, received: stats.received, completed: stats.completed }));
  // Its own Prometheus endpoint, for executors on other hosts (in `webmon up` the api's
  // /metrics shows the same registry).
  const metricsServer =
    config.executor.metricsPort > 0
      ? startMetricsServer(config.executor.metricsHost, config.executor.metricsPort, { metrics: () => metrics.registry.metrics(), contentType: CONTENT_TYPE }, log)
      : null;
  log.info({ backend: config.zmq.backend, concurrency }, 'executor ready');

  return {
    stats: () => ({ ...stats, inFlight: slots.busy }),
    async stop(graceMs = 10_000) {
      receiving.closing = true;
      pull.close();
      // The port is freed first, so an executor started while this one drains can take it.
      await metricsServer?.close();
      await receiveLoop.catch(() => undefined);
      if (slots.busy > 0) {
        const timer = setTimeout(() => stopping.abort(), graceMs);
        await slots.idle();
        clearTimeout(timer);
      }
      stopping.abort();
      await registry.close();
      await closeRegexPool();
      await heartbeat.stop();
      redis.disconnect();
    },
  };
}

/**
 * Takes job ids off the dispatcher's socket while a slot is free and starts each job in one
 * (the ids of one message claimed together, as many as there are free slots); ends when the
 * socket is closed.
 */
async function receiveJobs(d: {
  pull: Pull;
  slots: Slots;
  runner: JobRunner;
  stats: ExecutorStats;
  metrics: ProcessMetrics;
  log: Logger;
  receiving: { readonly closing: boolean };
}): Promise<void> {
  const { pull, slots, runner, stats, metrics, log } = d;
  // Ids received and not started yet: a message may carry several. Lost at a stop, they are
  // still queued in Redis, and the sweep hands them out again.
  const pending: string[] = [];
  try {
    while (!d.receiving.closing) {
      await slots.available();
      if (pending.length === 0) {
        const frames = await pull.receive();
        try {
          pending.push(...decode(frames).ids);
        } catch (err) {
          if (err instanceof ProtocolError) {
            log.warn({ err: err.message }, 'dropped malformed message');
            continue;
          }
          throw err;
        }
        stats.received += pending.length;
        continue;
      }
      // As many as there are free slots, claimed together.
      const batch = pending.splice(0, slots.freeCount);
      runner.runAll(batch).forEach((done, i) => {
        slots.take();
        metrics.jobsInFlight.inc();
        done
          .catch((err: Error) => log.error({ jobId: batch[i], err }, 'job failed; it will be retried, then kept in the failed set'))
          .finally(() => {
            slots.release();
            metrics.jobsInFlight.dec();
          });
      });
    }
  } catch (err) {
    if (!d.receiving.closing) log.error({ err }, 'executor receive loop failed');
  }
}
