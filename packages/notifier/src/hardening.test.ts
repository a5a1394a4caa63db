/** The channel host against damaged or orphaned stored records and plugins that ignore their time budget. */
import Type from 'typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { ChannelAgents, ChannelRegistry, defineChannel, delivered, type ChannelMessage } from '@webmon/plugin-sdk';
import { webhookChannel } from '@webmon/plugin-channel-webhook';
import { harness, loopbackEgress, FAST, until, type Harness } from '../test/harness.js';
import { parseChannel } from './channel-record.js';
import { ChannelStore } from './channels.js';
import { startNotifier } from './notifier.js';
import { sendTest } from './test-send.js';

const options = Type.Object({ token: Type.String({ minLength: 1 }), room: Type.String({ default: 'general' }) }, { additionalProperties: false });

function recordingChannel(name: string) {
  const sent: ChannelMessage[] = [];
  const channel = defineChannel({
    name,
    description: 'records messages (test)',
    optionsSchema: options,
    secretOptions: ['token'],
    async send(messages) {
      sent.push(...messages);
      return delivered();
    },
  });
  return { channel, sent };
}

/** A notifier with these channel types, stopped by h.close(). */
async function startHost(harnessed: Harness, registry: ChannelRegistry): Promise<void> {
  const { t, log } = harnessed;
  const n = await startNotifier({ redis: t.redis, keys: t.keys, log, consumer: 'hard', options: FAST, egress: loopbackEgress(t.redis, t.keys), channels: registry });
  const close = harnessed.close;
  harnessed.close = async () => {
    await n.stop();
    await close();
  };
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('channel host hardening', () => {
  it('shows every option of a channel whose type is no longer installed as "[redacted]"', async () => {
    h = await harness('hard-uninstalled');
    const gone = recordingChannel('gone');
    const egress = loopbackEgress(h.t.redis, h.t.keys);
    const before = new ChannelStore(h.t.redis, h.t.keys, new ChannelRegistry([webhookChannel, gone.channel]), { egress });
    const ch = await before.create('acme', { name: 'ops', type: 'gone', options: { token: 'tok-secret-gone', room: 'r-secret-room' } });
    const after = new ChannelStore(h.t.redis, h.t.keys, new ChannelRegistry([webhookChannel]), { egress });
    const listed = await after.list('acme');
    expect(listed.find((c) => c.id === ch.id)).toMatchObject({ type: 'gone', options: { token: '[redacted]', room: '[redacted]' }, secretOptions: ['token', 'room'] });
    expect(JSON.stringify(listed)).not.toMatch(/tok-secret-gone|r-secret-room/);
    expect(JSON.stringify(await after.get('acme', ch.id))).not.toMatch(/tok-secret-gone|r-secret-room/);
  });

  it('keeps a stored secret on update only while the options that say where it is sent are unchanged', async () => {
    h = await harness('hard-endpoint');
    const relay = defineChannel({
      name: 'relay',
      description: 'sends its token to a server (test)',
      optionsSchema: Type.Object({ server: Type.String({ default: 'https://relay.example.com' }), token: Type.String({ minLength: 1 }), room: Type.String({ default: 'general' }) }, { additionalProperties: false }),
      secretOptions: ['token'],
      endpointOptions: ['server'],
      send: async () => delivered(),
    });
    const store = new ChannelStore(h.t.redis, h.t.keys, new ChannelRegistry([webhookChannel, relay]), { egress: loopbackEgress(h.t.redis, h.t.keys) });
    const ch = await store.create('acme', { name: 'r', type: 'relay', options: { token: 'tok-relay-secret' } });
    // Another room, the default server given or left out: the token is kept.
    await store.update('acme', ch.id, { name: 'r', type: 'relay', options: { token: '[redacted]', room: 'ops', server: 'https://relay.example.com' } });
    await store.update('acme', ch.id, { name: 'r', type: 'relay', options: { room: 'ops2' } });
    expect((await store.record('acme', ch.id))?.options).toEqual({ server: 'https://relay.example.com', token: 'tok-relay-secret', room: 'ops2' });
    // Another server without the token: refused, the stored channel unchanged.
    for (const token of ['[redacted]', undefined]) {
      const options = { server: 'https://attacker.example.net', room: 'ops2', ...(token ? { token } : {}) };
      await expect(store.update('acme', ch.id, { name: 'r', type: 'relay', options })).rejects.toMatchObject({ code: 'WEBMON_ERR_VALIDATION', details: [expect.objectContaining({ field: 'options.token' })] });
    }
    expect((await store.record('acme', ch.id))?.options.server).toBe('https://relay.example.com');
    // With the token sent again, it is saved.
    await store.update('acme', ch.id, { name: 'r', type: 'relay', options: { server: 'https://relay2.example.com', token: 'tok-relay-2' } });
    expect((await store.record('acme', ch.id))?.options).toMatchObject({ server: 'https://relay2.example.com', token: 'tok-relay-2' });
  });

  it('reads a channel whose routing or options field is damaged with the defaults', () => {
    const rec = parseChannel('acme', 'c1', { type: 'fake', name: 'ops', routing: 'null', options: '[1]', enabled: '1' });
    expect(rec).toMatchObject({ filters: {}, delaySec: null, escalation: null, template: null, options: {} });
  });

  it('keeps reminding other clients when one due reminder cannot be read, and postpones that one', async () => {
    h = await harness('hard-reminders');
    const ok = recordingChannel('fake');
    const registry = new ChannelRegistry([webhookChannel, ok.channel]);
    const egress = loopbackEgress(h.t.redis, h.t.keys);
    const store = new ChannelStore(h.t.redis, h.t.keys, registry, { egress, minRemindEverySec: 0.1 });
    await store.create('acme', { name: 'ops', type: 'fake', options: { token: 't' }, remindEverySec: 0.2 });
    // A damaged record of another client: its channel key holds a string (WRONGTYPE on read),
    // and its reminder is due before every other one.
    await h.t.redis.set(h.t.keys.channel('broken', 'c1'), 'not a hash');
    await h.t.redis.zadd(h.t.keys.reminders, 1, 'broken:c1|x');
    const a = await h.asset('acme', 'https://shop.example.com/');
    await startHost(h, registry);
    await h.emit(a, 'acme', 'up', 'down');
    await until(() => ok.sent.filter((m) => m.type === 'reminder').length >= 2, 5000, 'two reminders for acme');
    expect(Number(await h.t.redis.zscore(h.t.keys.reminders, 'broken:c1|x'))).toBeGreaterThan(1);
    expect(h.logs.some((l) => l.msg === 'could not fire a due notification; postponed' && l.member === 'broken:c1|x')).toBe(true);
  });

  it('a maintenance window opened while a down is held silences it when the delay ends', async () => {
    h = await harness('hard-held-maint');
    const ok = recordingChannel('fake');
    const registry = new ChannelRegistry([webhookChannel, ok.channel]);
    const egress = loopbackEgress(h.t.redis, h.t.keys);
    const store = new ChannelStore(h.t.redis, h.t.keys, registry, { egress });
    await store.create('acme', { name: 'ops', type: 'fake', options: { token: 't' }, delaySec: 0.3 });
    const a = await h.asset('acme', 'https://shop.example.com/');
    await startHost(h, registry);
    await h.emit(a, 'acme', 'up', 'down');
    await until(async () => (await h!.t.redis.zcard(h!.t.keys.notifyTimers)) === 1, 3000, 'the held down');
    await h.maintenance.create({ owner: 'acme', reason: 'm', assetIds: [a], tags: [], start: Date.now() - 1000, end: Date.now() + 60_000 });
    await until(async () => (await h!.t.redis.zcard(h!.t.keys.notifyTimers)) === 0, 3000, 'the held down to fire');
    expect(ok.sent).toEqual([]);
    expect(await h.t.redis.llen(h.t.keys.outbox(`acme:${await store.idByName('acme', 'ops')}`))).toBe(0);
  });

  it('ends a test-send whose plugin never settles as a timeout', async () => {
    h = await harness('hard-hang');
    const hanging = defineChannel({
      name: 'hang',
      description: 'never answers and ignores its signal (test)',
      optionsSchema: options,
      secretOptions: ['token'],
      send: () => new Promise(() => undefined),
    });
    const store = new ChannelStore(h.t.redis, h.t.keys, new ChannelRegistry([webhookChannel, hanging]), { egress: loopbackEgress(h.t.redis, h.t.keys) });
    const ch = await store.create('acme', { name: 'stuck', type: 'hang', options: { token: 't' } });
    const agents = new ChannelAgents(100);
    const outcome = await sendTest(store, (await store.record('acme', ch.id))!, { agents, log: h.log, timeoutMs: 100 });
    await agents.close();
    expect(outcome).toEqual({ outcome: 'retry', reason: 'timeout', retryAfterMs: null });
  });
});
