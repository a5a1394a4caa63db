/**
 * Typed calls of the notifier's Lua scripts (../lua; each script's header is the contract):
 * queueing into the outboxes of a client's channels (fan-out, reminders, timers) and the
 * delivery lease of a unit (claim, ack, fail, release). Every Redis key a script touches is
 * named here, from `Keys`, and every one is a notifier key.
 */
import type { Keys, Redis } from '@webmon/core';
import { unitOf } from './channel-record.js';
import type { ChannelOp } from './routing.js';
import { notifierScripts, type NotifierScripts } from './scripts.js';

export interface FanoutEntry {
  assetId: string;
  /** The events stream entry id. */
  entryId: string;
  /** The state the asset changed to. */
  to: string;
  ops: readonly ChannelOp[];
  now: number;
  maxOutbox: number;
}

export interface TimerEntry {
  member: string;
  score: string;
  unit: string;
  deliver: boolean;
  message: string;
  now: number;
  maxOutbox: number;
}

export interface ReminderEntry {
  /** `<unit>|<asset>` in the reminders set. */
  member: string;
  /** The member's score as read. */
  score: string;
  clientId: string;
  channelId: string;
  /** The asset is down (as read just before). */
  down: boolean;
  deliver: boolean;
  payload: string;
  now: number;
  maxOutbox: number;
}

/** What notify_fail decided: retry after delayMs, disabled, or the lease was lost. */
export type FailVerdict = { code: 1; failures: number; delayMs: number } | { code: 2; failures: number } | { code: -1 };

export interface FailArgs {
  error: string;
  now: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  maxFailures: number;
  retryAfterMs: number;
  /** Entries to drop from the head (a rejected message: 1, or a digest's count); 0 to keep them for a retry. */
  drop: number;
  head: string;
}

export class Outbox {
  private readonly run: NotifierScripts['run'];

  constructor(
    redis: Redis,
    private readonly keys: Keys,
  ) {
    this.run = notifierScripts(redis).run;
  }

  /** Applies one state change to the owner's channels; deliveries queued, or null when the event was stale. */
  async fanout(e: FanoutEntry): Promise<number | null> {
    const k = this.keys;
    const keys: string[] = [k.notified, k.outboxDue, k.reminders, k.notifyTimers, k.notifyTimerData];
    const args: (string | number)[] = [e.assetId, e.entryId, e.to, e.now, e.maxOutbox, e.ops.length];
    for (const op of e.ops) {
      keys.push(k.channel(op.channel.clientId, op.channel.id), k.outbox(op.channel.unit));
      args.push(op.channel.unit, op.mode, op.message, op.dueAt, op.holdDue, op.remind, op.escalation);
    }
    const [queued, why] = await this.run<[number, string]>('notify_fanout', keys, args);
    return why === 'stale' ? null : queued;
  }

  /** Fires one due reminder (at most once per due time); whether a delivery was queued. */
  async remind(r: ReminderEntry): Promise<boolean> {
    const k = this.keys;
    const unit = unitOf(r.clientId, r.channelId);
    const [queued] = await this.run<[number, string]>(
      'notify_remind',
      [k.reminders, k.channel(r.clientId, r.channelId), k.outbox(unit), k.outboxDue],
      [r.member, r.score, r.now, r.deliver ? '1' : '0', r.payload, unit, r.maxOutbox, r.down ? '1' : '0'],
    );
    return queued === 1;
  }

  /** Fires one due timer (a held down, an escalation); 1 queued, 0 dropped, -1 taken or cancelled. */
  timer(t: TimerEntry, channelKey: string): Promise<number> {
    const k = this.keys;
    return this.run<number>(
      'notify_timer',
      [k.notifyTimers, k.notifyTimerData, channelKey, k.outbox(t.unit), k.outboxDue],
      [t.member, t.score, t.now, t.deliver ? '1' : '0', t.unit, t.maxOutbox, t.message],
    );
  }

  /** Leases up to `most` due units under `token`; returns them. */
  claim(now: number, leaseMs: number, most: number, token: string): Promise<string[]> {
    return this.run<string[]>('notify_claim', [this.keys.outboxDue], [now, leaseMs, most, token, this.keys.webhookPrefix, this.keys.channelPrefix]);
  }

  /** Records the delivery of `head` (and `count - 1` entries after it); deliveries still pending, or -1 when the lease was lost. */
  ack(channelKey: string, unit: string, token: string, head: string, now: number, leaseMs: number, count = 1): Promise<number> {
    const k = this.keys;
    return this.run<number>('notify_ack', [channelKey, k.outbox(unit), k.outboxDue], [unit, token, head, now, leaseMs, count]);
  }

  /** Records a failed attempt and ends the lease; a rejected attempt (drop > 0) also drops the message(s) at `head`. */
  async fail(channelKey: string, unit: string, token: string, f: FailArgs): Promise<FailVerdict> {
    const [code, failures, delayMs] = await this.run<[number, number?, number?]>(
      'notify_fail',
      [channelKey, this.keys.outboxDue, this.keys.outbox(unit)],
      [unit, token, f.now, f.error, f.backoffBaseMs, f.backoffMaxMs, f.maxFailures, f.retryAfterMs, f.drop, f.head],
    );
    if (code === 1) return { code, failures: failures!, delayMs: delayMs! };
    if (code === 2) return { code, failures: failures! };
    return { code: -1 };
  }

  /** Ends a lease without a result; the unit stays due at `dueAt` while it has deliveries. */
  release(channelKey: string, unit: string, token: string, dueAt: number): Promise<number> {
    const k = this.keys;
    return this.run<number>('notify_release', [channelKey, k.outbox(unit), k.outboxDue], [unit, token, dueAt]);
  }
}
