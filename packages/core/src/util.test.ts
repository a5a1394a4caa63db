import { describe, expect, it } from 'vitest';
import { iso, retryAfterMs, round, sleep, Waker } from './util.js';

/** Whether `p` has settled once pending timers of 0 ms and microtasks have run. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setTimeout(r, 0));
  return done;
}

describe('round', () => {
  it('keeps the given number of decimals (2 by default)', () => {
    expect(round(1.23456)).toBe(1.23);
    expect(round(1.23456, 3)).toBe(1.235);
    expect(round(12.35, 1)).toBe(12.4);
    expect(round(-0.126, 2)).toBe(-0.13);
    expect(round(7, 0)).toBe(7);
  });
});

describe('iso', () => {
  it('formats epoch milliseconds, and anything not finite as the epoch', () => {
    expect(iso(Date.UTC(2024, 1, 29, 12, 30, 5, 7))).toBe('2024-02-29T12:30:05.007Z');
    expect(iso(Number.NaN)).toBe('1970-01-01T00:00:00.000Z');
    expect(iso(Infinity)).toBe('1970-01-01T00:00:00.000Z');
  });
});

describe('sleep', () => {
  it('ends early when its signal aborts, and at once when it was aborted before', async () => {
    const stop = new AbortController();
    const long = sleep(3_600_000, stop.signal);
    expect(await settled(long)).toBe(false);
    stop.abort();
    expect(await settled(long)).toBe(true);
    expect(await settled(sleep(3_600_000, stop.signal))).toBe(true);
  });

  it('without a signal, resolves after its time', async () => {
    await expect(sleep(1)).resolves.toBeUndefined();
  });
});

describe('Waker', () => {
  it('wake() ends the wait in progress', async () => {
    const w = new Waker();
    const waiting = w.wait(3_600_000);
    expect(await settled(waiting)).toBe(false);
    w.wake();
    expect(await settled(waiting)).toBe(true);
  });

  it('a wake with nobody waiting makes the next wait return at once, once', async () => {
    const w = new Waker();
    w.wake();
    w.wake();
    expect(await settled(w.wait(3_600_000))).toBe(true);
    const second = w.wait(3_600_000);
    expect(await settled(second)).toBe(false);
    w.wake();
    await second;
  });

  it('a wait that times out leaves no pending wake behind', async () => {
    const w = new Waker();
    await w.wait(1);
    const next = w.wait(3_600_000);
    expect(await settled(next)).toBe(false);
    w.wake();
    await next;
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2026-12-06T12:00:00Z');
  it('reads delay-seconds and HTTP dates, the first of several values', () => {
    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs(' 7 ', now)).toBe(7_000);
    expect(retryAfterMs('Sun, 06 Dec 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs(['5', '900'], now)).toBe(5_000);
  });
  it('gives 0 for a date past, undefined for nothing or nonsense', () => {
    expect(retryAfterMs('Sun, 06 Dec 2026 11:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs(undefined, now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs('-5', now)).toBeUndefined();
  });
});
