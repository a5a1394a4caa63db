/**
 * Routing of one state change to one channel: its filters, delay, escalation, digest and
 * reminders, decided here and applied atomically by notify_fanout (see its header for the modes).
 */
import type { ChannelRegistry } from '@webmon/plugin-sdk';
import type { ChannelFilters, ChannelRecord } from './channel-record.js';
import { changeMessage, ongoingMessage, type Change } from './message.js';

export type FanoutMode = 'q' | 'h' | 'u' | 'x';

/** What notify_fanout does for one channel. */
export interface ChannelOp {
  channel: ChannelRecord;
  mode: FanoutMode;
  message: string;
  dueAt: number;
  holdDue: number;
  /** '' leave, '0' remove, else the reminder's due time. */
  remind: string;
  /** '' none, else "<dueMs>|<JSON {unit, message}>". */
  escalation: string;
}

const SEVERITY: Record<string, number> = { degraded: 1, down: 2 };
const severity = (state: string) => SEVERITY[state] ?? 0;

/** Whether a change passes a channel's filters (a filter on plugins lets a change of unknown cause pass). */
export function passes(f: ChannelFilters, c: Pick<Change, 'asset' | 'from' | 'to' | 'plugin'>): boolean {
  if (f.tags?.length && !f.tags.some((t) => c.asset.tags.includes(t))) return false;
  if (f.states?.length && !f.states.includes(c.to)) return false;
  if (f.minSeverity && Math.max(severity(c.from), severity(c.to)) < severity(f.minSeverity)) return false;
  if (f.plugins?.length && c.plugin !== null && !f.plugins.includes(c.plugin)) return false;
  return true;
}

/** The operation for one channel of the change's owner; `all` are the owner's channels (escalation targets). */
export function channelOp(ch: ChannelRecord, c: Change, all: readonly ChannelRecord[], registry: ChannelRegistry, now: number): ChannelOp {
  const op: ChannelOp = { channel: ch, mode: 'x', message: '', dueAt: now, holdDue: 0, remind: c.to === 'down' ? '' : '0', escalation: '' };
  if (!ch.enabled || !passes(ch.filters, c)) {
    if (c.to === 'down') op.remind = '0';
    return op;
  }
  const delayMs = (ch.delaySec ?? 0) * 1000;
  const startsAt = c.to === 'down' && delayMs > 0 ? c.at + delayMs : now;
  if (c.to === 'down') op.remind = ch.remindEverySec ? String(Math.floor(Math.max(startsAt, now) + ch.remindEverySec * 1000)) : '0';
  if (c.maintenance) return op;
  op.message = JSON.stringify(changeMessage(c, ch));
  if (c.to === 'down' && delayMs > 0) {
    op.mode = 'h';
    op.holdDue = startsAt;
  } else op.mode = c.from === 'down' && c.to === 'up' && delayMs > 0 ? 'u' : 'q';
  if (ch.digestSec && registry.get(ch.type)?.digest) op.dueAt = now + ch.digestSec * 1000;
  if (c.to === 'down') op.escalation = escalationOf(ch, c, all);
  return op;
}

function escalationOf(ch: ChannelRecord, c: Change, all: readonly ChannelRecord[]): string {
  const esc = ch.escalation;
  const target = esc ? all.find((t) => t.id === esc.channelId) : undefined;
  if (!esc || !target) return '';
  const due = c.at + esc.afterSec * 1000;
  const asset = { ...c.asset, state: 'down' as const, stateReason: c.reason, stateChangedAt: c.at };
  const message = ongoingMessage('escalation', `escalation:${c.id}:${ch.id}`, asset, c.client, due, c.link, target);
  return `${due}|${JSON.stringify({ unit: target.unit, message: JSON.stringify(message) })}`;
}
