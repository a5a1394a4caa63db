/**
 * The notification channel contract. A channel plugin delivers notifications of asset state
 * changes to one service (a webhook, e-mail, Slack, PagerDuty, …). It declares its name, an
 * options schema (TypeBox, `additionalProperties: false`, with defaults) and which options are
 * secrets, and `send(messages, options, ctx)`, which delivers and says how it went:
 *
 * - `delivered()`: the service accepted the message(s);
 * - `retryLater(reason, afterMs?)`: a temporary failure (429, 5xx, timeout, refused connection);
 *   the notifier retries with backoff, no sooner than `afterMs` when given (Retry-After);
 * - `rejected(reason)`: a permanent failure (400, 401, 403, 404, a bad address): retrying the same
 *   message cannot succeed. It counts as a failed delivery like any other (20 in a row disable the
 *   channel, with the reason shown) but the message is not retried.
 *
 * Throwing is a fault of the plugin itself: the notifier records it as a failed delivery
 * (`plugin_error: …`) and retries. Reasons are short texts shown to the user (≤ 300 characters):
 * never put a secret (a token, a webhook URL's key, a password) in one.
 *
 * The notifier does everything around `send`: the per-channel outbox and its order, retries and
 * backoff, disabling after 20 failures, filters, delay, escalation, maintenance, digests, and
 * rendering each message's title and text from the channel's template. A channel only turns
 * ready messages into its service's request, and it connects only through `ctx` (`ctx.post`, or
 * `ctx.egress` for other protocols such as SMTP), so every address is judged by the owner's
 * egress policy.
 *
 * Adding a channel is adding its folder under plugins/ with `"webmon": {"channel": true}` in its
 * package.json (see packages/plugin-registry).
 */
import type { Static, TObject } from 'typebox';
import { retryAfterMs, type EgressGuard, type Logger } from '@webmon/core';

/** Why a message is sent. */
export type ChannelMessageType = 'state_change' | 'reminder' | 'escalation' | 'test';

/** One notification, ready to send. */
export interface ChannelMessage {
  /**
   * Delivery id, the same on every retry of this message (a state change: the event id; a
   * reminder: `reminder:<assetId>:<dueMs>`; …). Services that de-duplicate get it.
   */
  id: string;
  type: ChannelMessageType;
  asset: { id: string; url: string; tags: string[] };
  /** States: `unknown`, `up`, `degraded`, `down`, `unsupported`, `paused`. */
  from: string;
  to: string;
  /** Why (`http_status`, `timeout`, `dns`, …; '' when none). */
  reason: string;
  /** The check's message for the change ('' when none). */
  message: string;
  /** When the state changed (a reminder, escalation or test: when it was queued), ISO 8601. */
  at: string;
  /** Since when the asset is in its state, ISO 8601 (reminders and escalations; null otherwise). */
  since: string | null;
  /** How long the previous state lasted (a state change) or the current one has lasted, seconds; null when unknown. */
  durationSec: number | null;
  /** The client (asset owner) the channel belongs to. */
  client: string;
  /** The asset's dashboard page when the api's public URL is configured, else null. */
  link: string | null;
  /** Rendered from the channel's template (or the default one): a one-line title and a plain-text body. */
  title: string;
  text: string;
  /** A stable key per asset and client, for services that group one incident (PagerDuty dedup_key, Opsgenie alias). */
  incidentKey: string;
}

export interface ChannelResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The response body, cut at 64 KiB. */
  body: string;
}

export interface ChannelRequest {
  method?: 'POST' | 'PUT' | 'GET';
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON (content-type application/json). */
  body?: unknown;
}

export interface ChannelContext {
  /** Aborts when the delivery's time is up or the notifier is stopping. */
  signal: AbortSignal;
  /** The delivery's budget, ms. */
  timeoutMs: number;
  log: Logger;
  /**
   * An HTTP(S) request through the owner's egress policy, bounded in time and response size. It
   * throws on a network failure or a refused address (EgressDeniedError): the notifier records
   * that as a temporary failure, so a plugin only needs to handle the statuses it gets.
   */
  request(url: string, init?: ChannelRequest): Promise<ChannelResponse>;
  /** For protocols other than HTTP (SMTP): resolve and judge names with `egress.lookup`, IP literals with `egress.assertHost`. */
  egress: EgressGuard;
  /** The User-Agent to send (`webmon-notifier/<version>`). */
  userAgent: string;
}

export type SendOutcome =
  | { outcome: 'delivered' }
  | { outcome: 'retry'; reason: string; retryAfterMs: number | null }
  | { outcome: 'rejected'; reason: string };

export interface Channel<S extends TObject = TObject> {
  /** Channel type, lower case (`webhook`, `email`, `slack`, …): what a client names in `type`. */
  name: string;
  /** One line for `GET /channels`. */
  description: string;
  /** Options with defaults; `additionalProperties: false` so typos are rejected. */
  optionsSchema: S;
  /** Top-level options that are secrets (tokens, passwords, keyed URLs): never logged, never returned by the API. */
  secretOptions: readonly string[];
  /**
   * Non-secret options that decide where (and how safely) the secrets are sent: a server URL, an
   * SMTP host, port or TLS mode. A client that changes one must send the secrets again, so a key
   * that cannot read a stored secret cannot redirect it to a server of its choosing either.
   */
  endpointOptions?: readonly string[];
  /**
   * Whether `send` accepts several messages at once (a digest, e.g. one mail for every change
   * of the last N minutes). Channels without it always get exactly one message.
   */
  digest?: boolean;
  /** Delivers `messages` (one, or several in a digest) with these options. */
  send(messages: readonly ChannelMessage[], options: Static<S>, ctx: ChannelContext): Promise<SendOutcome>;
  /** Releases process-wide resources (pools, transports) when the notifier stops. */
  close?(): Promise<void>;
}

/** Any channel, whatever its options type (for registries and lists of channels). */
// biome-ignore lint/suspicious/noExplicitAny: a registry holds channels of every options type
export type AnyChannel = Channel<any>;

/** Identity helper that makes TypeScript infer the options type from the schema. */
export function defineChannel<S extends TObject>(channel: Channel<S>): Channel<S> {
  return channel;
}

export function delivered(): SendOutcome {
  return { outcome: 'delivered' };
}

export function retryLater(reason: string, retryAfterMs: number | null = null): SendOutcome {
  return { outcome: 'retry', reason: reason.slice(0, 300), retryAfterMs };
}

export function rejected(reason: string): SendOutcome {
  return { outcome: 'rejected', reason: reason.slice(0, 300) };
}

/**
 * The usual reading of an HTTP answer from a service: 2xx delivered; 429, 408 and 5xx retried
 * (after Retry-After when given); any other status rejected. `what` names the service in reasons.
 */
export function outcomeOfStatus(what: string, res: ChannelResponse, detail = ''): SendOutcome {
  const s = res.status;
  if (s >= 200 && s < 300) return delivered();
  const why = `${what} answered HTTP ${s}${detail ? `: ${detail}` : ''}`;
  if (s === 429 || s === 408 || s >= 500) {
    return retryLater(why, retryAfterMs(res.headers['retry-after']) ?? null);
  }
  return rejected(why);
}
