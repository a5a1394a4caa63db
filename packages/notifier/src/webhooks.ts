/**
 * The /clients/:id/webhook view: a client's channel of type `webhook` with the fixed id
 * `webhook` (ChannelStore), in the hash `webhook:<clientId>` as before channels existed:
 *
 *   url, secret, remindEverySec        configuration (secret: write-only, never presented)
 *   enabled '1'|'0', failures          consecutive failed deliveries; 20 disable (notify_fail)
 *   disabledReason, disabledAt         set when disabled, cleared by enable()
 *   lastDeliveryAt, lastError, lastErrorAt, nextAttemptAt, delivered, dropped
 *   lease                              token of the notifier delivering the outbox right now
 *   createdAt, updatedAt
 *
 * Pending deliveries are the list `outbox:<clientId>` (oldest first); `outbox:due` scores it
 * (member `<clientId>`) by when its outbox may next be delivered. Routing set through the
 * channels API (filters, delay, …) is kept when the webhook is saved here.
 */
import type { Redis } from 'ioredis';
import { ClientStore, OwnerEgress, WebmonError, iso, type EgressGuard, type Keys, type SchemaProblem } from '@webmon/core';
import { ChannelRegistry } from '@webmon/plugin-sdk';
import { MAX_SECRET_LENGTH, MAX_WEBHOOK_URL_LENGTH, MIN_SECRET_LENGTH, webhookChannel } from '@webmon/plugin-channel-webhook';
import { WEBHOOK_CHANNEL_ID, deliveryState, presentStatus as channelStatus, type ChannelStatus } from './channel-record.js';
import { ChannelStore } from './channels.js';
import { notifierScripts, type NotifierScripts } from './scripts.js';

export { MAX_SECRET_LENGTH, MAX_WEBHOOK_URL_LENGTH, MIN_SECRET_LENGTH } from '@webmon/plugin-channel-webhook';

export interface WebhookInput {
  /** http(s) URL the deliveries are POSTed to. */
  url: string;
  /** HMAC key for x-webmon-signature. Required for a new webhook; omitted: keep the current one. */
  secret?: string | undefined;
  /** Re-notify every this many seconds while an asset stays down; null/absent: no reminders. */
  remindEverySec?: number | null | undefined;
}

/** The stored record, secret included: for the notifier only, never for an API response. */
export interface WebhookRecord {
  clientId: string;
  url: string;
  secret: string;
  remindEverySec: number | null;
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

/** Delivery status, as an API shows it (ISO times): the webhook channel's status. */
export type WebhookStatus = ChannelStatus;

/** The webhook as an API shows it: configuration without the secret, plus status. */
export interface WebhookView extends WebhookStatus {
  clientId: string;
  url: string;
  /** Always true: a webhook cannot exist without a secret; the secret itself is never shown. */
  secretSet: true;
  remindEverySec: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface WebhookStoreOptions {
  /** Smallest remindEverySec accepted (default 60; tests use fractions of a second). */
  minRemindEverySec?: number;
  /**
   * Guards of webhook owners: a URL whose host the owner's guard refuses by name or IP literal
   * is refused here (names are resolved and judged at delivery, see startNotifier). Default: no
   * operator policy, clients limited to public addresses plus their own allowed ranges.
   */
  egress?: OwnerEgress;
}

const OPEN_EGRESS = { policy: { denyHosts: [], allowHosts: [], denyCidrs: [], allowCidrs: [] }, tenants: { allowCidrs: [] } };

/** Guards per owner when none are given: no operator policy; client ranges read from their hash. */
export function defaultOwnerEgress(redis: Redis, keys: Keys): OwnerEgress {
  return new OwnerEgress(OPEN_EGRESS, new ClientStore(redis, keys, undefined));
}

/** The host of a URL as host policies see it (IPv6 literals without brackets). */
export function webhookHost(u: URL): string {
  return u.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

export const MAX_REMIND_EVERY_SEC = 7 * 86_400;


export function parseWebhook(clientId: string, h: Record<string, string>): WebhookRecord | null {
  if (!h.url) return null;
  return {
    clientId,
    url: h.url,
    secret: h.secret ?? '',
    ...deliveryState(h),
  };
}

/** The API view of a webhook: everything but the secret. */
export function present(r: WebhookRecord, pending: number): WebhookView {
  return {
    clientId: r.clientId,
    url: r.url,
    secretSet: true,
    remindEverySec: r.remindEverySec,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
    ...presentStatus(r, pending),
  };
}

export function presentStatus(r: WebhookRecord, pending: number): WebhookStatus {
  return channelStatus(r, pending);
}

/** A URL safe for logs: scheme, host and port only (paths and queries of webhooks often carry tokens). */
export function urlForLog(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(unparseable url)';
  }
}

export class WebhookStore {
  private readonly scripts: NotifierScripts;
  private readonly minRemindEverySec: number;
  private readonly egress: OwnerEgress;
  private readonly channels: ChannelStore;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    options: WebhookStoreOptions = {},
  ) {
    this.scripts = notifierScripts(redis);
    this.minRemindEverySec = options.minRemindEverySec ?? 60;
    this.egress = options.egress ?? defaultOwnerEgress(redis, keys);
    this.channels = new ChannelStore(redis, keys, new ChannelRegistry([webhookChannel]), { egress: this.egress, minRemindEverySec: this.minRemindEverySec });
  }

  /**
   * Creates or replaces a client's webhook (PUT semantics: an absent remindEverySec turns
   * reminders off; an absent secret keeps the current one). The delivery status is kept: a
   * disabled webhook stays disabled until enable(). Throws WEBMON_ERR_VALIDATION.
   */
  async set(clientId: string, input: WebhookInput, now = Date.now()): Promise<{ webhook: WebhookView; created: boolean }> {
    const { guard } = await this.egress.forOwner(clientId);
    const problems = this.validate(input, guard);
    if (problems.length) throw new WebmonError('WEBMON_ERR_VALIDATION', `invalid webhook: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`, problems);
    const stored = await this.channels.record(clientId, WEBHOOK_CHANNEL_ID);
    if (!stored && !input.secret) {
      throw new WebmonError('WEBMON_ERR_VALIDATION', 'invalid webhook: secret: required for a new webhook', [{ field: 'secret', message: 'required for a new webhook' }]);
    }
    const options: Record<string, unknown> = { url: input.url };
    if (input.secret) options.secret = input.secret;
    const routing = stored ?? { filters: {}, delaySec: null, escalation: null, digestSec: null, template: null };
    const { filters, delaySec, escalation, digestSec, template } = routing;
    const input2 = { name: WEBHOOK_CHANNEL_ID, type: 'webhook', options, remindEverySec: input.remindEverySec ?? null, filters, delaySec, escalation, digestSec, template };
    await this.channels.save(clientId, WEBHOOK_CHANNEL_ID, input2, 'upsert', now);
    const webhook = await this.get(clientId);
    if (!webhook) throw new WebmonError('WEBMON_ERR_CONFLICT', `webhook of client ${clientId} was deleted concurrently; retry`);
    return { webhook, created: !stored };
  }

  /** Problems with the input, as `{field, message}` (empty when valid); with `guard`, a host it refuses is one. */
  validate(input: WebhookInput, guard?: EgressGuard): SchemaProblem[] {
    const problems: SchemaProblem[] = [];
    const { url, secret, remindEverySec } = input as { url: unknown; secret: unknown; remindEverySec: unknown };
    if (typeof url !== 'string' || url.length === 0) problems.push({ field: 'url', message: 'required, an http(s) URL' });
    else if (url.length > MAX_WEBHOOK_URL_LENGTH) problems.push({ field: 'url', message: `at most ${MAX_WEBHOOK_URL_LENGTH} characters` });
    else {
      let u: URL | null = null;
      try {
        u = new URL(url);
      } catch {
        problems.push({ field: 'url', message: 'not a valid URL' });
      }
      if (u && u.protocol !== 'http:' && u.protocol !== 'https:') problems.push({ field: 'url', message: 'must be http or https' });
      if (u && /\s/.test(url)) problems.push({ field: 'url', message: 'must not contain whitespace' });
      const denied = u && guard ? guard.judgeHost(webhookHost(u)) : null;
      if (denied) problems.push({ field: 'url', message: `host not allowed: ${denied}` });
    }
    if (secret !== undefined && secret !== null) {
      if (typeof secret !== 'string') problems.push({ field: 'secret', message: 'must be a string' });
      else if (secret.length < MIN_SECRET_LENGTH || secret.length > MAX_SECRET_LENGTH)
        problems.push({ field: 'secret', message: `${MIN_SECRET_LENGTH} to ${MAX_SECRET_LENGTH} characters` });
    }
    if (remindEverySec !== undefined && remindEverySec !== null) {
      if (typeof remindEverySec !== 'number' || !Number.isFinite(remindEverySec)) problems.push({ field: 'remindEverySec', message: 'must be a number of seconds' });
      else if (remindEverySec < this.minRemindEverySec || remindEverySec > MAX_REMIND_EVERY_SEC)
        problems.push({ field: 'remindEverySec', message: `between ${this.minRemindEverySec} and ${MAX_REMIND_EVERY_SEC} seconds` });
    }
    return problems;
  }

  /** The stored record with its secret (for the notifier; never show it), or null. */
  async record(clientId: string): Promise<WebhookRecord | null> {
    return parseWebhook(clientId, await this.redis.hgetall(this.keys.webhook(clientId)));
  }

  /** The API view (no secret) with status and pending count, or null when the client has no webhook. */
  async get(clientId: string): Promise<WebhookView | null> {
    const [rec, pending] = await this.load(clientId);
    return rec ? present(rec, pending) : null;
  }

  /** Delivery status only, or null when the client has no webhook. */
  async status(clientId: string): Promise<WebhookStatus | null> {
    const [rec, pending] = await this.load(clientId);
    return rec ? presentStatus(rec, pending) : null;
  }

  /** Removes the webhook and its pending deliveries. True when there was one. */
  async delete(clientId: string): Promise<boolean> {
    const res = await this.redis
      .multi()
      .del(this.keys.webhook(clientId))
      .del(this.keys.outbox(clientId))
      .zrem(this.keys.outboxDue, clientId)
      .exec();
    if (!res) throw new Error('transaction aborted');
    const [err, n] = res[0]!;
    if (err) throw err;
    return n === 1;
  }

  /**
   * Re-enables notifications (after the automatic disable, or to retry at once): resets the
   * failure streak, clears disabledReason/disabledAt and makes pending deliveries due now;
   * with dropPending, discards them first. Returns the view, or null without a webhook.
   */
  async enable(clientId: string, opts: { dropPending?: boolean } = {}, now = Date.now()): Promise<WebhookView | null> {
    const res = await this.scripts.run<number>(
      'notify_enable',
      [this.keys.webhook(clientId), this.keys.outbox(clientId), this.keys.outboxDue],
      [now, clientId, opts.dropPending ? '1' : '0'],
    );
    if (res < 0) return null;
    return this.get(clientId);
  }

  private async load(clientId: string): Promise<[WebhookRecord | null, number]> {
    const res = await this.redis.multi().hgetall(this.keys.webhook(clientId)).llen(this.keys.outbox(clientId)).exec();
    if (!res) throw new Error('transaction aborted');
    const [[e1, h], [e2, n]] = res as [[Error | null, Record<string, string>], [Error | null, number]];
    if (e1 || e2) throw e1 ?? e2;
    return [parseWebhook(clientId, h), n];
  }
}
