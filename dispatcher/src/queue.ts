/**
 * The dispatcher's in-memory send queue: one FIFO per priority (higher first), de-duplicated by
 * job id. It holds only ids that Redis already has as queued, so losing it loses nothing.
 */
import { MAX_PRIORITY } from '@webmon/core';

class Fifo {
  private items: string[] = [];
  private head = 0;

  push(id: string): void {
    this.items.push(id);
  }

  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const id = this.items[this.head++];
    // Compact now and then so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return id;
  }

  get length(): number {
    return this.items.length - this.head;
  }
}

export class PriorityQueue {
  private readonly levels = Array.from({ length: MAX_PRIORITY + 1 }, () => new Fifo());
  private readonly members = new Set<string>();
  private waiter: (() => void) | null = null;

  /** Adds an id unless it is already waiting; returns whether it was added. */
  add(id: string, priority: number): boolean {
    if (this.members.has(id)) return false;
    this.members.add(id);
    this.levels[Math.max(0, Math.min(MAX_PRIORITY, priority))]!.push(id);
    const w = this.waiter;
    this.waiter = null;
    w?.();
    return true;
  }

  /** Removes and returns the highest-priority id, or undefined when empty. */
  take(): string | undefined {
    for (let p = MAX_PRIORITY; p >= 0; p--) {
      const level = this.levels[p]!;
      if (level.length > 0) {
        const id = level.shift()!;
        this.members.delete(id);
        return id;
      }
    }
    return undefined;
  }

  /** Resolves when something is added (or at once if the queue is not empty). */
  wait(): Promise<void> {
    if (this.members.size > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const prev = this.waiter;
      this.waiter = () => {
        prev?.();
        resolve();
      };
    });
  }

  /** Wakes a pending wait() without adding anything (shutdown). */
  wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  get size(): number {
    return this.members.size;
  }
}
