/** Delivery: signed POSTs to a real local receiver, retries with backoff, disable/enable, order, maintenance. */
import { afterEach, describe, expect, it } from 'vitest';
import { ClientStore, OwnerEgress } from '@webmon/core';
import { FAST, harness, SECRET, sleep, until, type Harness } from '../test/harness.js';
import { startNotifier } from './notifier.js';
import { WebhookStore } from './webhooks.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('notifier delivery', () => {
  it('delivers a state change once, signed, with the documented payload and headers', async () => {
    h = await harness('n-once');
    const rx = await h.receiver(SECRET);
    await h.webhooks.set('acme', { url: rx.url, secret: SECRET });
    const assetId = await h.asset('acme', 'https://shop.example.com/cart', ['prod', 'shop']);
    const n = await h.start();
    const at = Date.now();
    const eventId = await h.emit(assetId, 'acme', 'up', 'down', at);
    await until(() => rx.received.length === 1, 3000, 'the delivery');
    await sleep(150);
    expect(rx.received).toHaveLength(1);
    const [got] = rx.received;
    expect(got!.verified).toBe(true);
    expect(got!.headers['content-type']).toBe('application/json');
    expect(got!.headers['x-webmon-delivery']).toBe(eventId);
    expect(got!.headers['x-webmon-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(got!.body).toEqual({
      id: eventId,
      type: 'state_change',
      asset: { id: assetId, url: 'https://shop.example.com/cart', tags: ['prod', 'shop'] },
      from: 'up',
      to: 'down',
      reason: 'http_status',
      at: new Date(at).toISOString(),
      client: 'acme',
    });
    await until(async () => (await h!.webhooks.status('acme'))?.pending === 0);
    expect(await h.webhooks.status('acme')).toMatchObject({ enabled: true, failures: 0, delivered: 1, pending: 0 });
    expect(await h.t.redis.zscore(h.t.keys.outboxDue, 'acme')).toBeNull();
    expect(n.stats()).toMatchObject({ events: 1, queued: 1, delivered: 1, failed: 0 });
    // The secret and the webhook's query string never reach the logs.
    const logText = JSON.stringify(h.logs);
    expect(logText).not.toContain(SECRET);
    expect(logText).not.toContain('token=abc');
  });

  it('retries with exponential backoff: 500, 500, then 200', async () => {
    h = await harness('n-retry');
    const rx = await h.receiver(SECRET);
    rx.respond = (i) => (i < 2 ? 500 : 200);
    await h.webhooks.set('acme', { url: rx.url, secret: SECRET });
    const assetId = await h.asset('acme', 'https://example.com/');
    await h.start({ backoffBaseMs: 200 });
    const id = await h.emit(assetId, 'acme', 'up', 'down');
    await until(async () => (await h!.webhooks.status('acme'))?.failures === 2, 3000, 'the second failure');
    expect(await h.webhooks.status('acme')).toMatchObject({ failures: 2, lastError: 'HTTP 500', pending: 1 });
    expect(rx.received).toHaveLength(2);
    await until(() => rx.received.length === 3, 3000, 'the third attempt');
    const [a, b, c] = rx.received.map((r) => r.at);
    // 1st retry after 200 ms (base), 2nd after 400 ms (base·2); generous upper bounds for slow machines.
    expect(b! - a!).toBeGreaterThanOrEqual(190);
    expect(b! - a!).toBeLessThan(1000);
    expect(c! - b!).toBeGreaterThanOrEqual(390);
    expect(c! - b!).toBeLessThan(1500);
    expect(rx.received.map((r) => r.body.id)).toEqual([id, id, id]);
    expect(rx.received.every((r) => r.verified)).toBe(true);
    await until(async () => (await h!.webhooks.status('acme'))?.pending === 0);
    expect(await h.webhooks.status('acme')).toMatchObject({ enabled: true, failures: 0, delivered: 1, lastError: 'HTTP 500' });
  });

  it('disables a client after 20 consecutive failures, keeps its outbox, and resumes on enable', async () => {
    h = await harness('n-disable');
    const rx = await h.receiver(SECRET);
    let healthy = false;
    rx.respond = () => (healthy ? 200 : 503);
    await h.webhooks.set('acme', { url: rx.url, secret: SECRET });
    const a1 = await h.asset('acme', 'https://one.example.com/');
    const a2 = await h.asset('acme', 'https://two.example.com/');
    await h.start({ backoffBaseMs: 1, backoffMaxMs: 5 });
    const first = await h.emit(a1, 'acme', 'up', 'down');
    const second = await h.emit(a2, 'acme', 'up', 'down');
    await until(async () => (await h!.webhooks.status('acme'))?.enabled === false, 5000, 'the disable');
    await sleep(200);
    expect(rx.received).toHaveLength(20);
    expect(rx.received.every((r) => r.body.id === first)).toBe(true);
    const status = await h.webhooks.status('acme');
    expect(status).toMatchObject({ enabled: false, failures: 20, pending: 2, lastError: 'HTTP 503' });
    expect(status?.disabledReason).toBe('20 consecutive failed deliveries; last error: HTTP 503');
    expect(status?.disabledAt).not.toBeNull();
    expect(h.logs).toContainEqual(expect.objectContaining({ level: 40, event: 'webhook_disabled', clientId: 'acme', failures: 20 }));
    // While disabled: nothing is sent and new events are not queued.
    await h.emit(a1, 'acme', 'down', 'up');
    await sleep(200);
    expect(rx.received).toHaveLength(20);
    expect((await h.webhooks.status('acme'))?.pending).toBe(2);
    // Enable: what was pending goes out, in order.
    healthy = true;
    expect(await h.webhooks.enable('acme')).toMatchObject({ enabled: true, failures: 0, disabledReason: null });
    await until(() => rx.received.length === 22, 3000, 'the pending deliveries');
    expect(rx.received.slice(20).map((r) => [r.body.id, r.status])).toEqual([
      [first, 200],
      [second, 200],
    ]);
    await until(async () => (await h!.webhooks.status('acme'))?.pending === 0);
  });

  it('keeps per-client order and delivers each client independently', async () => {
    h = await harness('n-order');
    const rx = await h.receiver(SECRET);
    // A slow receiver: the outbox builds up while the first request is in flight.
    rx.respond = async () => {
      await sleep(20);
      return 200;
    };
    await h.webhooks.set('acme', { url: rx.url, secret: SECRET });
    await h.webhooks.set('beta', { url: rx.url, secret: SECRET });
    const acmeAssets = await Promise.all([0, 1, 2, 3].map((i) => h!.asset('acme', `https://a${i}.example.com/`)));
    const betaAsset = await h.asset('beta', 'https://b.example.com/');
    await h.start();
    const ids: string[] = [];
    const states = ['up', 'down'];
    for (let round = 0; round < 3; round++) {
      for (const a of acmeAssets) ids.push(await h.emit(a, 'acme', states[round % 2]!, states[(round + 1) % 2]!));
    }
    const betaId = await h.emit(betaAsset, 'beta', 'up', 'down');
    await until(() => rx.received.length === 13, 5000, 'all deliveries');
    expect(rx.received.filter((r) => r.body.client === 'acme').map((r) => r.body.id)).toEqual(ids);
    expect(rx.received.filter((r) => r.body.client === 'beta').map((r) => r.body.id)).toEqual([betaId]);
  });

  it('does not notify state changes of assets in an open maintenance window', async () => {
    h = await harness('n-maint');
    const rx = await h.receiver(SECRET);
    await h.webhooks.set('acme', { url: rx.url, secret: SECRET });
    const byId = await h.asset('acme', 'https://db1.example.com/');
    const byTag = await h.asset('acme', 'https://db2.example.com/', ['db']);
    const other = await h.asset('acme', 'https://web.example.com/', ['web']);
    const now = Date.now();
    await h.maintenance.create({ owner: 'acme', reason: 'db upgrade', assetIds: [byId], tags: ['db'], start: now - 60_000, end: now + 60_000 });
    const n = await h.start();
    await h.emit(byId, 'acme', 'up', 'down');
    await h.emit(byTag, 'acme', 'up', 'down');
    // What counts is the time of the state change, not when the notifier handles it.
    const beforeWindow = await h.emit(byId, 'acme', 'down', 'up', now - 120_000);
    const outside = await h.emit(other, 'acme', 'up', 'down');
    await until(() => rx.received.length >= 2, 3000, 'the deliveries outside the window');
    await sleep(150);
    expect(rx.received.map((r) => r.body.id)).toEqual([beforeWindow, outside]);
    expect(n.stats().skipped).toMatchObject({ maintenance: 2 });
    expect(((await h.t.redis.xpending(h.t.keys.events, h.t.keys.notifierGroup)) as unknown[])[0]).toBe(0);
  });

  it("refuses a client's webhook to a private or loopback address when saved and at every delivery, as a failed delivery", async () => {
    h = await harness('n-egress');
    const rx = await h.receiver(SECRET);
    // The default guards: clients reach public addresses only.
    const strict = new WebhookStore(h.t.redis, h.t.keys);
    for (const url of [rx.url, 'http://10.1.2.3/hook', 'http://[::ffff:127.0.0.1]/hook', 'http://2130706433/hook', 'http://169.254.169.254/', 'http://localhost/hook']) {
      await expect(strict.set('acme', { url, secret: SECRET }), url).rejects.toMatchObject({
        code: 'WEBMON_ERR_VALIDATION',
        details: [{ field: 'url', message: expect.stringMatching(/^host not allowed: /) }],
      });
    }
    // Names are judged when a delivery connects; the admin is trusted.
    await expect(strict.set('acme', { url: 'https://hooks.example.com/in', secret: SECRET })).resolves.toMatchObject({ created: true });
    await expect(strict.set('admin', { url: rx.url, secret: SECRET })).resolves.toMatchObject({ created: true });
    await strict.delete('acme');
    await strict.delete('admin');

    // Saved while loopback was allowed: the notifier with the default guards refuses to POST there.
    await h.webhooks.set('acme', { url: rx.url, secret: SECRET });
    const a = await h.asset('acme', 'https://example.com/');
    const n = await startNotifier({ redis: h.t.redis, keys: h.t.keys, log: h.log, consumer: 'guarded', options: { ...FAST, backoffBaseMs: 10_000 } });
    try {
      await h.emit(a, 'acme', 'up', 'down');
      await until(async () => (await h!.webhooks.status('acme'))?.failures === 1, 3000, 'the refused delivery');
      expect(await h.webhooks.status('acme')).toMatchObject({ failures: 1, pending: 1, lastError: expect.stringMatching(/^denied: .*127\.0\.0\.1.*loopback/) });
      expect(n.stats()).toMatchObject({ failed: 1, delivered: 0 });
      expect(rx.received).toHaveLength(0);
    } finally {
      await n.stop();
    }
  });

  it('judges the addresses a webhook host name resolves to when the delivery connects', async () => {
    h = await harness('n-egress-name');
    const rx = await h.receiver(SECRET);
    const port = new URL(rx.url).port;
    // The operator's policy denies loopback: `localhost` passes the name rules, its addresses do not.
    const policy = { denyHosts: [], allowHosts: [], denyCidrs: ['127.0.0.0/8', '::1/128'], allowCidrs: [] };
    const egress = new OwnerEgress({ policy, tenants: { allowCidrs: [] } }, new ClientStore(h.t.redis, h.t.keys, undefined));
    await h.webhooks.set('admin', { url: `http://localhost:${port}/hook`, secret: SECRET });
    const a = await h.asset('admin', 'https://example.com/');
    const n = await startNotifier({ redis: h.t.redis, keys: h.t.keys, log: h.log, consumer: 'by-name', options: { ...FAST, backoffBaseMs: 10_000 }, egress });
    try {
      await h.emit(a, 'admin', 'up', 'down');
      await until(async () => (await h!.webhooks.status('admin'))?.failures === 1, 3000, 'the refused delivery');
      expect((await h.webhooks.status('admin'))?.lastError).toMatch(/^denied: localhost resolves to a refused address: .*policy\.denyCidrs/);
      expect(rx.received).toHaveLength(0);
    } finally {
      await n.stop();
    }
  });

  it("uses the client's allowed ranges from its client hash", async () => {
    h = await harness('n-egress-ranges');
    const rx = await h.receiver(SECRET);
    await h.t.redis.hset(h.t.keys.client('acme'), 'allowCidrs', JSON.stringify(['127.0.0.1/32']));
    const strict = new WebhookStore(h.t.redis, h.t.keys);
    await expect(strict.set('acme', { url: 'http://127.0.0.2/hook', secret: SECRET })).rejects.toMatchObject({ code: 'WEBMON_ERR_VALIDATION' });
    await expect(strict.set('acme', { url: rx.url, secret: SECRET })).resolves.toMatchObject({ created: true });
    const a = await h.asset('acme', 'https://example.com/');
    const n = await startNotifier({ redis: h.t.redis, keys: h.t.keys, log: h.log, consumer: 'ranges', options: FAST });
    try {
      await h.emit(a, 'acme', 'up', 'down');
      await until(() => rx.received.length === 1, 3000, 'the delivery');
      expect(rx.received[0]!.verified).toBe(true);
    } finally {
      await n.stop();
    }
  });
});
