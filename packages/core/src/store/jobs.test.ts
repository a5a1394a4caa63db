import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedis, type TestRedis } from '../../../../test/helpers/redis.js';
import type { CheckOutcome, CheckResult } from '../types.js';
import { normalizeUrl } from '../url.js';
import { AssetStore } from './assets.js';
import type { Scripts } from '../scripts.js';
import { JobStore, type JobPolicy } from './jobs.js';
import { StatsStore } from './stats.js';

let t: TestRedis;
let assets: AssetStore;
let jobs: JobStore;

beforeAll(async () => {
  t = await testRedis('jobs');
  assets = new AssetStore(t.redis, t.keys, t.scripts);
  jobs = new JobStore(t.redis, t.keys, t.scripts, policy);
});
afterAll(() => t.cleanup());

let n = 0;
async function newAsset(owner = 'o'): Promise<string> {
  const { id } = await assets.create({ owner, url: normalizeUrl(`http://job${n++}.test/`), plugins: ['http'], config: {}, interval: 60, tags: [] });
  return id;
}

const result = (status: CheckResult['status'], reason: CheckResult['reason'] = null): CheckResult => ({
  plugin: 'http',
  status,
  reason,
  message: status,
  durationMs: 1,
  metrics: { statusCode: status === 'ok' ? 200 : 500 },
});

/** Enqueues, claims and completes one check with the given outcome. */
async function check(assetId: string, status: CheckResult['status'], reason: CheckResult['reason'] = null) {
  const [jobId] = await jobs.enqueue([{ assetId, owner: 'o' }], 0);
  const claim = await jobs.claim(jobId!, 'tok', 10_000);
  if (!claim.claimed) throw new Error(`not claimed: ${claim.why}`);
  const outcome: CheckOutcome = status;
  return jobs.complete({ jobId: jobId!, token: 'tok', outcome, reason, results: [result(status, reason)], durationMs: 1, owner: 'o', assetId });
}

const policy: JobPolicy = { retentionSec: 3600, maxAttempts: 2, historyMax: 100, eventsMax: 1000, downAfter: 3, upAfter: 1 };

/** A JobStore whose script calls are counted by name (the test Redis is shared with other files). */
function countingStore(): { store: JobStore; calls: string[] } {
  const calls: string[] = [];
  const scripts: Scripts = { run: (name, keys, args) => {
    calls.push(name);
    return t.scripts.run(name, keys, args);
  } };
  return { store: new JobStore(t.redis, t.keys, scripts, policy), calls };
}

describe('JobStore', () => {
  it('claims several jobs in one call, each as a claim of its own would, in the order given', async () => {
    const assetId = await newAsset();
    const [a, b, done] = await jobs.enqueue([{ assetId, owner: 'o' }, { assetId, owner: 'o' }, { assetId, owner: 'o' }], 0);
    expect((await jobs.claim(done!, 'first', 30_000)).claimed).toBe(true);
    await jobs.complete({ jobId: done!, token: 'first', outcome: 'ok', reason: null, results: [result('ok')], durationMs: 1, owner: 'o', assetId });
    const counted = countingStore();
    const claims = await counted.store.claimMany(
      [
        { jobId: b!, token: 'tb' },
        { jobId: 'nosuchjob', token: 'tx' },
        { jobId: done!, token: 'td' },
        { jobId: a!, token: 'ta' },
      ],
      30_000,
    );
    expect(claims).toEqual([
      { claimed: true, attempts: 1, asset: expect.objectContaining({ id: assetId }) },
      { claimed: false, why: 'missing' },
      { claimed: false, why: 'done' },
      { claimed: true, attempts: 1, asset: expect.objectContaining({ id: assetId }) },
    ]);
    expect(counted.calls).toEqual(['job_claim']);
    expect(await t.redis.hmget(t.keys.job(a!), 'status', 'token')).toEqual(['running', 'ta']);
    expect(await t.redis.hmget(t.keys.job(b!), 'status', 'token')).toEqual(['running', 'tb']);
  });

  it('records several completions in one call, each as a completion of its own would, in the order given', async () => {
    const [up, down] = [await newAsset(), await newAsset()];
    const ids = await jobs.enqueue([{ assetId: up, owner: 'o' }, { assetId: down, owner: 'o' }, { assetId: up, owner: 'o' }], 0);
    const claims = await jobs.claimMany(ids.map((jobId, i) => ({ jobId, token: `t${i}` })), 30_000);
    expect(claims.map((c) => c.claimed)).toEqual([true, true, true]);
    const counted = countingStore();
    const res = await counted.store.completeMany([
      { jobId: ids[0]!, token: 't0', outcome: 'ok', reason: null, results: [result('ok')], durationMs: 1, owner: 'o', assetId: up },
      { jobId: ids[1]!, token: 'not-its-token', outcome: 'ok', reason: null, results: [result('ok')], durationMs: 1, owner: 'o', assetId: down },
      { jobId: ids[1]!, token: 't1', outcome: 'error', reason: 'http_status', results: [result('error', 'http_status')], durationMs: 1, owner: 'o', assetId: down },
      { jobId: ids[2]!, token: 't2', outcome: 'error', reason: 'timeout', results: [result('error', 'timeout')], durationMs: 1, owner: 'o', assetId: up },
      { jobId: ids[0]!, token: 't0', outcome: 'ok', reason: null, results: [result('ok')], durationMs: 1, owner: 'o', assetId: up },
    ]);
    expect(res).toEqual([
      { recorded: true, from: 'unknown', to: 'up' },
      { recorded: false, why: 'stale' },
      { recorded: true, from: 'unknown', to: 'unknown' },
      { recorded: true, from: 'up', to: 'up' }, // one failure, down after three
      { recorded: false, why: 'done' },
    ]);
    expect(counted.calls).toEqual(['job_complete']);
    expect(await t.redis.hmget(t.keys.asset(up), 'checks', 'failStreak', 'lastReason')).toEqual(['2', '1', 'timeout']);
    expect(await t.redis.hmget(t.keys.asset(down), 'checks', 'failStreak')).toEqual(['1', '1']);
  });

  it('queues a large push in one call: every job hashed and queued at its time, ids unique and in input order', async () => {
    const assetIds = [await newAsset(), await newAsset()];
    const items = Array.from({ length: 2500 }, (_, i) => ({ assetId: assetIds[i % 2]!, owner: i % 2 ? 'p' : 'o' }));
    const at = Date.now() - 1234;
    const ids = await jobs.enqueue(items, 4, at);
    expect(new Set(ids).size).toBe(2500);
    const scores = await Promise.all(ids.map((id) => t.redis.zscore(t.keys.jobsQueued, id)));
    expect(scores.every((s) => Number(s) === at)).toBe(true);
    for (const i of [0, 1, 999, 1000, 2001, 2499]) {
      expect(await jobs.get(ids[i]!)).toMatchObject({ id: ids[i], assetId: items[i]!.assetId, owner: items[i]!.owner, status: 'queued', priority: 4, attempts: 0, createdAt: at });
    }
    // Out of the queue again: the sweep tests below look at its oldest entries.
    await t.redis.zrem(t.keys.jobsQueued, ...ids);
  });

  it('writes a queued job, claims it once, completes it once', async () => {
    const assetId = await newAsset();
    const [id] = await jobs.enqueue([{ assetId, owner: 'o' }], 3);
    expect(await jobs.get(id!)).toMatchObject({ id, assetId, status: 'queued', priority: 3, attempts: 0 });
    expect(await t.redis.zscore(t.keys.jobsQueued, id!)).not.toBeNull();

    const claim = await jobs.claim(id!, 'token-a', 30_000);
    expect(claim).toMatchObject({ claimed: true, attempts: 1, asset: { id: assetId, url: expect.stringContaining('http://job') } });
    expect(await jobs.claim(id!, 'token-b', 30_000)).toEqual({ claimed: false, why: 'running' });
    expect(await t.redis.zscore(t.keys.jobsQueued, id!)).toBeNull();
    expect(await t.redis.zscore(t.keys.jobsLeases, id!)).not.toBeNull();

    const completion = { jobId: id!, outcome: 'ok' as const, reason: null, results: [result('ok')], durationMs: 5, owner: 'o', assetId };
    expect(await jobs.complete({ ...completion, token: 'wrong' })).toEqual({ recorded: false, why: 'stale' });
    expect(await jobs.complete({ ...completion, token: 'token-a' })).toEqual({ recorded: true, from: 'unknown', to: 'up' });
    expect(await jobs.complete({ ...completion, token: 'token-a' })).toEqual({ recorded: false, why: 'done' });
    expect(await jobs.claim(id!, 'token-c', 30_000)).toEqual({ claimed: false, why: 'done' });

    const job = await jobs.get(id!);
    expect(job).toMatchObject({ status: 'done', outcome: 'ok', results: [expect.objectContaining({ plugin: 'http', status: 'ok' })] });
    expect(await t.redis.ttl(t.keys.job(id!))).toBeGreaterThan(3000);
    const rec = await assets.get(assetId);
    expect(rec).toMatchObject({ checks: 1, okCount: 1, failCount: 0, state: 'up', lastOutcome: 'ok', lastJobId: id });
    expect(await assets.latest(assetId)).toEqual({ http: expect.objectContaining({ status: 'ok' }) });
    expect(await t.redis.llen(t.keys.assetHistory(assetId))).toBe(1);
  });

  it('goes down only after three consecutive failures, and back up after one good check', async () => {
    const id = await newAsset();
    expect(await check(id, 'ok')).toMatchObject({ to: 'up' });
    expect(await check(id, 'error', 'refused')).toMatchObject({ from: 'up', to: 'up' });
    expect(await check(id, 'error', 'refused')).toMatchObject({ to: 'up' });
    expect(await check(id, 'error', 'refused')).toMatchObject({ from: 'up', to: 'down' });
    expect(await check(id, 'error', 'refused')).toMatchObject({ from: 'down', to: 'down' });
    expect(await check(id, 'ok')).toMatchObject({ from: 'down', to: 'up' });
    expect(await check(id, 'warn', 'slow')).toMatchObject({ from: 'up', to: 'degraded' });
    const rec = await assets.get(id);
    expect(rec).toMatchObject({ state: 'degraded', stateReason: 'slow', checks: 7, okCount: 3, failCount: 4 });
    // Each transition is one event: unknown→up, up→down, down→up, up→degraded.
    const events = await t.redis.xrange(t.keys.events, '-', '+');
    const mine = events.map(([, f]) => f).filter((f) => f[1] === id);
    expect(mine.map((f) => `${f[5]}>${f[7]}`)).toEqual(['unknown>up', 'up>down', 'down>up', 'up>degraded']);
    expect((await assets.list({ owner: 'o', state: 'degraded', limit: 100 })).ids).toContain(id);
    expect((await assets.list({ owner: '*', state: 'up', limit: 1000 })).ids).not.toContain(id);
  });

  it('fails a job whose asset was deleted before it ran', async () => {
    const assetId = await newAsset();
    const [id] = await jobs.enqueue([{ assetId, owner: 'o' }], 0);
    await assets.delete(assetId);
    expect(await jobs.claim(id!, 'tok', 1000)).toEqual({ claimed: false, why: 'asset_deleted' });
    expect(await jobs.get(id!)).toMatchObject({ status: 'failed', error: 'asset_deleted' });
  });

  it('finishes a job whose asset was deleted while it ran, and writes nothing of the asset', async () => {
    const assetId = await newAsset();
    const keep = await newAsset();
    const [id, other] = await jobs.enqueue([{ assetId, owner: 'o' }, { assetId: keep, owner: 'o' }], 0);
    expect((await jobs.claim(id!, 'tok', 10_000)).claimed).toBe(true);
    expect((await jobs.claim(other!, 'tok2', 10_000)).claimed).toBe(true);
    await assets.delete(assetId);
    const now = Date.now();
    const minute = String(Math.floor(now / 60_000) * 60);
    const checksBefore = Number((await t.redis.hget(t.keys.shardOf(id!).statsChecks, minute)) ?? 0);
    // In one call with a completion of a live asset: each is recorded as if it came alone.
    const res = await jobs.completeMany(
      [
        { jobId: id!, token: 'tok', outcome: 'ok', reason: null, results: [result('ok')], durationMs: 1, owner: 'o', assetId },
        { jobId: other!, token: 'tok2', outcome: 'ok', reason: null, results: [result('ok')], durationMs: 1, owner: 'o', assetId: keep },
      ],
      now,
    );
    expect(res).toEqual([
      { recorded: true, from: '', to: '' },
      { recorded: true, from: 'unknown', to: 'up' },
    ]);
    expect(await jobs.get(id!)).toMatchObject({ status: 'done' });
    const left = await t.redis.exists(t.keys.asset(assetId), t.keys.assetHistory(assetId), t.keys.assetLatest(assetId), t.keys.assetRollup(assetId, 'minute'));
    expect(left).toBe(0);
    expect(await t.redis.llen(t.keys.assetHistory(keep))).toBe(1);
    // Both leases end; only the live asset's check counts in the fleet's checks per minute.
    expect(await t.redis.zscore(t.keys.shardOf(id!).jobsLeases, id!)).toBeNull();
    expect(await t.redis.zscore(t.keys.shardOf(id!).jobsLeases, other!)).toBeNull();
    expect(Number(await t.redis.hget(t.keys.shardOf(id!).statsChecks, minute))).toBe(checksBefore + 1);
  });

  it('retries an expired lease after a backoff, then fails the job after maxAttempts', async () => {
    const assetId = await newAsset();
    const [id] = await jobs.enqueue([{ assetId, owner: 'o' }], 4);
    const t0 = Date.now();
    expect((await jobs.claim(id!, 'a', 1000, t0)).claimed).toBe(true);
    expect(await jobs.extend(id!, 'a', 1000, t0 + 500)).toBe(true);
    expect(await jobs.extend(id!, 'other', 1000, t0 + 500)).toBe(false);
    // Not expired yet at t0+1400 (extended to t0+1500).
    expect((await jobs.sweep(3_600_000, 100, t0 + 1400)).requeued).toEqual([]);
    const first = await jobs.sweep(3_600_000, 100, t0 + 1600);
    expect(first.requeued).toEqual([id]);
    expect(await jobs.get(id!)).toMatchObject({ status: 'queued', attempts: 1, error: expect.stringContaining('lease expired') });
    // (A late completion by the first executor is covered in job-recovery.test.ts.)
    // Backoff: 1 s after the first attempt, then it is dispatched again.
    expect(await jobs.claim(id!, 'early', 1000, t0 + 2000)).toEqual({ claimed: false, why: 'deferred' });
    expect((await jobs.sweep(3_600_000, 100, t0 + 2500)).stale.map((j) => j.id)).not.toContain(id);
    expect((await jobs.sweep(3_600_000, 100, t0 + 2600)).stale).toContainEqual({ id, priority: 4 });
    expect((await jobs.claim(id!, 'b', 1000, t0 + 2700)).claimed).toBe(true);
    const second = await jobs.sweep(3_600_000, 100, t0 + 3800);
    expect(second.failed).toEqual([id]);
    expect(await jobs.get(id!)).toMatchObject({ status: 'failed', attempts: 2, error: expect.stringContaining('lease expired 2 times') });
    expect(await t.redis.zscore(t.keys.jobsFailed, id!)).not.toBeNull();
  });

  it('re-dispatches queued jobs nobody claimed', async () => {
    const assetId = await newAsset();
    const t0 = Date.now();
    const [id] = await jobs.enqueue([{ assetId, owner: 'o' }], 2, t0);
    const mine = (r: { stale: Array<{ id: string; priority: number }> }) => r.stale.filter((j) => j.id === id);
    expect(mine(await jobs.sweep(60_000, 100, t0 + 30_000))).toEqual([]);
    expect(mine(await jobs.sweep(60_000, 100, t0 + 61_000))).toEqual([{ id, priority: 2 }]);
    // Bumped: not returned again until another requeueAfter has passed.
    expect(mine(await jobs.sweep(60_000, 100, t0 + 62_000))).toEqual([]);
    const all = [];
    for await (const chunk of jobs.queued(2)) all.push(...chunk);
    expect(all).toContainEqual({ id, priority: 2 });
  });
});

describe('politeness', () => {
  it('spaces check starts per host and refuses waits that are too long', async () => {
    const t0 = Date.now();
    expect(await jobs.hostSlot('a.test', 'o', 1000, 2500, t0)).toBe(0);
    expect(await jobs.hostSlot('a.test', 'o', 1000, 2500, t0)).toBe(1000);
    expect(await jobs.hostSlot('a.test', 'o', 1000, 2500, t0 + 100)).toBe(1900);
    // The next slot is 3000 ms away: too long. It becomes the owner's turn; come back when it is
    // 2500 ms away, and whichever of its jobs asks then takes it.
    expect(await jobs.hostSlot('a.test', 'o', 1000, 2500, t0)).toBe(-500);
    expect(await jobs.hostSlot('a.test', 'o', 1000, 2500, t0 + 500)).toBe(2500);
    // Other hosts are independent.
    expect(await jobs.hostSlot('b.test', 'o', 1000, 2500, t0)).toBe(0);
  });

  it('honours Retry-After without ever moving the next slot earlier', async () => {
    const t0 = Date.now();
    await jobs.hostBackoff('c.test', t0 + 30_000, t0);
    expect(await jobs.hostSlot('c.test', 'o', 1000, 2000, t0)).toBe(-28_000);
    await jobs.hostBackoff('c.test', t0 + 5_000, t0);
    expect(await jobs.hostSlot('c.test', 'o', 1000, 2000, t0 + 29_000)).toBe(1000);
  });

  it('defers a claimed job without counting an attempt, and queues it again on time', async () => {
    const assetId = await newAsset();
    const [id] = await jobs.enqueue([{ assetId, owner: 'o' }], 6);
    const t0 = Date.now();
    expect((await jobs.claim(id!, 'tok', 10_000, t0)).claimed).toBe(true);
    expect(await jobs.defer(id!, 'other', t0 + 5000)).toBe(false);
    expect(await jobs.defer(id!, 'tok', t0 + 5000)).toBe(true);
    expect(await jobs.get(id!)).toMatchObject({ status: 'queued', attempts: 0 });
    // A stray delivery before its time is not claimed.
    expect(await jobs.claim(id!, 'early', 10_000, t0 + 1000)).toEqual({ claimed: false, why: 'deferred' });
    expect((await jobs.sweep(3_600_000, 100, t0 + 4000)).stale.map((j) => j.id)).not.toContain(id);
    expect((await jobs.sweep(3_600_000, 100, t0 + 5000)).stale).toContainEqual({ id, priority: 6 });
    expect((await jobs.claim(id!, 'late', 10_000, t0 + 5001)).claimed).toBe(true);
  });
});

describe('system failures', () => {
  it('retries a job after a fault with backoff, then keeps it failed; a retry queues it again', async () => {
    const assetId = await newAsset();
    const [id] = await jobs.enqueue([{ assetId, owner: 'o' }], 1);
    const t0 = Date.now();
    expect((await jobs.claim(id!, 'a', 10_000, t0)).claimed).toBe(true);
    expect(await jobs.fail(id!, 'wrong', 'boom', t0)).toBe('stale');
    expect(await jobs.fail(id!, 'a', 'boom', t0)).toBe('retry');
    expect(await jobs.get(id!)).toMatchObject({ status: 'queued', error: 'boom' });
    expect(await t.redis.zscore(t.keys.jobsDelayed, id!)).toBe(String(t0 + 1000));
    expect((await jobs.claim(id!, 'b', 10_000, t0 + 1000)).claimed).toBe(true);
    expect(await jobs.fail(id!, 'b', 'boom again', t0 + 1000)).toBe('failed'); // maxAttempts 2
    expect(await jobs.get(id!)).toMatchObject({ status: 'failed', error: 'boom again', attempts: 2 });
    const listed = await jobs.listFailed('o', 0, 10);
    expect(listed.jobs.map((j) => j.id)).toContain(id);
    expect((await jobs.listFailed('someone-else', 0, 10)).jobs.map((j) => j.id)).not.toContain(id);

    expect(await jobs.retry(id!)).toBe('queued');
    expect(await jobs.get(id!)).toMatchObject({ status: 'queued', attempts: 0 });
    expect(await t.redis.ttl(t.keys.job(id!))).toBe(-1);
    expect(await t.redis.zscore(t.keys.jobsFailed, id!)).toBeNull();
    expect(await jobs.retry(id!)).toBe('not_failed');
    expect(await jobs.retry('nope')).toBe('missing');
  });
});

describe('retention', () => {
  it('caps an asset history by count and by age', async () => {
    const capped = new JobStore(t.redis, t.keys, t.scripts, { retentionSec: 60, maxAttempts: 2, historyMax: 50, historyMaxAgeSec: 3600, eventsMax: 1000, downAfter: 3, upAfter: 1 });
    const assetId = await newAsset();
    const complete = async (now: number) => {
      const [id] = await capped.enqueue([{ assetId, owner: 'o' }], 0, now);
      await capped.claim(id!, 'tok', 10_000, now);
      await capped.complete({ jobId: id!, token: 'tok', outcome: 'ok', reason: null, results: [result('ok')], durationMs: 1, owner: 'o', assetId }, now);
    };
    // Checks two hours ago, then recent ones: the old ones go (a few per completion), and the
    // count cap holds exactly.
    for (let i = 0; i < 3; i++) await complete(Date.now() - 7_200_000 + i);
    for (let i = 0; i < 400; i++) await complete(Date.now());
    const entries = await t.redis.lrange(t.keys.assetHistory(assetId), 0, -1);
    expect(entries).toHaveLength(50);
    expect(entries.every((e) => Number(e.split(/\D/)[0]) > Date.now() - 60_000)).toBe(true);
  });
});

describe('roll-ups', () => {
  it('aggregates checks per minute, hour and day on the write path', async () => {
    const assetId = await newAsset();
    const t0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000 + 3_600_000; // yesterday 01:00 UTC: one hour, one day
    const run = async (status: CheckResult['status'], durationMs: number, at: number) => {
      const [id] = await jobs.enqueue([{ assetId, owner: 'o' }], 0, at);
      await jobs.claim(id!, 'tok', 10_000, at);
      const r = { ...result(status, status === 'ok' ? null : 'timeout'), durationMs };
      await jobs.complete({ jobId: id!, token: 'tok', outcome: status, reason: r.reason, results: [r], durationMs, owner: 'o', assetId }, at);
    };
    await run('ok', 12, t0);
    await run('ok', 250, t0 + 10_000);
    await run('error', 5000, t0 + 20_000);
    const stored = async (res: 'minute' | 'hour' | 'day') => (await new StatsStore(t.redis, t.keys).buckets(assetId, res, 0, Date.now())).map((b) => b.bucket);
    for (const res of ['minute', 'hour', 'day'] as const) {
      const buckets = await stored(res);
      const total = buckets.reduce((s, b) => s + b.n, 0);
      expect(total, res).toBe(3);
      const merged = buckets.reduce((m, b) => ({ ok: m.ok + (b.o.ok ?? 0), error: m.error + (b.o.error ?? 0), x: Math.max(m.x, b.p.http?.x ?? 0) }), { ok: 0, error: 0, x: 0 });
      expect(merged).toEqual({ ok: 2, error: 1, x: 5000 });
    }
    const days = await stored('day');
    expect(days).toHaveLength(1);
    const day = days[0]!;
    expect(day.r).toEqual({ timeout: 1 });
    expect(day.p.http!.s).toBe(5262);
    // 12 ms → bin "6" (≤ 15), 250 → bin "14" (≤ 300), 5000 → bin "21" (≤ 5000)
    expect(day.p.http!.h).toEqual({ '6': 1, '14': 1, '21': 1 });
    // The time between checks counts for the state the asset was in: 2 × 10 s of up.
    expect(day.t).toEqual({ up: 20_000 });
    await assets.delete(assetId);
    expect(await t.redis.exists(t.keys.assetRollup(assetId, 'minute'), t.keys.assetRollup(assetId, 'day'))).toBe(0);
  });
});

describe('completion argument', () => {
  it('stores the time, duration, reason and results exactly as given', async () => {
    const assetId = await newAsset();
    const [id] = await jobs.enqueue([{ assetId, owner: 'o' }], 0);
    await jobs.claim(id!, 'tok', 10_000);
    const r: CheckResult = { ...result('error', 'http_status'), message: 'é \u{1F600} "quoted" \\ \u0001 tab\t', durationMs: 0.1 + 0.2, metrics: { statusCode: 503, ratio: 1 / 3 } };
    const at = Date.now();
    const res = await jobs.complete({ jobId: id!, token: 'tok', outcome: 'error', reason: 'http_status', results: [r], durationMs: 12.3, owner: 'o', assetId }, at);
    expect(res).toEqual({ recorded: true, from: 'unknown', to: 'unknown' });
    const [lastDurationMs, lastCheckAt, lastReason] = await t.redis.hmget(t.keys.asset(assetId), 'lastDurationMs', 'lastCheckAt', 'lastReason');
    expect([lastDurationMs, lastCheckAt, lastReason]).toEqual(['12.3', String(at), 'http_status']);
    expect((await jobs.get(id!))?.results).toEqual([r]);
    expect(await assets.latest(assetId)).toEqual({ http: r });
    const page = await new StatsStore(t.redis, t.keys).results(assetId, { from: 0, to: at + 1, limit: 1 });
    expect(page.items[0]).toMatchObject({ outcome: 'error', jobId: id, results: [r] });
  });

  it('caps the asset events stream at the policy', async () => {
    const capped = new JobStore(t.redis, t.keys, t.scripts, { retentionSec: 60, maxAttempts: 2, historyMax: 10, eventsMax: 100_000, assetEventsMax: 100, downAfter: 1, upAfter: 1 });
    const assetId = await newAsset();
    for (let i = 0; i < 400; i++) {
      const status = i % 2 === 0 ? 'ok' : 'error';
      const [id] = await capped.enqueue([{ assetId, owner: 'o' }], 0);
      await capped.claim(id!, 'tok', 10_000);
      await capped.complete({ jobId: id!, token: 'tok', outcome: status, reason: status === 'ok' ? null : 'refused', results: [result(status)], durationMs: 1, owner: 'o', assetId });
    }
    // Trimming is approximate (whole stream nodes): at least the cap is kept, far fewer than 400.
    const kept = await t.redis.xlen(t.keys.assetEvents(assetId));
    expect(kept).toBeGreaterThanOrEqual(100);
    expect(kept).toBeLessThan(300);
  });
});
