/**
 * Fan-out: reads the `events` stream as consumer `<consumer>` of the group `notifier`
 * (XREADGROUP … BLOCK on a connection of its own, so stop() can close it). Each state change
 * becomes at most one delivery (or held delivery, or escalation timer) per channel of its
 * owner, routed by each channel's filters (routing.ts) and written by one script
 * (notify_fanout) that also records the event as the asset's newest handled, so re-processing
 * never queues twice; the entry is acknowledged afterwards. Entries left pending by a consumer that
 * died are taken over with XAUTOCLAIM after `claimIdleMs`; consumers idle for `consumerIdleMs`
 * with nothing pending are removed from the group.
 */
import { coveringWindow, sleep, type Redis } from '@webmon/core';
import type { NotifierContext } from './context.js';
import { assetLink, type Change } from './message.js';
import { channelOp } from './routing.js';
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
    const skipped = await this.route(id, owner, assetId, { from: f.from ?? '', to: f.to, reason: f.reason ?? '', at });
    await redis.xack(this.events, this.group, id);
    if (skipped === null) {
      stats.queued++;
      this.ctx.deliveryWaker.wake();
      log.debug({ clientId: owner, assetId, deliveryId: id, from: f.from, to: f.to }, 'notification queued');
    } else countSkip(stats.skipped, skipped);
    if (f.to === 'down') {
      this.ctx.reminderWaker.wake();
      this.ctx.timerWaker.wake();
    }
  }

  /** Routes a change to the owner's channels; null when something was queued, else why not. */
  private async route(id: string, owner: string, assetId: string, ev: { from: string; to: string; reason: string; at: number }): Promise<string | null> {
    const { redis, keys, assets, maintenance, channels, opts } = this.ctx;
    const [asset, all, windows, cause] = await Promise.all([assets.get(assetId), channels.records(owner), maintenance.all(Date.now()), this.cause(assetId, ev)]);
    if (!asset) {
      await redis.hdel(keys.notified, assetId);
      return 'gone';
    }
    if (cause.plugin === null && asset.plugins.length === 1) cause.plugin = asset.plugins[0]!;
    const covered = coveringWindow(windows, asset, ev.at) !== null;
    const change: Change = { id, asset, client: owner, ...ev, ...cause, link: assetLink(opts.publicUrl, assetId), maintenance: covered };
    const now = Date.now();
    const ops = all.map((ch) => channelOp(ch, change, all, channels.registry, now));
    const queued = await this.ctx.outbox.fanout({ assetId, entryId: id, to: ev.to, ops, now, maxOutbox: opts.maxOutbox });
    if (queued === null) return 'stale';
    if (queued > 0) return null;
    if (!all.some((c) => c.enabled)) return 'no_webhook';
    if (covered) return 'maintenance';
    return ops.some((o) => o.mode === 'h') ? 'held' : 'filtered';
  }

  /**
   * What the templates and filters know of a change beyond the event: the plugin and message of
   * the result that caused it (the asset's latest results) and how long the previous state
   * lasted (the asset's own events stream).
   */
  private async cause(assetId: string, ev: { to: string; reason: string; at: number }): Promise<{ plugin: string | null; message: string; durationSec: number | null }> {
    const { redis, keys } = this.ctx;
    const [latest, recent] = await Promise.all([redis.hgetall(keys.assetLatest(assetId)), redis.xrevrange(keys.assetEvents(assetId), '+', '-', 'COUNT', 5)]);
    let plugin: string | null = null;
    let message = '';
    for (const [name, json] of Object.entries(latest)) {
      try {
        const r = JSON.parse(json) as { reason?: string | null; message?: string; status?: string };
        if (ev.reason && r.reason === ev.reason) {
          plugin = name;
          message = String(r.message ?? '').slice(0, 500);
          break;
        }
      } catch {
        // a result of an unexpected shape tells nothing
      }
    }
    const before = recent.map(([, fields]) => Number(fieldsOf(fields).at)).find((t) => Number.isFinite(t) && t < ev.at);
    return { plugin, message, durationSec: before === undefined ? null : Math.round((ev.at - before) / 1000) };
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
  else if (why === 'filtered') skipped.filtered++;
  else if (why === 'held') skipped.held++;
  else if (why === 'no_webhook') skipped.noWebhook++;
  else if (why === 'stale') skipped.stale++;
  else if (why === 'duplicate') skipped.duplicate++;
  else if (why === 'gone') skipped.gone++;
}
