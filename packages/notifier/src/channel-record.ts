/**
 * How a channel is stored (its hash, see keys.ts) and shown. Fields:
 *
 *   type, name                     channel type (a registered channel) and the client's name for it
 *   options                        JSON of the options, secrets included (never presented);
 *                                  the `webhook` channel keeps `url` and `secret` as fields instead
 *   routing                        JSON {filters, delaySec, escalation, digestSec, template}
 *   remindEverySec                 reminders while an asset stays down (read by the Lua scripts)
 *   enabled '1'|'0', failures      consecutive failed deliveries; maxFailures disable (notify_fail)
 *   disabledReason, disabledAt     set when disabled, cleared by an enable
 *   lastDeliveryAt, lastError, lastErrorAt, nextAttemptAt, delivered, dropped
 *   lease                          token of the notifier delivering the outbox right now
 *   createdAt, updatedAt
 */
import { iso } from '@webmon/core';
import type { MessageTemplate } from './templates.js';

/** The fixed id of a client's channel that /clients/:id/webhook shows (stored as before channels existed). */
export const WEBHOOK_CHANNEL_ID = 'webhook';
/** Most channels per client, the webhook channel included. */
export const MAX_CHANNELS = 20;

export type Severity = 'degraded' | 'down';

export interface ChannelFilters {
  /** Assets with any of these tags. */
  tags?: string[] | undefined;
  /** Changes to these states (`to`). */
  states?: string[] | undefined;
  /** Changes from or to at least this state (a recovery from it passes too). */
  minSeverity?: Severity | undefined;
  /** Changes caused by one of these plugins (when the cause is known). */
  plugins?: string[] | undefined;
}

export interface ChannelRouting {
  filters: ChannelFilters;
  /** Send a down change only if the asset is still down after this many seconds (a shorter flap sends nothing). */
  delaySec: number | null;
  /** Another channel of the client gets an `escalation` message when an outage outlasts afterSec. */
  escalation: { afterSec: number; channelId: string } | null;
  /** Digest channels: one send with the changes of the last digestSec seconds. */
  digestSec: number | null;
  template: MessageTemplate | null;
  remindEverySec: number | null;
}

export interface ChannelStatus {
  enabled: boolean;
  /** Consecutive failed deliveries (0 after a success or an enable). */
  failures: number;
  disabledReason: string | null;
  disabledAt: string | null;
  lastDeliveryAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  /** When the next attempt is scheduled while retrying after failures. */
  nextAttemptAt: string | null;
  /** Deliveries waiting in the outbox. */
  pending: number;
  /** Deliveries made since the channel was created. */
  delivered: number;
  /** Deliveries dropped (outbox cap, rejected by the service, or enable with dropPending). */
  dropped: number;
}

/** The stored channel, secrets included: for the notifier only, never for an API response. */
export interface ChannelRecord extends ChannelRouting {
  clientId: string;
  id: string;
  /** outboxDue member of this channel (see keys.ts). */
  unit: string;
  name: string;
  type: string;
  options: Record<string, unknown>;
  enabled: boolean;
  failures: number;
  disabledReason: string | null;
  disabledAt: number | null;
  lastDeliveryAt: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  nextAttemptAt: number | null;
  delivered: number;
  dropped: number;
  createdAt: number;
  updatedAt: number;
}

/** The outboxDue member of a client's channel. */
export function unitOf(clientId: string, channelId: string): string {
  return channelId === WEBHOOK_CHANNEL_ID ? clientId : `${clientId}:${channelId}`;
}

export function parseUnit(unit: string): { clientId: string; channelId: string } {
  const colon = unit.indexOf(':');
  return colon < 0 ? { clientId: unit, channelId: WEBHOOK_CHANNEL_ID } : { clientId: unit.slice(0, colon), channelId: unit.slice(colon + 1) };
}

const num = (v: string | undefined): number | null => (v === undefined || v === '' ? null : Number(v));
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

/** The JSON object stored in `v`, or `fallback` when it holds none (a hand-edited or damaged field). */
function json<T extends object>(v: string | undefined, fallback: T): T {
  if (!v) return fallback;
  try {
    const parsed: unknown = JSON.parse(v);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as T) : fallback;
  } catch {
    return fallback;
  }
}

/** The record of a channel hash, or null when it holds no channel. */
export function parseChannel(clientId: string, id: string, h: Record<string, string>): ChannelRecord | null {
  const webhook = id === WEBHOOK_CHANNEL_ID;
  if (webhook ? !h.url : !h.type) return null;
  const routing = json<Partial<ChannelRouting>>(h.routing, {});
  return {
    clientId,
    id,
    unit: unitOf(clientId, id),
    name: webhook ? WEBHOOK_CHANNEL_ID : (h.name ?? id),
    type: webhook ? 'webhook' : h.type!,
    options: webhook ? { url: h.url, secret: h.secret ?? '' } : json<Record<string, unknown>>(h.options, {}),
    filters: routing.filters ?? {},
    delaySec: routing.delaySec ?? null,
    escalation: routing.escalation ?? null,
    digestSec: routing.digestSec ?? null,
    template: routing.template ?? null,
    ...deliveryState(h),
  };
}

/** The delivery bookkeeping every channel hash holds (the webhook's too), as stored: ms times, counters. */
export function deliveryState(h: Record<string, string>) {
  return {
    remindEverySec: num(h.remindEverySec),
    enabled: h.enabled === '1',
    failures: Number(h.failures ?? 0),
    disabledReason: h.disabledReason || null,
    disabledAt: num(h.disabledAt),
    lastDeliveryAt: num(h.lastDeliveryAt),
    lastError: h.lastError || null,
    lastErrorAt: num(h.lastErrorAt),
    nextAttemptAt: num(h.nextAttemptAt),
    delivered: Number(h.delivered ?? 0),
    dropped: Number(h.dropped ?? 0),
    createdAt: Number(h.createdAt ?? 0),
    updatedAt: Number(h.updatedAt ?? 0),
  };
}

/** The status fields a channel (or webhook) record holds. */
export type StatusFields = Pick<ChannelRecord, 'enabled' | 'failures' | 'disabledReason' | 'disabledAt' | 'lastDeliveryAt' | 'lastError' | 'lastErrorAt' | 'nextAttemptAt' | 'delivered' | 'dropped'>;

export function presentStatus(r: StatusFields, pending: number): ChannelStatus {
  return {
    enabled: r.enabled,
    failures: r.failures,
    disabledReason: r.disabledReason,
    disabledAt: isoOrNull(r.disabledAt),
    lastDeliveryAt: isoOrNull(r.lastDeliveryAt),
    lastError: r.lastError,
    lastErrorAt: isoOrNull(r.lastErrorAt),
    nextAttemptAt: isoOrNull(r.nextAttemptAt),
    pending,
    delivered: r.delivered,
    dropped: r.dropped,
  };
}
