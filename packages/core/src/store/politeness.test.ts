/**
 * Host politeness shared fairly between tenants (host_slot.lua) against real Redis. Jobs are
 * simulated on a virtual clock: every job due at one instant asks concurrently (the bursting
 * tenant's jobs first), a refused job asks again when told to, and the test asserts on the
 * starts granted, never on wall-clock time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedis, type TestRedis } from '../../../../test/helpers/redis.js';
import { JobStore } from './jobs.js';

let t: TestRedis;
let jobs: JobStore;
let hosts = 0;

beforeAll(async () => {
  t = await testRedis('polite-fair');
  jobs = new JobStore(t.redis, t.keys, t.scripts, { retentionSec: 3600, maxAttempts: 2, historyMax: 100, eventsMax: 1000, downAfter: 3, upAfter: 1 });
});
afterAll(() => t.cleanup());

interface SimJob {
  tenant: string;
  asksAt: number;
  firstAsk: number;
  start?: number;
}

const jobsOf = (tenant: string, count: number, at = 0): SimJob[] => Array.from({ length: count }, () => ({ tenant, asksAt: at, firstAsk: at }));

/** Runs the jobs until each has a start; times are ms from a fixed origin. */
async function simulate(host: string, all: SimJob[], spacing: number, maxWait: number, origin = Date.now()): Promise<SimJob[]> {
  for (let round = 0; round < 5000; round++) {
    const pending = all.filter((j) => j.start === undefined);
    if (pending.length === 0) return all;
    const now = Math.min(...pending.map((j) => j.asksAt));
    const asking = pending.filter((j) => j.asksAt === now);
    const answers = await Promise.all(asking.map((j) => jobs.hostSlot(host, j.tenant, spacing, maxWait, origin + now)));
    answers.forEach((answer, i) => {
      const job = asking[i]!;
      if (answer >= 0) job.start = now + answer;
      else job.asksAt = now - answer;
    });
  }
  throw new Error('jobs still waiting after 5000 rounds');
}

const startsOf = (all: SimJob[], tenant?: string) =>
  all
    .filter((j) => tenant === undefined || j.tenant === tenant)
    .map((j) => j.start!)
    .sort((a, b) => a - b);
const newHost = () => `fair${hosts++}.test`;

describe('host politeness between tenants', () => {
  const SPACING = 100;
  const MAX_WAIT = 200;

  it("starts another tenant's job within about two spacings past the wait horizon, while the burst keeps every other start", async () => {
    const a = jobsOf('A', 40);
    const [b] = jobsOf('B', 1, 1050);
    const all = await simulate(newHost(), [...a, b!], SPACING, MAX_WAIT);
    // Spacing holds and no start is wasted: 41 starts, back to back.
    expect(startsOf(all)).toEqual(Array.from({ length: 41 }, (_, i) => i * SPACING));
    // B asked while A still had ~30 jobs queued, and did not wait for them.
    expect(b!.start! - b!.firstAsk).toBeLessThanOrEqual(MAX_WAIT + 2 * SPACING);
    expect(startsOf(a).filter((s) => s > b!.start!).length).toBeGreaterThanOrEqual(25);
  });

  it('takes turns between bursting tenants beyond the wait horizon', async () => {
    const all = await simulate(newHost(), [...jobsOf('A', 20), ...jobsOf('B', 20), ...jobsOf('C', 1)], SPACING, MAX_WAIT);
    const order = [...all].sort((x, y) => x.start! - y.start!).map((j) => j.tenant);
    expect(startsOf(all)).toEqual(Array.from({ length: 41 }, (_, i) => i * SPACING));
    // The first starts (within the wait horizon) go to whoever asked first; past it, each
    // tenant holds one turn at a time, so C comes after at most one turn of each tenant ahead
    // of it, and A and B alternate while both wait (e.g. AAAA BCABAB…AB BBBB).
    const horizon = MAX_WAIT / SPACING + 1;
    expect(order.indexOf('C')).toBeLessThanOrEqual(horizon + 2);
    const bothWaiting = order.slice(horizon, Math.min(order.lastIndexOf('A'), order.lastIndexOf('B')) + 1).filter((x) => x !== 'C');
    expect(bothWaiting.length).toBeGreaterThan(30);
    expect(bothWaiting.every((x, i) => i === 0 || x !== bothWaiting[i - 1])).toBe(true);
  });

  it('keeps one tenant alone as before: starts within the wait, then one turn at a time', async () => {
    const host = newHost();
    const t0 = Date.now();
    expect(await jobs.hostSlot(host, 'A', SPACING, MAX_WAIT, t0)).toBe(0);
    expect(await jobs.hostSlot(host, 'A', SPACING, MAX_WAIT, t0)).toBe(100);
    expect(await jobs.hostSlot(host, 'A', SPACING, MAX_WAIT, t0)).toBe(200);
    // 300 is A's turn: every job of A is told to come back when it is within the wait.
    expect(await jobs.hostSlot(host, 'A', SPACING, MAX_WAIT, t0)).toBe(-100);
    expect(await jobs.hostSlot(host, 'A', SPACING, MAX_WAIT, t0 + 10)).toBe(-90);
    expect(await jobs.hostSlot(host, 'A', SPACING, MAX_WAIT, t0 + 100)).toBe(200);
    // The turn is taken: the next start is past it.
    expect(await jobs.hostSlot(host, 'A', SPACING, MAX_WAIT, t0 + 100)).toBe(-100);
  });

  it('drops a turn whose job comes back too late, and never starts two checks closer than spacing', async () => {
    const host = newHost();
    const t0 = Date.now();
    expect(await jobs.hostSlot(host, 'A', SPACING, 0, t0)).toBe(0);
    expect(await jobs.hostSlot(host, 'B', SPACING, 0, t0)).toBe(-100); // B's turn at 100
    // B is back 50 ms late: its turn has passed and is not granted at 150 (100 would be too
    // close to C's start at 200); B gets the next free start instead.
    expect(await jobs.hostSlot(host, 'C', SPACING, 200, t0 + 10)).toBe(190); // C at 200
    expect(await jobs.hostSlot(host, 'B', SPACING, 0, t0 + 150)).toBe(-150); // B's new turn at 300
    expect(await jobs.hostSlot(host, 'B', SPACING, 0, t0 + 300)).toBe(0);
  });

  it('drops turns that a Retry-After pushes back', async () => {
    const host = newHost();
    const t0 = Date.now();
    expect(await jobs.hostSlot(host, 'A', SPACING, 0, t0)).toBe(0);
    expect(await jobs.hostSlot(host, 'B', SPACING, 0, t0)).toBe(-100); // B's turn at 100
    await jobs.hostBackoff(host, t0 + 5000, t0 + 50);
    // B's turn fell inside the Retry-After: B is given a start after it.
    expect(await jobs.hostSlot(host, 'B', SPACING, 0, t0 + 100)).toBe(-4900);
    expect(await jobs.hostSlot(host, 'B', SPACING, 0, t0 + 5000)).toBe(0);
  });

  it('keeps every key of one host in one Redis Cluster hash slot', () => {
    const tag = (key: string) => /\{([^}]+)\}/.exec(key)?.[1];
    expect(tag(t.keys.hostSlot('shop.example'))).toBe('shop.example');
    expect(tag(t.keys.hostTurns('shop.example'))).toBe('shop.example');
  });
});
