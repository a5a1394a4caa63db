import { afterAll, describe, expect, it } from 'vitest';
import { INLINE_BYTES, RegexPool, RegexTimeoutError } from './regex-pool.js';

const pool = new RegexPool(2);
afterAll(() => pool.close());

/** An expression whose RE2 simulation is slow per byte (a large, ambiguous program). */
const SLOW = '(.*a){20}';
const slowText = (bytes: number) => 'abcdefgh '.repeat(Math.ceil(bytes / 9)).slice(0, bytes);

async function eventLoopLag(during: Promise<unknown>): Promise<number> {
  let worst = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 10);
  await during.catch(() => undefined);
  clearInterval(timer);
  return worst;
}

describe('regex pool', () => {
  it('matches small texts inline and large ones in a worker, with the same answers', async () => {
    expect(await pool.matches({ source: 'wor(ld)', ignoreCase: false, text: 'hello world' })).toBe(true);
    expect(await pool.matches({ source: 'WORLD', ignoreCase: true, text: 'hello world' })).toBe(true);
    const big = `${'x'.repeat(INLINE_BYTES * 4)}needle`;
    expect(await pool.matches({ source: 'needle$', ignoreCase: false, text: big })).toBe(true);
    expect(await pool.matches({ source: 'haystack', ignoreCase: false, text: Buffer.from(big) })).toBe(false);
    expect(pool.workers).toBeGreaterThan(0);
  });

  it('stops a match past its budget without blocking the event loop, and keeps serving', async () => {
    const text = slowText(4 * 1024 * 1024);
    const started = performance.now();
    const slow = pool.matches({ source: SLOW, ignoreCase: false, text, budgetMs: 300 });
    const lag = await eventLoopLag(slow);
    await expect(slow).rejects.toBeInstanceOf(RegexTimeoutError);
    expect(performance.now() - started).toBeLessThan(3000);
    // The event loop kept ticking while the expression ran (no multi-second stall).
    expect(lag).toBeLessThan(1000); // inline, this match would stall it for seconds
    expect(await pool.matches({ source: 'b', ignoreCase: false, text: `${'x'.repeat(INLINE_BYTES * 2)}b` })).toBe(true);
  });

  it('ends a match when the check is aborted', async () => {
    const controller = new AbortController();
    const slow = pool.matches({ source: SLOW, ignoreCase: false, text: slowText(4 * 1024 * 1024), signal: controller.signal });
    setTimeout(() => controller.abort(new Error('deadline')), 100);
    await expect(slow).rejects.toThrow('deadline');
  });

  it('serves owners round robin: one owner queueing slow matches does not hold another owner back', async () => {
    const single = new RegexPool(1);
    try {
      const text = slowText(2 * 1024 * 1024);
      const order: string[] = [];
      const hostile = [1, 2, 3, 4].map((i) =>
        single.matches({ source: SLOW, ignoreCase: false, text, owner: 'a', budgetMs: 200 }).catch(() => undefined).finally(() => order.push(`a${i}`)),
      );
      const other = single.matches({ source: 'b$', ignoreCase: false, text: `${'x'.repeat(INLINE_BYTES * 2)}b`, owner: 'b' }).finally(() => order.push('b'));
      expect(await other).toBe(true);
      await Promise.all(hostile);
      // b waited for at most the match already running, not for all four of a's.
      expect(order.indexOf('b')).toBeLessThanOrEqual(1);
    } finally {
      await single.close();
    }
  });
});
