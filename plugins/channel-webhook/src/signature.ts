/**
 * Webhook signatures: `x-webmon-signature: sha256=<hex>`, the HMAC-SHA256 of the raw request
 * body (the exact bytes sent) keyed with the client's secret. Receivers recompute it over the
 * bytes they received — before parsing the JSON — and compare in constant time. Deprecated in
 * favour of the Standard Webhooks headers below; sent alongside them until webmon 0.3.0.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-webmon-signature';
export const DELIVERY_HEADER = 'x-webmon-delivery';
const SCHEME = 'sha256=';

/** The `x-webmon-signature` value for `body`: `sha256=` + hex HMAC-SHA256 with `secret`. */
export function signPayload(secret: string, body: string | Buffer): string {
  return SCHEME + createHmac('sha256', secret).update(body).digest('hex');
}

/**
 * Whether `signature` (the header value; undefined/array tolerated for convenience) is the
 * signature of `body` with `secret`. Constant-time in the signature's content.
 */
export function verifySignature(secret: string, body: string | Buffer, signature: string | readonly string[] | undefined | null): boolean {
  if (typeof signature !== 'string' || !signature.startsWith(SCHEME)) return false;
  const hex = signature.slice(SCHEME.length);
  if (!/^[0-9a-f]{64}$/i.test(hex)) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(Buffer.from(hex, 'hex'), expected);
}

/**
 * Standard Webhooks (spec/standard-webhooks.md of github.com/standard-webhooks): every delivery
 * also carries `webhook-id` (the delivery id: the same on every retry, never containing '.'),
 * `webhook-timestamp` (unix seconds of this attempt) and `webhook-signature`
 * (`v1,` + base64 HMAC-SHA256 of `<id>.<timestamp>.<body>`), so receivers can reject replays and
 * verify with any Standard Webhooks library.
 *
 * The spec's symmetric secret is `whsec_` + base64 of the key bytes. A webhook secret written in
 * that form (base64 after the prefix, padded or not, as the spec's libraries read it) is used as
 * such: its key is the decoded bytes.
 * Any other secret keys Standard Webhooks with its UTF-8 bytes, so existing secrets keep working
 * for both signatures; receivers pass `standardWebhookSecret(secret)`, i.e. `whsec_` + the base64
 * of the secret, to their library. The `x-webmon-signature` key is always the secret as written.
 */
export const WEBHOOK_ID_HEADER = 'webhook-id';
export const WEBHOOK_TIMESTAMP_HEADER = 'webhook-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'webhook-signature';
const WHSEC = /^whsec_([A-Za-z0-9+/]+={0,2})$/;

/** The Standard Webhooks HMAC key of a webhook secret (see above). */
export function standardSigningKey(secret: string): Buffer {
  const b64 = WHSEC.exec(secret)?.[1];
  if (b64) {
    const key = Buffer.from(b64, 'base64');
    // Canonical base64, or canonical with its padding left out (the spec's libraries read both).
    const canonical = key.toString('base64');
    if (key.length > 0 && (canonical === b64 || (!b64.endsWith('=') && canonical.replace(/=+$/, '') === b64))) return key;
  }
  return Buffer.from(secret, 'utf8');
}

/** The `whsec_…` secret a Standard Webhooks receiver verifies this webhook secret's deliveries with. */
export function standardWebhookSecret(secret: string): string {
  return `whsec_${standardSigningKey(secret).toString('base64')}`;
}

/** The `webhook-signature` value: `v1,` + base64 HMAC-SHA256 of `<id>.<timestampSec>.<body>`. */
export function signStandard(secret: string, id: string, timestampSec: number, body: string | Buffer): string {
  return `v1,${createHmac('sha256', standardSigningKey(secret)).update(`${id}.${timestampSec}.`).update(body).digest('base64')}`;
}

/** The three Standard Webhooks headers of one attempt made at `nowMs`. */
export function standardWebhookHeaders(secret: string, id: string, body: string | Buffer, nowMs = Date.now()): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  return {
    [WEBHOOK_ID_HEADER]: id,
    [WEBHOOK_TIMESTAMP_HEADER]: String(timestamp),
    [WEBHOOK_SIGNATURE_HEADER]: signStandard(secret, id, timestamp, body),
  };
}
