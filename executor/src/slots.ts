/**
 * The executor's check slots: at most `size` jobs run at once. The receive loop takes a slot
 * before it takes the next message, so the backlog stays with the dispatcher (where priorities
 * apply) instead of piling up here.
 */
export class Slots {
  private free: number;
  private inUse = 0;
  private slotWaiter: (() => void) | null = null;
  private idleWaiter: (() => void) | null = null;

  constructor(size: number) {
    this.free = size;
  }

  /** Jobs holding a slot. */
  get busy(): number {
    return this.inUse;
  }

  /** Slots free now. */
  get freeCount(): number {
    return this.free;
  }

  /** Resolves once a slot is free (it is not taken: take() does that). One waiter at a time. */
  async available(): Promise<void> {
    while (this.free <= 0) await new Promise<void>((r) => (this.slotWaiter = r));
  }

  take(): void {
    this.free--;
    this.inUse++;
  }

  release(): void {
    this.free++;
    this.inUse--;
    const w = this.slotWaiter;
    this.slotWaiter = null;
    w?.();
    if (this.inUse === 0) this.idleWaiter?.();
  }

  /** Resolves when no job holds a slot. */
  idle(): Promise<void> {
    if (this.inUse === 0) return Promise.resolve();
    return new Promise<void>((r) => (this.idleWaiter = r));
  }
}
