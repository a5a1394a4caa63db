/** Per-client quotas (assets, sync size, body cap) and rates (requests per second, POST /jobs per minute). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApi, type TestApi } from '../../test/helpers/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await testApi('quotas');
});
afterAll(() => api.close());

/** A client with these limit overrides. */
async function limited(name: string, limits: Record<string, number>) {
  const c = await api.newClient(name);
  const res = await api.call('PATCH', `/clients/${c.id}`, { limits });
  expect(res.status).toBe(200);
  return c;
}

const assetCount = async (key: string) => (await api.call('GET', '/assets?limit=1000', undefined, key)).body.items.length as number;

describe('maxAssets', () => {
  it('answers 429 WEBMON_ERR_QUOTA_EXCEEDED on create past the quota; an existing URL is still answered', async () => {
    const c = await limited('Two assets', { maxAssets: 2 });
    expect((await api.call('POST', '/assets', { url: 'https://one.quota.test/' }, c.apiKey)).status).toBe(201);
    expect((await api.call('POST', '/assets', { url: 'https://two.quota.test/' }, c.apiKey)).status).toBe(201);
    const third = await api.call('POST', '/assets', { url: 'https://three.quota.test/' }, c.apiKey);
    expect(third.status).toBe(429);
    expect(third.body).toMatchObject({ statusCode: 429, code: 'WEBMON_ERR_QUOTA_EXCEEDED', error: expect.any(String), message: expect.any(String), details: { limit: 2, value: 2 } });
    expect(third.headers['retry-after']).toBeUndefined();
    expect((await api.call('POST', '/assets', { url: 'https://one.quota.test' }, c.apiKey)).status).toBe(200);
    expect(await assetCount(c.apiKey)).toBe(2);

    const batch = await api.call('POST', '/assets/batch', { assets: [{ url: 'https://two.quota.test/' }, { url: 'https://four.quota.test/' }] }, c.apiKey);
    expect(batch.body).toMatchObject({ created: 0, existing: 1, failed: 1 });
    expect(batch.body.items[1].error).toMatchObject({ code: 'WEBMON_ERR_QUOTA_EXCEEDED', message: expect.stringContaining('assets.1'), details: { limit: 2, value: 2 } });
  });

  it('holds under concurrent creates', async () => {
    const c = await limited('Racing', { maxAssets: 3 });
    const urls = Array.from({ length: 12 }, (_, i) => `https://r${i}.quota.test/`);
    const results = await Promise.all(urls.map((url) => api.call('POST', '/assets', { url }, c.apiKey)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    expect(results.filter((r) => r.status === 429)).toHaveLength(9);
    expect(await assetCount(c.apiKey)).toBe(3);
  });

  it('applies to sync: a list longer than the quota changes nothing; replacing assets fits', async () => {
    const c = await limited('Synced', { maxAssets: 2 });
    const put = (assets: unknown[], key = c.apiKey) => api.call('PUT', `/clients/${c.id}/assets`, { assets }, key);
    expect((await put(['https://a.sq.test/', 'https://b.sq.test/'])).body).toMatchObject({ added: 2 });
    const over = await put(['https://a.sq.test/', 'https://b.sq.test/', 'https://c.sq.test/']);
    expect(over.status).toBe(429);
    expect(over.body).toMatchObject({ code: 'WEBMON_ERR_QUOTA_EXCEEDED', details: { limit: 2, value: 3 } });
    const replaced = await put(['https://c.sq.test/', 'https://d.sq.test/']);
    expect(replaced.body).toMatchObject({ added: 2, removed: 2, failed: 0, pruned: true });
    const urls = (await api.call('GET', '/assets', undefined, c.apiKey)).body.items.map((a: { url: string }) => a.url).sort();
    expect(urls).toEqual(['https://c.sq.test/', 'https://d.sq.test/']);
    // The admin is not limited.
    const three = ['https://c.sq.test/', 'https://d.sq.test/', 'https://e.sq.test/'];
    expect((await put(three)).status).toBe(429);
    expect((await api.call('PUT', `/clients/${c.id}/assets`, { assets: three })).body).toMatchObject({ added: 1 });
  });
});

describe('maxSyncItems', () => {
  it('answers 429 for a sync with more items than the client may send', async () => {
    const c = await limited('Short lists', { maxSyncItems: 3 });
    const items = ['https://1.ss.test/', 'https://2.ss.test/', 'https://3.ss.test/', 'https://4.ss.test/'];
    const res = await api.call('PUT', `/clients/${c.id}/assets`, { assets: items }, c.apiKey);
    expect(res.status).toBe(429);
    expect(res.body).toMatchObject({ code: 'WEBMON_ERR_QUOTA_EXCEEDED', details: { limit: 3, value: 4 } });
    expect(await assetCount(c.apiKey)).toBe(0);
    expect((await api.call('PUT', `/clients/${c.id}/assets`, { assets: items.slice(0, 3) }, c.apiKey)).body).toMatchObject({ added: 3 });
    expect((await api.call('PUT', `/clients/${c.id}/assets`, { assets: items })).body).toMatchObject({ added: 1 }); // the admin
  });
});

describe('maxBodyBytes', () => {
  it("refuses a client's http.maxBodyBytes above its limit, naming the field; the admin may go to the schema's maximum", async () => {
    const c = await limited('Small bodies', { maxBodyBytes: 2048 });
    const big = await api.call('POST', '/assets', { url: 'https://body.test/', config: { http: { maxBodyBytes: 4096 } } }, c.apiKey);
    expect(big.status).toBe(400);
    expect(big.body.code).toBe('WEBMON_ERR_PLUGIN_CONFIG');
    expect(big.body.message).toMatch(/^config\.http\.maxBodyBytes: at most 2048/);
    const ok = await api.call('POST', '/assets', { url: 'https://body.test/', config: { http: { maxBodyBytes: 2048 } } }, c.apiKey);
    expect(ok.status).toBe(201);
    const patch = await api.call('PATCH', `/assets/${ok.body.id}`, { config: { http: { maxBodyBytes: 2049 } } }, c.apiKey);
    expect(patch.body.code).toBe('WEBMON_ERR_PLUGIN_CONFIG');
    const sync = await api.call('PUT', `/clients/${c.id}/assets`, { assets: [{ url: 'https://body.test/', config: { http: { maxBodyBytes: 9999 } } }] }, c.apiKey);
    expect(sync.body).toMatchObject({ failed: 1, pruned: false });
    expect(sync.body.items[0].error.code).toBe('WEBMON_ERR_PLUGIN_CONFIG');
    const admin = await api.call('PATCH', `/assets/${ok.body.id}`, { config: { http: { maxBodyBytes: 104_857_600 } } });
    expect(admin.status).toBe(200);
    expect(admin.body.config.http.maxBodyBytes).toBe(104_857_600);
  });
});

describe('rates', () => {
  it('answers 429 WEBMON_ERR_RATE_LIMITED with Retry-After past requestsPerSecond; other clients and the admin go on', async () => {
    const c = await limited('Chatty', { requestsPerSecond: 3 });
    const other = await api.newClient('Quiet');
    let res = await api.call('GET', '/whoami', undefined, c.apiKey);
    expect(res.headers['x-ratelimit-limit']).toBe('3');
    for (let i = 0; i < 50 && res.status !== 429; i++) res = await api.call('GET', '/whoami', undefined, c.apiKey);
    expect(res.status).toBe(429);
    expect(res.body).toMatchObject({ statusCode: 429, code: 'WEBMON_ERR_RATE_LIMITED', error: expect.any(String), message: expect.stringMatching(/at most 3 per second/) });
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(0);
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(1);
    expect((await api.call('GET', '/whoami', undefined, other.apiKey)).status).toBe(200);
    for (let i = 0; i < 20; i++) expect((await api.call('GET', '/whoami')).status).toBe(200);
  });

  it('limits POST /jobs per minute per client, with Retry-After', async () => {
    const c = await limited('Eager', { jobsPerMinute: 2 });
    const { body: a } = await api.call('POST', '/assets', { url: 'https://jobs.rate.test/' }, c.apiKey);
    const post = (key: string | undefined = c.apiKey) => api.call('POST', '/jobs', { assetIds: [a.id] }, key);
    expect((await post()).status).toBe(202);
    expect((await post()).status).toBe(202);
    const third = await post();
    expect(third.status).toBe(429);
    expect(third.body).toMatchObject({ code: 'WEBMON_ERR_RATE_LIMITED', message: expect.stringMatching(/POST \/jobs: at most 2 per minute/) });
    const after = Number(third.headers['retry-after']);
    expect(after).toBeGreaterThan(0);
    expect(after).toBeLessThanOrEqual(60);
    expect((await api.call('GET', `/assets/${a.id}`, undefined, c.apiKey)).status).toBe(200); // other routes go on
    for (let i = 0; i < 4; i++) expect((await api.call('POST', '/jobs', { assetIds: [a.id] })).status).toBe(202); // the admin
  });

  it('counts POST /jobs against the per-second rate too', async () => {
    const c = await limited('Bursty', { requestsPerSecond: 2, jobsPerMinute: 1000 });
    const { body: a } = await api.call('POST', '/assets', { url: 'https://burst.rate.test/' }, c.apiKey);
    let res = await api.call('POST', '/jobs', { assetIds: [a.id] }, c.apiKey);
    for (let i = 0; i < 50 && res.status !== 429; i++) res = await api.call('POST', '/jobs', { assetIds: [a.id] }, c.apiKey);
    expect(res.status).toBe(429);
    expect(res.body.message).toMatch(/at most 2 per second/);
    expect(res.headers['retry-after']).toBeDefined();
  });
});
