import { describe, expect, it } from 'vitest';
import { PriorityQueue } from './queue.js';

describe('PriorityQueue', () => {
  it('takes higher priorities first, FIFO within a priority, without duplicates', () => {
    const q = new PriorityQueue();
    q.add('a', 0);
    q.add('b', 5);
    q.add('c', 0);
    q.add('d', 9);
    expect(q.add('a', 9)).toBe(false);
    q.add('e', 5);
    expect(q.size).toBe(5);
    const order: string[] = [];
    for (let id = q.take(); id !== undefined; id = q.take()) order.push(id);
    expect(order).toEqual(['d', 'b', 'e', 'a', 'c']);
    expect(q.add('a', 0)).toBe(true); // taken ids may come back
  });

  it('wakes a waiter when work arrives', async () => {
    const q = new PriorityQueue();
    let woke = false;
    const waiting = q.wait().then(() => (woke = true));
    await Promise.resolve();
    expect(woke).toBe(false);
    q.add('x', 1);
    await waiting;
    expect(woke).toBe(true);
  });

  it('stays compact over many operations', () => {
    const q = new PriorityQueue();
    for (let i = 0; i < 50_000; i++) {
      q.add(`j${i}`, i % 3);
      if (i % 2) q.take();
    }
    expect(q.size).toBe(25_000);
  });
});
