/**
 * Standard Webhooks headers on deliveries, verified by the `standardwebhooks` package (the
 * spec's reference library): real deliveries to a local receiver, replays and tampering.
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { harness, SECRET, until, type Harness, type Received } from '../test/harness.js';
import { signStandard, standardWebhookHeaders, standardWebhookSecret } from './signature.js';

let h: Harness | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await h?.close();
  h = undefined;
});

const body = '{"id":"1795317398928-0","type":"state_change"}';

/** The three Standard Webhooks headers of a received request. */
function swHeaders(r: Received): Record<string, string> {
  return { 'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']) };
}

describe('Standard Webhooks signatures', () => {
  it('match the reference library byte for byte, keyed by the secret as the spec encodes it', () => {
    const whsec = standardWebhookSecret(SECRET);
    expect(whsec).toBe(`whsec_${Buffer.from(SECRET, 'utf8').toString('base64')}`);
    const at = new Date(Date.UTC(2027, 2, 28, 1, 0, 0));
    expect(signStandard(SECRET, 'msg_1', at.getTime() / 1000, body)).toBe(new Webhook(whsec).sign('msg_1', at, body));
    expect(signStandard(SECRET, 'msg_1', at.getTime() / 1000, Buffer.from(body))).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    // A secret already in the spec's form is used as such: its key is the decoded bytes.
    const native = `whsec_${randomBytes(32).toString('base64')}`;
    expect(standardWebhookSecret(native)).toBe(native);
    expect(signStandard(native, 'msg_1', at.getTime() / 1000, body)).toBe(new Webhook(native).sign('msg_1', at, body));
    // Without its padding, as the spec's libraries accept it: the same key.
    const unpadded = `whsec_${randomBytes(31).toString('base64').replace(/=+$/, '')}`;
    expect(signStandard(unpadded, 'msg_1', at.getTime() / 1000, body)).toBe(new Webhook(unpadded).sign('msg_1', at, body));
    // Not canonical base64 after the prefix: an ordinary secret, keyed by its UTF-8 bytes.
    for (const odd of ['whsec_not*base64-at-all', 'whsec_YWJj=', 'whsec_']) expect(standardWebhookSecret(odd)).toBe(`whsec_${Buffer.from(odd).toString('base64')}`);
  });

  it('stamp the time of the attempt, and verify only within the tolerance', () => {
    const now = Date.now();
    const fresh = standardWebhookHeaders(SECRET, 'msg_2', body, now);
    expect(fresh['webhook-timestamp']).toBe(String(Math.floor(now / 1000)));
    const wh = new Webhook(standardWebhookSecret(SECRET));
    expect(wh.verify(body, fresh)).toEqual(JSON.parse(body));
    const old = standardWebhookHeaders(SECRET, 'msg_2', body, now - 10 * 60_000);
    expect(() => wh.verify(body, old)).toThrow(/too old/);
  });
});

describe('deliveries with Standard Webhooks headers', () => {
  it('verify with the standardwebhooks package; a replay later or a changed body or timestamp is rejected', async () => {
    h = await harness('n-stdwh');
    const rx = await h.receiver(SECRET);
    await h.webhooks.set('acme', { url: rx.url, secret: SECRET });
    const assetId = await h.asset('acme', 'https://shop.example.com/');
    await h.start();
    const before = Math.floor(Date.now() / 1000);
    const eventId = await h.emit(assetId, 'acme', 'up', 'down');
    await until(() => rx.received.length === 1, 3000, 'the delivery');
    const [got] = rx.received as [Received];
    const headers = swHeaders(got);
    expect(headers['webhook-id']).toBe(eventId);
    expect(Number(headers['webhook-timestamp'])).toBeGreaterThanOrEqual(before);
    expect(Number(headers['webhook-timestamp'])).toBeLessThanOrEqual(Math.floor(got.at / 1000));
    // The signature webmon sent until now is still there, and still valid.
    expect(got.headers['x-webmon-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(got.verified).toBe(true);

    const wh = new Webhook(standardWebhookSecret(SECRET));
    expect(wh.verify(got.raw, headers)).toEqual(got.body);
    expect(() => wh.verify(got.raw.replace('"to":"down"', '"to":"up"'), headers)).toThrow(/No matching signature/);
    expect(() => wh.verify(got.raw, { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) + 1) })).toThrow(/No matching signature/);
    expect(() => wh.verify(got.raw, { ...headers, 'webhook-id': `${eventId}x` })).toThrow(/No matching signature/);
    expect(() => new Webhook(standardWebhookSecret('another-secret-entirely')).verify(got.raw, headers)).toThrow(/No matching signature/);
    // The same request replayed six minutes later (beyond the library's 5-minute tolerance).
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(got.at + 6 * 60_000);
    expect(() => wh.verify(got.raw, headers)).toThrow(/timestamp too old/);
  });

  it('keep the webhook-id on every retry and stamp each attempt with its own time', async () => {
    h = await harness('n-stdwh-retry');
    const rx = await h.receiver(SECRET);
    rx.respond = (i) => (i === 0 ? 500 : 200);
    await h.webhooks.set('acme', { url: rx.url, secret: SECRET });
    const assetId = await h.asset('acme', 'https://example.com/');
    // The retry waits at least 1.1 s, so its timestamp (whole seconds) is a later one.
    await h.start({ backoffBaseMs: 1100 });
    const eventId = await h.emit(assetId, 'acme', 'up', 'down');
    await until(() => rx.received.length === 2, 5000, 'the retry');
    const [first, second] = rx.received.map(swHeaders) as [Record<string, string>, Record<string, string>];
    expect([first['webhook-id'], second['webhook-id']]).toEqual([eventId, eventId]);
    expect(Number(second['webhook-timestamp'])).toBeGreaterThan(Number(first['webhook-timestamp']));
    expect(second['webhook-signature']).not.toBe(first['webhook-signature']);
    const wh = new Webhook(standardWebhookSecret(SECRET));
    for (const r of rx.received) expect(wh.verify(r.raw, swHeaders(r))).toEqual(r.body);
  });

  it('use a whsec_ secret as the spec defines it', async () => {
    h = await harness('n-stdwh-whsec');
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const rx = await h.receiver(secret);
    await h.webhooks.set('acme', { url: rx.url, secret });
    const assetId = await h.asset('acme', 'https://example.com/');
    await h.start();
    await h.emit(assetId, 'acme', 'up', 'down');
    await until(() => rx.received.length === 1, 3000, 'the delivery');
    const [got] = rx.received as [Received];
    expect(new Webhook(secret).verify(got.raw, swHeaders(got))).toEqual(got.body);
    expect(got.verified).toBe(true);
    expect(JSON.stringify(h.logs)).not.toContain(secret.slice(6));
  });
});
