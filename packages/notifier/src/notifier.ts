/**
 * The notifier: a host of notification channels (plugins on the contract of
 * @webmon/plugin-sdk's channel.ts). Four bounded loops over Redis, safe to run in several
 * processes at once. This module starts and stops them; each loop lives in its own module
 * (fanout.ts, delivery.ts, reminders.ts, timers.ts), their scripts are called through outbox.ts.
 *
 * 1. Fan-out reads the `events` stream as consumer `<consumer>` of the group `notifier`
 *    (XREADGROUP … BLOCK on a connection of its own, so stop() can close it). Each state
 *    change is routed to each channel of its owner (filters, delay, escalation, digest) and
 *    queued in that channel's outbox by one script (notify_fanout) that records it as handled,
 *    so re-processing never queues twice. Entries left pending by a consumer that died are
 *    taken over with XAUTOCLAIM after `claimIdleMs`.
 * 2. Delivery leases due units (one channel of a client) from `outbox:due` (notify_claim) and
 *    sends each unit's outbox in order through its channel plugin, one send at a time per unit,
 *    `concurrency` units at once; failures back off exponentially and disable the channel
 *    after `maxFailures` in a row.
 * 3. Reminders re-notify, every `remindEverySec` of a channel, about assets that stay down.
 * 4. Timers send held downs whose delay passed and escalations of outages that outlast them.
 *
 * Where the group starts: it is created at `$` (with MKSTREAM) the first time any notifier
 * starts, so the state changes recorded before notifications existed are not replayed as a
 * flood of stale webhooks. From then on the group's position lives in Redis: events recorded
 * while no notifier runs are delivered when one starts again (unless the stream's MAXLEN cap
 * trimmed them away first).
 *
 * Egress: channel options are user input, so each delivery connects through its owner's egress guard
 * (a client's: public addresses plus the ranges allowed to it; the admin's: config `policy`).
 * The name is resolved once by the guard's lookup and every address judged before connecting;
 * a refusal is a failed delivery recorded as `denied: …` in the webhook's lastError.
 *
 * Guarantees: at-least-once delivery (a notifier that dies after the receiver's 2xx but
 * before recording it re-sends; the delivery id is the same, receivers de-duplicate on it);
 * per-channel FIFO; per asset, never an older state change after a newer one.
 */
import {
  AssetStore,
  MaintenanceStore,
  Waker,
  instanceId,
  scripts as coreScripts,
  sleep,
  type Keys,
  type Logger,
  type OwnerEgress,
  type Redis,
} from '@webmon/core';
import { ChannelAgents, ChannelRegistry } from '@webmon/plugin-sdk';
import { webhookChannel } from '@webmon/plugin-channel-webhook';
import { ChannelStore } from './channels.js';
import { emptyStats, type NotifierContext, type NotifierStats } from './context.js';
import { Delivery } from './delivery.js';
import { FanOut } from './fanout.js';
import { notifierOptions, type NotifierOptions } from './options.js';
import { Outbox } from './outbox.js';
import { Reminders } from './reminders.js';
import { Timers } from './timers.js';
import { defaultOwnerEgress } from './webhooks.js';

export { DEFAULT_NOTIFIER_OPTIONS, notifierOptions, type NotifierOptions } from './options.js';
export type { NotifierStats } from './context.js';
export { streamEntries, type StreamEntry } from './stream.js';

export interface StartNotifierParams {
  /** A connection for ordinary commands (the blocking read gets a duplicate of it). */
  redis: Redis;
  keys: Keys;
  log: Logger;
  /** Consumer name in the group, unique per running instance (default instanceId('notifier')). */
  consumer?: string;
  options?: Partial<NotifierOptions>;
  /**
   * Guards of webhook owners, applied on the address each delivery connects to (webhook URLs
   * are user input: unguarded, a client could make webmon POST to internal addresses). A denied
   * delivery counts as a failed one. Default: no operator policy, clients limited to public
   * addresses plus the ranges in their client hash.
   */
  egress?: OwnerEgress;
  /** The installed channel types (default: the webhook channel only). */
  channels?: ChannelRegistry;
}

export interface RunningNotifier {
  readonly consumer: string;
  stats(): NotifierStats;
  /**
   * Stops the loops promptly: closes the blocking connection at once, lets requests in flight
   * finish for up to stopGraceMs, then aborts them (their leases are released, the deliveries
   * stay queued and go out again later).
   */
  stop(): Promise<void>;
}

export async function startNotifier(params: StartNotifierParams): Promise<RunningNotifier> {
  const { redis, keys } = params;
  const opts = notifierOptions(params.options);
  const consumer = params.consumer ?? instanceId('notifier');
  const log = params.log.child({ component: 'notifier', consumer });
  let running = true;
  const egress = params.egress ?? defaultOwnerEgress(redis, keys);
  const registry = params.channels ?? new ChannelRegistry([webhookChannel]);
  const agents = new ChannelAgents(opts.timeoutMs);
  const ctx: NotifierContext = {
    redis,
    keys,
    log,
    opts,
    outbox: new Outbox(redis, keys),
    channels: new ChannelStore(redis, keys, registry, { egress }),
    agents,
    assets: new AssetStore(redis, keys, coreScripts(redis)),
    maintenance: new MaintenanceStore(redis, keys, opts.maintenanceCacheMs),
    stats: emptyStats(),
    deliveryWaker: new Waker(),
    reminderWaker: new Waker(),
    timerWaker: new Waker(),
    running: () => running,
  };
  const stopping = new AbortController();

  // One fan-out per shard's events stream; each blocking read gets a connection of its own:
  // stop() closes them to end a BLOCK at once.
  const readers = keys.shardIds.map(() => {
    const reader = redis.duplicate();
    reader.on('error', (err: Error) => log.debug({ err: err.message }, 'notifier reader connection error'));
    return reader;
  });
  const fanouts = keys.shardIds.map((n) => new FanOut(ctx, consumer, readers[n]!, keys.shard(n).events));
  try {
    for (const [n, reader] of readers.entries()) {
      if (reader.status === 'wait') await reader.connect();
      await fanouts[n]!.ensureGroup();
    }
  } catch (err) {
    for (const reader of readers) reader.disconnect();
    throw err;
  }
  const fanoutLoop = Promise.all(fanouts.map((f) => f.run()));
  const deliveryLoop = new Delivery(ctx, egress, stopping.signal).run();
  const reminderLoop = new Reminders(ctx).run();
  const timerLoop = new Timers(ctx).run();
  log.info({ concurrency: opts.concurrency }, 'notifier started');

  return {
    consumer,
    stats: () => ({ ...ctx.stats, skipped: { ...ctx.stats.skipped } }),
    async stop() {
      if (!running) return;
      running = false;
      ctx.deliveryWaker.wake();
      ctx.reminderWaker.wake();
      ctx.timerWaker.wake();
      for (const reader of readers) reader.disconnect();
      const grace = new AbortController();
      await Promise.race([deliveryLoop, sleep(opts.stopGraceMs, grace.signal)]);
      grace.abort();
      stopping.abort();
      await Promise.allSettled([fanoutLoop, deliveryLoop, reminderLoop, timerLoop]);
      await agents.close();
      log.info({ delivered: ctx.stats.delivered, failed: ctx.stats.failed }, 'notifier stopped');
    },
  };
}
