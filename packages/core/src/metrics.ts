/**
 * Prometheus metrics (prom-client). Each process has one registry: executors count the checks
 * they run; the api adds fleet gauges read from Redis at scrape time (assets by state, queue,
 * executors alive, snapshot age). In `webmon up` both land in the api's /metrics.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Redis } from 'ioredis';
import { aliveInstances } from './heartbeat.js';
import { ALL_OWNERS, type Keys } from './keys.js';
import { persistenceInfo } from './snapshot.js';
import { ASSET_STATES } from './types.js';

export const CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

export interface ProcessMetrics {
  registry: Registry;
  checks: Counter<'plugin' | 'status' | 'reason'>;
  checkDuration: Histogram<'plugin'>;
  jobsInFlight: Gauge;
  /** Observed by the dispatcher when it hands a scheduled check to an executor. */
  startLateness: Histogram;
  /** The scheduler's queue bound in force (derived from the executors' capacity). */
  schedulerBound: Gauge;
}

let shared: ProcessMetrics | undefined;

/** The metrics of this process (created once, with Node's default process metrics). */
export function processMetrics(): ProcessMetrics {
  if (shared) return shared;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'webmon_process_' });
  shared = {
    registry,
    checks: new Counter({
      name: 'webmon_checks_total',
      help: 'Plugin runs by plugin, status (ok, warn, error) and reason',
      labelNames: ['plugin', 'status', 'reason'],
      registers: [registry],
    }),
    checkDuration: new Histogram({
      name: 'webmon_check_duration_seconds',
      help: 'Duration of plugin runs',
      labelNames: ['plugin'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    jobsInFlight: new Gauge({ name: 'webmon_executor_jobs_in_flight', help: 'Checks running in this executor', registers: [registry] }),
    startLateness: new Histogram({
      name: 'webmon_check_start_lateness_seconds',
      help: 'Scheduled checks: time from their due time until this dispatcher handed them to an executor',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    }),
    schedulerBound: new Gauge({
      name: 'webmon_scheduler_queue_bound',
      help: 'Jobs this dispatcher lets queue before it stops scheduling (derived from the alive executors, at most scheduler.maxQueued)',
      registers: [registry],
    }),
  };
  return shared;
}

/** Adds gauges computed from Redis at every scrape (the api registers them once). */
export function registerFleetGauges(registry: Registry, redis: Redis, keys: Keys): void {
  new Gauge({
    name: 'webmon_assets',
    help: 'Assets by state, fleet-wide',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const pipe = redis.pipeline();
      for (const s of ASSET_STATES) pipe.zcard(keys.ownerIndex(ALL_OWNERS, 'state', s));
      const rows = (await pipe.exec()) ?? [];
      ASSET_STATES.forEach((s, i) => {
        this.set({ state: s }, Number(rows[i]?.[1] ?? 0));
      });
    },
  });
  new Gauge({
    name: 'webmon_jobs',
    help: 'Jobs by queue: queued, running (leased), delayed (retries, politeness), failed',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      const [queued, running, delayed, failed] = await Promise.all([
        redis.zcard(keys.jobsQueued),
        redis.zcard(keys.jobsLeases),
        redis.zcard(keys.jobsDelayed),
        redis.zcard(keys.jobsFailed),
      ]);
      this.set({ queue: 'queued' }, queued);
      this.set({ queue: 'running' }, running);
      this.set({ queue: 'delayed' }, delayed);
      this.set({ queue: 'failed' }, failed);
    },
  });
  new Counter({
    name: 'webmon_checks_skipped_total',
    help: 'Scheduled checks skipped, fleet-wide: late (their due time passed more than an interval ago) or pending (the previous check was still queued or running)',
    labelNames: ['reason'],
    registers: [registry],
    async collect() {
      const [late, pending] = await redis.hmget(keys.checksSkipped, `${ALL_OWNERS}:late`, `${ALL_OWNERS}:pending`);
      this.reset();
      this.inc({ reason: 'late' }, Number(late ?? 0));
      this.inc({ reason: 'pending' }, Number(pending ?? 0));
    },
  });
  new Gauge({
    name: 'webmon_executors_alive',
    help: 'Executors seen in the last few seconds',
    registers: [registry],
    async collect() {
      this.set((await aliveInstances(redis, keys, 'executor')).length);
    },
  });
  new Gauge({
    name: 'webmon_snapshot_age_seconds',
    help: 'Seconds since Redis last wrote an RDB snapshot',
    registers: [registry],
    async collect() {
      const info = await persistenceInfo(redis);
      this.set(Math.max(0, Date.now() / 1000 - info.lastSave));
    },
  });
  new Gauge({
    name: 'webmon_snapshot_last_ok',
    help: '1 when the last RDB snapshot succeeded',
    registers: [registry],
    async collect() {
      this.set((await persistenceInfo(redis)).lastStatus === 'ok' ? 1 : 0);
    },
  });
}
