import { describe, expect, it } from 'vitest';
import { channelContext, channelMessage, channelOptions, isJson, jsonObject, optionsRefused, expectReadmeExamplesValid, expectRefusedForClient, useReceiver, type Answer, type Received } from '../../../test/helpers/channel-receiver.js';
import { opsgenieChannel } from './index.js';

const KEY = 'eb243592-faa2-4ba2-a551-SECRET1234ab';
/** Alerts the receiver keeps by alias: Opsgenie allows one open alert per alias. */
const alerts = new Map<string, { creates: number; open: boolean }>();

const accepted = (): Answer => ({ status: 202, body: { result: 'Request will be processed', took: 0.01, requestId: '43a29c5c-3dbf-4fa4-9c26-f4f71023e120' } });
const unprocessable = (errors: Record<string, string>): Answer => ({ status: 422, body: { message: 'Request body is not processable. Please check the errors.', errors, took: 0.01 } });

function createProblem(b: Record<string, any>): Record<string, string> | null {
  if (typeof b.message !== 'string' || b.message.trim() === '') return { message: 'Message can not be empty.' };
  if (b.message.length > 130) return { message: 'Message can not be longer than 130 characters.' };
  if (b.alias !== undefined && (typeof b.alias !== 'string' || b.alias.length > 512)) return { alias: 'Alias can not be longer than 512 characters.' };
  if (b.priority !== undefined && !['P1', 'P2', 'P3', 'P4', 'P5'].includes(b.priority)) return { priority: 'Priority should be one of [P1, P2, P3, P4, P5]' };
  if (b.tags !== undefined && (!Array.isArray(b.tags) || b.tags.length > 20)) return { tags: 'Tags can not be more than 20.' };
  return null;
}

/** What the Alert API checks: the GenieKey, JSON, create and close-by-alias. */
function opsgenieLike(req: Received): Answer {
  if (req.headers.authorization !== `GenieKey ${KEY}`) return { status: 401, body: { message: 'Could not authenticate', took: 0.0 } };
  if (req.method !== 'POST' || !isJson(req)) return { status: 400, body: { message: 'Content type is not supported', took: 0.0 } };
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/v2/alerts') {
    const b = jsonObject(req);
    const problem = createProblem(b);
    if (problem) return unprocessable(problem);
    const a = alerts.get(b.alias as string);
    if (a?.open) a.creates += 1;
    else alerts.set(b.alias as string, { creates: 1, open: true });
    return accepted();
  }
  const close = /^\/v2\/alerts\/([^/]+)\/close$/.exec(url.pathname);
  if (close && url.searchParams.get('identifierType') === 'alias') {
    const a = alerts.get(decodeURIComponent(close[1]!));
    if (a) a.open = false;
    return accepted();
  }
  return { status: 404, body: { message: 'Could not find the resource', took: 0.0 } };
}

const service = useReceiver(opsgenieLike);
const options = (extra: Record<string, unknown> = {}) => channelOptions(opsgenieChannel, { apiKey: KEY, apiUrl: service().origin, ...extra });
const send = (over: Parameters<typeof channelMessage>[0], extra: Record<string, unknown> = {}) => opsgenieChannel.send([channelMessage(over)], options(extra), channelContext());

describe('opsgenie channel', () => {
  it('creates an alert on down with the alias, GenieKey and the documented fields', async () => {
    service().answer(opsgenieLike);
    const before = service().received.length;
    expect(await send({ to: 'down', incidentKey: 'webmon:acme:a1' })).toEqual({ outcome: 'delivered' });
    const req = service().received[before]!;
    expect(req.url).toBe('/v2/alerts');
    expect(req.json).toEqual({
      message: 'shop.example.com is DOWN',
      alias: 'webmon:acme:a1',
      description: 'https://shop.example.com/health went from up to down <b>&</b>',
      tags: ['shop', 'prod'],
      details: { assetId: 'a1', url: 'https://shop.example.com/health', from: 'up', to: 'down', client: 'acme', reason: 'http_status', link: 'https://webmon.example.com/assets/a1' },
      entity: 'https://shop.example.com/health',
      source: 'webmon',
      priority: 'P3',
    });
  });

  it('closes the alert by its alias on up: one alert per outage', async () => {
    service().answer(opsgenieLike);
    const key = 'webmon:acme:a/2 x';
    const before = service().received.length;
    expect(await send({ to: 'down', incidentKey: key })).toEqual({ outcome: 'delivered' });
    expect(await send({ to: 'down', type: 'reminder', incidentKey: key })).toEqual({ outcome: 'delivered' });
    expect(await send({ to: 'up', incidentKey: key })).toEqual({ outcome: 'delivered' });
    const close = service().received[before + 2]!;
    expect(close.url).toBe('/v2/alerts/webmon%3Aacme%3Aa%2F2%20x/close?identifierType=alias');
    expect(close.json).toMatchObject({ source: 'webmon', note: expect.stringContaining('went from down to up') });
    expect(alerts.get(key)).toEqual({ creates: 2, open: false });
  });

  it('closes on degraded by default, creates a P4 alert when configured, sends nothing for unsupported', async () => {
    service().answer(opsgenieLike);
    const before = service().received.length;
    expect(await send({ to: 'degraded', from: 'down' })).toEqual({ outcome: 'delivered' });
    expect(await send({ to: 'degraded', from: 'up' }, { alertOnDegraded: true })).toEqual({ outcome: 'delivered' });
    expect(await send({ to: 'unsupported', from: 'up' })).toEqual({ outcome: 'delivered' });
    const sent = service().received.slice(before);
    expect(sent.map((r) => r.url)).toEqual(['/v2/alerts/webmon%3Aacme%3Aa1/close?identifierType=alias', '/v2/alerts']);
    expect(sent[1]!.json).toMatchObject({ priority: 'P4' });
  });

  it('a test message creates an alert of its own and closes it at once', async () => {
    service().answer(opsgenieLike);
    const before = service().received.length;
    expect(await send({ type: 'test', id: 'test-9', to: 'up', incidentKey: 'webmon:acme:t' })).toEqual({ outcome: 'delivered' });
    const sent = service().received.slice(before);
    expect(sent.map((r) => r.url)).toEqual(['/v2/alerts', '/v2/alerts/webmon%3Aacme%3At%3Atest%3Atest-9/close?identifierType=alias']);
    expect(alerts.get('webmon:acme:t:test:test-9')).toEqual({ creates: 1, open: false });
    expect(alerts.has('webmon:acme:t')).toBe(false);
  });

  it('keeps the message within 130 characters', async () => {
    service().answer(opsgenieLike);
    expect(await send({ to: 'down', title: 'x'.repeat(500) })).toEqual({ outcome: 'delivered' });
  });

  it('rejects a wrong key (401) and an unprocessable body (422) without the key in the reason', async () => {
    service().answer(opsgenieLike);
    const wrong = await send({ to: 'down' }, { apiKey: 'eb243592-faa2-4ba2-a551-SECRETwrong0' });
    service().answer(() => unprocessable({ message: 'Message can not be empty.' }));
    const body = await send({ to: 'down' });
    expect([wrong, body]).toEqual([
      { outcome: 'rejected', reason: 'Opsgenie answered HTTP 401: Could not authenticate' },
      { outcome: 'rejected', reason: 'Opsgenie answered HTTP 422: Request body is not processable. Please check the errors.' },
    ]);
    expect(JSON.stringify([wrong, body])).not.toContain('SECRET');
  });

  it('retries a 429 after Retry-After and a 500', async () => {
    service().answer(() => ({ status: 429, headers: { 'retry-after': '5' }, body: { message: 'You are making too many requests!', took: 0 } }));
    expect(await send({ to: 'down' })).toEqual({ outcome: 'retry', reason: 'Opsgenie answered HTTP 429: You are making too many requests!', retryAfterMs: 5000 });
    service().answer(() => ({ status: 500, body: { message: 'Internal Server Error', took: 0 } }));
    expect(await send({ to: 'up' })).toMatchObject({ outcome: 'retry', retryAfterMs: null });
  });

  it('refuses a loopback API server for a client, without the key in the error', async () => {
    await expectRefusedForClient(opsgenieChannel, options(), service(), /SECRET/);
  });

  it('defaults to the US API server and P3, keeps the API key secret', () => {
    expect(channelOptions(opsgenieChannel, { apiKey: KEY })).toEqual({ apiKey: KEY, apiUrl: 'https://api.opsgenie.com', alertOnDegraded: false, priority: 'P3', degradedPriority: 'P4' });
    expect(opsgenieChannel.secretOptions).toEqual(['apiKey']);
    expect(optionsRefused(opsgenieChannel, { apiKey: KEY, priority: 'P0' })).toBe(true);
    expect(optionsRefused(opsgenieChannel, { apiKey: 'key with spaces and more than twenty' })).toBe(true);
  });

  it('accepts the examples of its README', () => {
    expect(expectReadmeExamplesValid(opsgenieChannel, new URL('../README.md', import.meta.url))).toBe(1);
  });
});
