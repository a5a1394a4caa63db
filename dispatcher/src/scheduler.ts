/**
 * The scheduler: due assets become queued jobs (schedule_claim.lua, atomically in Redis), then go
 * out through the dispatcher's queue like any other job.
 *
 * How much it lets queue follows what the executors can take, not a fixed number: the bound is
 * enough to keep every executor slot and socket buffer fed between two calls, plus about a second
 * of work at the rate the executors have been taking jobs (both advertised with their heartbeats),
 * at most `scheduler.maxQueued`. Over the bound it waits about as long as the executors need to
 * take half of the queue, so the queue neither runs dry nor makes checks wait long in it.
 *
 * Honest lateness: every created job carries the due time it stands for; its hand-off to an
 * executor is observed in `webmon_check_start_lateness_seconds`. Checks skipped because they were
 * more than an interval late, or because the previous one was still pending, are counted in Redis
 * by the script (GET /stats, `webmon_checks_skipped_total`).
 */
import { HEARTBEAT_INTERVAL_MS, aliveInstanceInfo, processMetrics, type Config, type JobStore, type Keys, type Logger, type Redis } from '@webmon/core';
import type { PriorityQueue } from './queue.js';

/** Seconds of work at the observed rate the queue may hold. */
export const QUEUE_SECONDS = 1;
/** The bound while nothing is known about the executors (none alive yet, or just started). */
export const MIN_QUEUE_BOUND = 100;
/** Shortest wait after the bound stopped a call. */
const MIN_WAIT_MS = 10;

export interface Capacity {
  /** Alive executors. */
  executors: number;
  /** Sum of their concurrency. */
  concurrency: number;
  /** Jobs per second they have been taking off the queue (smoothed). */
  ratePerSec: number;
}

/** The queue bound for a capacity: fed executors plus QUEUE_SECONDS of work, within [MIN_QUEUE_BOUND, maxQueued]. */
export function queueBound(c: Capacity, opts: { maxQueued: number; backendHighWaterMark: number }): number {
  const fed = 2 * c.concurrency + c.executors * opts.backendHighWaterMark;
  const work = Math.ceil(c.ratePerSec * QUEUE_SECONDS);
  return Math.max(1, Math.min(opts.maxQueued, Math.max(MIN_QUEUE_BOUND, fed, work)));
}

/**
 * How long to wait after the bound stopped a call: until about half the queue is taken at the
 * observed rate, between MIN_WAIT_MS and tickMs (tickMs while no rate is known).
 */
export function backpressureWaitMs(queued: number, bound: number, ratePerSec: number, tickMs: number): number {
  if (!(ratePerSec > 0)) return tickMs;
  const excess = Math.max(0, queued - Math.floor(bound / 2));
  return Math.round(Math.min(tickMs, Math.max(MIN_WAIT_MS, (excess / ratePerSec) * 1000)));
}

/**
 * Jobs per second taken by a set of instances, from the cumulative counters they advertise.
 * An instance seen for the first time, or whose counter went back (it restarted), adds nothing
 * until its next sample. The sum is smoothed (half old, half new).
 */
export class TakeRate {
  private readonly last = new Map<string, { count: number; at: number }>();
  private smoothed = 0;

  update(samples: ReadonlyArray<{ id: string; count: number; at: number }>): number {
    let sum = 0;
    let measured = false;
    const seen = new Set<string>();
    for (const s of samples) {
      seen.add(s.id);
      const prev = this.last.get(s.id);
      if (prev && s.at > prev.at && s.count >= prev.count) {
        sum += ((s.count - prev.count) * 1000) / (s.at - prev.at);
        measured = true;
      }
      if (!prev || s.at > prev.at) this.last.set(s.id, { count: s.count, at: s.at });
    }
    for (const id of this.last.keys()) if (!seen.has(id)) this.last.delete(id);
    if (measured) this.smoothed = this.smoothed > 0 ? (this.smoothed + sum) / 2 : sum;
    else if (samples.length === 0) this.smoothed = 0;
    return this.smoothed;
  }
}

export interface SchedulerStats {
  /** Jobs created. */
  scheduled: number;
  /** Checks skipped because they were more than an interval late. */
  late: number;
  /** Checks skipped because the previous one was still queued or running. */
  pending: number;
  /** The queue bound in force. */
  bound: number;
  capacity: Capacity;
}

export interface SchedulerDeps {
  config: Readonly<Config>;
  jobs: JobStore;
  queue: PriorityQueue;
  redis: Redis;
  keys: Keys;
  log: Logger;
  /** The shards this dispatcher schedules (its shard leases); default: every shard. */
  shards?: () => readonly number[];
}

export class Scheduler {
  private readonly opts: Readonly<Config['scheduler']> & { backendHighWaterMark: number };
  private readonly rate = new TakeRate();
  private readonly dueAt = new Map<string, number>();
  private readonly metrics = processMetrics();
  private capacity: Capacity = { executors: 0, concurrency: 0, ratePerSec: 0 };
  private bound = MIN_QUEUE_BOUND;
  private running = false;
  private ticking = false;
  private tickTimer: NodeJS.Timeout | undefined;
  private capacityTimer: NodeJS.Timeout | undefined;
  private readonly counts = { scheduled: 0, late: 0, pending: 0 };

  constructor(private readonly deps: SchedulerDeps) {
    this.opts = { ...deps.config.scheduler, backendHighWaterMark: deps.config.dispatcher.backendHighWaterMark };
    this.bound = Math.min(MIN_QUEUE_BOUND, this.opts.maxQueued);
  }

  async start(): Promise<void> {
    this.running = true;
    await this.refreshCapacity();
    this.capacityTimer = setInterval(() => void this.refreshCapacity(), HEARTBEAT_INTERVAL_MS);
    void this.tick();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.tickTimer);
    clearInterval(this.capacityTimer);
  }

  stats(): SchedulerStats {
    return { ...this.counts, bound: this.bound, capacity: { ...this.capacity } };
  }

  /** The send loop handed a job to an executor: a scheduled one's lateness is observed. */
  handedOff(jobId: string, now = Date.now()): void {
    const due = this.dueAt.get(jobId);
    if (due === undefined) return;
    this.dueAt.delete(jobId);
    this.metrics.startLateness.observe(Math.max(0, now - due) / 1000);
  }

  /** The job was not handed off (the send failed): the sweep re-dispatches it, unobserved. */
  forget(jobId: string): void {
    this.dueAt.delete(jobId);
  }

  private async refreshCapacity(): Promise<void> {
    const { redis, keys, log } = this.deps;
    try {
      const executors = await aliveInstanceInfo(redis, keys, 'executor');
      const ratePerSec = this.rate.update(executors.map((e) => ({ id: e.id, count: e.info.received ?? 0, at: e.info.at ?? 0 })));
      const concurrency = executors.reduce((sum, e) => sum + (e.info.concurrency ?? 0), 0);
      this.capacity = { executors: executors.length, concurrency, ratePerSec };
      this.bound = queueBound(this.capacity, this.opts);
      this.metrics.schedulerBound.set(this.bound);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not read executor capacity; keeping the last one');
    }
  }

  /** Schedules what is due, call after call while full batches come back and there is room. */
  private async tick(): Promise<void> {
    if (this.ticking || !this.running) return;
    this.ticking = true;
    let waitMs = this.opts.tickMs;
    try {
      // The queue bound is split evenly between the shards (each has its own queue).
      let shards = this.deps.shards?.() ?? this.deps.keys.shardIds;
      while (shards.length && this.running) {
        const bound = Math.max(1, Math.ceil(this.bound / this.deps.keys.layout.shards));
        const batch = Math.min(this.opts.batch, bound);
        const again: number[] = [];
        let queued = 0;
        for (const shard of shards) {
          const res = await this.deps.jobs.scheduleDue(batch, bound, Date.now(), shard);
          this.take(res.ids, res.dueAt);
          this.counts.late += res.late;
          this.counts.pending += res.skipped;
          queued += res.queued;
          if (!(res.backpressure || res.queued >= bound) && res.ids.length + res.skipped >= batch) again.push(shard);
        }
        if (again.length === 0 && queued >= bound * shards.length) waitMs = backpressureWaitMs(queued, bound * shards.length, this.capacity.ratePerSec, this.opts.tickMs);
        shards = again;
      }
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'scheduling failed');
    } finally {
      this.ticking = false;
    }
    if (this.running) this.tickTimer = setTimeout(() => void this.tick(), waitMs);
  }

  private take(ids: readonly string[], dueAt: readonly number[]): void {
    this.counts.scheduled += ids.length;
    ids.forEach((id, i) => {
      if (this.deps.queue.add(id, 0)) this.dueAt.set(id, dueAt[i]!);
    });
  }
}
