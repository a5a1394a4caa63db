import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pull } from 'zeromq';
import {
  ClientStore,
  ERROR_CODES,
  JobStore,
  connectRedis,
  jobPolicy,
  createLogger,
  decode,
  freePort,
  loadConfig,
  startHeartbeat,
  type Config,
} from '@webmon/core';
import { registry } from '@webmon/plugin-registry';
import { testRedis, type TestRedis } from '../../test/helpers/redis.js';
import { buildApi, type App } from './app.js';
import { JobPusher } from './pusher.js';

const ADMIN = 'admin-key-for-tests-0123456789';
const log = createLogger({ level: 'silent', role: 'api' });

let t: TestRedis;
let app: App;
let config: Readonly<Config>;
let pull: Pull;
let pusher: JobPusher;
let clientKey: string;
let otherKey: string;

const auth = (key = ADMIN) => ({ authorization: `Bearer ${key}` });

async function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, key: string | null = ADMIN) {
  const res = await app.inject({ method, url, headers: key ? auth(key) : {}, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, headers: res.headers };
}

beforeAll(async () => {
  t = await testRedis('api');
  const frontend = `tcp://127.0.0.1:${await freePort()}`;
  config = loadConfig({
    env: {},
    overrides: {
      redis: { keyPrefix: t.prefix },
      api: { adminKey: ADMIN, maxBatch: 2000, bodyLimit: 1_000_000 },
      zmq: { frontend },
      policy: { denyHosts: ['*.internal.test'], denyCidrs: ['169.254.0.0/16'] },
      snapshots: { afterWrites: 'off' },
      tenants: { limits: { maxMaintenanceWindows: 2, maxIdsPerWindow: 3, maxOneOffWindowSec: 3600 } },
    },
  });
  pull = new Pull();
  await pull.bind(frontend);
  pusher = new JobPusher(frontend, 1000, log);
  const redis = connectRedis({ url: t.url, failFast: true });
  await redis.connect();
  app = await buildApi({ config, redis, log, registry, jobs: pusher });
  const clients = new ClientStore(t.redis, t.keys, undefined);
  clientKey = (await clients.create('client one')).apiKey;
  otherKey = (await clients.create('client two')).apiKey;
});

afterAll(async () => {
  await app.close();
  await pusher.close();
  pull.close();
  await t.cleanup();
});

describe('authentication', () => {
  it('requires a key on every route but /health and /docs', async () => {
    for (const [method, url] of [
      ['GET', '/assets'],
      ['POST', '/assets'],
      ['GET', '/assets/abc'],
      ['GET', '/jobs/abc'],
      ['GET', '/plugins'],
    ] as const) {
      const res = await call(method, url, method === 'POST' ? { url: 'http://x.test/' } : undefined, null);
      expect(res.status, `${method} ${url}`).toBe(401);
      expect(res.body.code).toBe('WEBMON_ERR_UNAUTHORIZED');
    }
    expect((await call('GET', '/assets', undefined, 'not-a-key')).body.code).toBe('WEBMON_ERR_UNAUTHORIZED');
    const viaHeader = await app.inject({ method: 'GET', url: '/assets', headers: { 'x-api-key': ADMIN } });
    expect(viaHeader.statusCode).toBe(200);
    expect((await call('GET', '/health', undefined, null)).status).toBeOneOf([200, 503]);
    const docs = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(docs.statusCode).toBe(200);
    const spec = JSON.parse(docs.body);
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/assets', '/assets/batch', '/assets/{id}', '/jobs', '/jobs/{id}', '/health', '/plugins']));
  });

  it('keeps clients apart: another client\'s asset is not found', async () => {
    const mine = await call('POST', '/assets', { url: 'http://tenant.test/' }, clientKey);
    expect(mine.status).toBe(201);
    expect(mine.body.owner).not.toBe('admin');
    const id = mine.body.id;
    expect((await call('GET', `/assets/${id}`, undefined, otherKey)).body.code).toBe('WEBMON_ERR_ASSET_NOT_FOUND');
    expect((await call('PATCH', `/assets/${id}`, { interval: 60 }, otherKey)).status).toBe(404);
    expect((await call('DELETE', `/assets/${id}`, undefined, otherKey)).status).toBe(404);
    expect((await call('POST', '/jobs', { assetIds: [id] }, otherKey)).body.errors[0].error.code).toBe('WEBMON_ERR_ASSET_NOT_FOUND');
    expect((await call('GET', '/assets', undefined, otherKey)).body.items).toEqual([]);
    expect((await call('GET', `/assets/${id}`, undefined, clientKey)).status).toBe(200);
    // The admin sees the whole fleet.
    expect((await call('GET', `/assets/${id}`)).status).toBe(200);
    // The same URL for another client is a different asset.
    const theirs = await call('POST', '/assets', { url: 'http://tenant.test/' }, otherKey);
    expect(theirs.status).toBe(201);
    expect(theirs.body.id).not.toBe(id);
  });
});

describe('assets', () => {
  it('creates with defaults, and returns the existing asset for the same URL', async () => {
    const res = await call('POST', '/assets', { url: 'HTTP://Create.Test:80/a#x', tags: ['b', 'a', 'b'], interval: 60 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      url: 'http://create.test/a',
      owner: 'admin',
      plugins: ['http', 'htmlstats'],
      interval: 60,
      tags: ['a', 'b'],
      paused: false,
      state: 'unknown',
      lastCheckAt: null,
    });
    expect(res.body.config.http).toMatchObject({ method: 'GET', expectedStatus: '200-399', maxRedirects: 5 });
    expect(res.body.config.htmlstats).toMatchObject({ window: 30, minSamples: 5, warnZ: 3, errorZ: 5 });
    expect(Date.parse(res.body.createdAt)).toBeGreaterThan(0);
    const again = await call('POST', '/assets', { url: 'http://create.test/a' });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(res.body.id);
  });

  it('marks an asset no plugin can check as unsupported', async () => {
    const res = await call('POST', '/assets', { url: 'gopher://old.test/1' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ plugins: [], state: 'unsupported', stateReason: expect.stringContaining('gopher') });
  });

  it('adds an opt-in plugin only when named: domain on web assets, by default on domain: ones', async () => {
    const web = await call('POST', '/assets', { url: 'https://optin.test/', plugins: ['http', 'domain'], config: { domain: { warnDays: 45 } } });
    expect(web.status).toBe(201);
    expect(web.body).toMatchObject({ plugins: ['http', 'domain'], state: 'unknown' });
    expect(web.body.config.domain).toMatchObject({ warnDays: 45, errorDays: 7, refreshHours: 12 });
    const plain = await call('POST', '/assets', { url: 'https://optin-default.test/' });
    expect(plain.body.plugins).toEqual(['http', 'htmlstats']);
    const domain = await call('POST', '/assets', { url: 'domain://Optin.Test' });
    expect(domain.body).toMatchObject({ url: 'domain://optin.test', plugins: ['domain'], state: 'unknown' });
    const tcp = await call('POST', '/assets', { url: 'tcp://optin.test:22', plugins: ['domain'] });
    expect(tcp.body).toMatchObject({ code: 'WEBMON_ERR_PLUGIN_SCHEME', message: 'plugins: plugin "domain" does not handle tcp: URLs (it handles domain, http, https)' });
    const listed = (await call('GET', '/plugins')).body.find((p: { name: string }) => p.name === 'domain');
    expect(listed).toMatchObject({ schemes: ['domain'], optInSchemes: ['http', 'https'] });
  });

  it('marks an asset the host policy denies as unsupported, with the reason', async () => {
    const denied = await call('POST', '/assets', { url: 'http://db.internal.test/' });
    expect(denied.status).toBe(201);
    expect(denied.body).toMatchObject({ state: 'unsupported', stateReason: 'host db.internal.test is denied (policy.denyHosts)' });
    const metadata = await call('POST', '/assets', { url: 'http://169.254.169.254/latest/meta-data/' });
    expect(metadata.body).toMatchObject({ state: 'unsupported', stateReason: expect.stringContaining('denied range') });
    // Moving it to an admitted host makes it checkable again.
    const moved = await call('PATCH', `/assets/${denied.body.id}`, { url: 'http://db.public.test/' });
    expect(moved.body).toMatchObject({ state: 'unknown', stateReason: 'url changed' });
  });

  it.each([
    ['wrong type', { url: 5 }, 'WEBMON_ERR_VALIDATION', /body\.url/],
    ['missing url', { tags: [] }, 'WEBMON_ERR_VALIDATION', /url/],
    ['unknown field', { url: 'http://a.test/', colour: 'red' }, 'WEBMON_ERR_VALIDATION', /body\.colour/],
    ['string interval', { url: 'http://a.test/', interval: '60' }, 'WEBMON_ERR_VALIDATION', /body\.interval/],
    ['interval below minimum', { url: 'http://a.test/', interval: 5 }, 'WEBMON_ERR_VALIDATION', /interval: must be at least 10/],
    ['bad tag', { url: 'http://a.test/', tags: ['has space'] }, 'WEBMON_ERR_VALIDATION', /body\.tags\.0/],
    ['no scheme', { url: 'example.com/x' }, 'WEBMON_ERR_INVALID_URL', /no scheme/],
    ['credentials in URL', { url: 'ftp://user:pw@a.test/' }, 'WEBMON_ERR_INVALID_URL', /credentials/],
    ['tcp without port', { url: 'tcp://a.test' }, 'WEBMON_ERR_INVALID_URL', /port/],
    ['unknown plugin', { url: 'http://a.test/', plugins: ['nope'] }, 'WEBMON_ERR_UNKNOWN_PLUGIN', /nope/],
    ['plugin for another scheme', { url: 'ftp://a.test/', plugins: ['http'] }, 'WEBMON_ERR_PLUGIN_SCHEME', /does not handle ftp/],
    ['unknown plugin option', { url: 'http://a.test/', config: { http: { colour: 1 } } }, 'WEBMON_ERR_PLUGIN_CONFIG', /config\.http\.colour/],
    ['wrong option type', { url: 'http://a.test/', config: { http: { timeoutMs: 'soon' } } }, 'WEBMON_ERR_PLUGIN_CONFIG', /config\.http\.timeoutMs/],
    ['config for a plugin not enabled', { url: 'gopher://a.test/', config: { http: {} } }, 'WEBMON_ERR_PLUGIN_CONFIG', /not enabled/],
    ['config for an unknown plugin', { url: 'http://a.test/', config: { zzz: {} } }, 'WEBMON_ERR_UNKNOWN_PLUGIN', /config\.zzz/],
  ])('rejects %s', async (_name, body, code, message) => {
    const res = await call('POST', '/assets', body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ statusCode: 400, code, error: expect.any(String) });
    expect(res.body.message).toMatch(message);
  });

  it('rejects malformed JSON, oversized bodies and other content types', async () => {
    const bad = await app.inject({ method: 'POST', url: '/assets', headers: { ...auth(), 'content-type': 'application/json' }, payload: '{"url": ' });
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body).code).toBe('WEBMON_ERR_INVALID_JSON');
    const big = await app.inject({
      method: 'POST',
      url: '/assets',
      headers: { ...auth(), 'content-type': 'application/json' },
      payload: JSON.stringify({ url: `http://a.test/${'x'.repeat(1_100_000)}` }),
    });
    expect(big.statusCode).toBe(413);
    expect(JSON.parse(big.body).code).toBe('WEBMON_ERR_BODY_TOO_LARGE');
    const text = await app.inject({ method: 'POST', url: '/assets', headers: { ...auth(), 'content-type': 'text/plain' }, payload: 'http://a.test/' });
    expect(text.statusCode).toBe(415);
    expect(JSON.parse(text.body).code).toBe('WEBMON_ERR_UNSUPPORTED_MEDIA_TYPE');
  });

  it('creates a batch of 1,000+ and reports each bad item by index', async () => {
    const items: unknown[] = [];
    for (let i = 0; i < 1200; i++) items.push({ url: `http://batch${i}.test/`, tags: ['batch'] });
    items[7] = { url: 'not a url' };
    items[500] = { url: 'http://a.test/', plugins: ['nope'] };
    items[900] = 'just a string';
    items[901] = { url: 'http://batch0.test/' }; // duplicate of item 0
    const res = await call('POST', '/assets/batch', { assets: items });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ created: 1196, existing: 1, failed: 3 });
    expect(res.body.items).toHaveLength(1200);
    expect(res.body.items[7].error).toMatchObject({ code: 'WEBMON_ERR_INVALID_URL', message: expect.stringContaining('assets.7') });
    expect(res.body.items[500].error.code).toBe('WEBMON_ERR_UNKNOWN_PLUGIN');
    expect(res.body.items[900].error).toMatchObject({ code: 'WEBMON_ERR_VALIDATION', message: expect.stringContaining('assets.900') });
    expect(res.body.items[901]).toMatchObject({ created: false, id: res.body.items[0].id });

    const tooMany = await call('POST', '/assets/batch', { assets: new Array(2001).fill({ url: 'http://a.test/' }) });
    expect(tooMany.body.code).toBe('WEBMON_ERR_BATCH_TOO_LARGE');
    expect((await call('POST', '/assets/batch', { assets: [] })).body.code).toBe('WEBMON_ERR_VALIDATION');
    expect((await call('POST', '/assets/batch', [{ url: 'http://a.test/' }])).body.code).toBe('WEBMON_ERR_VALIDATION');

    // Pagination returns every batch asset exactly once.
    const seen = new Set<string>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { body: { items: Array<{ id: string }>; nextCursor: string | null } } = await call('GET', `/assets?tag=batch&limit=250${cursor ? `&cursor=${cursor}` : ''}`);
      for (const a of page.body.items) {
        expect(seen.has(a.id)).toBe(false);
        seen.add(a.id);
      }
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor && pages < 20);
    expect(seen.size).toBe(1196);
  });

  it('lists with filters and rejects bad query strings', async () => {
    const q = await call('GET', '/assets?q=BATCH11&limit=1000');
    expect(q.body.items.length).toBe(111); // batch11, batch110-119, batch1100-1199
    expect((await call('GET', '/assets?state=unsupported')).body.items.map((a: { url: string }) => a.url)).toContain('gopher://old.test/1');
    expect((await call('GET', '/assets?plugin=http&tag=nothing')).body).toEqual({ items: [], nextCursor: null });
    for (const qs of ['limit=0', 'limit=5000', 'limit=ten', 'state=sideways', 'cursor=abc', 'tag=a%20b', 'unknown=1']) {
      const res = await call('GET', `/assets?${qs}`);
      expect(res.status, qs).toBe(400);
      expect(['WEBMON_ERR_VALIDATION', 'WEBMON_ERR_INVALID_CURSOR']).toContain(res.body.code);
    }
  });

  it('resets what a plugin learned, and only for plugins that learn', async () => {
    const { body: a } = await call('POST', '/assets', { url: 'http://learn.test/' });
    const windowKey = `${t.prefix}:asset:${a.id}:plugin:htmlstats:window`;
    await t.redis.rpush(windowKey, '{"bytes":1}');
    await t.redis.sadd(`${t.prefix}:asset:${a.id}:pluginkeys`, windowKey);
    expect((await call('POST', `/assets/${a.id}/plugins/htmlstats/reset`)).status).toBe(204);
    expect(await t.redis.exists(windowKey)).toBe(0);
    expect((await call('POST', `/assets/${a.id}/plugins/http/reset`)).body).toMatchObject({ code: 'WEBMON_ERR_PLUGIN_CONFIG', message: expect.stringContaining('nothing to reset') });
    expect((await call('POST', `/assets/${a.id}/plugins/warp/reset`)).body.code).toBe('WEBMON_ERR_UNKNOWN_PLUGIN');
    expect((await call('POST', `/assets/${a.id}/plugins/tcp/reset`)).body.message).toMatch(/not enabled/);
    expect((await call('POST', '/assets/nope/plugins/htmlstats/reset')).body.code).toBe('WEBMON_ERR_ASSET_NOT_FOUND');
    // A new URL is a new page: what was learned about the old one is dropped.
    await t.redis.rpush(windowKey, '{"bytes":1}');
    await t.redis.sadd(`${t.prefix}:asset:${a.id}:pluginkeys`, windowKey);
    await call('PATCH', `/assets/${a.id}`, { tags: ['x'] });
    expect(await t.redis.exists(windowKey)).toBe(1);
    await call('PATCH', `/assets/${a.id}`, { url: 'http://learn.test/other' });
    expect(await t.redis.exists(windowKey)).toBe(0);
  });

  it('gets, updates and deletes', async () => {
    const { body: a } = await call('POST', '/assets', { url: 'http://crud.test/', tags: ['one'] });
    expect((await call('GET', `/assets/${a.id}`)).body.url).toBe('http://crud.test/');
    const patched = await call('PATCH', `/assets/${a.id}`, { tags: ['two'], config: { http: { expectedStatus: '200' } }, paused: true });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ tags: ['two'], paused: true, state: 'paused', config: { http: { expectedStatus: '200', method: 'GET' } } });
    expect((await call('PATCH', `/assets/${a.id}`, {})).body.code).toBe('WEBMON_ERR_VALIDATION');
    expect((await call('PATCH', `/assets/${a.id}`, { interval: -1 })).body.code).toBe('WEBMON_ERR_VALIDATION');
    expect((await call('PATCH', `/assets/${a.id}`, { url: 'nope' })).body.code).toBe('WEBMON_ERR_INVALID_URL');
    expect((await call('PATCH', `/assets/${a.id}`, { config: { http: { maxRedirects: 'many' } } })).body.code).toBe('WEBMON_ERR_PLUGIN_CONFIG');
    const other = await call('POST', '/assets', { url: 'http://crud2.test/' });
    expect((await call('PATCH', `/assets/${other.body.id}`, { url: 'http://crud.test' })).body.code).toBe('WEBMON_ERR_ASSET_EXISTS');
    // A failed update changed nothing.
    expect((await call('GET', `/assets/${a.id}`)).body).toMatchObject({ tags: ['two'], config: { http: { expectedStatus: '200' } } });
    const stats = await call('GET', `/assets/${a.id}/stats`);
    expect(stats.body).toMatchObject({ assetId: a.id, checks: 0, successes: 0, failures: 0, latest: {} });
    expect((await call('DELETE', `/assets/${a.id}`)).status).toBe(204);
    expect((await call('GET', `/assets/${a.id}`)).body.code).toBe('WEBMON_ERR_ASSET_NOT_FOUND');
    expect((await call('DELETE', `/assets/${a.id}`)).body.code).toBe('WEBMON_ERR_ASSET_NOT_FOUND');
    expect((await call('GET', `/assets/${a.id}/stats`)).status).toBe(404);
    expect((await call('GET', '/assets/bad$id')).body.code).toBe('WEBMON_ERR_VALIDATION');
  });
});

describe('jobs', () => {
  it('stores jobs, then pushes their ids to the dispatcher frontend', async () => {
    const { body: a } = await call('POST', '/assets', { url: 'http://job.test/' });
    const res = await call('POST', '/jobs', { assetIds: [a.id, 'missing1'], priority: 7 });
    expect(res.status).toBe(202);
    expect(res.body.jobs).toEqual([{ id: expect.any(String), assetId: a.id }]);
    expect(res.body.errors).toEqual([{ index: 1, assetId: 'missing1', error: expect.objectContaining({ code: 'WEBMON_ERR_ASSET_NOT_FOUND' }) }]);
    const frames = await pull.receive();
    expect(decode(frames)).toEqual({ type: 'JOBS', priority: 7, ids: [res.body.jobs[0].id] });
    const job = await call('GET', `/jobs/${res.body.jobs[0].id}`);
    expect(job.body).toMatchObject({ id: res.body.jobs[0].id, assetId: a.id, status: 'queued', priority: 7, attempts: 0, results: null });
  });

  it('selects assets by filter', async () => {
    const res = await call('POST', '/jobs', { filter: { q: 'batch119' } });
    expect(res.status).toBe(202);
    expect(res.body.jobs).toHaveLength(11);
    const frames = await pull.receive();
    expect(decode(frames)).toMatchObject({ type: 'JOBS', priority: 0, ids: res.body.jobs.map((j: { id: string }) => j.id) });
    const more = await call('POST', '/assets/batch', { assets: Array.from({ length: 900 }, (_, i) => ({ url: `http://more${i}.test/` })) });
    expect(more.body.created).toBe(900);
    const all = await call('POST', '/jobs', { filter: {} });
    expect(all.status).toBe(400);
    expect(all.body.code).toBe('WEBMON_ERR_BATCH_TOO_LARGE');
  });

  it.each([
    [{}, /either assetIds or filter/],
    [{ assetIds: ['a'], filter: {} }, /either assetIds or filter/],
    [{ assetIds: [] }, /assetIds/],
    [{ assetIds: ['a'], priority: 12 }, /priority/],
    [{ assetIds: 'a' }, /assetIds/],
    [{ filter: { state: 'sideways' } }, /state/],
  ])('rejects %j', async (body, message) => {
    const res = await call('POST', '/jobs', body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('WEBMON_ERR_VALIDATION');
    expect(res.body.message).toMatch(message);
  });

  it('lists failed jobs and retries them', async () => {
    const { body: a } = await call('POST', '/assets', { url: 'http://fails.test/' });
    const pushed = await call('POST', '/jobs', { assetIds: [a.id] });
    await pull.receive();
    const id = pushed.body.jobs[0].id;
    // An executor that hits a system fault on its only attempt.
    const store = new JobStore(t.redis, t.keys, t.scripts, { ...jobPolicy(config), maxAttempts: 1 });
    expect((await store.claim(id, 'tok', 10_000)).claimed).toBe(true);
    expect(await store.fail(id, 'tok', 'disk on fire')).toBe('failed');

    const failed = await call('GET', '/jobs/failed?limit=10');
    expect(failed.body.items.map((j: { id: string }) => j.id)).toContain(id);
    expect(failed.body.items.find((j: { id: string }) => j.id === id)).toMatchObject({ status: 'failed', error: 'disk on fire' });
    expect((await call('GET', '/jobs/failed', undefined, otherKey)).body.items).toEqual([]);
    expect((await call('POST', `/jobs/${id}/retry`, undefined, otherKey)).body.code).toBe('WEBMON_ERR_JOB_NOT_FOUND');
    const retried = await call('POST', `/jobs/${id}/retry`);
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ id, status: 'queued', attempts: 0 });
    expect(decode(await pull.receive())).toMatchObject({ type: 'JOBS', ids: [id] });
    expect((await call('POST', `/jobs/${id}/retry`)).body.code).toBe('WEBMON_ERR_JOB_NOT_FAILED');
    expect((await call('GET', '/jobs/failed?limit=0')).body.code).toBe('WEBMON_ERR_VALIDATION');
  });

  it('answers 404 for unknown jobs and routes', async () => {
    expect((await call('GET', '/jobs/nope')).body.code).toBe('WEBMON_ERR_JOB_NOT_FOUND');
    const res = await call('GET', '/no/such/route');
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('WEBMON_ERR_ROUTE_NOT_FOUND');
  });
});

describe('health', () => {
  it('reports the dispatcher only once it beats', async () => {
    const before = await call('GET', '/health', undefined, null);
    expect(before.status).toBe(503);
    expect(before.body).toMatchObject({ status: 'degraded', redis: { ok: true }, dispatcher: { ok: false, instances: 0 } });
    const hb = startHeartbeat(t.redis, t.keys, 'dispatcher', 'test-dispatcher');
    await new Promise((r) => setTimeout(r, 50));
    const after = await call('GET', '/health', undefined, null);
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ status: 'ok', dispatcher: { ok: true, instances: 1 } });
    await hb.stop();
  });

  it('answers 503 with a stable code while Redis is unreachable, without crashing', async () => {
    const deadPort = await freePort();
    const redis = connectRedis({ url: `redis://127.0.0.1:${deadPort}`, failFast: true });
    const down = await buildApi({ config, redis, log, registry, jobs: pusher });
    const res = await down.inject({ method: 'GET', url: '/assets', headers: auth() });
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body).code).toBe('WEBMON_ERR_STORE_UNAVAILABLE');
    expect(res.headers['retry-after']).toBe('5');
    const health = await down.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(503);
    expect(JSON.parse(health.body).redis.ok).toBe(false);
    await down.close();
    redis.disconnect();
  });
});

/** Sends raw bytes to the listening app and returns the whole answer once the server closes. */
function rawRequest(port: number, text: string | Buffer): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer within 10 s'));
    }, 10_000);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => undefined); // a reset after the answer is fine
    socket.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks).toString('latin1');
      const [head = '', body = ''] = all.split('\r\n\r\n', 2);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), headers: head.toLowerCase(), body });
    });
    socket.write(text);
  });
}

function expectCatalogBody(body: unknown, status: number, code: string) {
  expect(body).toEqual({ statusCode: status, code, error: expect.any(String), message: expect.any(String) });
  expect(ERROR_CODES).toContain(code);
}

describe('framework and client errors in the catalog format', () => {
  it.each([
    ['unknown route', 'GET', '/nope', undefined, {}, 404, 'WEBMON_ERR_ROUTE_NOT_FOUND'],
    ['unknown method on a known path', 'PURGE', '/assets', undefined, {}, 404, 'WEBMON_ERR_ROUTE_NOT_FOUND'],
    ['known method, path without it', 'DELETE', '/assets', undefined, {}, 404, 'WEBMON_ERR_ROUTE_NOT_FOUND'],
    ['too long a path parameter', 'GET', `/assets/${'a'.repeat(201)}`, undefined, {}, 414, 'WEBMON_ERR_URI_TOO_LONG'],
    ['too long a path segment on no route', 'GET', `/nope/${'a'.repeat(300)}`, undefined, {}, 414, 'WEBMON_ERR_URI_TOO_LONG'],
    ['too long a URL', 'GET', `/assets?q=${'a'.repeat(9000)}`, undefined, {}, 414, 'WEBMON_ERR_URI_TOO_LONG'],
    ['bad percent-encoding in a path parameter', 'GET', '/assets/%E0%A4%A', undefined, {}, 400, 'WEBMON_ERR_BAD_REQUEST'],
    ['empty JSON body', 'POST', '/assets', '', { 'content-type': 'application/json' }, 400, 'WEBMON_ERR_INVALID_JSON'],
    ['prototype poisoning', 'POST', '/assets', '{"url":"http://p.test/","__proto__":{"x":1}}', { 'content-type': 'application/json' }, 400, 'WEBMON_ERR_INVALID_JSON'],
    ['text body on a route without a body', 'POST', '/jobs/abc/retry', 'x', { 'content-type': 'text/plain' }, 415, 'WEBMON_ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['text body on DELETE', 'DELETE', '/assets/abc', 'x', { 'content-type': 'text/plain' }, 415, 'WEBMON_ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['unknown content type', 'PATCH', '/assets/abc', '<a/>', { 'content-type': 'application/xml' }, 415, 'WEBMON_ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['a body too large', 'PUT', '/clients/abc/webhook', JSON.stringify({ url: 'x'.repeat(1_100_000) }), { 'content-type': 'application/json' }, 413, 'WEBMON_ERR_BODY_TOO_LARGE'],
  ] as const)('%s', async (_name, method, url, payload, headers, status, code) => {
    const res = await app.inject({ method, url, headers: { ...auth(), ...headers }, ...(payload === undefined ? {} : { payload }) });
    expect(res.statusCode).toBe(status);
    expectCatalogBody(JSON.parse(res.body), status, code);
    expect(res.body).not.toContain('FST_');
  });

  it('answers what the HTTP parser refuses (431, 414, 400) as JSON and closes the connection', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const cases: Array<[string, string, number, string]> = [
      ['headers too large', `GET /assets HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'WEBMON_ERR_HEADERS_TOO_LARGE'],
      ['request line too long', `GET /assets?q=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414, 'WEBMON_ERR_URI_TOO_LONG'],
      ['malformed request line', 'HELLO THERE\r\n\r\n', 400, 'WEBMON_ERR_BAD_REQUEST'],
      ['invalid header', 'GET /assets HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n', 400, 'WEBMON_ERR_BAD_REQUEST'],
      ['URL between 8 and 16 KiB', `GET /assets?q=${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 414, 'WEBMON_ERR_URI_TOO_LONG'],
      ['path parameter too long', `GET /jobs/${'j'.repeat(300)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 414, 'WEBMON_ERR_URI_TOO_LONG'],
    ];
    for (const [name, request, status, code] of cases) {
      const res = await rawRequest(port, request);
      expect(res.status, name).toBe(status);
      expect(res.headers, name).toContain('content-type: application/json');
      expectCatalogBody(JSON.parse(res.body), status, code);
    }
    const overflow = await rawRequest(port, `GET /assets HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(overflow.headers).toContain('connection: close');
  });

  it('lists every status each route can answer in OpenAPI, with the shared error schema', async () => {
    const spec = JSON.parse((await app.inject({ method: 'GET', url: '/docs/json' })).body) as {
      paths: Record<string, Record<string, { security?: unknown[]; parameters?: Array<{ in: string }>; requestBody?: unknown; responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>;
      components: { schemas: Record<string, unknown> };
    };
    let routes = 0;
    for (const [path, ops] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        routes++;
        const codes = Object.keys(op.responses);
        const where = `${method.toUpperCase()} ${path}`;
        expect(codes.some((c) => c.startsWith('2')), where).toBe(true);
        const open = Array.isArray(op.security) && op.security.length === 0; // /health, public /metrics
        if (!open) expect(codes, where).toEqual(expect.arrayContaining(['401', '403', '429', '503']));
        else expect(codes, where).not.toContain('401');
        if (path.includes('{')) expect(codes, where).toContain('404');
        if (['post', 'put', 'patch', 'delete'].includes(method)) expect(codes, where).toEqual(expect.arrayContaining(['400', '413', '415']));
        for (const code of codes.filter((c) => Number(c) >= 400 && !(path === '/health' && c === '503'))) {
          const schema = op.responses[code]!.content?.['application/json']?.schema as { $ref?: string; properties?: Record<string, unknown> };
          expect(schema.$ref ?? JSON.stringify(schema), `${where} ${code}`).toMatch(/Error/);
        }
      }
    }
    expect(routes).toBeGreaterThan(20);
    expect(spec.paths['/metrics']!.get!.responses['200']!.content).toHaveProperty(['text/plain']);
    // The text body of /metrics is sent as is, not as a JSON string.
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body.startsWith('#')).toBe(true);
  });
});

describe('maintenance windows of clients', () => {
  const inAnHour = () => ({ start: new Date(Date.now() - 1000).toISOString(), end: new Date(Date.now() + 3_000_000).toISOString() });

  it('counts windows and ids against the client quotas (429), the admin unlimited', async () => {
    const c = await new ClientStore(t.redis, t.keys, undefined).create('quota co');
    const key = c.apiKey;
    const first = await call('POST', '/maintenance', { reason: 'a', tags: ['x'], ...inAnHour() }, key);
    expect(first.status).toBe(201);
    expect((await call('POST', '/maintenance', { reason: 'b', tags: ['y'], ...inAnHour() }, key)).status).toBe(201);
    const third = await call('POST', '/maintenance', { reason: 'c', tags: ['z'], ...inAnHour() }, key);
    expect(third.status).toBe(429);
    expect(third.body).toMatchObject({ code: 'WEBMON_ERR_QUOTA_EXCEEDED', details: { limit: 2, value: 2 } });
    expect(third.headers['retry-after']).toBeUndefined();
    expect((await call('DELETE', `/maintenance/${first.body.id}`, undefined, key)).status).toBe(204);
    const many = await call('POST', '/maintenance', { reason: 'd', tags: ['a', 'b', 'c', 'd'], ...inAnHour() }, key);
    expect(many.status).toBe(429);
    expect(many.body).toMatchObject({ code: 'WEBMON_ERR_QUOTA_EXCEEDED', details: { limit: 3, value: 4 } });
    const tooLong = await call('POST', '/maintenance', { reason: 'e', tags: ['a'], start: new Date().toISOString(), end: new Date(Date.now() + 7_200_000).toISOString() }, key);
    expect(tooLong.body).toMatchObject({ statusCode: 400, code: 'WEBMON_ERR_VALIDATION', message: expect.stringMatching(/^body\.end: .*3600/) });
    for (let i = 0; i < 4; i++) {
      const res = await call('POST', '/maintenance', { reason: `admin ${i}`, tags: ['a', 'b', 'c', 'd'], start: new Date().toISOString(), end: new Date(Date.now() + 86_400_000 * 60).toISOString() });
      expect(res.status).toBe(201);
      await call('DELETE', `/maintenance/${res.body.id}`);
    }
  });

  it("refuses another tenant's asset ids, naming their index", async () => {
    const mine = await call('POST', '/assets', { url: 'http://maint-mine.test/' }, clientKey);
    const theirs = await call('POST', '/assets', { url: 'http://maint-theirs.test/' }, otherKey);
    const res = await call('POST', '/maintenance', { reason: 'x', assetIds: [mine.body.id, theirs.body.id, 'missing'], ...inAnHour() }, clientKey);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'WEBMON_ERR_VALIDATION', message: `body.assetIds.1: no asset ${theirs.body.id} of yours` });
    expect(res.body.details.problems.map((p: { field: string }) => p.field)).toEqual(['body.assetIds.1', 'body.assetIds.2']);
    expect((await call('GET', `/assets/${theirs.body.id}`, undefined, otherKey)).body.state).not.toBe('maintenance');
  });

  it('makes maintenance a real state: listed, counted in /stats and /metrics, and left when the window ends', async () => {
    const c = await new ClientStore(t.redis, t.keys, undefined).create('state co');
    const key = c.apiKey;
    const a = await call('POST', '/assets', { url: 'http://maint-state-a.test/', tags: ['rack1'] }, key);
    const b = await call('POST', '/assets', { url: 'http://maint-state-b.test/' }, key);
    const gauge = async () => {
      const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      return Number(/^webmon_assets\{state="maintenance"\} (\d+)$/m.exec(text)?.[1] ?? -1);
    };
    const before = await gauge();
    const end = Date.now() + 1500;
    const w = await call('POST', '/maintenance', { reason: 'rack move', tags: ['rack1'], assetIds: [b.body.id], start: new Date(Date.now() - 1000).toISOString(), end: new Date(end).toISOString() }, key);
    expect(w.status).toBe(201);
    const listed = await call('GET', '/assets?state=maintenance', undefined, key);
    expect(listed.body.items.map((x: { id: string }) => x.id).sort()).toEqual([a.body.id, b.body.id].sort());
    expect(listed.body.items[0]).toMatchObject({ state: 'maintenance', stateReason: 'maintenance: rack move' });
    expect((await call('GET', '/assets?state=unknown', undefined, key)).body.items).toEqual([]);
    expect((await call('GET', '/stats', undefined, key)).body.assetsByState).toMatchObject({ maintenance: 2, unknown: 0 });
    expect(await gauge()).toBe(before + 2);
    // After the end: the one-off window is gone and the states are what the checks gave.
    await new Promise((r) => setTimeout(r, Math.max(0, end - Date.now()) + 50));
    expect((await call('GET', '/assets?state=maintenance', undefined, key)).body.items).toEqual([]);
    expect((await call('GET', '/stats', undefined, key)).body.assetsByState).toMatchObject({ maintenance: 0, unknown: 2 });
    expect((await call('GET', `/assets/${a.body.id}`, undefined, key)).body).toMatchObject({ state: 'unknown', stateReason: null });
    expect((await call('GET', '/maintenance', undefined, key)).body.items).toEqual([]);
    expect(await gauge()).toBe(before);
  });
});
