/**
 * Egress as a hostile client would try it, against real `webmon` processes (api, dispatcher,
 * executor) and the shared Redis: checks aimed at webmon's own Redis and ZeroMQ ports, at cloud
 * metadata, at loopback in every spelling, through a redirect from an allowed host, and through
 * a name that resolves to loopback; webhooks to private addresses. Each is refused with a clear
 * reason (the asset `unsupported`, the webhook refused or its delivery failed as `denied`)
 * while the admin's own loopback check in the same deployment is up.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientStore, OwnerEgress } from '@webmon/core';
import { WebhookStore } from '@webmon/notifier';
import { client, startRoles, startTarget, type Proc, type Target } from './helpers/processes.js';
import { testRedis, type TestRedis } from './helpers/redis.js';

const KEY = 'security-admin-key-0123456789abcdef';
const SECRET = 'receiver-shared-secret-0123';
let t: TestRedis;
let target: Target;
let redirector: Server;
let redirectorUrl: string;
let receiver: Server;
let receiverUrl: string;
const received: string[] = [];
let frontendPort: string;
const procs: Proc[] = [];
let admin: ReturnType<typeof client>;
let tenant: { id: string; api: ReturnType<typeof client> };
let allowed: { id: string; api: ReturnType<typeof client> };

async function listen(server: Server, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return `http://${host}:${(server.address() as { port: number }).port}`;
}

async function newClient(name: string): Promise<{ id: string; api: ReturnType<typeof client>; apiKey: string }> {
  const res = await admin.call('POST', '/clients', { name });
  expect(res.status).toBe(201);
  return { id: res.body.client.id, apiKey: res.body.apiKey, api: client(apiUrl, res.body.apiKey) };
}

let apiUrl: string;

beforeAll(async () => {
  t = await testRedis('security');
  target = await startTarget();
  // On 127.0.0.2, a range one client is allowed: /plain answers, anything else redirects to ?to=.
  redirector = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/plain') res.writeHead(200).end('plain');
    else if (url.pathname === '/big') res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(100_000));
    else res.writeHead(302, { location: url.searchParams.get('to') ?? '/plain' }).end();
  });
  redirectorUrl = await listen(redirector, '127.0.0.2');
  receiver = createServer((req, res) => {
    received.push(req.url ?? '');
    req.resume();
    res.writeHead(204).end();
  });
  receiverUrl = `${await listen(receiver, '127.0.0.1')}/hook`;

  const extraEnv = {
    WEBMON_NOTIFIER_BACKOFF_BASE_MS: '200',
    // This suite polls as a client; its subject is egress, not the request rate.
    WEBMON_TENANTS_LIMITS_REQUESTS_PER_SECOND: '10000',
  };
  const deployment = await startRoles(['dispatcher', 'executor', 'api'], { redisUrl: t.url, prefix: t.prefix, adminKey: KEY, extraEnv });
  apiUrl = deployment.apiUrl;
  frontendPort = new URL(deployment.env.WEBMON_ZMQ_FRONTEND!).port;
  procs.push(...deployment.procs);
  admin = client(apiUrl, KEY);
  tenant = await newClient('hostile');
  allowed = await newClient('allowed 127.0.0.2');
  // The admin allows 127.0.0.2/32 for the second client (client hash field, as PATCH /clients/:id stores it).
  await t.redis.hset(t.keys.client(allowed.id), 'allowCidrs', JSON.stringify(['127.0.0.2/32']));
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await Promise.all(
    [redirector, receiver].map(
      (s) =>
        new Promise<void>((resolve) => {
          if (!s?.listening) return resolve();
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
  await target?.close();
  await t?.cleanup();
});

async function created(who: ReturnType<typeof client>, url: string, body: Record<string, unknown> = {}): Promise<string> {
  const res = await who.call('POST', '/assets', { url, ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

/** Runs one check of the asset; returns the finished job (with its results). */
async function run(who: ReturnType<typeof client>, assetId: string): Promise<any> {
  const pushed = await who.call('POST', '/jobs', { assetIds: [assetId] });
  expect(pushed.status, JSON.stringify(pushed.body)).toBe(202);
  const job = await who.waitJob(pushed.body.jobs[0].id);
  expect(job.status).toBe('done');
  return job;
}

/** Creates the asset as `who`, runs one check, returns the asset as the API shows it afterwards. */
async function checked(who: ReturnType<typeof client>, url: string, body: Record<string, unknown> = {}): Promise<any> {
  const id = await created(who, url, body);
  await run(who, id);
  return (await who.call('GET', `/assets/${id}`)).body;
}

describe('a client cannot reach webmon or private addresses', () => {
  it("the admin's own loopback check is up", async () => {
    expect(await checked(admin, `${target.url}/ok`, { plugins: ['http'] })).toMatchObject({ state: 'up' });
  });

  it.each([
    ['tcp to the Redis port', () => `tcp://127.0.0.1:${new URL(t.url).port}`],
    ['tcp to the dispatcher frontend', () => `tcp://127.0.0.1:${frontendPort}`],
    ['http to the Redis port', () => `http://127.0.0.1:${new URL(t.url).port}/`],
    ['cloud metadata', () => 'http://169.254.169.254/latest/meta-data/'],
    ['0.0.0.0', () => `http://0.0.0.0:${new URL(target.url).port}/ok`],
    ['IPv4-mapped IPv6', () => `http://[::ffff:127.0.0.1]:${new URL(target.url).port}/ok`],
    ['an integer http host', () => `http://2130706433:${new URL(target.url).port}/ok`],
    ['an integer tcp host', () => `tcp://2130706433:${new URL(target.url).port}`],
    ['a name that resolves to loopback', () => `http://localhost:${new URL(target.url).port}/ok`],
  ])('%s is unsupported, with the refusal as its reason', async (_what, url) => {
    const before = target.hits.get('/ok') ?? 0;
    const asset = await checked(tenant.api, url());
    expect(asset).toMatchObject({ state: 'unsupported', stateReason: expect.stringMatching(/^denied: .*(loopback|linkLocal|unspecified|clients may not)/) });
    expect(target.hits.get('/ok') ?? 0).toBe(before);
  });

  it('a redirect from an allowed host to a denied one is unsupported (denied), and the denied host sees nothing', async () => {
    expect(await checked(allowed.api, `${redirectorUrl}/plain`, { plugins: ['http'] })).toMatchObject({ state: 'up' });
    const before = target.hits.get('/ok') ?? 0;
    const asset = await checked(allowed.api, `${redirectorUrl}/go?to=${encodeURIComponent(`${target.url}/ok`)}`, { plugins: ['http'] });
    expect(asset).toMatchObject({ state: 'unsupported', stateReason: expect.stringMatching(/^denied: redirect to http:\/\/127\.0\.0\.1:\d+ refused: .*loopback/) });
    expect(target.hits.get('/ok') ?? 0).toBe(before);
    // The client without the range cannot reach the allowed host itself.
    expect(await checked(tenant.api, `${redirectorUrl}/plain`, { plugins: ['http'] })).toMatchObject({ state: 'unsupported' });
  });

  it("reads a client's page only up to its body limit, set by the admin after the asset was created", async () => {
    const capped = await newClient('capped');
    await t.redis.hset(t.keys.client(capped.id), 'allowCidrs', JSON.stringify(['127.0.0.2/32']));
    const id = await created(capped.api, `${redirectorUrl}/big`, { plugins: ['http'], config: { http: { maxBodyBytes: 65_536 } } });
    await t.redis.hset(t.keys.client(capped.id), 'limits', JSON.stringify({ maxBodyBytes: 2048 }));
    const job = await run(capped.api, id);
    expect(job.results).toEqual([expect.objectContaining({ plugin: 'http', status: 'ok', metrics: expect.objectContaining({ bytes: 2048 }), details: expect.objectContaining({ truncated: true }) })]);
    // The admin's limit is the stored one.
    const own = await run(admin, await created(admin, `${redirectorUrl}/big`, { plugins: ['http'], config: { http: { maxBodyBytes: 65_536 } } }));
    expect(own.results[0].metrics.bytes).toBe(65_536);
  });

  it('a webhook to a private or loopback address is refused when saved', async () => {
    for (const url of ['http://10.0.0.1/hook', receiverUrl, 'http://[::ffff:127.0.0.1]/hook', 'http://169.254.169.254/hook']) {
      const res = await tenant.api.call('PUT', `/clients/${tenant.id}/webhook`, { url, secret: SECRET });
      expect(res.status, url).toBe(400);
      expect(res.body).toMatchObject({ code: 'WEBMON_ERR_VALIDATION', message: expect.stringMatching(/url: host not allowed: /) });
    }
  });

  it('a webhook saved before the rules applied is not delivered: the delivery fails as denied', async () => {
    // Stored as a webhook allowed to reach loopback would be; the deployment's rules do not allow it.
    const lenient = new OwnerEgress(
      { policy: { denyHosts: [], allowHosts: [], denyCidrs: [], allowCidrs: [] }, tenants: { allowCidrs: ['127.0.0.0/8'] } },
      new ClientStore(t.redis, t.keys, undefined),
    );
    await new WebhookStore(t.redis, t.keys, { egress: lenient }).set(tenant.id, { url: receiverUrl, secret: SECRET });
    await checked(tenant.api, `http://127.0.0.1:${new URL(target.url).port}/webhook-trigger`); // unknown → unsupported: one state change
    const deadline = Date.now() + 15_000;
    let status: any;
    do {
      await new Promise((r) => setTimeout(r, 100));
      status = (await tenant.api.call('GET', `/clients/${tenant.id}/webhook`)).body;
    } while (!(status?.failures >= 1) && Date.now() < deadline);
    expect(status).toMatchObject({ failures: expect.any(Number), lastError: expect.stringMatching(/^denied: .*127\.0\.0\.1.*loopback/) });
    expect(status.failures).toBeGreaterThanOrEqual(1);
    expect(received).toHaveLength(0);
  });
});
