/**
 * Notification channels across the real processes: a client's asset goes down, then up, against
 * a local HTTP target; its pagerduty channel (a local Events API v2 receiver) gets a trigger then
 * a resolve with one dedup key, and its slack channel (a local incoming-webhook receiver) gets
 * two messages, in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isJson, jsonObject, startReceiver, type Receiver } from './helpers/channel-receiver.js';
import { client, startRoles, startTarget, type Proc, type Target } from './helpers/processes.js';
import { testRedis, type TestRedis } from './helpers/redis.js';

const KEY = 'channels-admin-key-0123456789abcdef';
const ROUTING_KEY = 'R0ABCDEF0123456789ABCDEF01234567';
let t: TestRedis;
let target: Target;
let pagerduty: Receiver;
let slack: Receiver;
const procs: Proc[] = [];
let admin: ReturnType<typeof client>;
let apiUrl: string;

beforeAll(async () => {
  t = await testRedis('channels-e2e');
  target = await startTarget();
  // Events API v2: 202 with a dedup_key for a well-formed event, 400 otherwise.
  pagerduty = await startReceiver((r) => {
    const e = jsonObject(r);
    const ok = r.method === 'POST' && r.url === '/v2/enqueue' && isJson(r) && e.routing_key === ROUTING_KEY && typeof e.dedup_key === 'string' && ['trigger', 'resolve'].includes(String(e.event_action));
    return ok ? { status: 202, body: { status: 'success', message: 'Event processed', dedup_key: e.dedup_key } } : { status: 400, body: { status: 'invalid event', message: 'Event object is invalid' } };
  });
  slack = await startReceiver((r) => (r.method === 'POST' && isJson(r) && Array.isArray(jsonObject(r).blocks) ? { status: 200, body: 'ok' } : { status: 400, body: 'invalid_payload' }));
  const extraEnv = { WEBMON_NOTIFIER_BACKOFF_BASE_MS: '200', WEBMON_CHECKS_DOWN_AFTER: '1' };
  const deployment = await startRoles(['dispatcher', 'executor', 'api'], { redisUrl: t.url, prefix: t.prefix, adminKey: KEY, extraEnv });
  apiUrl = deployment.apiUrl;
  procs.push(...deployment.procs);
  admin = client(apiUrl, KEY);
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await pagerduty?.close();
  await slack?.close();
  await target?.close();
  await t?.cleanup();
});

async function waitFor(what: string, done: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('channels end to end', () => {
  it('pagerduty gets trigger then resolve with one dedup key; slack gets both changes in order', async () => {
    const { body: created } = await admin.call('POST', '/clients', { name: 'agency' });
    const clientId = created.client.id as string;
    expect((await admin.call('PATCH', `/clients/${clientId}`, { allowCidrs: ['127.0.0.0/8'] })).status).toBe(200);
    const api = client(apiUrl, created.apiKey);
    const pd = await api.call('POST', `/clients/${clientId}/channels`, { type: 'pagerduty', name: 'on-call', options: { routingKey: ROUTING_KEY, eventsUrl: `${pagerduty.origin}/v2/enqueue` } });
    expect(pd.status, JSON.stringify(pd.body)).toBe(201);
    const chat = await api.call('POST', `/clients/${clientId}/channels`, { type: 'slack', name: 'chat', options: { webhookUrl: `${slack.origin}/services/T0/B0/key` } });
    expect(chat.status, JSON.stringify(chat.body)).toBe(201);

    const { body: asset } = await api.call('POST', '/assets', { url: `${target.url}/missing`, plugins: ['http'] });
    const check = async () => {
      const pushed = await api.call('POST', '/jobs', { assetIds: [asset.id] });
      return api.waitJob(pushed.body.jobs[0].id);
    };
    await check();
    expect((await api.call('GET', `/assets/${asset.id}`)).body.state).toBe('down');
    // The recovery follows at once, without waiting for the down's deliveries: each channel's outbox keeps the order.
    await api.call('PATCH', `/assets/${asset.id}`, { url: `${target.url}/ok` });
    await check();
    expect((await api.call('GET', `/assets/${asset.id}`)).body.state).toBe('up');
    await waitFor('the up on both channels', () => pagerduty.received.length >= 2 && slack.received.length >= 2);

    const events = pagerduty.received.map(jsonObject);
    expect(events.map((e) => e.event_action)).toEqual(['trigger', 'resolve']);
    expect(events[0]!.dedup_key).toBe(events[1]!.dedup_key);
    expect(events[0]!.dedup_key).toEqual(expect.stringContaining(asset.id));
    expect(events[0]!.payload).toMatchObject({ severity: 'critical', source: expect.any(String), summary: expect.stringMatching(/down/i) });
    const texts = slack.received.map((r) => String(jsonObject(r).text));
    expect(texts).toHaveLength(2);
    expect(texts[0]).toMatch(/down/i);
    expect(texts[1]).toMatch(/up/i);
    // A receiver records a request before it answers; the notifier records the delivery after the answer.
    const channels = async () => (await api.call('GET', `/clients/${clientId}/channels`)).body.channels as { name: string; delivered: number; failures: number }[];
    let status = await channels();
    for (const until = Date.now() + 5000; status.some((c) => c.delivered < 2) && Date.now() < until; ) {
      await new Promise((r) => setTimeout(r, 50));
      status = await channels();
    }
    expect(status.map((c) => [c.name, c.delivered, c.failures]).sort()).toEqual([
      ['chat', 2, 0],
      ['on-call', 2, 0],
    ]);
  });
});
