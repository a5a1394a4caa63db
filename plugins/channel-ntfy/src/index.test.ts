import { describe, expect, it } from 'vitest';
import { channelContext, channelMessage, channelOptions, jsonObject, optionsRefused, expectReadmeExamplesValid, expectRefusedForClient, useReceiver, type Answer, type Received } from '../../../test/helpers/channel-receiver.js';
import { ntfyChannel } from './index.js';

const TOKEN = 'tk_SECRETtoken0000000000000000';
const BASIC = `Basic ${Buffer.from('alice:PASSWORDsecret').toString('base64')}`;

const ntfyError = (http: number, code: number, error: string): Answer => ({ status: http, body: { code, http, error, link: 'https://ntfy.sh/docs/publish/' } });

/** What an ntfy server checks for JSON publishing; the topic `locked` needs the token or Basic auth. */
function ntfyLike(req: Received): Answer {
  const path = new URL(req.url, 'http://x').pathname;
  if (req.method !== 'POST' && req.method !== 'PUT') return ntfyError(405, 40500, 'method not allowed');
  if (path !== '/' && path !== '/ntfy/') return ntfyError(404, 40401, 'page not found');
  const m = jsonObject(req);
  if (typeof m.topic !== 'string' || !/^[-_A-Za-z0-9]{1,64}$/.test(m.topic)) return ntfyError(400, 40009, 'invalid request: topic invalid');
  if (m.priority !== undefined && !(Number.isInteger(m.priority) && (m.priority as number) >= 1 && (m.priority as number) <= 5)) return ntfyError(400, 40007, 'invalid priority');
  if (m.tags !== undefined && !(Array.isArray(m.tags) && m.tags.every((t) => typeof t === 'string'))) return ntfyError(400, 40017, 'invalid request: request body must be message JSON');
  const auth = req.headers.authorization;
  if (m.topic === 'locked' && auth !== `Bearer ${TOKEN}` && auth !== BASIC) return auth ? ntfyError(401, 40101, 'unauthorized') : ntfyError(403, 40301, 'forbidden');
  return { status: 200, body: { id: 'sPs71M8A2T', time: 1700000000, event: 'message', topic: m.topic, message: m.message } };
}

const service = useReceiver(ntfyLike);
const options = (extra: Record<string, unknown> = {}) => channelOptions(ntfyChannel, { server: service().origin, topic: 'webmon_alerts', ...extra });

describe('ntfy channel', () => {
  it('publishes a down message as JSON to the server root, urgent, with the emoji tag and click link', async () => {
    service().answer(ntfyLike);
    const before = service().received.length;
    expect(await ntfyChannel.send([channelMessage({ to: 'down' })], options({ tags: ['shop'] }), channelContext())).toEqual({ outcome: 'delivered' });
    const req = service().received[before]!;
    expect(req.url).toBe('/');
    expect(req.headers.authorization).toBeUndefined();
    expect(req.json).toEqual({
      topic: 'webmon_alerts',
      title: 'shop.example.com is DOWN',
      message: 'https://shop.example.com/health went from up to down <b>&</b>',
      priority: 5,
      tags: ['rotating_light', 'shop'],
      click: 'https://webmon.example.com/assets/a1',
    });
  });

  it('publishes an up message at default priority, clicking through to the asset without a dashboard link', async () => {
    service().answer(ntfyLike);
    const before = service().received.length;
    expect(await ntfyChannel.send([channelMessage({ to: 'up', link: null })], options({ server: `${service().origin}/ntfy` }), channelContext())).toEqual({ outcome: 'delivered' });
    const req = service().received[before]!;
    expect(req.url).toBe('/ntfy/');
    expect(req.json).toMatchObject({ priority: 3, tags: ['white_check_mark'], click: 'https://shop.example.com/health' });
  });

  it('authenticates with a Bearer token or with Basic credentials', async () => {
    service().answer(ntfyLike);
    const before = service().received.length;
    expect(await ntfyChannel.send([channelMessage()], options({ topic: 'locked', token: TOKEN }), channelContext())).toEqual({ outcome: 'delivered' });
    expect(await ntfyChannel.send([channelMessage()], options({ topic: 'locked', username: 'alice', password: 'PASSWORDsecret' }), channelContext())).toEqual({ outcome: 'delivered' });
    expect(service().received[before]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(service().received[before + 1]!.headers.authorization).toBe(BASIC);
  });

  it('rejects 401 and 403 with the server\'s error and no secret in the reason', async () => {
    service().answer(ntfyLike);
    const outs = [
      await ntfyChannel.send([channelMessage()], options({ topic: 'locked', token: 'tk_SECRETwrong' }), channelContext()),
      await ntfyChannel.send([channelMessage()], options({ topic: 'locked' }), channelContext()),
      await ntfyChannel.send([channelMessage()], options({ topic: 'locked', username: 'alice' }), channelContext()),
    ];
    expect(outs).toEqual([
      { outcome: 'rejected', reason: 'ntfy answered HTTP 401: unauthorized' },
      { outcome: 'rejected', reason: 'ntfy answered HTTP 403: forbidden' },
      { outcome: 'rejected', reason: 'ntfy: username and password go together' },
    ]);
    expect(JSON.stringify(outs)).not.toMatch(/SECRET|locked/);
  });

  it('rejects a 400 and a 404 (a server URL that is not ntfy\'s root)', async () => {
    service().answer(() => ntfyError(400, 40009, 'invalid request: topic invalid'));
    expect(await ntfyChannel.send([channelMessage()], options(), channelContext())).toEqual({ outcome: 'rejected', reason: 'ntfy answered HTTP 400: invalid request: topic invalid' });
    service().answer(ntfyLike);
    expect(await ntfyChannel.send([channelMessage()], options({ server: `${service().origin}/elsewhere` }), channelContext())).toEqual({ outcome: 'rejected', reason: 'ntfy answered HTTP 404: page not found' });
  });

  it('retries a 429 after Retry-After and a 500', async () => {
    service().answer(() => ({ ...ntfyError(429, 42901, 'limit reached: too many requests'), headers: { 'retry-after': '30' } }));
    expect(await ntfyChannel.send([channelMessage()], options(), channelContext())).toEqual({ outcome: 'retry', reason: 'ntfy answered HTTP 429: limit reached: too many requests', retryAfterMs: 30_000 });
    service().answer(() => ntfyError(500, 50001, 'internal server error'));
    expect(await ntfyChannel.send([channelMessage()], options(), channelContext())).toMatchObject({ outcome: 'retry', retryAfterMs: null });
  });

  it('refuses a loopback server for a client', async () => {
    await expectRefusedForClient(ntfyChannel, options({ token: TOKEN }), service(), /SECRET/);
  });

  it('defaults to ntfy.sh, keeps topic, token and password secret, and validates the topic', () => {
    expect(channelOptions(ntfyChannel, { topic: 'x' })).toEqual({ server: 'https://ntfy.sh', topic: 'x', tags: [] });
    expect(ntfyChannel.secretOptions).toEqual(['topic', 'token', 'password']);
    expect(optionsRefused(ntfyChannel, { topic: 'has space' })).toBe(true);
    expect(optionsRefused(ntfyChannel, { topic: 'x', priority: 5 })).toBe(true);
  });

  it('accepts the examples of its README', () => {
    expect(expectReadmeExamplesValid(ntfyChannel, new URL('../README.md', import.meta.url))).toBe(2);
  });
});
