/** Small helpers shared by the roles: rounding, timestamps, and waits that can end early. */

/** `v` rounded to `digits` decimals (durations in ms are kept to the microsecond with 3). */
export function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Milliseconds since the epoch as ISO 8601; a value that is not finite reads as the epoch. */
export function iso(ms: number): string {
  return new Date(Number.isFinite(ms) ? ms : 0).toISOString();
}

/** Resolves after `ms`, or as soon as `signal` aborts; never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * A sleep for one waiter that others can end early: wake() resolves the wait in progress, or,
 * when nobody waits, makes the next wait() return at once (so a wake between two waits of a loop
 * is never lost).
 */
export class Waker {
  private pending = false;
  private resolve: (() => void) | null = null;
  private timer: NodeJS.Timeout | undefined;

  wake(): void {
    const r = this.resolve;
    if (!r) {
      this.pending = true;
      return;
    }
    this.resolve = null;
    clearTimeout(this.timer);
    r();
  }

  /** Resolves after `ms` or at the next wake(), whichever comes first. */
  wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((res) => {
      this.resolve = res;
      this.timer = setTimeout(() => {
        this.resolve = null;
        res();
      }, Math.max(0, ms));
    });
  }
}

/**
 * The wait a Retry-After header asks for, in ms (RFC 9110: delay-seconds or an HTTP date; a date
 * in the past is 0), or undefined when absent or unreadable. The first value counts.
 */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  if (/^\s*[-+.\d]+\s*$/.test(v)) return undefined; // not delay-seconds, and Date.parse would read a year
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}
