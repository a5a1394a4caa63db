import { describe, expect, it } from 'vitest';
import { chunks } from './pusher.js';

describe('JobPusher chunks', () => {
  it('keeps every id frame within the count and byte limits, in order', () => {
    const ids = Array.from({ length: 500 }, (_, i) => `job-${i}-${'x'.repeat(i % 60)}`);
    const runs = [...chunks(ids, 100, 1024)];
    expect(runs.flat()).toEqual(ids);
    for (const run of runs) {
      expect(run.length).toBeLessThanOrEqual(100);
      expect(Buffer.byteLength(run.join('\n'))).toBeLessThanOrEqual(1024);
    }
    // Runs are full: the next id would not have fitted.
    for (let i = 0; i < runs.length - 1; i++) {
      const next = runs[i + 1]![0]!;
      expect(runs[i]!.length === 100 || Buffer.byteLength([...runs[i]!, next].join('\n')) > 1024).toBe(true);
    }
    expect([...chunks(['a', 'b', 'c'], 2, 1024)]).toEqual([['a', 'b'], ['c']]);
    expect([...chunks(['aaaa', 'bbbb'], 10, 9)]).toEqual([['aaaa', 'bbbb']]);
    expect([...chunks(['aaaa', 'bbbb'], 10, 8)]).toEqual([['aaaa'], ['bbbb']]);
    expect([...chunks([], 10, 8)]).toEqual([]);
  });
});
