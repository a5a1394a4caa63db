/**
 * Webhook signatures: `x-webmon-signature: sha256=<hex>`, the HMAC-SHA256 of the raw request
 * body (the exact bytes sent) keyed with the client's secret. Receivers recompute it over the
 * bytes they received — before parsing the JSON — and compare in constant time.
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
