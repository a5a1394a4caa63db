import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApi, type TestApi } from '../../test/helpers/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await testApi('clients', { policy: { denyHosts: ['*.internal.test'] } });
});
afterAll(() => api.close());

describe('clients', () => {
  it('lets the admin create and list clients; a client key sees only itself', async () => {
    const created = await api.call('POST', '/clients', { name: 'Agency One' });
    expect(created.status).toBe(201);
    expect(created.body.client).toMatchObject({ id: expect.any(String), name: 'Agency One' });
    expect(created.body.apiKey).toMatch(/^wm_/);
    const key = created.body.apiKey;
    const id = created.body.client.id;
    expect(await api.t.redis.get(api.t.keys.apiKey(created.body.apiKey))).toBeNull(); // only the digest is stored

    expect((await api.call('GET', '/whoami', undefined, key)).body).toEqual({ id, admin: false });
    expect((await api.call('GET', '/whoami')).body).toEqual({ id: 'admin', admin: true });
    expect((await api.call('GET', '/clients')).body.items.map((c: { id: string }) => c.id)).toContain(id);
    expect((await api.call('GET', `/clients/${id}`, undefined, key)).body).toMatchObject({ id, name: 'Agency One' });

    const other = await api.newClient('Other');
    for (const [method, url, body] of [
      ['POST', '/clients', { name: 'x' }],
      ['GET', '/clients', undefined],
      ['GET', `/clients/${other.id}`, undefined],
      ['PUT', `/clients/${other.id}/assets`, { assets: [] }],
    ] as const) {
      const res = await api.call(method, url, body, key);
      expect(res.status, `${method} ${url}`).toBe(403);
      expect(res.body.code).toBe('WEBMON_ERR_FORBIDDEN');
    }
    expect((await api.call('GET', '/clients/nope')).body.code).toBe('WEBMON_ERR_CLIENT_NOT_FOUND');
    expect((await api.call('POST', '/clients', { name: '' })).body.code).toBe('WEBMON_ERR_VALIDATION');
  });
});

describe('declarative sync', () => {
  it('adds what is new, removes what is gone, keeps what stays with its history', async () => {
    const c = await api.newClient('Sync Co');
    const put = (assets: unknown[], key = c.apiKey) => api.call('PUT', `/clients/${c.id}/assets`, { assets }, key);

    const first = await put(['https://a.sync.test/', { url: 'https://b.sync.test/', tags: ['shop'] }, 'https://c.sync.test/']);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ added: 3, updated: 0, kept: 0, removed: 0, failed: 0, pruned: true });
    expect(first.body.items.map((i: { state: string }) => i.state)).toEqual(['unknown', 'unknown', 'unknown']);
    const ids = Object.fromEntries(first.body.items.map((i: { url: string; id: string }) => [i.url, i.id]));
    // Give b some history to keep.
    await api.t.redis.hset(api.t.keys.asset(ids['https://b.sync.test/']), 'checks', 42);

    const again = await put(['https://a.sync.test/', { url: 'https://b.sync.test/', tags: ['shop'] }, 'https://c.sync.test/']);
    expect(again.body).toMatchObject({ added: 0, updated: 0, kept: 3, removed: 0 }); // idempotent

    const second = await put([{ url: 'https://B.sync.test', tags: ['shop', 'vip'] }, 'https://d.sync.test/', 'https://a.sync.test/']);
    expect(second.body).toMatchObject({ added: 1, updated: 1, kept: 1, removed: 1, failed: 0 });
    expect(second.body.items[0]).toMatchObject({ url: 'https://b.sync.test/', id: ids['https://b.sync.test/'], change: 'updated' });
    const b = await api.call('GET', `/assets/${ids['https://b.sync.test/']}`, undefined, c.apiKey);
    expect(b.body.tags).toEqual(['shop', 'vip']);
    expect(await api.t.redis.hget(api.t.keys.asset(ids['https://b.sync.test/']), 'checks')).toBe('42');
    expect((await api.call('GET', `/assets/${ids['https://c.sync.test/']}`, undefined, c.apiKey)).status).toBe(404);
    const listed = await api.call('GET', '/assets', undefined, c.apiKey);
    expect(listed.body.items.map((a: { url: string }) => a.url).sort()).toEqual(['https://a.sync.test/', 'https://b.sync.test/', 'https://d.sync.test/']);
  });

  it('reports bad items by index and removes nothing while the list has errors', async () => {
    const c = await api.newClient('Careful Co');
    const put = (assets: unknown[]) => api.call('PUT', `/clients/${c.id}/assets`, { assets }, c.apiKey);
    await put(['https://keep.test/', 'https://old.test/']);
    const res = await put(['https://keep.test/', 'htps//typo', { url: 'https://x.test/', plugins: ['warp'] }, 42, 'https://keep.test']);
    expect(res.body).toMatchObject({ added: 0, kept: 1, removed: 0, failed: 4, pruned: false });
    expect(res.body.items[1].error).toMatchObject({ code: 'WEBMON_ERR_INVALID_URL', message: expect.stringContaining('assets.1') });
    expect(res.body.items[2].error.code).toBe('WEBMON_ERR_UNKNOWN_PLUGIN');
    expect(res.body.items[3].error).toMatchObject({ code: 'WEBMON_ERR_VALIDATION', message: expect.stringContaining('assets.3') });
    expect(res.body.items[4].error.message).toMatch(/listed twice/);
    expect((await api.call('GET', '/assets', undefined, c.apiKey)).body.items).toHaveLength(2); // old.test survived
    expect((await api.call('PUT', `/clients/${c.id}/assets`, { assets: 'all' }, c.apiKey)).body.code).toBe('WEBMON_ERR_VALIDATION');
  });

  it('lets the admin sync any client, and an empty list removes everything', async () => {
    const c = await api.newClient('Managed Co');
    const res = await api.call('PUT', `/clients/${c.id}/assets`, { assets: ['https://managed.test/', 'http://db.internal.test/'] });
    expect(res.body).toMatchObject({ added: 2 });
    expect(res.body.items[1]).toMatchObject({ state: 'unsupported' });
    expect((await api.call('GET', '/assets', undefined, c.apiKey)).body.items).toHaveLength(2);
    expect((await api.call('PUT', `/clients/${c.id}/assets`, { assets: [] })).body).toMatchObject({ removed: 2 });
    expect((await api.call('PUT', '/clients/nope/assets', { assets: [] })).body.code).toBe('WEBMON_ERR_CLIENT_NOT_FOUND');
  });
});

describe('maintenance windows', () => {
  it('shows covered assets as maintenance while the window is open', async () => {
    const c = await api.newClient('Maint Co');
    const { body: a } = await api.call('POST', '/assets', { url: 'https://m.test/', tags: ['db'] }, c.apiKey);
    const { body: other } = await api.call('POST', '/assets', { url: 'https://n.test/' }, c.apiKey);
    const now = Date.now();
    const w = await api.call(
      'POST',
      '/maintenance',
      { reason: 'db upgrade', tags: ['db'], start: new Date(now - 1000).toISOString(), end: new Date(now + 3_600_000).toISOString() },
      c.apiKey,
    );
    expect(w.status).toBe(201);
    expect(w.body).toMatchObject({ reason: 'db upgrade', tags: ['db'], open: true, owner: c.id });
    expect((await api.call('GET', `/assets/${a.id}`, undefined, c.apiKey)).body).toMatchObject({ state: 'maintenance', stateReason: 'maintenance: db upgrade' });
    expect((await api.call('GET', `/assets/${other.id}`, undefined, c.apiKey)).body.state).toBe('unknown');
    const recurring = await api.call('POST', '/maintenance', { reason: 'nightly', assetIds: [other.id], recurring: { days: [0, 6], start: '02:00', durationMinutes: 30 } }, c.apiKey);
    expect(recurring.body).toMatchObject({ recurring: { days: [0, 6], start: '02:00', durationMinutes: 30 } });
    expect((await api.call('GET', '/maintenance', undefined, c.apiKey)).body.items).toHaveLength(2);
    expect((await api.call('GET', '/maintenance', undefined, (await api.newClient('x')).apiKey)).body.items).toEqual([]);

    expect((await api.call('DELETE', `/maintenance/${w.body.id}`, undefined, c.apiKey)).status).toBe(204);
    expect((await api.call('GET', `/assets/${a.id}`, undefined, c.apiKey)).body.state).toBe('unknown');
    expect((await api.call('DELETE', `/maintenance/${w.body.id}`, undefined, c.apiKey)).body.code).toBe('WEBMON_ERR_MAINTENANCE_NOT_FOUND');
  });

  it.each([
    [{ reason: 'x', start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z' }, /assetIds or tags/],
    [{ reason: 'x', tags: ['a'] }, /either start and end, or recurring/],
    [{ reason: 'x', tags: ['a'], start: '2026-01-02T00:00:00Z', end: '2026-01-01T00:00:00Z' }, /end after start/],
    [{ reason: 'x', tags: ['a'], recurring: { days: [7], start: '02:00', durationMinutes: 5 } }, /days/],
    [{ reason: 'x', tags: ['a'], recurring: { days: [1], start: '25:00', durationMinutes: 5 } }, /start/],
    [{ reason: 'x', tags: ['a'], start: 'tomorrow', end: '2026-01-01T00:00:00Z' }, /start/],
  ])('rejects %j', async (body, message) => {
    const res = await api.call('POST', '/maintenance', body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('WEBMON_ERR_VALIDATION');
    expect(res.body.message).toMatch(message);
  });
});

describe('webhooks', () => {
  it('sets, shows (never the secret), updates, enables and deletes a client webhook', async () => {
    const c = await api.newClient('Hooked');
    const path = `/clients/${c.id}/webhook`;
    expect((await api.call('GET', path, undefined, c.apiKey)).body.code).toBe('WEBMON_ERR_WEBHOOK_NOT_FOUND');
    expect((await api.call('PUT', path, { url: 'https://hooks.example.test/in' }, c.apiKey)).body.code).toBe('WEBMON_ERR_VALIDATION'); // first time needs a secret
    const created = await api.call('PUT', path, { url: 'https://hooks.example.test/in', secret: 's3cret-s3cret-s3cret', remindEverySec: 3600 }, c.apiKey);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ clientId: c.id, url: 'https://hooks.example.test/in', secretSet: true, enabled: true, failures: 0, pending: 0, remindEverySec: 3600 });
    expect(JSON.stringify(created.body)).not.toContain('s3cret');
    const updated = await api.call('PUT', path, { url: 'https://hooks.example.test/v2' }, c.apiKey);
    expect(updated.status).toBe(200);
    expect(updated.body.url).toBe('https://hooks.example.test/v2');
    expect((await api.call('GET', path, undefined, c.apiKey)).body).toMatchObject({ url: 'https://hooks.example.test/v2', secretSet: true });
    expect((await api.call('GET', path)).status).toBe(200); // the admin may look
    const other = await api.newClient('Nosy');
    expect((await api.call('GET', path, undefined, other.apiKey)).body.code).toBe('WEBMON_ERR_FORBIDDEN');
    expect((await api.call('PUT', path, { url: 'https://x.test/', secret: 'x'.repeat(16), extra: 1 }, c.apiKey)).body.code).toBe('WEBMON_ERR_VALIDATION');
    expect((await api.call('POST', `${path}/enable`, {}, c.apiKey)).body).toMatchObject({ enabled: true, failures: 0 });
    expect((await api.call('DELETE', path, undefined, c.apiKey)).status).toBe(204);
    expect((await api.call('DELETE', path, undefined, c.apiKey)).body.code).toBe('WEBMON_ERR_WEBHOOK_NOT_FOUND');
  });
});
