/** What the dispatcher's control channel answers (control.ts speaks the protocol). */
import { aliveInstances, persistenceInfo, round, type JobStore, type Keys, type Logger, type Redis, type SnapshotCoalescer } from '@webmon/core';
import type { CommandHandler } from './control.js';
import type { DispatcherStats } from './index.js';
import type { PriorityQueue } from './queue.js';
import type { Scheduler, SchedulerStats } from './scheduler.js';

export interface CommandDeps {
  /** This dispatcher's instance id. */
  instance: string;
  redis: Redis;
  keys: Keys;
  jobs: JobStore;
  queue: PriorityQueue;
  scheduler: Scheduler | null;
  snapshots: SnapshotCoalescer;
  stats: DispatcherStats;
  log: Logger;
}

export function controlCommands(d: CommandDeps): Record<string, CommandHandler> {
  return {
    PING: async () => 'PONG',
    'SNAPSHOT NOW': snapshotNow(d),
    STATUS: () => status(d),
  };
}

/**
 * SNAPSHOT NOW: one save in flight, at most one start per snapshots.minIntervalMs; every request
 * is answered by a save that began after it arrived, so it holds everything written before the
 * command. A save shared by several requests is logged once.
 */
function snapshotNow({ snapshots, log }: CommandDeps): CommandHandler {
  let lastLogged: Promise<unknown> | null = null;
  return async () => {
    const run = snapshots.request();
    const res = await run;
    if (lastLogged !== run) {
      lastLogged = run;
      log.info({ lastSave: res.lastSave, durationMs: res.durationMs, joined: res.joined }, 'snapshot written (control channel)');
    }
    return `OK ${res.lastSave}`;
  };
}

async function status({ instance, redis, keys, jobs, queue, scheduler, stats }: CommandDeps): Promise<string> {
  const [counts, executors, persistence] = await Promise.all([jobs.counts(), aliveInstances(redis, keys, 'executor'), persistenceInfo(redis)]);
  return JSON.stringify({
    instance,
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
}

/** The scheduler's part of STATUS: its counters, the bound in force and what it was derived from. */
function schedulerStatus(s: SchedulerStats) {
  return {
    bound: s.bound,
    executors: s.capacity.executors,
    concurrency: s.capacity.concurrency,
    takenPerSec: round(s.capacity.ratePerSec, 1),
    skippedLate: s.late,
    skippedPending: s.pending,
  };
}
