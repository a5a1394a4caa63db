/** The channel host: one outbox per channel, permanent failures, delay, escalation, filters, templates, maintenance, via a fake channel built on the contract. */
import Type from 'typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { ChannelRegistry, defineChannel, delivered, rejected, retryLater, type ChannelMessage, type SendOutcome } from '@webmon/plugin-sdk';
import { webhookChannel } from '@webmon/plugin-channel-webhook';
import { FAST, harness, loopbackEgress, sleep, until, type Harness } from '../test/harness.js';
import { ChannelStore } from './channels.js';
import { startNotifier } from './notifier.js';

/** A channel that records what it is sent and answers what `answer` says. */
function fakeChannel() {
  const sent: ChannelMessage[] = [];
  let answer: (m: ChannelMessage, n: number) => SendOutcome = () => delivered();
  const channel = defineChannel({
    name: 'fake',
    description: 'records messages (test)',
    optionsSchema: Type.Object({ token: Type.String({ minLength: 1 }), room: Type.String({ default: 'general' }) }, { additionalProperties: false }),
    secretOptions: ['token'],
    async send(messages) {
      const out = answer(messages[0]!, sent.length);
      if (out.outcome === 'delivered') sent.push(...messages);
      return out;
    },
  });
  const setAnswer = (f: typeof answer) => {
    answer = f;
  };
  return { channel, sent, answer: setAnswer };
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function setup(name: string) {
  h = await harness(name);
  const fake = fakeChannel();
  const registry = new ChannelRegistry([webhookChannel, fake.channel]);
  const store = new ChannelStore(h.t.redis, h.t.keys, registry, { egress: loopbackEgress(h.t.redis, h.t.keys), minRemindEverySec: 0.1 });
  const start = async (extra: Partial<typeof FAST> = {}) => {
    const n = await startNotifier({ redis: h!.t.redis, keys: h!.t.keys, log: h!.log, consumer: 'host', options: { ...FAST, publicUrl: 'https://webmon.example.com/', ...extra }, egress: loopbackEgress(h!.t.redis, h!.t.keys), channels: registry });
    const close = h!.close;
    h!.close = async () => {
      await n.stop();
      await close();
    };
    return n;
  };
  return { h, fake, store, start };
}

const states = (ms: ChannelMessage[]) => ms.map((m) => `${m.type}:${m.from}>${m.to}`);

describe('channel host', () => {
  it('sends one message per state change in order, per channel, rendered from the template, and never shows secrets', async () => {
    const { h, fake, store, start } = await setup('ch-order');
    const ch = await store.create('acme', { name: 'ops', type: 'fake', options: { token: 'tok-secret-1' }, template: { title: '{{asset}} went {{state}}', text: 'was {{previous}} ({{reason}}) {{link}}' } });
    expect(ch.options).toEqual({ token: '[redacted]', room: 'general' });
    expect(JSON.stringify(await store.list('acme'))).not.toContain('tok-secret-1');
    await expect(store.create('acme', { name: 'bad', type: 'fake', options: { token: 'x' }, template: { text: '{{nope}}' } })).rejects.toMatchObject({ code: 'WEBMON_ERR_VALIDATION' });
    const a = await h.asset('acme', 'https://shop.example.com/');
    await start();
    await h.emit(a, 'acme', 'up', 'down');
    await h.emit(a, 'acme', 'down', 'up');
    await until(() => fake.sent.length === 2, 3000, 'two messages');
    expect(states(fake.sent)).toEqual(['state_change:up>down', 'state_change:down>up']);
    expect(fake.sent[0]).toMatchObject({ title: 'https://shop.example.com/ went down', text: `was up (http_status) https://webmon.example.com/#/assets/${a}` });
    // Saving without the secret (or with "[redacted]") keeps it.
    await store.update('acme', ch.id, { name: 'ops', type: 'fake', options: { token: '[redacted]', room: 'alerts' } });
    expect((await store.record('acme', ch.id))?.options).toEqual({ token: 'tok-secret-1', room: 'alerts' });
  });

  it('retries a retry outcome after Retry-After, drops rejected messages and disables after 20 with the reason', async () => {
    const { h, fake, store, start } = await setup('ch-fail');
    const ch = await store.create('acme', { name: 'ops', type: 'fake', options: { token: 't' } });
    const a = await h.asset('acme', 'https://shop.example.com/');
    let calls = 0;
    fake.answer(() => (++calls === 1 ? retryLater('HTTP 429', 300) : delivered()));
    await start({ backoffMaxMs: 400 });
    await h.emit(a, 'acme', 'up', 'down');
    await until(() => fake.sent.length === 1, 3000, 'the retried message');
    expect(calls).toBe(2);
    expect(await store.get('acme', ch.id)).toMatchObject({ failures: 0, delivered: 1, lastError: 'HTTP 429' });

    fake.answer(() => rejected('HTTP 401'));
    for (let i = 0; i < 20; i++) await h.emit(a, 'acme', i % 2 ? 'down' : 'up', i % 2 ? 'up' : 'down');
    await until(async () => (await store.get('acme', ch.id))?.enabled === false, 8000, 'the disable');
    const v = await store.get('acme', ch.id);
    expect(v).toMatchObject({ failures: 20, pending: 0, dropped: 20, disabledReason: '20 consecutive failed deliveries; last error: rejected: HTTP 401' });
  });

  it('a delay suppresses a flap shorter than it and sends a down that outlasts it; escalation fires only when the outage outlasts afterSec', async () => {
    const { h, fake, store, start } = await setup('ch-delay');
    const pager = await store.create('acme', { name: 'pager', type: 'fake', options: { token: 't' }, filters: { states: ['down', 'up'] } });
    await store.create('acme', { name: 'chat', type: 'fake', options: { token: 't' }, delaySec: 0.4, escalation: { afterSec: 0.8, channelId: pager.id } });
    const a = await h.asset('acme', 'https://a.example.com/');
    await start();
    // A flap of 100 ms: nothing on chat (delay 400 ms), nothing escalated; pager has no delay.
    await h.emit(a, 'acme', 'up', 'down');
    await sleep(100);
    await h.emit(a, 'acme', 'down', 'up');
    await sleep(1200);
    expect(states(fake.sent)).toEqual(['state_change:up>down', 'state_change:down>up']);
    // An outage that lasts: chat gets the down after its delay, pager the escalation after afterSec.
    fake.sent.length = 0;
    await h.emit(a, 'acme', 'up', 'down');
    await until(() => fake.sent.some((m) => m.type === 'escalation'), 3000, 'the escalation');
    expect(states(fake.sent)).toEqual(['state_change:up>down', 'state_change:up>down', 'escalation:down>down']);
    expect(fake.sent[2]!.title).toMatch(/^Escalated: https:\/\/a\.example\.com\/ is down/);
  });

  it('filters by tags, states and severity; maintenance silences every channel', async () => {
    const { h, fake, store, start } = await setup('ch-filter');
    await store.create('acme', { name: 'prod', type: 'fake', options: { token: 't' }, filters: { tags: ['prod'], minSeverity: 'down' } });
    const prod = await h.asset('acme', 'https://p.example.com/', ['prod']);
    const dev = await h.asset('acme', 'https://d.example.com/', ['dev']);
    const quiet = await h.asset('acme', 'https://q.example.com/', ['prod']);
    await h.maintenance.create({ owner: 'acme', reason: 'm', assetIds: [quiet], tags: [], start: Date.now() - 60_000, end: Date.now() + 60_000 });
    await start();
    await h.emit(dev, 'acme', 'up', 'down');
    await h.emit(prod, 'acme', 'up', 'degraded');
    await h.emit(quiet, 'acme', 'up', 'down');
    await h.emit(prod, 'acme', 'degraded', 'down');
    await until(() => fake.sent.length >= 1, 3000, 'the prod down');
    await sleep(200);
    expect(fake.sent.map((m) => `${m.asset.url} ${m.to}`)).toEqual(['https://p.example.com/ down']);
  });
});
