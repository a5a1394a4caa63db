/** Building the messages the channels get: from a state change, a reminder, an escalation, a test, or an outbox entry of an older version. */
import { iso, type AssetRecord } from '@webmon/core';
import type { ChannelMessage, ChannelMessageType } from '@webmon/plugin-sdk';
import type { ChannelRecord } from './channel-record.js';
import { renderMessage, type MessageTemplate } from './templates.js';

export type MessageBase = Omit<ChannelMessage, 'title' | 'text'>;

/** A state change as the notifier sees it, with what the channels' routing and templates need. */
export interface Change {
  /** The events entry id (the delivery id of the state change). */
  id: string;
  asset: AssetRecord;
  client: string;
  from: string;
  to: string;
  reason: string;
  /** The check's message ('' when unknown). */
  message: string;
  /** The plugin whose result caused the change, when known. */
  plugin: string | null;
  at: number;
  /** How long the previous state lasted, seconds (null when unknown). */
  durationSec: number | null;
  link: string | null;
  /** A maintenance window covers the asset at `at`. */
  maintenance: boolean;
}

/** The dashboard page of an asset under the api's public URL, or null when none is configured. */
export function assetLink(publicUrl: string, assetId: string): string | null {
  return publicUrl ? `${publicUrl.replace(/\/+$/, '')}/#/assets/${encodeURIComponent(assetId)}` : null;
}

export function incidentKey(client: string, assetId: string): string {
  return `webmon:${client}:${assetId}`;
}

export function withText(base: MessageBase, template: MessageTemplate | null | undefined): ChannelMessage {
  return { ...base, ...renderMessage(base, template) };
}

function assetOf(a: Pick<AssetRecord, 'id' | 'url' | 'tags'>): ChannelMessage['asset'] {
  return { id: a.id, url: a.url, tags: [...a.tags] };
}

export function changeMessage(c: Change, ch: ChannelRecord): ChannelMessage {
  const base: MessageBase = {
    id: c.id,
    type: 'state_change',
    asset: assetOf(c.asset),
    from: c.from,
    to: c.to,
    reason: c.reason,
    message: c.message,
    at: iso(c.at),
    since: null,
    durationSec: c.durationSec,
    client: c.client,
    link: c.link,
    incidentKey: incidentKey(c.client, c.asset.id),
  };
  return withText(base, ch.template);
}

/** A message about an asset that is (still) in its state: a reminder or an escalation. */
export function ongoingMessage(type: Extract<ChannelMessageType, 'reminder' | 'escalation'>, id: string, asset: AssetRecord, client: string, now: number, link: string | null, ch: ChannelRecord): ChannelMessage {
  const since = asset.stateChangedAt;
  const base: MessageBase = {
    id,
    type,
    asset: assetOf(asset),
    from: asset.state,
    to: asset.state,
    reason: asset.stateReason ?? '',
    message: '',
    at: iso(now),
    since: since === null ? null : iso(since),
    durationSec: since === null ? null : Math.max(0, Math.round((now - since) / 1000)),
    client,
    link,
    incidentKey: incidentKey(client, asset.id),
  };
  return withText(base, ch.template);
}

/** The `test` message of a channel (POST /channels/:id/test). */
export function testMessage(ch: ChannelRecord, now: number, link: string | null): ChannelMessage {
  const base: MessageBase = {
    id: `test:${ch.id}:${now}`,
    type: 'test',
    asset: { id: 'test', url: 'https://example.com/', tags: [] },
    from: 'up',
    to: 'down',
    reason: 'test',
    message: 'a test message sent on request',
    at: iso(now),
    since: null,
    durationSec: null,
    client: ch.clientId,
    link,
    incidentKey: incidentKey(ch.clientId, 'test'),
  };
  return withText(base, ch.template);
}

/**
 * An outbox entry as a message. Entries queued before channels existed hold the webhook payload
 * ({id, type, asset, from, to, reason, at, since?, client}); what they lack gets its default.
 */
export function messageOfEntry(entry: string, ch: ChannelRecord): ChannelMessage {
  let m: Partial<ChannelMessage> & { since?: string | null };
  try {
    m = JSON.parse(entry) as typeof m;
  } catch {
    m = {};
  }
  if (typeof m.title === 'string' && typeof m.text === 'string') return m as ChannelMessage;
  const asset = m.asset ?? { id: '', url: '', tags: [] };
  const base: MessageBase = {
    id: String(m.id ?? ''),
    type: m.type ?? 'state_change',
    asset,
    from: m.from ?? '',
    to: m.to ?? '',
    reason: m.reason ?? '',
    message: m.message ?? '',
    at: m.at ?? iso(Date.now()),
    since: m.since ?? null,
    durationSec: m.durationSec ?? null,
    client: m.client ?? ch.clientId,
    link: m.link ?? null,
    incidentKey: m.incidentKey ?? incidentKey(ch.clientId, asset.id),
  };
  return withText(base, ch.template);
}
