/**
 * The sweep: every `intervalMs`, expired leases are retried or failed (jobs_sweep.lua) and the
 * jobs due again (retries past their backoff, deferrals, ids lost on the way) go back into the
 * send queue. One pass at a time: a slow pass makes the next tick skip, never overlap.
 */
import type { JobStore, Logger } from '@webmon/core';
import type { DispatcherStats } from './index.js';
import type { PriorityQueue } from './queue.js';

export interface SweeperDeps {
  jobs: JobStore;
  queue: PriorityQueue;
  stats: DispatcherStats;
  log: Logger;
  intervalMs: number;
  /** A lease expired this long ago is swept (config dispatcher.requeueAfterMs). */
  requeueAfterMs: number;
  /** The shards this dispatcher sweeps (its shard leases). */
  shards: () => readonly number[];
}

export interface Sweeper {
  stop(): void;
}

export function startSweeper(d: SweeperDeps): Sweeper {
  let running = true;
  let sweeping = false;
  const timer = setInterval(async () => {
    if (sweeping || !running) return;
    sweeping = true;
    try {
      await sweepOnce(d);
    } catch (err) {
      d.log.warn({ err: (err as Error).message }, 'sweep failed');
    } finally {
      sweeping = false;
    }
  }, d.intervalMs);
  return {
    stop() {
      running = false;
      clearInterval(timer);
    },
  };
}

async function sweepOnce(d: SweeperDeps): Promise<void> {
  for (const shard of d.shards()) await sweepShard(d, shard);
}

async function sweepShard({ jobs, queue, stats, log, requeueAfterMs }: SweeperDeps, shard: number): Promise<void> {
  const res = await jobs.sweep(requeueAfterMs, 1000, Date.now(), shard);
  // Retries wait out their backoff on the delayed set and come back here as `stale`.
  for (const j of res.stale) queue.add(j.id, j.priority);
  stats.requeued += res.stale.length;
  stats.failed += res.failed.length;
  if (res.requeued.length || res.failed.length) log.info({ retrying: res.requeued.length, failed: res.failed.length }, 'expired leases swept');
  if (res.stale.length) log.debug({ jobs: res.stale.length }, 're-dispatched jobs (retries, deferrals, lost ids)');
}
