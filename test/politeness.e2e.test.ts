/**
 * Per-host politeness across two executor processes: check starts of one host are spaced by
 * hostIntervalMs whichever executor runs them; other hosts are not held up; Retry-After delays
 * the host's next check.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTarget, webmon, webmonEnv, type Proc, type Target } from './helpers/processes.js';
import { testRedis, type TestRedis } from './helpers/redis.js';

const KEY = 'politeness-admin-key-0123456789';
const SPACING = 300;
let t: TestRedis;
let target: Target;
let procs: Proc[] = [];
let api: ReturnType<typeof client>;

beforeAll(async () => {
  t = await testRedis('polite');
  target = await startTarget();
  const { env, apiUrl } = await webmonEnv(t.url, t.prefix, KEY);
  env.WEBMON_POLITENESS_HOST_INTERVAL_MS = String(SPACING);
  env.WEBMON_POLITENESS_MAX_WAIT_MS = '600';
  env.WEBMON_DISPATCHER_SWEEP_INTERVAL_MS = '100';
  procs = [webmon(['dispatcher'], env), webmon(['executor'], env), webmon(['executor'], env), webmon(['api'], env)];
  await Promise.all([procs[0]!.waitFor(/dispatcher ready/), procs[1]!.waitFor(/executor ready/), procs[2]!.waitFor(/executor ready/), procs[3]!.waitFor(/api listening/)]);
  api = client(apiUrl, KEY);
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await target?.close();
  await t?.cleanup();
});

describe('politeness across executors', () => {
  it('spaces the checks of one host and lets other hosts through', async () => {
    const port = new URL(target.url).port;
    const assets = [
      ...Array.from({ length: 8 }, (_, i) => ({ url: `http://127.0.0.1:${port}/ok?n=${i}`, plugins: ['http'] })),
      ...Array.from({ length: 4 }, (_, i) => ({ url: `http://localhost:${port}/ok?n=${i}`, plugins: ['http'] })),
    ];
    const created = await api.call('POST', '/assets/batch', { assets });
    expect(created.body.created).toBe(12);
    const started = Date.now();
    const pushed = await api.call('POST', '/jobs', { assetIds: created.body.items.map((i: { id: string }) => i.id) });
    const jobs = await Promise.all(pushed.body.jobs.map((j: { id: string }) => api.waitJob(j.id, 30_000)));
    expect(jobs.every((j) => j.status === 'done' && j.outcome === 'ok')).toBe(true);

    const starts = (host: string) => target.arrivals.filter((a) => a.host === host && a.at >= started).map((a) => a.at);
    const ip = starts('127.0.0.1');
    const local = starts('localhost');
    expect(ip).toHaveLength(8);
    expect(local).toHaveLength(4);
    const gaps = ip.slice(1).map((at, i) => at - ip[i]!);
    // Starts are spaced exactly; arrivals add connect and scheduling jitter (more on a loaded
    // machine), so judge the whole span and allow single gaps some slack. Without politeness
    // all eight arrive within a few milliseconds.
    expect(ip[ip.length - 1]! - ip[0]!).toBeGreaterThanOrEqual(7 * SPACING - 60);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(SPACING / 2);
    // localhost was checked while 127.0.0.1 was still being spaced out, not after it.
    expect(local[0]!).toBeLessThan(ip[ip.length - 1]!);
  });

  it('waits as long as a host asks with Retry-After', async () => {
    const { body: busy } = await api.call('POST', '/assets', { url: `${target.url}/busy`, plugins: ['http'] });
    const first = await api.call('POST', '/jobs', { assetIds: [busy.id] });
    const job1 = await api.waitJob(first.body.jobs[0].id);
    expect(job1.results[0]).toMatchObject({ reason: 'rate_limited', metrics: { retryAfterSec: 2 } });
    const askedAt = Date.now();
    const second = await api.call('POST', '/jobs', { assetIds: [busy.id], priority: 9 });
    const job2 = await api.waitJob(second.body.jobs[0].id, 15_000);
    expect(job2.status).toBe('done');
    expect(Date.parse(job2.startedAt) - askedAt).toBeGreaterThanOrEqual(1500);
    expect(job2.attempts).toBe(1); // deferring is not an attempt
  });
});
