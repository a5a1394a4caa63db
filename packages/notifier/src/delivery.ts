/**
 * Delivery: leases due units (one channel of a client) from `outbox:due` (notify_claim) and
 * sends each unit's outbox through its channel plugin, in order, one send at a time per unit,
 * `concurrency` units at once. A digest channel sends up to MAX_DIGEST messages in one send.
 * `retry` outcomes (and throws, and refused addresses) back off exponentially, after
 * Retry-After when given; `rejected` drops the message (never retried); both count toward the
 * `maxFailures` in a row that disable the channel (notify_fail).
 */
import { randomBytes } from 'node:crypto';
import type { OwnerEgress } from '@webmon/core';
import { createChannelContext, type ChannelMessage, type SendOutcome } from '@webmon/plugin-sdk';
import { parseChannel, parseUnit, unitOf, type ChannelRecord } from './channel-record.js';
import { sleepUntilDue, type NotifierContext } from './context.js';
import { messageOfEntry } from './message.js';
import { notInstalled, sendMessages } from './send.js';
import { urlForLog } from './webhooks.js';

/** Most messages in one digest send. */
export const MAX_DIGEST = 100;

/** A leased unit's channel and the head of its outbox, read together. */
interface Head {
  channel: ChannelRecord | null;
  lease: string | null;
  entries: string[];
}

export class Delivery {
  constructor(
    private readonly ctx: NotifierContext,
    private readonly owners: OwnerEgress,
    /** Aborted after stop()'s grace: requests in flight end as `stopped`. */
    private readonly stopping: AbortSignal,
  ) {}

  /** Claims due units while slots are free; resolves once stopped and every pass has ended. */
  async run(): Promise<void> {
    const { opts, log, deliveryWaker } = this.ctx;
    const active = new Set<Promise<void>>();
    while (this.ctx.running()) {
      try {
        const free = opts.concurrency - active.size;
        if (free <= 0 || (await this.claim(free, active)) === free) {
          await deliveryWaker.wait(opts.maxSleepMs);
          continue;
        }
        await sleepUntilDue(this.ctx, this.ctx.keys.outboxDue, deliveryWaker);
      } catch (err) {
        if (!this.ctx.running()) break;
        log.warn({ err: (err as Error).message }, 'notifier delivery loop failed; retrying');
        await deliveryWaker.wait(opts.maxSleepMs);
      }
    }
    await Promise.allSettled([...active]);
  }

  /** Leases up to `free` due units and starts a delivery pass for each; how many were leased. */
  private async claim(free: number, active: Set<Promise<void>>): Promise<number> {
    const { opts, log, deliveryWaker } = this.ctx;
    const token = randomBytes(12).toString('base64url');
    const claimed = await this.ctx.outbox.claim(Date.now(), opts.leaseMs, free, token);
    for (const unit of claimed) {
      const task: Promise<void> = this.deliverClient(unit, token)
        .catch((err: Error) => log.warn({ err: err.message, unit }, 'delivery pass failed; the lease expires and it is retried'))
        .finally(() => {
          active.delete(task);
          deliveryWaker.wake();
        });
      active.add(task);
    }
    return claimed.length;
  }

  /** Delivers one leased unit's outbox head by head until empty, failed, lost or out of budget. */
  private async deliverClient(unit: string, token: string): Promise<void> {
    const { outbox, opts, keys } = this.ctx;
    const { clientId, channelId } = parseUnit(unit);
    const channelKey = keys.channel(clientId, channelId);
    for (let n = 0; n < opts.perLease; n++) {
      if (!this.ctx.running()) return void (await outbox.release(channelKey, unit, token, Date.now()));
      const head = await this.readHead(clientId, channelId);
      if (head.lease !== token) return;
      if (!head.channel?.enabled || head.entries.length === 0) return void (await outbox.release(channelKey, unit, token, Date.now()));
      const more = await this.deliverHead(channelKey, token, head.channel, head.entries);
      if (!more) return;
    }
    await outbox.release(channelKey, unit, token, Date.now());
  }

  private async readHead(clientId: string, channelId: string): Promise<Head> {
    const { redis, keys, channels } = this.ctx;
    const res = await redis.multi().hgetall(keys.channel(clientId, channelId)).lrange(keys.outbox(unitOf(clientId, channelId)), 0, MAX_DIGEST - 1).exec();
    if (!res) throw new Error('transaction aborted');
    const [[e1, hash], [e2, list]] = res as [[Error | null, Record<string, string>], [Error | null, string[]]];
    if (e1 || e2) throw e1 ?? e2;
    const channel = parseChannel(clientId, channelId, hash);
    const digest = channel !== null && channel.digestSec !== null && channels.registry.get(channel.type)?.digest === true;
    return { channel, lease: hash.lease ?? null, entries: digest ? list : list.slice(0, 1) };
  }

  /** Sends the head message(s) and records the outcome; whether the pass goes on with the next one. */
  private async deliverHead(channelKey: string, token: string, ch: ChannelRecord, entries: string[]): Promise<boolean> {
    const { outbox, opts, stats, log } = this.ctx;
    const messages = entries.map((e) => messageOfEntry(e, ch));
    const deliveryId = messages[0]!.id;
    const started = Date.now();
    const outcome = await this.attempt(ch, messages);
    if (outcome === 'stopped') {
      await outbox.release(channelKey, ch.unit, token, Date.now());
      return false;
    }
    if (outcome.outcome !== 'delivered') {
      await this.failed(channelKey, token, ch, deliveryId, outcome, entries);
      return false;
    }
    const left = await outbox.ack(channelKey, ch.unit, token, entries[0]!, Date.now(), opts.leaseMs, entries.length);
    stats.delivered += entries.length;
    log.debug({ clientId: ch.clientId, channelId: ch.id, type: ch.type, deliveryId, messages: entries.length, durationMs: Date.now() - started }, 'notification delivered');
    return left > 0;
  }

  /** One send through the channel plugin (sendMessages); a failure cut short by stop() is `stopped`, not a failed delivery. */
  private async attempt(ch: ChannelRecord, messages: ChannelMessage[]): Promise<SendOutcome | 'stopped'> {
    const channel = this.ctx.channels.registry.get(ch.type);
    if (!channel) return notInstalled(ch.type);
    const outcome = await sendMessages(channel, ch.options, messages, await this.context(ch));
    return outcome.outcome === 'retry' && this.stopping.aborted ? 'stopped' : outcome;
  }

  private async context(ch: ChannelRecord) {
    const { guard } = await this.owners.forOwner(ch.clientId);
    const { opts, log } = this.ctx;
    return createChannelContext({ agents: this.ctx.agents, egress: guard, timeoutMs: opts.timeoutMs, log: log.child({ clientId: ch.clientId, channelId: ch.id }), userAgent: opts.userAgent, stopping: this.stopping });
  }

  /** Records a failed attempt (backoff, or disabling after maxFailures) and logs it. */
  private async failed(channelKey: string, token: string, ch: ChannelRecord, deliveryId: string, result: Exclude<SendOutcome, { outcome: 'delivered' }>, entries: string[]): Promise<void> {
    const { outbox, opts, stats, log } = this.ctx;
    const rejected = result.outcome === 'rejected';
    const verdict = await outbox.fail(channelKey, ch.unit, token, {
      error: rejected ? `rejected: ${result.reason}` : result.reason,
      now: Date.now(),
      backoffBaseMs: opts.backoffBaseMs,
      backoffMaxMs: opts.backoffMaxMs,
      maxFailures: opts.maxFailures,
      retryAfterMs: result.outcome === 'retry' ? (result.retryAfterMs ?? 0) : 0,
      drop: rejected ? entries.length : 0,
      head: entries[0]!,
    });
    stats.failed++;
    const where = typeof ch.options.url === 'string' ? urlForLog(ch.options.url) : null;
    const who = { clientId: ch.clientId, channelId: ch.id, type: ch.type, url: where };
    if (verdict.code === 2) {
      stats.disabled++;
      log.warn({ event: ch.id === 'webhook' ? 'webhook_disabled' : 'channel_disabled', ...who, failures: verdict.failures, lastError: result.reason }, `notifications disabled after ${verdict.failures} consecutive failed deliveries`);
    } else if (verdict.code === 1) {
      log.info({ ...who, deliveryId, failures: verdict.failures, retryInMs: verdict.delayMs, rejected, err: result.reason }, rejected ? 'notification rejected; dropped' : 'notification delivery failed; will retry');
    }
  }
}
