/**
 * Rate-limited warnings. A peer that floods a socket with malformed frames (or retries a refused
 * handshake) must not flood the log as well: per kind, at most one line per interval is written;
 * the ones held back are counted and reported as `suppressed` on the next line of that kind.
 * Kinds are a small fixed set chosen by the caller, never taken from peer input.
 */
import type { Logger } from '@webmon/core';

export const WARN_INTERVAL_MS = 10_000;

export class RateLimitedWarnings {
  private readonly kinds = new Map<string, { until: number; suppressed: number }>();

  constructor(
    private readonly log: Pick<Logger, 'warn'>,
    private readonly intervalMs = WARN_INTERVAL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs `msg` with `fields` unless a line of this kind was written less than an interval ago. */
  warn(kind: string, fields: Record<string, unknown>, msg: string): void {
    const now = this.now();
    const state = this.kinds.get(kind);
    if (state && now < state.until) {
      state.suppressed++;
      return;
    }
    const suppressed = state?.suppressed ?? 0;
    this.log.warn({ ...fields, kind, ...(suppressed ? { suppressed } : {}) }, msg);
    this.kinds.set(kind, { until: now + this.intervalMs, suppressed: 0 });
  }
}
