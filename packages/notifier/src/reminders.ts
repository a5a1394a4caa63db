/**
 * Reminders: every `remindEverySec` of a channel, an asset that stays down is notified again.
 * Due reminders are the members `<unit>|<asset>` of the reminders set scored by their due
 * time; notify_remind fires each at most once per due time and schedules the next.
 */
import { coveringWindow, type MaintenanceWindow } from '@webmon/core';
import { fireEach, sleepUntilDue, type NotifierContext } from './context.js';
import { parseUnit } from './channel-record.js';
import { assetLink, ongoingMessage } from './message.js';

export class Reminders {
  constructor(private readonly ctx: NotifierContext) {}

  /** Fires due reminders, then sleeps until the next is due (at most maxSleepMs) or a wake. */
  async run(): Promise<void> {
    const { redis, keys, opts, log, reminderWaker, maintenance } = this.ctx;
    while (this.ctx.running()) {
      try {
        const due = await redis.zrangebyscore(keys.reminders, '-inf', Date.now(), 'WITHSCORES', 'LIMIT', 0, opts.reminderBatch);
        if (due.length) {
          const windows = await maintenance.all(Date.now());
          await fireEach(this.ctx, keys.reminders, due, (member, score) => this.fire(member, score, windows));
          if (due.length / 2 >= opts.reminderBatch) continue;
        }
        await sleepUntilDue(this.ctx, keys.reminders, reminderWaker);
      } catch (err) {
        if (!this.ctx.running()) break;
        log.warn({ err: (err as Error).message }, 'notifier reminder pass failed; retrying');
        await reminderWaker.wait(opts.maxSleepMs);
      }
    }
  }

  private async fire(member: string, score: string, windows: readonly MaintenanceWindow[]): Promise<void> {
    const bar = member.indexOf('|');
    const { clientId, channelId } = parseUnit(member.slice(0, bar));
    const assetId = member.slice(bar + 1);
    const now = Date.now();
    const [asset, channel] = await Promise.all([this.ctx.assets.get(assetId), this.ctx.channels.record(clientId, channelId)]);
    const down = asset !== null && asset.state === 'down';
    const message = down && channel ? ongoingMessage('reminder', `reminder:${assetId}:${score}`, asset, clientId, now, assetLink(this.ctx.opts.publicUrl, assetId), channel) : null;
    const queued = await this.ctx.outbox.remind({
      member,
      score,
      clientId,
      channelId,
      down,
      now,
      deliver: message !== null && !coveringWindow(windows, asset!, now),
      payload: message ? JSON.stringify(message) : '',
      maxOutbox: this.ctx.opts.maxOutbox,
    });
    if (queued) {
      this.ctx.stats.reminders++;
      this.ctx.deliveryWaker.wake();
    }
  }
}
