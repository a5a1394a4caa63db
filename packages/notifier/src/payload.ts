/** What a webhook receives: one JSON object per request. */
import type { AssetState } from '@webmon/core';

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

export function iso(ms: number): string {
  return new Date(Number.isFinite(ms) ? ms : 0).toISOString();
}
