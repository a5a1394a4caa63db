/**
 * Typed calls of the notifier's Lua scripts (../lua; each script's header is the contract):
 * queueing into a client's outbox (fan-out, reminders) and the delivery lease (claim, ack,
 * fail, release). Every Redis key a script touches is named here, from `Keys`.
 */
import type { Keys, Redis } from '@webmon/core';
import { notifierScripts, type NotifierScripts } from './scripts.js';

/** Why notify_fanout queued nothing. */
export type FanoutSkip = 'duplicate' | 'gone' | 'stale' | 'no_webhook' | 'maintenance';

export interface FanoutEntry {
  group: string;
  /** The events stream entry id, also the delivery id. */
  entryId: string;
  owner: string;
  assetId: string;
  /** The state the asset changed to. */
  to: string;
  /** False while a maintenance window covers the asset (the change is only recorded). */
  deliver: boolean;
  payload: string;
  now: number;
  maxOutbox: number;
}

export interface ReminderEntry {
  /** `<client>|<asset>` in the reminders set. */
  member: string;
  /** The member's score as read. */
  score: string;
  clientId: string;
  assetId: string;
  /** The asset's state as read ('' when gone): what a sharded layout judges by (notify_queue). */
  state: string;
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
}

export class Outbox {
  private readonly run: NotifierScripts['run'];

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {
    this.run = notifierScripts(redis).run;
  }

  /** Acknowledges a stream entry and queues its delivery, together; null when queued. */
  async fanout(e: FanoutEntry): Promise<FanoutSkip | null> {
    const k = this.keys;
    if (k.layout.tagged) return this.fanoutSharded(e);
    const [queued, why] = await this.run<[number, string]>(
      'notify_fanout',
      [k.events, k.asset(e.assetId), k.webhook(e.owner), k.outbox(e.owner), k.outboxDue, k.reminders],
      [e.group, e.entryId, e.deliver ? '1' : '0', e.payload, e.now, e.owner, `${e.owner}|${e.assetId}`, e.to, e.maxOutbox],
    );
    return queued === 1 ? null : (why as FanoutSkip);
  }

  /**
   * fanout() where the asset's shard and the client's keys are in different slots: the asset is
   * read, the delivery queued (notify_queue), then the event recorded and acknowledged
   * (notify_mark). At least once: see notify_queue.lua.
   */
  private async fanoutSharded(e: FanoutEntry): Promise<FanoutSkip | null> {
    const k = this.keys;
    const [exists, last] = await Promise.all([this.redis.exists(k.asset(e.assetId)), this.redis.hget(k.asset(e.assetId), 'notifiedEventId')]);
    let skip: FanoutSkip | null = exists === 0 ? 'gone' : last && !newerId(e.entryId, last) ? 'stale' : null;
    if (skip === null) {
      const [queued, why] = await this.run<[number, string]>(
        'notify_queue',
        [k.webhook(e.owner), k.outbox(e.owner), k.outboxDue, k.reminders],
        ['event', e.deliver ? '1' : '0', e.payload, e.now, e.owner, `${e.owner}|${e.assetId}`, e.to, e.maxOutbox],
      );
      skip = queued === 1 ? null : (why as FanoutSkip);
    }
    const acked = await this.run<number>('notify_mark', [k.shardOf(e.assetId).events, k.asset(e.assetId)], [e.group, e.entryId]);
    return acked === 0 && skip !== null ? 'duplicate' : skip;
  }

  /** Fires one due reminder (at most once per due time); whether a delivery was queued. */
  async remind(r: ReminderEntry): Promise<boolean> {
    const k = this.keys;
    if (k.layout.tagged) {
      const [queued] = await this.run<[number, string]>(
        'notify_queue',
        [k.webhook(r.clientId), k.outbox(r.clientId), k.outboxDue, k.reminders],
        ['remind', r.deliver ? '1' : '0', r.payload, r.now, r.clientId, r.member, r.state, r.maxOutbox, r.score],
      );
      return queued === 1;
    }
    const [queued] = await this.run<[number, string]>(
      'notify_remind',
      [k.reminders, k.asset(r.assetId), k.webhook(r.clientId), k.outbox(r.clientId), k.outboxDue],
      [r.member, r.score, r.now, r.deliver ? '1' : '0', r.payload, r.clientId, r.maxOutbox],
    );
    return queued === 1;
  }

  /** Leases up to `most` due clients under `token`; returns their ids. */
  claim(now: number, leaseMs: number, most: number, token: string): Promise<string[]> {
    return this.run<string[]>('notify_claim', [this.keys.outboxDue], [now, leaseMs, most, token, this.keys.webhook('')]);
  }

  /** Records the delivery of `head`; deliveries still pending, or -1 when the lease was lost. */
  ack(clientId: string, token: string, head: string, now: number, leaseMs: number): Promise<number> {
    const k = this.keys;
    return this.run<number>('notify_ack', [k.webhook(clientId), k.outbox(clientId), k.outboxDue], [clientId, token, head, now, leaseMs]);
  }

  /** Records a failed attempt and ends the lease. */
  async fail(clientId: string, token: string, f: FailArgs): Promise<FailVerdict> {
    const [code, failures, delayMs] = await this.run<[number, number?, number?]>(
      'notify_fail',
      [this.keys.webhook(clientId), this.keys.outboxDue],
      [clientId, token, f.now, f.error, f.backoffBaseMs, f.backoffMaxMs, f.maxFailures, f.retryAfterMs],
    );
    if (code === 1) return { code, failures: failures!, delayMs: delayMs! };
    if (code === 2) return { code, failures: failures! };
    return { code: -1 };
  }

  /** Ends a lease without a result; the client stays due at `dueAt` while it has deliveries. */
  release(clientId: string, token: string, dueAt: number): Promise<number> {
    const k = this.keys;
    return this.run<number>('notify_release', [k.webhook(clientId), k.outbox(clientId), k.outboxDue], [clientId, token, dueAt]);
  }
}

/** Whether stream id `a` is newer than `b` (`<ms>-<seq>`). */
function newerId(a: string, b: string): boolean {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am > bm || (am === bm && as > bs);
}
