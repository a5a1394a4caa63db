/** API keys (create, list, revoke, expiry, lastUsedAt, keys made before key records) and client changes and deletion. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientStore, digestKey, pluginStorage } from '@webmon/core';
import { testApi, type TestApi } from '../../test/helpers/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await testApi('keys');
});
afterAll(() => api.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every key name under the test's prefix. */
async function allKeys(): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await api.t.redis.scan(cursor, 'MATCH', `${api.t.prefix}:*`, 'COUNT', 1000);
    out.push(...found);
    cursor = next;
  } while (cursor !== '0');
  return out.sort();
}

describe('API keys', () => {
  it('creates a key shown once, lists records without secrets, revokes it at once', async () => {
    const c = await api.newClient('Keyed');
    const created = await api.call('POST', `/clients/${c.id}/keys`, { name: 'ci' }, c.apiKey);
    expect(created.status).toBe(201);
    expect(created.body.apiKey).toMatch(/^wm_/);
    expect(created.body.key).toMatchObject({ id: expect.any(String), clientId: c.id, name: 'ci', expiresAt: null, lastUsedAt: null, expired: false });
    const second = created.body.apiKey as string;
    expect((await api.call('GET', '/whoami', undefined, second)).body).toEqual({ id: c.id, admin: false });
    // Only the digest is stored, and only as a key name.
    expect(await api.t.redis.exists(api.t.keys.apiKey(digestKey(second)))).toBe(1);
    expect(JSON.stringify(await api.t.redis.hgetall(api.t.keys.apiKey(digestKey(second))))).not.toContain(second);

    const listed = await api.call('GET', `/clients/${c.id}/keys`, undefined, c.apiKey);
    expect(listed.status).toBe(200);
    expect(listed.body.items).toHaveLength(2);
    expect(listed.body.items[1]).toMatchObject({ id: created.body.key.id, name: 'ci' });
    const text = JSON.stringify(listed.body);
    for (const secret of [c.apiKey, second]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(digestKey(secret));
    }
    expect((await api.call('GET', `/clients/${c.id}/keys`)).body.items).toHaveLength(2); // the admin may look

    const other = await api.newClient('Other');
    expect((await api.call('GET', `/clients/${c.id}/keys`, undefined, other.apiKey)).body.code).toBe('WEBMON_ERR_FORBIDDEN');
    expect((await api.call('POST', `/clients/${c.id}/keys`, {}, other.apiKey)).body.code).toBe('WEBMON_ERR_FORBIDDEN');
    const foreign = await api.call('DELETE', `/keys/${created.body.key.id}`, undefined, other.apiKey);
    expect(foreign.status).toBe(404);
    expect(foreign.body.code).toBe('WEBMON_ERR_KEY_NOT_FOUND');

    expect((await api.call('DELETE', `/keys/${created.body.key.id}`, undefined, c.apiKey)).status).toBe(204);
    const refused = await api.call('GET', '/whoami', undefined, second);
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('WEBMON_ERR_UNAUTHORIZED');
    expect((await api.call('DELETE', `/keys/${created.body.key.id}`, undefined, c.apiKey)).body.code).toBe('WEBMON_ERR_KEY_NOT_FOUND');
    expect((await api.call('GET', `/clients/${c.id}/keys`, undefined, c.apiKey)).body.items).toHaveLength(1);
    expect(await api.t.redis.exists(api.t.keys.apiKey(digestKey(second)))).toBe(0);
  });

  it('lets a client rotate but not revoke its last usable key; the admin may revoke any', async () => {
    const c = await api.newClient('Rotating');
    const [first] = (await api.call('GET', `/clients/${c.id}/keys`, undefined, c.apiKey)).body.items;
    const last = await api.call('DELETE', `/keys/${first.id}`, undefined, c.apiKey);
    expect(last.status).toBe(409);
    expect(last.body.code).toBe('WEBMON_ERR_LAST_KEY');
    expect((await api.call('GET', '/whoami', undefined, c.apiKey)).status).toBe(200);

    const next = (await api.call('POST', `/clients/${c.id}/keys`, { name: 'next' }, c.apiKey)).body;
    expect((await api.call('DELETE', `/keys/${first.id}`, undefined, next.apiKey)).status).toBe(204); // rotated
    expect((await api.call('GET', '/whoami', undefined, c.apiKey)).status).toBe(401);

    expect((await api.call('DELETE', `/keys/${next.key.id}`)).status).toBe(204); // the admin revokes the last one
    expect((await api.call('GET', '/whoami', undefined, next.apiKey)).status).toBe(401);
    expect((await api.call('GET', `/clients/${c.id}/keys`)).body.items).toEqual([]);
    const again = await api.call('POST', `/clients/${c.id}/keys`, {});
    expect(again.status).toBe(201);
    expect((await api.call('GET', '/whoami', undefined, again.body.apiKey)).body.id).toBe(c.id);
  });

  it('refuses keys for the admin and for unknown clients', async () => {
    expect((await api.call('POST', '/clients/admin/keys', {})).body.code).toBe('WEBMON_ERR_FORBIDDEN');
    expect((await api.call('GET', '/clients/admin/keys')).body.code).toBe('WEBMON_ERR_FORBIDDEN');
    expect((await api.call('POST', '/clients/nope/keys', {})).body.code).toBe('WEBMON_ERR_CLIENT_NOT_FOUND');
    expect((await api.call('DELETE', '/keys/nope')).body.code).toBe('WEBMON_ERR_KEY_NOT_FOUND');
  });

  it.each([
    [{ expiresAt: '2020-01-01T00:00:00Z' }, /future/],
    [{ expiresAt: '2999-12-31T23:59:60Z' }, /expiresAt/],
    [{ expiresAt: 'tomorrow' }, /expiresAt/],
    [{ expiresInSec: 10 }, /expiresInSec/],
    [{ expiresInSec: 3600, expiresAt: '2999-01-01T00:00:00Z' }, /not both/],
    [{ name: 'x', extra: 1 }, /extra/],
  ])('refuses key options %j', async (body, message) => {
    const c = await api.newClient('Picky');
    const res = await api.call('POST', `/clients/${c.id}/keys`, body, c.apiKey);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('WEBMON_ERR_VALIDATION');
    expect(res.body.message).toMatch(message);
  });

  it('answers 401 saying so once a key has expired; an expired key is not a usable one', async () => {
    const c = await api.newClient('Expiring');
    const inHour = await api.call('POST', `/clients/${c.id}/keys`, { expiresInSec: 3600 }, c.apiKey);
    expect(Date.parse(inHour.body.key.expiresAt) - Date.now()).toBeGreaterThan(3_590_000);
    expect((await api.call('GET', '/whoami', undefined, inHour.body.apiKey)).status).toBe(200);

    const soon = await api.call('POST', `/clients/${c.id}/keys`, { name: 'short', expiresAt: new Date(Date.now() + 1000).toISOString() }, c.apiKey);
    expect(soon.status).toBe(201);
    expect((await api.call('GET', '/whoami', undefined, soon.body.apiKey)).status).toBe(200);
    let res = await api.call('GET', '/whoami', undefined, soon.body.apiKey);
    for (let i = 0; i < 50 && res.status === 200; i++) {
      await sleep(100);
      res = await api.call('GET', '/whoami', undefined, soon.body.apiKey);
    }
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('WEBMON_ERR_UNAUTHORIZED');
    expect(res.body.message).toMatch(/expired at \d{4}-/);
    const items = (await api.call('GET', `/clients/${c.id}/keys`, undefined, c.apiKey)).body.items as Array<{ id: string; expired: boolean }>;
    expect(items.find((k) => k.id === soon.body.key.id)?.expired).toBe(true);

    // With the first key revoked, the hour key is the last usable one: the expired one does not count.
    const first = items[0]!;
    expect((await api.call('DELETE', `/keys/${first.id}`, undefined, inHour.body.apiKey)).status).toBe(204);
    expect((await api.call('DELETE', `/keys/${inHour.body.key.id}`, undefined, inHour.body.apiKey)).body.code).toBe('WEBMON_ERR_LAST_KEY');
    expect((await api.call('DELETE', `/keys/${soon.body.key.id}`, undefined, inHour.body.apiKey)).status).toBe(204);
  });

  it('records lastUsedAt at most once a minute per key', async () => {
    const c = await api.newClient('Used');
    const { body } = await api.call('POST', `/clients/${c.id}/keys`, { name: 'watched' }, c.apiKey);
    const lastUsed = async () => {
      const items = (await api.call('GET', `/clients/${c.id}/keys`)).body.items as Array<{ id: string; lastUsedAt: string | null }>;
      return items.find((k) => k.id === body.key.id)!.lastUsedAt;
    };
    expect(await lastUsed()).toBeNull();
    const before = Date.now();
    await api.call('GET', '/whoami', undefined, body.apiKey);
    const first = await lastUsed();
    expect(Date.parse(first!)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(first!)).toBeLessThanOrEqual(Date.now());
    await sleep(20);
    await api.call('GET', '/whoami', undefined, body.apiKey);
    expect(await lastUsed()).toBe(first); // within the minute: not written again

    const record = api.t.keys.apiKey(digestKey(body.apiKey));
    await api.t.redis.hset(record, 'lastUsedAt', String(Date.now() - 61_000));
    const later = Date.now();
    await api.call('GET', '/whoami', undefined, body.apiKey);
    expect(Date.parse((await lastUsed())!)).toBeGreaterThanOrEqual(later);
  });

  it('caps the keys of a client (maxApiKeys), not the admin', async () => {
    const c = await api.newClient('Many keys');
    expect((await api.call('PATCH', `/clients/${c.id}`, { limits: { maxApiKeys: 2 } })).status).toBe(200);
    expect((await api.call('POST', `/clients/${c.id}/keys`, {}, c.apiKey)).status).toBe(201);
    const third = await api.call('POST', `/clients/${c.id}/keys`, {}, c.apiKey);
    expect(third.status).toBe(429);
    expect(third.body).toMatchObject({ code: 'WEBMON_ERR_QUOTA_EXCEEDED', details: { limit: 2, value: 2 } });
    expect(third.headers['retry-after']).toBeUndefined();
    expect((await api.call('POST', `/clients/${c.id}/keys`, {})).status).toBe(201);
  });
});

describe('keys made before key records', () => {
  it('keep working, and are listed and revocable once migrated', async () => {
    const fresh = await testApi('keys-legacy');
    try {
      const store = new ClientStore(fresh.t.redis, fresh.t.keys, undefined);
      const { client } = await store.create('Old timer', Date.parse('2024-05-01T00:00:00Z'));
      const legacy = 'wm_legacy-key-made-by-an-older-version';
      await fresh.t.redis.set(fresh.t.keys.apiKey(digestKey(legacy)), client.id);

      expect((await fresh.call('GET', '/whoami', undefined, legacy)).body).toEqual({ id: client.id, admin: false });
      const items = (await fresh.call('GET', `/clients/${client.id}/keys`)).body.items as Array<{ id: string; createdAt: string; expiresAt: string | null }>;
      expect(items).toHaveLength(2);
      const migrated = items.find((k) => k.createdAt === '2024-05-01T00:00:00.000Z' && k.expiresAt === null);
      expect(await fresh.t.redis.type(fresh.t.keys.apiKey(digestKey(legacy)))).toBe('hash');
      expect((await fresh.call('GET', '/whoami', undefined, legacy)).status).toBe(200);
      expect(migrated).toBeDefined();
      const owned = await fresh.t.redis.hget(fresh.t.keys.apiKey(digestKey(legacy)), 'id');
      expect((await fresh.call('DELETE', `/keys/${owned}`)).status).toBe(204);
      expect((await fresh.call('GET', '/whoami', undefined, legacy)).status).toBe(401);
    } finally {
      await fresh.close();
    }
  });
});

describe('PATCH /clients/:id', () => {
  it('sets the name, allowed ranges and quota overrides; GET shows them with the effective limits', async () => {
    const c = await api.newClient('Patched');
    const res = await api.call('PATCH', `/clients/${c.id}`, { name: 'Patched Inc', allowCidrs: ['10.1.0.0/16', ' fd00::/8'], limits: { maxAssets: 5, jobsPerMinute: 7 } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: c.id, name: 'Patched Inc', allowCidrs: ['10.1.0.0/16', 'fd00::/8'], limitOverrides: { maxAssets: 5, jobsPerMinute: 7 } });
    expect(res.body.limits).toEqual({ ...api.config.tenants.limits, maxAssets: 5, jobsPerMinute: 7 });
    expect(await api.t.redis.hget(api.t.keys.client(c.id), 'allowCidrs')).toBe('["10.1.0.0/16","fd00::/8"]');

    // Overrides merge; null drops one.
    const merged = await api.call('PATCH', `/clients/${c.id}`, { limits: { maxAssets: null, requestsPerSecond: 9 } });
    expect(merged.body.limitOverrides).toEqual({ jobsPerMinute: 7, requestsPerSecond: 9 });
    expect(merged.body.limits.maxAssets).toBe(api.config.tenants.limits.maxAssets);
    const self = await api.call('GET', `/clients/${c.id}`, undefined, c.apiKey);
    expect(self.body).toMatchObject({ name: 'Patched Inc', allowCidrs: ['10.1.0.0/16', 'fd00::/8'], limits: { jobsPerMinute: 7, requestsPerSecond: 9 } });
    expect((await api.call('PATCH', `/clients/${c.id}`, { allowCidrs: [] })).body.allowCidrs).toEqual([]);
  });

  it.each([
    [{ allowCidrs: ['10.0.0.0/33'] }, /body\.allowCidrs\.0: "10\.0\.0\.0\/33" is not a CIDR/],
    [{ allowCidrs: ['10.0.0.0/8', 'intranet'] }, /body\.allowCidrs\.1/],
    [{ limits: { maxAssets: -1 } }, /body\.limits\.maxAssets/],
    [{ limits: { requestsPerSecond: 0 } }, /body\.limits\.requestsPerSecond/],
    [{ limits: { maxBodyBytes: 104_857_601 } }, /body\.limits\.maxBodyBytes/],
    [{ limits: { maxAssets: 1.5 } }, /body\.limits\.maxAssets/],
    [{ limits: { unheardOf: 1 } }, /body\.limits\.unheardOf/],
    [{ name: '' }, /body\.name/],
  ])('refuses %j naming the field', async (body, message) => {
    const c = await api.newClient('Strict');
    const res = await api.call('PATCH', `/clients/${c.id}`, body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('WEBMON_ERR_VALIDATION');
    expect(res.body.message).toMatch(message);
    expect(await api.t.redis.hmget(api.t.keys.client(c.id), 'allowCidrs', 'limits')).toEqual([null, null]);
  });

  it('is for the admin only', async () => {
    const c = await api.newClient('Self-serve');
    expect((await api.call('PATCH', `/clients/${c.id}`, { limits: { maxAssets: 1_000_000 } }, c.apiKey)).body.code).toBe('WEBMON_ERR_FORBIDDEN');
    expect((await api.call('PATCH', '/clients/nope', { name: 'x' })).body.code).toBe('WEBMON_ERR_CLIENT_NOT_FOUND');
  });
});

describe('DELETE /clients/:id', () => {
  /** Gives a client a bit of everything a client can have. */
  async function populate(name: string) {
    const c = await api.newClient(name);
    const extra = (await api.call('POST', `/clients/${c.id}/keys`, { name: 'second' }, c.apiKey)).body.apiKey as string;
    const assetIds: string[] = [];
    for (const url of [`https://${c.id.toLowerCase()}-a.test/`, `https://${c.id.toLowerCase()}-b.test/`]) {
      const { body } = await api.call('POST', '/assets', { url, tags: ['web'] }, c.apiKey);
      assetIds.push(body.id);
      await api.t.redis.hset(api.t.keys.assetLatest(body.id), 'http', '{}');
      await api.t.redis.xadd(api.t.keys.assetHistory(body.id), '*', 'r', '{}');
      await pluginStorage(api.t.redis, api.t.keys, body.id, 'htmlstats').set('baseline', '{}');
    }
    expect((await api.call('PUT', `/clients/${c.id}/webhook`, { url: 'https://hooks.example.test/in', secret: 's'.repeat(20) }, c.apiKey)).status).toBe(201);
    await api.t.redis.rpush(api.t.keys.outbox(c.id), '{"pending":1}');
    await api.t.redis.zadd(api.t.keys.outboxDue, Date.now(), c.id);
    await api.t.redis.zadd(api.t.keys.reminders, Date.now() + 60_000, `${c.id}|${assetIds[0]}`);
    const w = await api.call('POST', '/maintenance', { reason: 'upgrade', tags: ['web'], recurring: { days: [0], start: '02:00', durationMinutes: 30 } }, c.apiKey);
    expect(w.status).toBe(201);
    await api.call('PATCH', `/clients/${c.id}`, { limits: { maxAssets: 50 }, allowCidrs: ['10.9.0.0/16'] });
    const slug = `page-${c.id.toLowerCase().replace(/[^a-z0-9]/g, '')}`.slice(0, 60);
    expect((await api.call('POST', '/status-pages', { slug, title: `${name} status`, assetIds }, c.apiKey)).status).toBe(201);
    return { ...c, extra, assetIds, windowId: w.body.id as string, slug };
  }

  const mentions = (keys: string[], ids: string[]) => keys.filter((k) => ids.some((id) => k.includes(id)));

  it("removes the client's keys, assets with history, webhook, reminders and windows, and nothing of another client", async () => {
    const gone = await populate('Leaving');
    const stays = await populate('Staying');
    const staysKeysBefore = mentions(await allKeys(), [stays.id, ...stays.assetIds]);
    expect(staysKeysBefore.length).toBeGreaterThan(5);
    expect(mentions(await allKeys(), [gone.id, ...gone.assetIds]).length).toBeGreaterThan(5);

    const res = await api.call('DELETE', `/clients/${gone.id}`);
    expect(res.status).toBe(204);
    for (const key of [gone.apiKey, gone.extra]) expect((await api.call('GET', '/whoami', undefined, key)).status).toBe(401);
    expect((await api.call('GET', `/clients/${gone.id}`)).body.code).toBe('WEBMON_ERR_CLIENT_NOT_FOUND');
    expect((await api.call('DELETE', `/clients/${gone.id}`)).status).toBe(404); // idempotent
    // Its status page is gone (and its slug free again); the other client's stays.
    expect((await api.app.inject({ method: 'GET', url: `/public/status/${gone.slug}` })).statusCode).toBe(404);
    expect((await api.app.inject({ method: 'GET', url: `/public/status/${stays.slug}` })).statusCode).toBe(200);

    expect(mentions(await allKeys(), [gone.id, ...gone.assetIds])).toEqual([]);
    expect(await api.t.redis.sismember(api.t.keys.clients, gone.id)).toBe(0);
    expect((await api.t.redis.zrange(api.t.keys.reminders, '0', '-1')).filter((m) => m.startsWith(`${gone.id}|`))).toEqual([]);
    expect(await api.t.redis.zscore(api.t.keys.outboxDue, gone.id)).toBeNull();
    expect(await api.t.redis.zscore(api.t.keys.schedule, gone.assetIds[0]!)).toBeNull();
    for (const digest of Object.values(await api.t.redis.hgetall(api.t.keys.apiKeyIds))) {
      expect(digest).not.toBe(digestKey(gone.apiKey));
      expect(digest).not.toBe(digestKey(gone.extra));
    }
    const windows = (await api.call('GET', '/maintenance')).body.items as Array<{ id: string; owner: string }>;
    expect(windows.filter((w) => w.owner === gone.id)).toEqual([]);
    expect((await api.call('GET', `/assets/${gone.assetIds[0]}`)).status).toBe(404);

    // The other client is untouched.
    expect(mentions(await allKeys(), [stays.id, ...stays.assetIds])).toEqual(staysKeysBefore);
    expect((await api.call('GET', '/whoami', undefined, stays.extra)).body.id).toBe(stays.id);
    expect((await api.call('GET', '/assets', undefined, stays.apiKey)).body.items).toHaveLength(2);
    expect((await api.call('GET', `/clients/${stays.id}/webhook`, undefined, stays.apiKey)).body.pending).toBe(1);
    expect(windows.map((w) => w.id)).toContain(stays.windowId);
    expect(await api.t.redis.zscore(api.t.keys.reminders, `${stays.id}|${stays.assetIds[0]}`)).not.toBeNull();
    expect((await api.call('GET', `/clients/${stays.id}`)).body).toMatchObject({ allowCidrs: ['10.9.0.0/16'], limitOverrides: { maxAssets: 50 } });
  });

  it('is for the admin only, and never deletes the admin', async () => {
    const c = await api.newClient('Not mine');
    const other = await api.newClient('Mine');
    expect((await api.call('DELETE', `/clients/${c.id}`, undefined, other.apiKey)).body.code).toBe('WEBMON_ERR_FORBIDDEN');
    expect((await api.call('DELETE', `/clients/${other.id}`, undefined, other.apiKey)).body.code).toBe('WEBMON_ERR_FORBIDDEN');
    expect((await api.call('DELETE', '/clients/admin')).body.code).toBe('WEBMON_ERR_FORBIDDEN');
    expect((await api.call('GET', '/whoami')).body).toEqual({ id: 'admin', admin: true });
    expect((await api.call('DELETE', '/clients/nope')).body.code).toBe('WEBMON_ERR_CLIENT_NOT_FOUND');
  });
});
