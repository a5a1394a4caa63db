/**
 * The channel routes against a real Redis and real local receivers on 127.0.0.1: the channel
 * types, CRUD, write-only secrets (in answers and in the app's logs), tenant scoping, bad input
 * with stable codes, and test-send through HTTP (the README's one-request Slack set-up included).
 */
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@webmon/core';
import { MAX_CHANNELS } from '@webmon/notifier';
import { REDACTED } from '@webmon/plugin-sdk';
import { registry as installed } from '@webmon/plugin-registry';
import { isJson, jsonObject, startReceiver, type Receiver } from '../../test/helpers/channel-receiver.js';
import { testApi, type TestApi } from '../../test/helpers/api.js';

const TYPES = ['discord', 'email', 'msteams', 'ntfy', 'opsgenie', 'pagerduty', 'slack', 'telegram', 'webhook'];

const SLACK_KEY = 'slackSecretKey0123456789';
const TG_TOKEN = '123456:tgSecretToken_abcdefghijklmnop';
const SECRETS = {
  smtp: 'smtpSecretPassword-42',
  pagerduty: 'pdSecretRoutingKey01234567890123',
  opsgenie: 'ogSecretApiKey-0123456789abcdef',
  discord: 'discordSecretKey0123456789',
  teams: 'teamsSecretSig0123456789',
  ntfy: 'ntfySecretToken_0123456789',
  hook: 'whsec-SecretWebhookValue-0123',
};
const ALL_SECRETS = [SLACK_KEY, TG_TOKEN, ...Object.values(SECRETS)];

let api: TestApi;
let slack: Receiver;
let telegram: Receiver;
const logLines: string[] = [];
let a: { id: string; apiKey: string };
let b: { id: string; apiKey: string };

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  api = await testApi('channel-routes', {}, installed, { log: createLogger({ level: 'debug', role: 'api', destination: sink, format: 'json' }) });
  // Slack answers 200 "ok" to a Block Kit message, 400 invalid_payload otherwise.
  slack = await startReceiver((r) => (r.method === 'POST' && isJson(r) && Array.isArray(jsonObject(r).blocks) && typeof jsonObject(r).text === 'string' ? { status: 200, body: 'ok' } : { status: 400, body: 'invalid_payload' }));
  // A Bot API that refuses the token and quotes it back, as a misbehaving proxy might.
  telegram = await startReceiver((r) => ({ status: 401, body: { ok: false, error_code: 401, description: `Unauthorized: ${decodeURIComponent(r.url)}` } }));
  a = await api.newClient('Acme');
  b = await api.newClient('Other');
  expect((await api.call('PATCH', `/clients/${a.id}`, { allowCidrs: ['127.0.0.0/8'] })).status).toBe(200);
});
afterAll(async () => {
  await api?.close();
  await slack?.close();
  await telegram?.close();
});

const as = (who: { apiKey: string }) => (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) => api.call(method, url, body, who.apiKey);

/** One channel of every type, each holding secrets. */
function bodies(): Record<string, unknown>[] {
  return [
    { type: 'slack', name: 'chat', options: { webhookUrl: `${slack.origin}/services/T0/B0/${SLACK_KEY}` } },
    { type: 'telegram', name: 'bot', options: { botToken: TG_TOKEN, chatId: '-1001234567890', apiUrl: telegram.origin } },
    { type: 'email', name: 'mail', options: { host: 'smtp.example.org', username: 'alerts@example.org', password: SECRETS.smtp, from: 'webmon@example.org', to: ['ops@example.org'] } },
    { type: 'pagerduty', name: 'pager', options: { routingKey: SECRETS.pagerduty } },
    { type: 'opsgenie', name: 'genie', options: { apiKey: SECRETS.opsgenie } },
    { type: 'discord', name: 'disc', options: { webhookUrl: `https://discord.com/api/webhooks/123/${SECRETS.discord}` } },
    { type: 'msteams', name: 'teams', options: { url: `https://prod-1.westeurope.logic.azure.com/workflows/x/triggers/manual/paths/invoke?sig=${SECRETS.teams}` } },
    { type: 'ntfy', name: 'phone', options: { topic: 'alerts_topic_1', token: SECRETS.ntfy } },
    { type: 'webhook', name: 'hook', options: { url: 'https://hooks.example.com/webmon', secret: SECRETS.hook } },
  ];
}

function expectNoSecret(value: unknown): void {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  for (const s of ALL_SECRETS) expect(text).not.toContain(s);
}

async function storedOptions(clientId: string, id: string): Promise<Record<string, unknown>> {
  return JSON.parse((await api.t.redis.hget(api.t.keys.channel(clientId, id), 'options')) ?? '{}');
}

describe('channel routes', () => {
  const ids: Record<string, string> = {};

  it('create answers every type with its secrets redacted, and GET one and the list never show them', async () => {
    const call = as(a);
    for (const body of bodies()) {
      const res = await call('POST', `/clients/${a.id}/channels`, body);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expectNoSecret(res.body);
      expect(res.body).toMatchObject({ clientId: a.id, name: body.name, type: body.type, enabled: true, failures: 0 });
      for (const name of res.body.secretOptions as string[]) if ((body.options as Record<string, unknown>)[name] !== undefined) expect(res.body.options[name]).toBe(REDACTED);
      ids[body.type as string] = res.body.id;
    }
    expect((await api.t.redis.hget(api.t.keys.channel(a.id, ids.email!), 'options')) ?? '').toContain(SECRETS.smtp);
    for (const id of Object.values(ids)) {
      const one = await call('GET', `/clients/${a.id}/channels/${id}`);
      expect(one.status).toBe(200);
      expectNoSecret(one.body);
    }
    const list = await call('GET', `/clients/${a.id}/channels`);
    expect(list.body.channels.map((c: { type: string }) => c.type).sort()).toEqual(TYPES.filter((t) => t !== 'webhook').concat('webhook').sort());
    expectNoSecret(list.body);
    expectNoSecret(await api.call('GET', `/clients/${a.id}/channels`));
  });

  it('GET /channels lists the nine types with their schemas and secret option names, no values', async () => {
    const res = await as(b)('GET', '/channels');
    expect(res.status).toBe(200);
    type Info = { name: string; optionsSchema: { type: string; properties: object }; secretOptions: string[] };
    const byName: Record<string, Info> = Object.fromEntries((res.body.channels as Info[]).map((c) => [c.name, c]));
    expect(Object.keys(byName).sort()).toEqual(TYPES);
    for (const c of Object.values(byName)) expect(c.optionsSchema).toMatchObject({ type: 'object', properties: expect.any(Object) });
    expect(byName.email!.secretOptions).toEqual(['password']);
    expect(byName.slack!.secretOptions).toEqual(['webhookUrl']);
    expect(byName.telegram!.secretOptions).toEqual(['botToken']);
    expect(byName.pagerduty!.secretOptions).toEqual(['routingKey']);
    expectNoSecret(res.body);
  });

  it('a PUT with "[redacted]" or without the secret keeps it; a new value replaces it; the answers never show it', async () => {
    const call = as(a);
    const url = `/clients/${a.id}/channels/${ids.email}`;
    const shown = (await call('GET', url)).body;
    const kept = await call('PUT', url, { type: 'email', name: 'mail', options: shown.options, template: { title: '{{asset}}: {{state}}' } });
    expect(kept.status, JSON.stringify(kept.body)).toBe(200);
    expectNoSecret(kept.body);
    expect(kept.body.template).toEqual({ title: '{{asset}}: {{state}}' });
    expect((await storedOptions(a.id, ids.email!)).password).toBe(SECRETS.smtp);

    const { password: _p, ...withoutSecret } = shown.options as Record<string, unknown>;
    const left = await call('PUT', url, { type: 'email', name: 'mail-renamed', options: { ...withoutSecret, to: ['noc@example.org'] } });
    expect(left.status).toBe(200);
    expectNoSecret(left.body);
    expect(await storedOptions(a.id, ids.email!)).toMatchObject({ password: SECRETS.smtp, to: ['noc@example.org'] });

    const replaced = await call('PUT', url, { type: 'email', name: 'mail', options: { ...withoutSecret, password: 'another-password-7' } });
    expect(replaced.body.options.password).toBe(REDACTED);
    expect((await storedOptions(a.id, ids.email!)).password).toBe('another-password-7');
    // A PUT of the Slack channel keeps its keyed URL the same way.
    const slackUrl = `/clients/${a.id}/channels/${ids.slack}`;
    const put = await call('PUT', slackUrl, { type: 'slack', name: 'chat', options: { webhookUrl: REDACTED } });
    expect(put.status).toBe(200);
    expectNoSecret(put.body);
    expect((await storedOptions(a.id, ids.slack!)).webhookUrl).toBe(`${slack.origin}/services/T0/B0/${SLACK_KEY}`);
  });

  it('a failing test-send whose service quotes the secret answers and logs the reason without it', async () => {
    const before = telegram.received.length;
    const res = await as(a)('POST', `/channels/${ids.telegram}/test`);
    expect(res.status).toBe(200);
    expect(telegram.received.length).toBe(before + 1);
    expect(telegram.received.at(-1)!.url).toContain(TG_TOKEN); // the service really had it to quote back
    expect(res.body.result).toMatchObject({ outcome: 'rejected', reason: expect.stringContaining(`Telegram answered HTTP 401: Unauthorized: /bot${REDACTED}/sendMessage`) });
    expectNoSecret(res.body);
    const logged = logLines.join('');
    expect(logged).toContain('test message not delivered');
    expect(logged).toContain(ids.telegram!);
    expectNoSecret(logged);
  });

  it('another client can neither see, change, delete nor test the channel', async () => {
    const call = as(b);
    const id = ids.slack!;
    const own = `/clients/${b.id}/channels/${id}`;
    for (const res of [await call('GET', own), await call('PUT', own, bodies()[0]), await call('DELETE', own), await call('POST', `/channels/${id}/test`)]) {
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('WEBMON_ERR_CHANNEL_NOT_FOUND');
    }
    expect((await call('GET', `/clients/${b.id}/channels`)).body.channels).toEqual([]);
    // Naming the other client in the path is refused before any channel is looked at.
    for (const res of [await call('GET', `/clients/${a.id}/channels/${id}`), await call('GET', `/clients/${a.id}/channels`), await call('DELETE', `/clients/${a.id}/channels/${id}`)]) {
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('WEBMON_ERR_FORBIDDEN');
    }
    expect((await as(a)('GET', `/clients/${a.id}/channels/${id}`)).status).toBe(200);
  });

  it('bad input is a 4xx with a stable code naming the problem', async () => {
    const call = as(b);
    const post = (body: unknown) => call('POST', `/clients/${b.id}/channels`, body);
    const unknown = await post({ type: 'carrier-pigeon', name: 'x', options: {} });
    expect(unknown).toMatchObject({ status: 400, body: { code: 'WEBMON_ERR_VALIDATION', message: expect.stringMatching(/type: unknown channel type "carrier-pigeon"/) } });
    const badOptions = await post({ type: 'slack', name: 'x', options: { webhookUrl: 'not a url' } });
    expect(badOptions).toMatchObject({ status: 400, body: { code: 'WEBMON_ERR_VALIDATION', message: expect.stringContaining('options.webhookUrl') } });
    const extra = await post({ type: 'pagerduty', name: 'x', options: { routingKey: SECRETS.pagerduty, colour: 'red' } });
    expect(extra).toMatchObject({ status: 400, body: { code: 'WEBMON_ERR_VALIDATION' } });
    expectNoSecret(extra.body);
    const template = await post({ type: 'pagerduty', name: 'x', options: { routingKey: SECRETS.pagerduty }, template: { text: '{{asset}} {{nope}}' } });
    expect(template).toMatchObject({ status: 400, body: { code: 'WEBMON_ERR_VALIDATION', message: expect.stringMatching(/template\.text.*nope/) } });
    const redactedNew = await post({ type: 'pagerduty', name: 'x', options: { routingKey: REDACTED } });
    expect(redactedNew).toMatchObject({ status: 400, body: { code: 'WEBMON_ERR_VALIDATION', message: expect.stringContaining('options.routingKey') } });
    const body = { type: 'ntfy', options: { topic: 'bees' } };
    expect((await post({ ...body, name: 'taken' })).status).toBe(201);
    expect(await post({ ...body, name: 'taken' })).toMatchObject({ status: 409, body: { code: 'WEBMON_ERR_CHANNEL_NAME_TAKEN' } });
    // MAX_CHANNELS counts the webhook channel; b has none, so MAX_CHANNELS channels fit.
    for (let i = 1; i < MAX_CHANNELS; i++) expect((await post({ ...body, name: `n${i}` })).status).toBe(201);
    expect(await post({ ...body, name: 'one-too-many' })).toMatchObject({ status: 409, body: { code: 'WEBMON_ERR_CHANNEL_LIMIT' } });
    expect((await call('GET', `/clients/${b.id}/channels`)).body.channels).toHaveLength(MAX_CHANNELS);
  });

  it('test-send through HTTP answers the outcome: delivered, or the service\'s reason', async () => {
    const call = as(a);
    const before = slack.received.length;
    const ok = await call('POST', `/channels/${ids.slack}/test`);
    expect(ok).toMatchObject({ status: 200, body: { channelId: ids.slack, result: { outcome: 'delivered' } } });
    expect(slack.received.length).toBe(before + 1);
    expect(slack.received.at(-1)!.url).toBe(`/services/T0/B0/${SLACK_KEY}`);
    slack.answer(() => ({ status: 503, headers: { 'retry-after': '7' }, body: 'busy' }));
    try {
      const busy = await call('POST', `/channels/${ids.slack}/test`);
      expect(busy.body.result).toMatchObject({ outcome: 'retry', reason: 'Slack answered HTTP 503: busy', retryAfterMs: 7000 });
    } finally {
      slack.answer((r) => (isJson(r) ? { status: 200, body: 'ok' } : { status: 400, body: 'invalid_payload' }));
    }
    // Test-sending leaves the channel's status as it was.
    expect((await call('GET', `/clients/${a.id}/channels/${ids.slack}`)).body).toMatchObject({ failures: 0, delivered: 0, pending: 0, lastError: null });
  });

  it('"I have a Slack webhook URL": the README\'s one request creates the channel and delivers a tested message', async () => {
    const before = slack.received.length;
    const res = await as(a)('POST', `/clients/${a.id}/channels`, { type: 'slack', name: 'ops', options: { webhookUrl: `${slack.origin}/services/T1/B1/${SLACK_KEY}` }, test: true });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ name: 'ops', type: 'slack', options: { webhookUrl: REDACTED }, test: { outcome: 'delivered' } });
    expectNoSecret(res.body);
    expect(slack.received.length).toBe(before + 1);
    const got = slack.received.at(-1)!;
    expect(got).toMatchObject({ method: 'POST', url: `/services/T1/B1/${SLACK_KEY}` });
    expect(isJson(got)).toBe(true);
    const msg = jsonObject(got);
    expect(msg.text).toEqual(expect.stringMatching(/test/i));
    expect((msg.blocks as { type: string }[]).map((x) => x.type)).toContain('header');
  });

  it('an address the client may not reach is a retry with a "denied: …" reason, as for every channel', async () => {
    const closed = await api.newClient('Closed');
    const created = await as(closed)('POST', `/clients/${closed.id}/channels`, { type: 'email', name: 'mail', options: { host: '127.0.0.1', port: 2525, security: 'none', from: 'webmon@example.org', to: ['ops@example.org'] }, test: true });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.test).toMatchObject({ outcome: 'retry', reason: expect.stringMatching(/^denied: /) });
  });

  it("the README's per-channel examples are one per type, copied from each channel's README, and each is accepted by the API", async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### Per-channel examples'), readme.indexOf('\n## Plugins'));
    const blocks = [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const examples = blocks.map((b) => JSON.parse(b) as { type: string; name: string });
    expect(examples.map((e) => e.type).sort()).toEqual(TYPES);
    const reader = await api.newClient('Reader');
    for (const [i, body] of examples.entries()) {
      if (body.type !== 'webhook') expect(readFileSync(new URL(`../../plugins/channel-${body.type}/README.md`, import.meta.url), 'utf8')).toContain(blocks[i]!.trim());
      const res = await as(reader)('POST', `/clients/${reader.id}/channels`, body);
      expect(res.status, `${body.type}: ${JSON.stringify(res.body)}`).toBe(201);
      expect((await as(reader)('DELETE', `/clients/${reader.id}/channels/${res.body.id}`)).status).toBe(204);
    }
  });

  it('delete removes the channel: 204, then 404', async () => {
    const call = as(a);
    const url = `/clients/${a.id}/channels/${ids.discord}`;
    expect((await call('DELETE', url)).status).toBe(204);
    expect(await call('GET', url)).toMatchObject({ status: 404, body: { code: 'WEBMON_ERR_CHANNEL_NOT_FOUND' } });
    expect(await call('DELETE', url)).toMatchObject({ status: 404, body: { code: 'WEBMON_ERR_CHANNEL_NOT_FOUND' } });
    expect(await api.t.redis.exists(api.t.keys.channel(a.id, ids.discord!))).toBe(0);
  });
});
