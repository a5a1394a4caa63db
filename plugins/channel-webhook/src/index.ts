/**
 * The `webhook` channel: one signed JSON POST per message, the body exactly the payload webmon
 * has always sent:
 *
 *   {"id", "type", "asset": {"id", "url", "tags"}, "from", "to", "reason", "at", ["since",] "client"}
 *
 * (`since` on reminders and escalations only). Headers: Standard Webhooks (`webhook-id`,
 * `webhook-timestamp` of this attempt, `webhook-signature: v1,<base64 HMAC-SHA256 of
 * id.timestamp.body>`) and, until webmon 0.3.0, the legacy `x-webmon-delivery` and
 * `x-webmon-signature: sha256=<hex HMAC-SHA256 of the body>`. Any 2xx is delivered; a redirect
 * is not followed. 429/408/5xx are retried (Retry-After honoured); other statuses are permanent.
 */
import Type from 'typebox';
import { defineChannel, delivered, rejected, retryAfterMs, retryLater, type ChannelMessage, type ChannelResponse, type SendOutcome } from '@webmon/plugin-sdk';
import { DELIVERY_HEADER, SIGNATURE_HEADER, signPayload, standardWebhookHeaders } from './signature.js';

export * from './signature.js';

export const MIN_SECRET_LENGTH = 16;
export const MAX_SECRET_LENGTH = 512;
export const MAX_WEBHOOK_URL_LENGTH = 2048;

const options = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: MAX_WEBHOOK_URL_LENGTH, pattern: '^[Hh][Tt][Tt][Pp][Ss]?://\\S+$', description: 'http(s) URL that receives the POSTed JSON.' }),
    secret: Type.String({
      minLength: MIN_SECRET_LENGTH,
      maxLength: MAX_SECRET_LENGTH,
      description: 'HMAC key of the signatures; `whsec_` + base64 of 24-64 random bytes recommended. Write-only.',
    }),
  },
  { additionalProperties: false },
);

/** The JSON body of a message: the webhook payload as documented in packages/notifier/README.md. */
export function webhookBody(m: ChannelMessage): string {
  const body: Record<string, unknown> = { id: m.id, type: m.type, asset: { id: m.asset.id, url: m.asset.url, tags: m.asset.tags }, from: m.from, to: m.to, reason: m.reason, at: m.at };
  if (m.since !== null && m.type !== 'state_change') body.since = m.since;
  body.client = m.client;
  return JSON.stringify(body);
}

export const webhookChannel = defineChannel({
  name: 'webhook',
  description: 'Signed JSON POST to your URL (Standard Webhooks), one request per message.',
  optionsSchema: options,
  secretOptions: ['secret'],
  async send(messages, o, ctx) {
    const m = messages[0]!;
    const body = webhookBody(m);
    const res = await ctx.request(o.url, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        [DELIVERY_HEADER]: m.id,
        [SIGNATURE_HEADER]: signPayload(o.secret, body),
        ...standardWebhookHeaders(o.secret, m.id, body),
      },
    });
    return outcomeOf(res);
  },
});

/** 2xx delivered; 429, 408 and 5xx retried (after Retry-After); any other status permanent. Reasons read `HTTP <status>`. */
function outcomeOf(res: ChannelResponse): SendOutcome {
  const s = res.status;
  if (s >= 200 && s < 300) return delivered();
  if (s === 429 || s === 408 || s >= 500) return retryLater(`HTTP ${s}`, retryAfterMs(res.headers['retry-after']) ?? null);
  return rejected(`HTTP ${s}`);
}
