/**
 * Per-host politeness across two executor processes: check starts of one host are spaced by
 * hostIntervalMs whichever executor runs them; other hosts are not held up; Retry-After delays
 * the host's next check; one tenant's burst on a host does not hold up another tenant's check.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startRoles, startTarget, type Proc, type Target } from './helpers/processes.js';
import { testRedis, type TestRedis } from './helpers/redis.js';

const KEY = 'politeness-admin-key-0123456789';
const SPACING = 500;
let t: TestRedis;
let target: Target;
let procs: Proc[] = [];
let api: ReturnType<typeof client>;
let apiBase: string;

beforeAll(async () => {
  t = await testRedis('polite');
  target = await startTarget();
  const extraEnv = {
    WEBMON_POLITENESS_HOST_INTERVAL_MS: String(SPACING),
    WEBMON_POLITENESS_MAX_WAIT_MS: String(2 * SPACING),
    WEBMON_DISPATCHER_SWEEP_INTERVAL_MS: '100',
    WEBMON_TENANTS_ALLOW_CIDRS: '127.0.0.0/8', // clients' checks may reach the local target
  };
  const { procs: started, apiUrl } = await startRoles(['dispatcher', 'executor', 'executor', 'api'], { redisUrl: t.url, prefix: t.prefix, adminKey: KEY, extraEnv });
  procs = started;
  api = client(apiUrl, KEY);
  apiBase = apiUrl;
  await warmUp();
});

/**
 * A first check in a fresh executor process is slower (modules, JIT, connection pool), which
 * shows as a late arrival: warm both executors up on another host before measuring spacing.
 */
async function warmUp(): Promise<void> {
  const port = new URL(target.url).port;
  const assets = Array.from({ length: 6 }, (_, i) => ({ url: `http://localhost:${port}/ok?warm=${i}`, plugins: ['http'] }));
  const created = await api.call('POST', '/assets/batch', { assets });
  const pushed = await api.call('POST', '/jobs', { assetIds: created.body.items.map((i: { id: string }) => i.id) });
  await Promise.all(pushed.body.jobs.map((j: { id: string }) => api.waitJob(j.id, 30_000)));
}

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
    // Starts are spaced exactly, back to back; arrivals add connect and scheduling jitter (more
    // on a loaded machine): one late arrival shortens the gap after it by as much as it lengthens
    // the gap before, so judge the whole span and every pair of consecutive gaps. Without
    // politeness all eight arrive within a few milliseconds.
    const pairs = ip.slice(2).map((at, i) => at - ip[i]!);
    expect(ip[ip.length - 1]! - ip[0]!).toBeGreaterThanOrEqual(7 * SPACING - SPACING / 2);
    expect(Math.min(...pairs)).toBeGreaterThanOrEqual(1.5 * SPACING);
    // localhost was checked while 127.0.0.1 was still being spaced out, not after it.
    expect(local[0]!).toBeLessThan(ip[ip.length - 1]!);
  });

  it('waits as long as a host asks with Retry-After', async () => {
    const { body: busy } = await api.call('POST', '/assets', { url: `${target.url}/busy`, plugins: ['http'] });
    const first = await api.call('POST', '/jobs', { assetIds: [busy.id] });
    const job1 = await api.waitJob(first.body.jobs[0].id);
    expect(job1.results[0]).toMatchObject({ reason: 'rate_limited', metrics: { retryAfterSec: 2 } });
    const second = await api.call('POST', '/jobs', { assetIds: [busy.id], priority: 9 });
    const job2 = await api.waitJob(second.body.jobs[0].id, 15_000);
    expect(job2.status).toBe('done');
    // The request itself waited out the 2 s (a job may be claimed up to maxWaitMs before its
    // turn and wait for it in the executor, so its startedAt can be earlier).
    const [first1, second1] = target.arrivals.filter((a) => a.path === '/busy').map((a) => a.at);
    expect(second1! - first1!).toBeGreaterThanOrEqual(1900);
    expect(job2.attempts).toBe(1); // deferring is not an attempt
  });

  it("shares a host between tenants: one client's burst does not hold up another's check", async () => {
    const [a, b] = await Promise.all(['burst', 'single'].map((name) => api.call('POST', '/clients', { name })));
    expect([a!.status, b!.status]).toEqual([201, 201]);
    const burst = client(apiBase, a!.body.apiKey);
    const single = client(apiBase, b!.body.apiKey);
    const port = new URL(target.url).port;
    const mine = await burst.call('POST', '/assets/batch', { assets: Array.from({ length: 16 }, (_, i) => ({ url: `http://127.0.0.1:${port}/ok?burst=${i}`, plugins: ['http'] })) });
    expect(mine.body.created).toBe(16);
    const theirs = await single.call('POST', '/assets', { url: `http://127.0.0.1:${port}/ok?single`, plugins: ['http'] });
    expect(theirs.status).toBe(201);

    const pushed = await burst.call('POST', '/jobs', { assetIds: mine.body.items.map((i: { id: string }) => i.id) });
    // The single check is asked for once the burst is being spaced out.
    const deadline = Date.now() + 10_000;
    while (target.arrivals.filter((x) => x.path.includes('burst=')).length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const one = await single.call('POST', '/jobs', { assetIds: [theirs.body.id] });
    const done = await Promise.all([...pushed.body.jobs, ...one.body.jobs].map((j: { id: string }) => api.waitJob(j.id, 30_000)));
    expect(done.every((j) => j.status === 'done' && j.outcome === 'ok')).toBe(true);

    const arrivals = target.arrivals.filter((x) => x.path.includes('burst=') || x.path.includes('single'));
    const singleAt = arrivals.findIndex((x) => x.path.includes('single'));
    // First come, first served would put it after the whole burst (16 spaced starts, 8 s);
    // with turns it comes within the wait plus a few spacings of asking, half the burst to go.
    expect(arrivals.slice(singleAt + 1).length).toBeGreaterThanOrEqual(6);
  });
});
