/**
 * The dispatcher role: a ZeroMQ streamer (PULL frontend ← api, PUSH backend → executors) with a
 * priority queue in between, a sweep that re-dispatches expired leases and lost ids from Redis,
 * start-up recovery of every job still queued, and the control channel.
 *
 * Every socket authenticates its peers even on loopback (a tenant's check could otherwise speak
 * to it): ZAP on every socket (ZMTP 3 only; CURVE with allowed keys when configured, see
 * zap.ts), and ZMQ_MAXMSGSIZE = zmq.maxMessageBytes, so a peer sending a larger message is
 * disconnected before the message is buffered.
 */
import { Pull, Push } from 'zeromq';
import {
  ConfigError,
  JobStore,
  OwnerEgress,
  ClientStore,
  curveServerOptions,
  isLocalEndpoint,
  jobPolicy,
  ProtocolError,
  aliveInstances,
  createKeys,
  decode,
  encode,
  instanceId,
  openRedis,
  persistenceInfo,
  scripts,
  SnapshotCoalescer,
  startHeartbeat,
  type Config,
  type Logger,
} from '@webmon/core';
import { startNotifier } from '@webmon/notifier';
import { ControlChannel } from './control.js';
import { PriorityQueue } from './queue.js';
import { Scheduler, type SchedulerStats } from './scheduler.js';
import { RateLimitedWarnings } from './warnings.js';
import { registerZap, type ZapRegistration } from './zap.js';

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
  const keys = createKeys(config.redis.keyPrefix);
  const jobs = new JobStore(redis, keys, scripts(redis), jobPolicy(config));
  const queue = new PriorityQueue();
  const stats: DispatcherStats = { received: 0, sent: 0, dropped: 0, requeued: 0, failed: 0, scheduled: 0, queue: 0 };
  let running = true;

  const warnings = new RateLimitedWarnings(log);
  const zap = await registerZap(zapAdmission(config), log);
  const secure = socketOptions(config, zap);
  const frontend = new Pull({ receiveHighWaterMark: 100_000, linger: 0, ...secure });
  const backend = new Push({ sendHighWaterMark: config.dispatcher.backendHighWaterMark, linger: 0, ...secure });
  try {
    await frontend.bind(config.zmq.frontend);
    await backend.bind(config.zmq.backend);
  } catch (err) {
    frontend.close();
    backend.close();
    await zap.close();
    redis.disconnect();
    throw err;
  }

  const receiveLoop = (async () => {
    try {
      for await (const frames of frontend) {
        try {
          const msg = decode(frames);
          const priority = msg.type === 'JOBS' ? msg.priority : 0;
          for (const id of msg.ids) queue.add(id, priority);
          stats.received += msg.ids.length;
        } catch (err) {
          stats.dropped++;
          if (err instanceof ProtocolError) warnings.warn('malformed-jobs', { err: err.message, frames: frames.length, dropped: stats.dropped }, 'dropped malformed message');
          else throw err;
        }
      }
    } catch (err) {
      if (running) log.error({ err }, 'frontend receive loop failed');
    }
  })();

  // Due assets become queued jobs (see scheduler.ts), then go out like any other; started below.
  const scheduler = config.scheduler.enabled ? new Scheduler({ config, jobs, queue, redis, keys, log }) : null;
  const sendLoop = (async () => {
    while (running) {
      const id = queue.take();
      if (id === undefined) {
        await queue.wait();
        continue;
      }
      try {
        await backend.send(encode({ type: 'JOB', ids: [id] }));
        stats.sent++;
        scheduler?.handedOff(id);
      } catch (err) {
        scheduler?.forget(id);
        if (running) log.error({ err, jobId: id }, 'backend send failed; the sweep will re-dispatch it');
      }
    }
  })();

  // Everything still queued in Redis (a restart, or ids sent while no dispatcher ran).
  let recovered = 0;
  for await (const chunk of jobs.queued()) for (const j of chunk) if (queue.add(j.id, j.priority)) recovered++;
  if (recovered) log.info({ jobs: recovered }, 'recovered queued jobs from redis');

  let sweeping = false;
  const sweepTimer = setInterval(async () => {
    if (sweeping || !running) return;
    sweeping = true;
    try {
      const res = await jobs.sweep(config.dispatcher.requeueAfterMs);
      // Retries wait out their backoff on the delayed set and come back here as `stale`.
      for (const j of res.stale) queue.add(j.id, j.priority);
      stats.requeued += res.stale.length;
      stats.failed += res.failed.length;
      if (res.requeued.length || res.failed.length) log.info({ retrying: res.requeued.length, failed: res.failed.length }, 'expired leases swept');
      if (res.stale.length) log.debug({ jobs: res.stale.length }, 're-dispatched jobs (retries, deferrals, lost ids)');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'sweep failed');
    } finally {
      sweeping = false;
    }
  }, config.dispatcher.sweepIntervalMs);

  await scheduler?.start();

  const notifier = config.notifier.enabled
    ? await startNotifier({
        redis,
        keys,
        log,
        consumer: instanceId('notifier'),
        egress: new OwnerEgress(config, new ClientStore(redis, keys, undefined)),
        options: { maxFailures: config.notifier.maxFailures, backoffBaseMs: config.notifier.backoffBaseMs, timeoutMs: config.notifier.timeoutMs, leaseMs: config.notifier.timeoutMs + 5000 },
      })
    : null;

  const id = instanceId('dispatcher');
  const heartbeat = startHeartbeat(redis, keys, 'dispatcher', id, log);

  // One save in flight, at most one start per snapshots.minIntervalMs; every request is answered
  // by a save that began after it arrived, so it holds everything written before the command.
  const snapshots = new SnapshotCoalescer(redis, undefined, { minIntervalMs: config.snapshots.minIntervalMs });
  let lastLogged: Promise<unknown> | null = null;
  const control = new ControlChannel(
    secure,
    {
      PING: async () => 'PONG',
      'SNAPSHOT NOW': async () => {
        const run = snapshots.request();
        const res = await run;
        if (lastLogged !== run) {
          lastLogged = run;
          log.info({ lastSave: res.lastSave, durationMs: res.durationMs, joined: res.joined }, 'snapshot written (control channel)');
        }
        return `OK ${res.lastSave}`;
      },
      STATUS: async () => {
        const [counts, executors, persistence] = await Promise.all([jobs.counts(), aliveInstances(redis, keys, 'executor'), persistenceInfo(redis)]);
        return JSON.stringify({
          instance: id,
          queue: queue.size,
          queuedInRedis: counts.queued,
          running: counts.running,
          failed: counts.failed,
          executors: executors.length,
          lastSnapshot: { at: persistence.lastSave, status: persistence.lastStatus, inProgress: persistence.inProgress, changesSince: persistence.changesSinceLastSave },
          received: stats.received,
          scheduled: scheduler?.stats().scheduled ?? 0,
          scheduler: scheduler ? schedulerStatus(scheduler.stats()) : null,
          sent: stats.sent,
          dropped: stats.dropped,
        });
      },
    },
    log,
  );
  await control.bind(config.zmq.control);
  log.info({ frontend: config.zmq.frontend, backend: config.zmq.backend, control: config.zmq.control }, 'dispatcher ready');

  return {
    stats: () => ({ ...stats, scheduled: scheduler?.stats().scheduled ?? 0, queue: queue.size }),
    async stop() {
      running = false;
      clearInterval(sweepTimer);
      scheduler?.stop();
      queue.wake();
      frontend.close();
      backend.close();
      await Promise.allSettled([receiveLoop, sendLoop]);
      await notifier?.stop();
      await snapshots.close();
      await control.close();
      await zap.close();
      await heartbeat.stop();
      redis.disconnect();
    },
  };
}

/** Who the ZAP handler admits: CURVE clients with allowed keys, or NULL when CURVE is off. */
function zapAdmission(config: Readonly<Config>) {
  const curve = config.zmq.curve;
  return curve.serverSecretKey ? { curveKeys: [curve.serverPublicKey!, ...curve.allowedClientKeys], allowNull: false } : { curveKeys: [], allowNull: true };
}

/**
 * Options of every dispatcher socket. The ZAP domain makes libzmq refuse ZMTP 1.0/2.0 peers and
 * ask the handler about everyone else; zapEnforceDomain refuses NULL peers too should the
 * handler be missing.
 */
function socketOptions(config: Readonly<Config>, zap: ZapRegistration) {
  return { ...curveServerOptions(config), zapDomain: zap.domain, zapEnforceDomain: true, maxMessageSize: config.zmq.maxMessageBytes };
}

/** The scheduler's part of STATUS: its counters, the bound in force and what it was derived from. */
function schedulerStatus(s: SchedulerStats) {
  return {
    bound: s.bound,
    executors: s.capacity.executors,
    concurrency: s.capacity.concurrency,
    takenPerSec: Math.round(s.capacity.ratePerSec * 10) / 10,
    skippedLate: s.late,
    skippedPending: s.pending,
  };
}
