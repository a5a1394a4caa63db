/** What a webhook receives: one JSON object per request. */
import { iso, type AssetRecord, type AssetState } from '@webmon/core';

export { iso } from '@webmon/core';

export type NotificationType = 'state_change' | 'reminder';

export interface NotificationPayload {
  /**
   * Delivery id, the same on every retry: the events stream entry id for a state change,
   * `reminder:<assetId>:<dueMs>` for a reminder. Receivers de-duplicate on it.
   */
  id: string;
  type: NotificationType;
  asset: { id: string; url: string; tags: string[] };
  from: AssetState | string;
  to: AssetState | string;
  /** Reason of the change (`http_status`, `timeout`, …; '' when none). */
  reason: string;
  /** When the state changed (state_change) or when the reminder was queued (reminder), ISO 8601. */
  at: string;
  /** Reminders only: since when the asset is down, ISO 8601. */
  since?: string;
  /** The client (asset owner) the webhook belongs to. */
  client: string;
}

/** The state change of stream entry `id` (fields as recorded by the executor), for `client`. */
export function stateChangePayload(
  id: string,
  asset: AssetRecord,
  change: { from?: string; to: string; reason?: string; at: number },
  client: string,
): NotificationPayload {
  return {
    id,
    type: 'state_change',
    asset: { id: asset.id, url: asset.url, tags: asset.tags },
    from: change.from ?? '',
    to: change.to,
    reason: change.reason ?? '',
    at: iso(change.at),
    client,
  };
}

/** A reminder that `asset` is still down; `dueScore` is the reminder's due time as stored. */
export function reminderPayload(asset: AssetRecord, dueScore: string, now: number, client: string): NotificationPayload {
  const body: NotificationPayload = {
    id: `reminder:${asset.id}:${dueScore}`,
    type: 'reminder',
    asset: { id: asset.id, url: asset.url, tags: asset.tags },
    from: 'down',
    to: 'down',
    reason: asset.stateReason ?? '',
    at: iso(now),
    client,
  };
  if (asset.stateChangedAt !== null) body.since = iso(asset.stateChangedAt);
  return body;
}
