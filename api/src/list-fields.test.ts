/** GET /assets at scale: field selection and URL search through the API, per tenant. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApi, type TestApi } from '../../test/helpers/api.js';

let api: TestApi;

beforeAll(async () => {
  api = await testApi('list-fields');
  await api.app.ready();
});
afterAll(() => api.close());

describe('GET /assets?fields=', () => {
  it('returns only the named fields, with the values of the full listing', async () => {
    const { body: a } = await api.call('POST', '/assets', { url: 'https://fields.test/a', plugins: ['http'], tags: ['f'] });
    await api.call('POST', '/assets', { url: 'https://fields.test/b', plugins: ['http'], tags: ['f'], paused: true });
    const full = await api.call('GET', '/assets?tag=f');
    expect(full.body.items).toHaveLength(2);
    const some = await api.call('GET', '/assets?tag=f&fields=id,url,state,lastCheckAt');
    expect(some.status).toBe(200);
    expect(some.body.items).toEqual(full.body.items.map((x: Record<string, unknown>) => ({ id: x.id, url: x.url, state: x.state, lastCheckAt: x.lastCheckAt })));
    expect(some.body.items[1].state).toBe('paused');
    const one = await api.call('GET', '/assets?tag=f&fields=tags,tags&limit=1');
    expect(one.body.items).toEqual([{ tags: ['f'] }]);
    expect(one.body.nextCursor).not.toBeNull();
    const created = await api.call('GET', '/assets?tag=f&fields=createdAt,config,plugins,owner,interval,paused');
    expect(created.body.items[0]).toEqual({ createdAt: a.createdAt, config: a.config, plugins: ['http'], owner: a.owner, interval: a.interval, paused: false });
  });

  it('shows the maintenance state when it selects the state', async () => {
    const { body: a } = await api.call('POST', '/assets', { url: 'https://fields-maint.test/', plugins: ['http'], tags: ['fm'] });
    const start = new Date(Date.now() - 60_000).toISOString();
    const end = new Date(Date.now() + 3_600_000).toISOString();
    expect((await api.call('POST', '/maintenance', { reason: 'upgrade', assetIds: [a.id], start, end })).status).toBe(201);
    const res = await api.call('GET', '/assets?tag=fm&fields=state,stateReason');
    expect(res.body.items).toEqual([{ state: 'maintenance', stateReason: 'maintenance: upgrade' }]);
  });

  it('refuses an unknown or malformed field list with a validation error naming the field', async () => {
    const unknown = await api.call('GET', '/assets?fields=id,secretStuff');
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe('WEBMON_ERR_VALIDATION');
    expect(unknown.body.message).toContain('"secretStuff"');
    expect(unknown.body.message).toContain('querystring.fields');
    for (const bad of ['', 'id,,url', 'id,', 'id;url', 'id%20', 'constructor', '__proto__']) {
      const res = await api.call('GET', `/assets?fields=${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.code, bad).toBe('WEBMON_ERR_VALIDATION');
    }
  });

  it('is described in the OpenAPI document', async () => {
    const spec = JSON.parse((await api.app.inject({ method: 'GET', url: '/docs/json' })).body);
    const params = spec.paths['/assets'].get.parameters as Array<{ name: string; in: string; description?: string; schema: { description?: string } }>;
    const fields = params.find((p) => p.name === 'fields' && p.in === 'query');
    expect(fields).toBeDefined();
    expect(JSON.stringify(fields)).toContain('lastCheckAt');
  });
});

describe('GET /assets?q=', () => {
  it('finds by part of the URL and only within the caller\'s assets', async () => {
    const alice = await api.newClient('alice');
    const bob = await api.newClient('bob');
    const mine = await api.call('POST', '/assets', { url: 'https://status.acme-corp.test/health', plugins: ['http'] }, alice.apiKey);
    const theirs = await api.call('POST', '/assets', { url: 'https://status.acme-corp.test/health', plugins: ['http'] }, bob.apiKey);
    expect([mine.status, theirs.status]).toEqual([201, 201]);
    const ids = async (q: string, key?: string) => (await api.call('GET', `/assets?q=${encodeURIComponent(q)}&fields=id`, undefined, key)).body.items.map((x: { id: string }) => x.id);
    for (const q of ['acme-corp', 'ACME', '/health', 'status.acme-corp.test/he']) {
      expect(await ids(q, alice.apiKey), q).toEqual([mine.body.id]);
      expect(await ids(q, bob.apiKey), q).toEqual([theirs.body.id]);
      expect(await ids(q), q).toEqual([mine.body.id, theirs.body.id]);
    }
    expect(await ids('acme-corpx', alice.apiKey)).toEqual([]);
  });
});
