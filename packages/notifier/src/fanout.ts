/**
 * Fan-out: reads the `events` stream as consumer `<consumer>` of the group `notifier`
 * (XREADGROUP … BLOCK on a connection of its own, so stop() can close it). Each state change
 * becomes at most one delivery in its owner's outbox, queued and acknowledged in one script
 * (notify_fanout), so re-processing never queues twice. Entries left pending by a consumer that
 * died are taken over with XAUTOCLAIM after `claimIdleMs`; consumers idle for `consumerIdleMs`
 * with nothing pending are removed from the group.
 */
import { coveringWindow, sleep, type Redis } from '@webmon/core';
import type { NotifierContext } from './context.js';
import { stateChangePayload } from './payload.js';
import { fieldsOf, streamEntries, type StreamEntry } from './stream.js';

/** XAUTOCLAIM calls per reclaim pass (each takes up to `batch` entries). */
const RECLAIM_ROUNDS = 10;

export class FanOut {
  private readonly group: string;
  private lastConsumerSweep = 0;

  constructor(
    private readonly ctx: NotifierContext,
    private readonly consumer: string,
    /** The connection of the blocking reads; closing it ends a BLOCK at once. */
    private readonly reader: Redis,
    /** The events stream read: one shard's (one FanOut per shard). */
    private readonly events: string = ctx.keys.events,
  ) {
    this.group = ctx.keys.notifierGroup;
  }

  /**
   * Creates the group at the end of the stream unless it exists: state changes recorded before
   * notifications existed are not replayed as a flood of stale webhooks.
   */
  async ensureGroup(): Promise<void> {
    const { redis, log } = this.ctx;
    try {
      await redis.xgroup('CREATE', this.events, this.group, '$', 'MKSTREAM');
      log.info({ stream: this.events, group: this.group }, 'created the notifier consumer group at the end of the stream');
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
  }

  /** The loop: first what this consumer name left pending in an earlier life, then new entries. */
  async run(): Promise<void> {
    const { opts, log } = this.ctx;
    let cursor: string | null = '0';
    let lastReclaim = 0;
    while (this.ctx.running()) {
      try {
        if (cursor !== null) {
          cursor = await this.readOwnPending(cursor);
          continue;
        }
        const sinceReclaim = Date.now() - lastReclaim;
        if (sinceReclaim >= opts.claimIntervalMs) {
          lastReclaim = Date.now();
          await this.reclaim();
          continue;
        }
        const block = Math.max(1, Math.min(opts.blockMs, opts.claimIntervalMs - sinceReclaim));
        await this.processAll(await this.readGroup('>', block));
      } catch (err) {
        if (!this.ctx.running()) break;
        const message = (err as Error).message;
        if (/NOGROUP/.test(message)) {
          await this.ensureGroup().catch(() => undefined);
          continue;
        }
        log.warn({ err: message }, 'notifier fan-out failed; retrying');
        await sleep(opts.maxSleepMs);
      }
    }
  }

  /** Handles one batch of this consumer's pending entries after `cursor`; the next cursor, null when none are left. */
  private async readOwnPending(cursor: string): Promise<string | null> {
    const own = await this.readGroup(cursor, null);
    if (own.length === 0) return null;
    await this.processAll(own);
    return own[own.length - 1]![0];
  }

  private async readGroup(id: string, block: number | null): Promise<StreamEntry[]> {
    const args: (string | number)[] = ['GROUP', this.group, this.consumer, 'COUNT', this.ctx.opts.batch];
    if (block !== null) args.push('BLOCK', block);
    args.push('STREAMS', this.events, id);
    return streamEntries(await this.reader.call('XREADGROUP', ...args));
  }

  private async processAll(entries: readonly StreamEntry[]): Promise<void> {
    // In order: per-client outboxes keep the stream's order.
    for (const [id, fields] of entries) {
      if (!this.ctx.running()) return;
      try {
        await this.processEntry(id, fields);
      } catch (err) {
        // Left pending: this consumer's next start, or XAUTOCLAIM by any consumer, retries it.
        this.ctx.log.warn({ err: (err as Error).message, entryId: id }, 'could not handle an event; it stays pending');
      }
    }
  }

  private async processEntry(id: string, raw: readonly string[] | null): Promise<void> {
    const { redis, stats, log } = this.ctx;
    stats.events++;
    const f = raw ? fieldsOf(raw) : {};
    const assetId = f.asset;
    const owner = f.owner;
    if (!assetId || !owner || f.to === undefined) {
      // Not a state change we understand (or an entry trimmed away): acknowledge and move on.
      await redis.xack(this.events, this.group, id);
      stats.skipped.malformed++;
      return;
    }
    const at = Number.isFinite(Number(f.at)) ? Number(f.at) : Date.now();
    const { deliver, payload } = await this.delivery(id, owner, assetId, { from: f.from, to: f.to, reason: f.reason, at });
    const skipped = await this.ctx.outbox.fanout({ group: this.group, entryId: id, owner, assetId, to: f.to, deliver, payload, now: Date.now(), maxOutbox: this.ctx.opts.maxOutbox });
    if (skipped === null) {
      stats.queued++;
      this.ctx.deliveryWaker.wake();
      log.debug({ clientId: owner, assetId, deliveryId: id, from: f.from, to: f.to }, 'notification queued');
    } else countSkip(stats.skipped, skipped);
    if (f.to === 'down') this.ctx.reminderWaker.wake();
  }

  /**
   * What to queue for a state change: nothing unless the owner's webhook is enabled and the asset
   * exists; a payload only recorded (deliver false) while a maintenance window covers the asset.
   */
  private async delivery(id: string, owner: string, assetId: string, change: { from?: string; to: string; reason?: string; at: number }) {
    const { redis, keys, assets, maintenance } = this.ctx;
    if ((await redis.hget(keys.webhook(owner), 'enabled')) !== '1') return { deliver: false, payload: '' };
    const asset = await assets.get(assetId);
    if (!asset) return { deliver: false, payload: '' };
    const window = coveringWindow(await maintenance.all(Date.now()), asset, change.at);
    return { deliver: !window, payload: JSON.stringify(stateChangePayload(id, asset, change, owner)) };
  }

  /** Takes over entries left pending too long by other consumers, then drops long-idle consumers. */
  private async reclaim(): Promise<void> {
    const { redis, opts, stats, log } = this.ctx;
    let cursor = '0-0';
    for (let round = 0; round < RECLAIM_ROUNDS && this.ctx.running(); round++) {
      const res = (await redis.call('XAUTOCLAIM', this.events, this.group, this.consumer, opts.claimIdleMs, cursor, 'COUNT', opts.batch)) as [string, StreamEntry[], string[]?];
      const entries = res[1] ?? [];
      stats.reclaimed += entries.length;
      if (entries.length) log.info({ entries: entries.length }, 'took over events left pending by another consumer');
      await this.processAll(entries);
      cursor = res[0];
      if (cursor === '0-0') break;
    }
    if (Date.now() - this.lastConsumerSweep >= opts.consumerIdleMs / 4) {
      this.lastConsumerSweep = Date.now();
      await this.dropIdleConsumers();
    }
  }

  private async dropIdleConsumers(): Promise<void> {
    const { redis, opts } = this.ctx;
    const consumers = (await redis.call('XINFO', 'CONSUMERS', this.events, this.group)) as unknown[][];
    for (const c of consumers) {
      const info = fieldsOf(c.map(String));
      if (info.name && info.name !== this.consumer && Number(info.pending) === 0 && Number(info.idle) > opts.consumerIdleMs) {
        await redis.xgroup('DELCONSUMER', this.events, this.group, info.name);
      }
    }
  }
}

function countSkip(skipped: NotifierContext['stats']['skipped'], why: string): void {
  if (why === 'maintenance') skipped.maintenance++;
  else if (why === 'no_webhook') skipped.noWebhook++;
  else if (why === 'stale') skipped.stale++;
  else if (why === 'duplicate') skipped.duplicate++;
  else if (why === 'gone') skipped.gone++;
}
