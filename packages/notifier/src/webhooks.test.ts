import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebmonError } from '@webmon/core';
import { testRedis, type TestRedis } from '../../../test/helpers/redis.js';
import { WebhookStore } from './webhooks.js';

let t: TestRedis;
let store: WebhookStore;
beforeAll(async () => {
  t = await testRedis('webhooks');
  store = new WebhookStore(t.redis, t.keys);
});
afterAll(() => t.cleanup());

const SECRET = 'sixteen-chars-or-more';

describe('WebhookStore', () => {
  it('creates a webhook whose views never contain the secret', async () => {
    const { webhook, created } = await store.set('c1', { url: 'https://hooks.example.com/in?key=1', secret: SECRET, remindEverySec: 3600 }, 1_000);
    expect(created).toBe(true);
    expect(webhook).toEqual({
      clientId: 'c1',
      url: 'https://hooks.example.com/in?key=1',
      secretSet: true,
      remindEverySec: 3600,
      createdAt: new Date(1000).toISOString(),
      updatedAt: new Date(1000).toISOString(),
      enabled: true,
      failures: 0,
      disabledReason: null,
      disabledAt: null,
      lastDeliveryAt: null,
      lastError: null,
      lastErrorAt: null,
      nextAttemptAt: null,
      pending: 0,
      delivered: 0,
      dropped: 0,
    });
    expect(JSON.stringify(await store.get('c1'))).not.toContain(SECRET);
    expect(JSON.stringify(await store.status('c1'))).not.toContain(SECRET);
    expect((await store.record('c1'))?.secret).toBe(SECRET);
  });

  it('replaces the configuration, keeps the secret when none is given, and needs one to create', async () => {
    const { webhook, created } = await store.set('c1', { url: 'https://hooks.example.com/v2' }, 2_000);
    expect(created).toBe(false);
    expect(webhook).toMatchObject({ url: 'https://hooks.example.com/v2', remindEverySec: null, createdAt: new Date(1000).toISOString(), updatedAt: new Date(2000).toISOString() });
    expect((await store.record('c1'))?.secret).toBe(SECRET);
    const err = await store.set('c2', { url: 'https://x.example/' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebmonError);
    expect(err).toMatchObject({ code: 'WEBMON_ERR_VALIDATION', details: [{ field: 'secret' }] });
    expect(await store.get('c2')).toBeNull();
  });

  it('rejects bad input field by field', async () => {
    const err = (await store.set('c3', { url: 'ftp://x.example/', secret: 'short', remindEverySec: 5 }).catch((e: unknown) => e)) as WebmonError;
    expect(err.code).toBe('WEBMON_ERR_VALIDATION');
    expect((err.details as { field: string }[]).map((p) => p.field)).toEqual(['url', 'secret', 'remindEverySec']);
    expect(store.validate({ url: 'not a url', secret: SECRET })).toEqual([{ field: 'url', message: 'not a valid URL' }]);
    expect(store.validate({ url: 'http://127.0.0.1:9/x', secret: SECRET, remindEverySec: 60 })).toEqual([]);
  });

  it('enables a disabled webhook: failures reset, reason cleared, pending deliveries due now', async () => {
    await store.set('c4', { url: 'https://hooks.example.com/', secret: SECRET });
    await t.redis.hset(t.keys.webhook('c4'), 'enabled', '0', 'failures', 20, 'disabledReason', '20 consecutive failed deliveries', 'disabledAt', 5);
    await t.redis.rpush(t.keys.outbox('c4'), '{"id":"1-0"}', '{"id":"2-0"}');
    expect(await store.status('c4')).toMatchObject({ enabled: false, failures: 20, disabledReason: '20 consecutive failed deliveries', pending: 2 });
    const view = await store.enable('c4', {}, 7_000);
    expect(view).toMatchObject({ enabled: true, failures: 0, disabledReason: null, disabledAt: null, pending: 2 });
    expect(await t.redis.zscore(t.keys.outboxDue, 'c4')).toBe('7000');
    expect(await store.enable('c4', { dropPending: true })).toMatchObject({ pending: 0, dropped: 2 });
    expect(await t.redis.zscore(t.keys.outboxDue, 'c4')).toBeNull();
    expect(await store.enable('nobody')).toBeNull();
  });

  it('deletes the webhook with its outbox', async () => {
    await store.set('c5', { url: 'https://hooks.example.com/', secret: SECRET });
    await t.redis.rpush(t.keys.outbox('c5'), '{"id":"1-0"}');
    await t.redis.zadd(t.keys.outboxDue, 1, 'c5');
    expect(await store.delete('c5')).toBe(true);
    expect(await store.delete('c5')).toBe(false);
    expect(await t.redis.exists(t.keys.webhook('c5'), t.keys.outbox('c5'))).toBe(0);
    expect(await t.redis.zscore(t.keys.outboxDue, 'c5')).toBeNull();
  });
});
