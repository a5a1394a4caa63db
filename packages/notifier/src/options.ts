/** The notifier's tuning: defaults, and the checks applied once at start. */
import { ConfigError } from '@webmon/core';

export interface NotifierOptions {
  /** Stream entries read per XREADGROUP. */
  batch: number;
  /** XREADGROUP BLOCK, ms (stop() does not wait for it: it closes the connection). */
  blockMs: number;
  /** A pending entry idle this long belongs to a dead consumer and is taken over, ms. */
  claimIdleMs: number;
  /** How often to look for such entries, ms. */
  claimIntervalMs: number;
  /** Consumers of the group with nothing pending and idle this long are removed, ms. */
  consumerIdleMs: number;
  /** Clients delivered to in parallel (one request at a time per client). */
  concurrency: number;
  /** Whole-request timeout of one delivery, ms. */
  timeoutMs: number;
  /** Delivery lease per client, ms; must exceed timeoutMs. */
  leaseMs: number;
  /** Deliveries per client per lease before others get a turn. */
  perLease: number;
  /** Retry after a failure: backoffBaseMs · 2^(failures-1), at most backoffMaxMs. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Consecutive failed deliveries that disable a client's notifications. */
  maxFailures: number;
  /** Longest sleep of the delivery and reminder loops between looks at Redis, ms. */
  maxSleepMs: number;
  /** Pending deliveries kept per client; the oldest beyond it are dropped (and counted). */
  maxOutbox: number;
  /** How long maintenance windows may be served from memory, ms. */
  maintenanceCacheMs: number;
  /** On stop, how long requests in flight may finish before they are aborted, ms. */
  stopGraceMs: number;
  /** Reminders fired per pass. */
  reminderBatch: number;
  userAgent: string;
  /** The api's public URL (config api.publicUrl): messages link to the asset's dashboard page under it; '' for no link. */
  publicUrl: string;
}

export const DEFAULT_NOTIFIER_OPTIONS: Readonly<NotifierOptions> = Object.freeze({
  batch: 100,
  blockMs: 5000,
  claimIdleMs: 60_000,
  claimIntervalMs: 15_000,
  consumerIdleMs: 3_600_000,
  concurrency: 8,
  timeoutMs: 10_000,
  leaseMs: 30_000,
  perLease: 100,
  backoffBaseMs: 1000,
  backoffMaxMs: 600_000,
  maxFailures: 20,
  maxSleepMs: 1000,
  maxOutbox: 10_000,
  maintenanceCacheMs: 5000,
  stopGraceMs: 1000,
  reminderBatch: 100,
  userAgent: 'webmon-notifier/0.1',
  publicUrl: '',
});

export function notifierOptions(partial: Partial<NotifierOptions> = {}): Readonly<NotifierOptions> {
  const o = { ...DEFAULT_NOTIFIER_OPTIONS, ...partial };
  for (const [k, v] of Object.entries(o)) {
    if (k === 'userAgent' || k === 'publicUrl') continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ConfigError(`notifier.${k} must be a non-negative number`);
  }
  for (const k of ['batch', 'concurrency', 'perLease', 'maxFailures', 'maxOutbox', 'reminderBatch', 'maxSleepMs', 'timeoutMs'] as const) {
    if (o[k] < 1) throw new ConfigError(`notifier.${k} must be at least 1`);
  }
  if (o.leaseMs <= o.timeoutMs) throw new ConfigError('notifier.leaseMs must exceed notifier.timeoutMs');
  return Object.freeze(o);
}
