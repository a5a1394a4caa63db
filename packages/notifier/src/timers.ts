/**
 * Timers: held downs (a channel's `delaySec`) and escalations (`escalation.afterSec`), the
 * members `hold|<unit>|<asset>` and `esc|<unit>|<asset>` of notifyTimers scored by their due
 * time. A state change away from down cancels both (notify_fanout); notify_timer fires each at
 * most once. Either is sent (a held down as it was queued) only while the asset is still down
 * and no maintenance window covers it: a window opened during a delay silences the held down too.
 */
import { coveringWindow, type MaintenanceWindow } from '@webmon/core';
import { parseUnit } from './channel-record.js';
import { fireEach, sleepUntilDue, type NotifierContext } from './context.js';

export class Timers {
  constructor(private readonly ctx: NotifierContext) {}

  /** Fires due timers, then sleeps until the next is due (at most maxSleepMs) or a wake. */
  async run(): Promise<void> {
    const { redis, keys, opts, log, timerWaker, maintenance } = this.ctx;
    while (this.ctx.running()) {
      try {
        const due = await redis.zrangebyscore(keys.notifyTimers, '-inf', Date.now(), 'WITHSCORES', 'LIMIT', 0, opts.reminderBatch);
        if (due.length) {
          const windows = await maintenance.all(Date.now());
          await fireEach(this.ctx, keys.notifyTimers, due, (member, score) => this.fire(member, score, windows));
          if (due.length / 2 >= opts.reminderBatch) continue;
        }
        await sleepUntilDue(this.ctx, keys.notifyTimers, timerWaker);
      } catch (err) {
        if (!this.ctx.running()) break;
        log.warn({ err: (err as Error).message }, 'notifier timer pass failed; retrying');
        await timerWaker.wait(opts.maxSleepMs);
      }
    }
  }

  private async fire(member: string, score: string, windows: readonly MaintenanceWindow[]): Promise<void> {
    const { redis, keys, outbox, opts } = this.ctx;
    const data = await redis.hget(keys.notifyTimerData, member);
    const { unit, message } = parseData(data);
    const assetId = member.slice(member.lastIndexOf('|') + 1);
    let deliver = unit !== '' && message !== '';
    if (deliver) {
      const asset = await this.ctx.assets.get(assetId);
      deliver = asset !== null && asset.state === 'down' && !coveringWindow(windows, asset, Date.now());
    }
    const { clientId, channelId } = parseUnit(unit || '-');
    const queued = await outbox.timer({ member, score, unit: unit || '-', deliver, message, now: Date.now(), maxOutbox: opts.maxOutbox }, keys.channel(clientId, channelId));
    if (queued === 1) {
      this.ctx.stats.timers++;
      this.ctx.deliveryWaker.wake();
    }
  }
}

function parseData(data: string | null): { unit: string; message: string } {
  try {
    const d = JSON.parse(data ?? '') as { unit?: unknown; message?: unknown };
    return { unit: typeof d.unit === 'string' ? d.unit : '', message: typeof d.message === 'string' ? d.message : '' };
  } catch {
    return { unit: '', message: '' };
  }
}
