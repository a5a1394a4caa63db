import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signPayload, verifySignature } from './signature.js';

describe('webhook signatures', () => {
  const secret = 'a-secret-of-some-length';
  const body = '{"id":"1-0","type":"state_change"}';

  it('signs the raw body with HMAC-SHA256, hex, prefixed sha256=', () => {
    expect(signPayload(secret, body)).toBe(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
    expect(signPayload(secret, Buffer.from(body))).toBe(signPayload(secret, body));
  });

  it('verifies only the exact body with the right secret and a well-formed header', () => {
    const sig = signPayload(secret, body);
    expect(verifySignature(secret, body, sig)).toBe(true);
    expect(verifySignature(secret, Buffer.from(body), sig.toUpperCase().replace('SHA256=', 'sha256='))).toBe(true);
    expect(verifySignature(secret, `${body} `, sig)).toBe(false);
    expect(verifySignature('another-secret-entirely', body, sig)).toBe(false);
    expect(verifySignature(secret, body, sig.slice(0, -2))).toBe(false);
    expect(verifySignature(secret, body, sig.replace('sha256=', 'sha1='))).toBe(false);
    expect(verifySignature(secret, body, undefined)).toBe(false);
    expect(verifySignature(secret, body, [sig])).toBe(false);
  });
});
