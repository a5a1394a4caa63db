/**
 * Notifications across processes: an asset goes down after three failed checks and comes back;
 * the client's webhook receives each state change once (retried after a failure, same delivery
 * id), signed with HMAC-SHA256 of the body.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '@webmon/notifier';
import { client, startRoles, startTarget, type Proc, type Target } from './helpers/processes.js';
import { testRedis, type TestRedis } from './helpers/redis.js';

const KEY = 'notify-admin-key-0123456789abcdef';
const SECRET = 'receiver-shared-secret-0123';
let t: TestRedis;
let target: Target;
let receiver: Server;
let receiverUrl: string;
const received: Array<{ id: string; body: any; valid: boolean }> = [];
let failNext = 1;
const procs: Proc[] = [];
let api: ReturnType<typeof client>;

beforeAll(async () => {
  t = await testRedis('notify');
  target = await startTarget();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      if (failNext > 0) {
        failNext--;
        res.writeHead(500).end('not now');
        return;
      }
      received.push({ id: String(req.headers['x-webmon-delivery']), body: JSON.parse(raw.toString()), valid: verifySignature(SECRET, raw, String(req.headers['x-webmon-signature'])) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
  const d = await startRoles(['dispatcher', 'executor', 'api'], { redisUrl: t.url, prefix: t.prefix, adminKey: KEY, extraEnv: { WEBMON_NOTIFIER_BACKOFF_BASE_MS: '200' } });
  procs.push(...d.procs);
  api = client(d.apiUrl, KEY);
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await new Promise((r) => receiver.close(r));
  await target.close();
  await t.cleanup();
});

async function check(assetId: string) {
  const pushed = await api.call('POST', '/jobs', { assetIds: [assetId] });
  return api.waitJob(pushed.body.jobs[0].id);
}

describe('notifications', () => {
  it('delivers signed state changes to the client webhook, retrying a failed delivery', async () => {
    expect((await api.call('PUT', '/clients/admin/webhook', { url: receiverUrl, secret: SECRET })).status).toBe(201);
    const { body: asset } = await api.call('POST', '/assets', { url: `${target.url}/missing`, plugins: ['http'] });
    for (let i = 0; i < 3; i++) await check(asset.id);
    expect((await api.call('GET', `/assets/${asset.id}`)).body.state).toBe('down');
    await api.call('PATCH', `/assets/${asset.id}`, { url: `${target.url}/ok` });
    await check(asset.id);
    expect((await api.call('GET', `/assets/${asset.id}`)).body.state).toBe('up');

    const deadline = Date.now() + 15_000;
    while (received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(received.map((r) => `${r.body.from}>${r.body.to}`)).toEqual(['unknown>down', 'down>up']);
    expect(received.every((r) => r.valid)).toBe(true);
    expect(received[0]!.body).toMatchObject({ type: 'state_change', asset: { id: asset.id }, reason: 'http_status', client: 'admin' });
    expect(received[0]!.id).toBe(received[0]!.body.id);
    expect(new Set(received.map((r) => r.id)).size).toBe(2);
    // The receiver records a request before it answers; the notifier records the delivery after the answer.
    let status = await api.call('GET', '/clients/admin/webhook');
    for (const until = Date.now() + 5000; status.body.delivered < 2 && Date.now() < until; ) {
      await new Promise((r) => setTimeout(r, 50));
      status = await api.call('GET', '/clients/admin/webhook');
    }
    expect(status.body).toMatchObject({ enabled: true, failures: 0, pending: 0, delivered: 2 });
  });
});
