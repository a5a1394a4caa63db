import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import {
  AssetStore,
  JobStore,
  createLogger,
  loadConfig,
  normalizeUrl,
  processMetrics,
  registerFleetGauges,
  startHeartbeat,
} from '@webmon/core';
import { testRedis, type TestRedis } from '../../test/helpers/redis.js';
import { PriorityQueue } from './queue.js';
import { MIN_QUEUE_BOUND, Scheduler, TakeRate, backpressureWaitMs, queueBound } from './scheduler.js';

const log = createLogger({ level: 'silent', role: 'dispatcher' });
const policy = { retentionSec: 60, maxAttempts: 3, historyMax: 10, eventsMax: 10, downAfter: 3, upAfter: 1 };

describe('queueBound', () => {
  const opts = { maxQueued: 100_000, backendHighWaterMark: 64 };
  it('feeds every executor slot and socket buffer, plus a second of work at the observed rate', () => {
    expect(queueBound({ executors: 0, concurrency: 0, ratePerSec: 0 }, opts)).toBe(MIN_QUEUE_BOUND);
    expect(queueBound({ executors: 2, concurrency: 40, ratePerSec: 0 }, opts)).toBe(2 * 40 + 2 * 64);
    expect(queueBound({ executors: 2, concurrency: 40, ratePerSec: 1666.4 }, opts)).toBe(1667);
  });
  it('stays within scheduler.maxQueued', () => {
    expect(queueBound({ executors: 2, concurrency: 40, ratePerSec: 50_000 }, { ...opts, maxQueued: 1000 })).toBe(1000);
    expect(queueBound({ executors: 0, concurrency: 0, ratePerSec: 0 }, { ...opts, maxQueued: 15 })).toBe(15);
  });
});

describe('backpressureWaitMs', () => {
  it('waits about until half the queue is taken, within [10 ms, tickMs]', () => {
    expect(backpressureWaitMs(1000, 1000, 1000, 1000)).toBe(500);
    expect(backpressureWaitMs(1000, 1000, 0, 1000)).toBe(1000); // no rate known yet
    expect(backpressureWaitMs(600, 1000, 1_000_000, 1000)).toBe(10);
    expect(backpressureWaitMs(100_000, 1000, 10, 1000)).toBe(1000);
  });
});

describe('TakeRate', () => {
  it('sums the rates of the instances from their cumulative counters, smoothed', () => {
    const r = new TakeRate();
    expect(r.update([{ id: 'a', count: 100, at: 1000 }, { id: 'b', count: 0, at: 1000 }])).toBe(0);
    expect(r.update([{ id: 'a', count: 2100, at: 3000 }, { id: 'b', count: 1000, at: 3000 }])).toBe(1500);
    // Half old, half new: (1500 + 500) / 2.
    expect(r.update([{ id: 'a', count: 3100, at: 5000 }, { id: 'b', count: 1000, at: 5000 }])).toBe(1000);
  });
  it('ignores a restarted instance until its next sample, and forgets instances gone', () => {
    const r = new TakeRate();
    r.update([{ id: 'a', count: 5000, at: 1000 }]);
    expect(r.update([{ id: 'a', count: 7000, at: 2000 }])).toBe(2000);
    expect(r.update([{ id: 'a', count: 10, at: 3000 }])).toBe(2000); // counter went back: no new measure
    expect(r.update([{ id: 'a', count: 1010, at: 4000 }])).toBe(1500);
    expect(r.update([])).toBe(0);
  });
});

describe('skipped checks', () => {
  let t: TestRedis;
  let assets: AssetStore;
  let jobs: JobStore;
  beforeAll(async () => {
    t = await testRedis('skipped');
    assets = new AssetStore(t.redis, t.keys, t.scripts);
    jobs = new JobStore(t.redis, t.keys, t.scripts, policy);
  });
  afterAll(() => t.cleanup());

  let n = 0;
  const asset = async (owner: string, interval: number) =>
    (await assets.create({ owner, url: normalizeUrl(`http://skip${n++}.test/`), plugins: ['http'], config: {}, interval, tags: [], paused: false })).id;
  const skippedOf = async (id: string) => Number((await t.redis.hget(t.keys.asset(id), 'skippedChecks')) ?? 0);

  it('counts the due times a late asset missed, per asset, per owner and fleet-wide, and still runs its oldest', async () => {
    const a = await asset('o', 60);
    const t0 = Date.now() + 3_600_000;
    await t.redis.zadd(t.keys.schedule, t0 - 185_000, a);
    const res = await jobs.scheduleDue(100, 1000, t0);
    // Due at t0-185 s: that check runs now; t0-125 s and t0-65 s and t0-5 s passed unchecked.
    expect(res).toMatchObject({ late: 3, skipped: 0, dueAt: [t0 - 185_000] });
    expect(res.ids).toHaveLength(1);
    expect(await skippedOf(a)).toBe(3);
    expect(await jobs.skippedChecks('o')).toEqual({ late: 3, pending: 0 });
    expect(await jobs.skippedChecks('*')).toEqual({ late: 3, pending: 0 });

    // Its next due time comes while that job is still queued: skipped as pending, counted too.
    const next = Number(await t.redis.zscore(t.keys.schedule, a));
    expect(next).toBeGreaterThanOrEqual(t0);
    const again = await jobs.scheduleDue(100, 1000, next);
    expect(again).toMatchObject({ ids: [], skipped: 1, late: 0 });
    expect(await skippedOf(a)).toBe(4);
    expect(await jobs.skippedChecks('o')).toEqual({ late: 3, pending: 1 });

    // Another owner's skips are its own; the fleet sees both.
    const b = await asset('p', 10);
    await t.redis.zadd(t.keys.schedule, t0 - 25_000, b);
    expect(await jobs.scheduleDue(100, 1000, t0)).toMatchObject({ late: 2 });
    expect(await jobs.skippedChecks('p')).toEqual({ late: 2, pending: 0 });
    expect(await jobs.skippedChecks('o')).toEqual({ late: 3, pending: 1 });
    expect(await jobs.skippedChecks('*')).toEqual({ late: 5, pending: 1 });
  });

  it('counts nothing for an asset on time', async () => {
    await t.redis.del(t.keys.schedule); // only this asset is due
    const a = await asset('q', 60);
    const t0 = Date.now() + 3_600_000;
    await t.redis.zadd(t.keys.schedule, t0 - 59_000, a);
    expect(await jobs.scheduleDue(100, 1000, t0)).toMatchObject({ late: 0, skipped: 0 });
    expect(await skippedOf(a)).toBe(0);
    expect(await jobs.skippedChecks('q')).toEqual({ late: 0, pending: 0 });
  });

  it('are a counter in /metrics', async () => {
    const registry = new Registry();
    registerFleetGauges(registry, t.redis, t.keys);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE webmon_checks_skipped_total counter');
    expect(text).toContain('webmon_checks_skipped_total{reason="late"} 5');
    expect(text).toContain('webmon_checks_skipped_total{reason="pending"} 1');
  });
});

describe('Scheduler', () => {
  let t: TestRedis;
  beforeAll(async () => {
    t = await testRedis('sched-adapt');
  });
  afterAll(() => t.cleanup());

  it('bounds the queue by the executors it sees, and observes the lateness of what it hands off', async () => {
    const assets = new AssetStore(t.redis, t.keys, t.scripts);
    const jobs = new JobStore(t.redis, t.keys, t.scripts, policy);
    const ids: string[] = [];
    for (let i = 0; i < 400; i++) {
      ids.push((await assets.create({ owner: 'o', url: normalizeUrl(`http://adapt${i}.test/`), plugins: ['http'], config: {}, interval: 3600, tags: [], paused: false })).id);
    }
    const dueAt = Date.now() - 3000;
    await t.redis.zadd(t.keys.schedule, ...ids.flatMap((id) => [dueAt, id]));
    // Two executors advertising concurrency 30 and 20 (their heartbeats, as executors send them).
    const beats = [
      startHeartbeat(t.redis, t.keys, 'executor', 'executor@test:1', undefined, () => ({ concurrency: 30, received: 0 })),
      startHeartbeat(t.redis, t.keys, 'executor', 'executor@test:2', undefined, () => ({ concurrency: 20, received: 0 })),
    ];
    await new Promise((r) => setTimeout(r, 100));
    const config = loadConfig({ env: {}, overrides: { redis: { keyPrefix: t.prefix }, scheduler: { tickMs: 100 } } });
    const queue = new PriorityQueue();
    const scheduler = new Scheduler({ config, jobs, queue, redis: t.redis, keys: t.keys, log });
    const lateness = processMetrics().startLateness;
    const before = (await lateness.get()).values;
    const countOf = (values: typeof before) => values.find((v) => v.metricName === 'webmon_check_start_lateness_seconds_count')?.value ?? 0;
    const sumOf = (values: typeof before) => values.find((v) => v.metricName === 'webmon_check_start_lateness_seconds_sum')?.value ?? 0;
    try {
      await scheduler.start();
      const bound = 2 * 50 + 2 * config.dispatcher.backendHighWaterMark;
      expect(scheduler.stats()).toMatchObject({ bound, capacity: { executors: 2, concurrency: 50 } });
      for (let i = 0; i < 50 && queue.size < bound; i++) await new Promise((r) => setTimeout(r, 20));
      // Nothing takes the jobs: it stops at the bound however much is due, and stays there.
      await new Promise((r) => setTimeout(r, 300));
      expect(queue.size).toBe(bound);
      expect(await t.redis.zcard(t.keys.jobsQueued)).toBe(bound);

      for (let i = 0; i < 10; i++) scheduler.handedOff(queue.take()!);
      const after = (await lateness.get()).values;
      expect(countOf(after) - countOf(before)).toBe(10);
      expect(sumOf(after) - sumOf(before)).toBeGreaterThanOrEqual(10 * 3);
      // A job it did not schedule is not observed.
      scheduler.handedOff('not-scheduled-here');
      expect(countOf((await lateness.get()).values)).toBe(countOf(after));
    } finally {
      scheduler.stop();
      for (const b of beats) await b.stop();
    }
    expect(await t.redis.hlen(t.keys.heartbeatInfo('executor'))).toBe(0);
  });
});
