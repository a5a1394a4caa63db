import { describe, expect, it } from 'vitest';
import { Slots } from './slots.js';

describe('Slots', () => {
  it('lets the receiver wait for a free slot and reports when nothing runs', async () => {
    const slots = new Slots(2);
    const events: string[] = [];
    await slots.idle();
    await slots.available();
    slots.take();
    await slots.available();
    slots.take();
    expect(slots.busy).toBe(2);

    const free = slots.available().then(() => events.push('free'));
    const idle = slots.idle().then(() => events.push('idle'));
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual([]);
    slots.release();
    await free;
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual(['free']);
    slots.release();
    await idle;
    expect(events).toEqual(['free', 'idle']);
    expect(slots.busy).toBe(0);
  });
});
