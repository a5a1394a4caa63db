/** What the notifier's three loops share: connections, stores, counters, the wakers between them, and how they sleep. */
import type { AssetStore, Keys, Logger, MaintenanceStore, Redis, Waker } from '@webmon/core';
import type { ChannelAgents } from '@webmon/plugin-sdk';
import type { ChannelStore } from './channels.js';
import type { NotifierOptions } from './options.js';
import type { Outbox } from './outbox.js';

export interface NotifierStats {
  /** Stream entries handled (including skipped ones). */
  events: number;
  queued: number;
  /** Events that queued nothing, by why: maintenance, no enabled channel, stale, asset gone, not a state change, every channel's filters, held by a delay. */
  skipped: { maintenance: number; noWebhook: number; stale: number; duplicate: number; gone: number; malformed: number; filtered: number; held: number };
  /** Entries taken over from dead consumers. */
  reclaimed: number;
  delivered: number;
  failed: number;
  disabled: number;
  reminders: number;
  /** Held downs sent after their delay, and escalations sent. */
  timers: number;
}

export function emptyStats(): NotifierStats {
  return {
    events: 0,
    queued: 0,
    skipped: { maintenance: 0, noWebhook: 0, stale: 0, duplicate: 0, gone: 0, malformed: 0, filtered: 0, held: 0 },
    reclaimed: 0,
    delivered: 0,
    failed: 0,
    disabled: 0,
    reminders: 0,
    timers: 0,
  };
}

export interface NotifierContext {
  redis: Redis;
  keys: Keys;
  log: Logger;
  opts: Readonly<NotifierOptions>;
  outbox: Outbox;
  /** The clients' channels, and the registry of channel types. */
  channels: ChannelStore;
  agents: ChannelAgents;
  assets: AssetStore;
  maintenance: MaintenanceStore;
  stats: NotifierStats;
  /** Woken when a delivery is queued or a delivery pass ends (a slot is free). */
  deliveryWaker: Waker;
  /** Woken when an asset goes down (a reminder or timer may now be due sooner). */
  reminderWaker: Waker;
  /** Woken when a down is held or an escalation scheduled (a timer may now be due sooner). */
  timerWaker: Waker;
  /** False once stop() was called: loops finish what they hold and end. */
  running(): boolean;
}

/**
 * Sleeps until the first member of the sorted set `key` is due (its score, ms), at least 1 ms
 * and at most maxSleepMs, or until `waker` is woken.
 */
export async function sleepUntilDue(ctx: NotifierContext, key: string, waker: Waker): Promise<void> {
  const { redis, opts } = ctx;
  const next = await redis.zrange(key, '0', '0', 'WITHSCORES');
  const wait = next.length ? Number(next[1]) - Date.now() : opts.maxSleepMs;
  await waker.wait(Math.min(Math.max(wait, 1), opts.maxSleepMs));
}

/** How long a member whose firing failed waits before it is tried again. */
export const FAILED_FIRE_RETRY_MS = 60_000;

/**
 * Fires each member of a `ZRANGEBYSCORE … WITHSCORES` answer of the sorted set `key` in turn. A
 * member whose firing throws (a damaged record of one client) is logged and postponed by
 * FAILED_FIRE_RETRY_MS (only if its score is unchanged), so it neither keeps the members after it,
 * other clients' among them, from firing nor makes the loop spin on it.
 */
export async function fireEach(ctx: NotifierContext, key: string, due: readonly string[], fire: (member: string, score: string) => Promise<void>): Promise<void> {
  for (let i = 0; i + 1 < due.length && ctx.running(); i += 2) {
    const member = due[i]!;
    const score = due[i + 1]!;
    try {
      await fire(member, score);
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message, key, member }, 'could not fire a due notification; postponed');
      await ctx.redis.zadd(key, 'XX', 'GT', Number(score) + FAILED_FIRE_RETRY_MS, member);
    }
  }
}
