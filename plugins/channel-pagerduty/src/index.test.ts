import { describe, expect, it } from 'vitest';
import { channelContext, channelMessage, channelOptions, isJson, jsonObject, optionsRefused, expectReadmeExamplesValid, expectRefusedForClient, useReceiver, type Answer, type Received } from '../../../test/helpers/channel-receiver.js';
import { pagerdutyChannel } from './index.js';

const KEY = 'R0UTINGKEYsecret0123456789abcdef';
/** Incidents the receiver keeps, by dedup key: how many triggers it folded in, and whether resolved. */
const incidents = new Map<string, { triggers: number; resolved: boolean }>();

const invalid = (...errors: string[]): Answer => ({ status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors } });

function eventProblem(e: Record<string, any>): string | null {
  if (typeof e.routing_key !== 'string' || e.routing_key.length !== 32) return "Length of 'routing_key' is incorrect (should be 32 characters)";
  if (e.routing_key !== KEY) return 'Invalid routing key';
  if (!['trigger', 'acknowledge', 'resolve'].includes(e.event_action)) return "'event_action' is invalid (must be one of: trigger, acknowledge, resolve)";
  if (e.dedup_key !== undefined && (typeof e.dedup_key !== 'string' || e.dedup_key.length > 255)) return "'dedup_key' is invalid";
  if (e.event_action !== 'trigger') return typeof e.dedup_key === 'string' ? null : "'dedup_key' is missing";
  const p = e.payload ?? {};
  if (typeof p.summary !== 'string' || p.summary === '' || p.summary.length > 1024) return "'payload.summary' is missing or blank";
  if (typeof p.source !== 'string' || p.source === '') return "'payload.source' is missing or blank";
  if (!['critical', 'error', 'warning', 'info'].includes(p.severity)) return "'payload.severity' is invalid";
  return null;
}

/** What the Events API v2 checks, keeping incidents by dedup key the way PagerDuty folds alerts. */
function pagerdutyLike(req: Received): Answer {
  if (req.url !== '/v2/enqueue') return { status: 404, body: 'Not Found' };
  if (req.method !== 'POST' || !isJson(req)) return invalid('Event object is invalid');
  const e = jsonObject(req);
  const problem = eventProblem(e);
  if (problem) return invalid(problem);
  const key = e.dedup_key as string;
  const open = incidents.get(key);
  if (e.event_action === 'trigger') {
    if (open && !open.resolved) open.triggers += 1;
    else incidents.set(key, { triggers: 1, resolved: false });
  } else if (open && e.event_action === 'resolve') open.resolved = true;
  return { status: 202, body: { status: 'success', message: 'Event processed', dedup_key: key } };
}

const service = useReceiver(pagerdutyLike);
const options = (extra: Record<string, unknown> = {}) => channelOptions(pagerdutyChannel, { routingKey: KEY, eventsUrl: `${service().origin}/v2/enqueue`, ...extra });
const send = (over: Parameters<typeof channelMessage>[0], extra: Record<string, unknown> = {}) => pagerdutyChannel.send([channelMessage(over)], options(extra), channelContext());

describe('pagerduty channel', () => {
  it('triggers on down with the documented payload', async () => {
    service().answer(pagerdutyLike);
    const before = service().received.length;
    expect(await send({ to: 'down', incidentKey: 'webmon:acme:first' })).toEqual({ outcome: 'delivered' });
    expect(service().received[before]!.json).toMatchObject({
      routing_key: KEY,
      event_action: 'trigger',
      dedup_key: 'webmon:acme:first',
      payload: { summary: 'shop.example.com is DOWN', source: 'https://shop.example.com/health', severity: 'critical', timestamp: '2025-03-01T10:00:00.000Z', component: 'a1', group: 'acme', class: 'http_status' },
      client: 'webmon',
      client_url: 'https://webmon.example.com/assets/a1',
      links: [{ href: 'https://webmon.example.com/assets/a1', text: 'webmon' }],
    });
  });

  it('folds trigger, reminder and resolve of one outage into one incident by its dedup key', async () => {
    service().answer(pagerdutyLike);
    const key = 'webmon:acme:outage';
    const before = service().received.length;
    expect(await send({ to: 'down', incidentKey: key })).toEqual({ outcome: 'delivered' });
    expect(await send({ to: 'down', type: 'reminder', incidentKey: key })).toEqual({ outcome: 'delivered' });
    expect(await send({ to: 'up', incidentKey: key })).toEqual({ outcome: 'delivered' });
    const sent = service().received.slice(before).map((r) => jsonObject(r));
    expect(sent.map((e) => [e.event_action, e.dedup_key])).toEqual([
      ['trigger', key],
      ['trigger', key],
      ['resolve', key],
    ]);
    expect(sent[2]).toEqual({ routing_key: KEY, event_action: 'resolve', dedup_key: key });
    expect(incidents.get(key)).toEqual({ triggers: 2, resolved: true });
  });

  it('resolves on degraded by default, triggers a warning when configured, sends nothing for unknown', async () => {
    service().answer(pagerdutyLike);
    const before = service().received.length;
    expect(await send({ to: 'degraded', from: 'down' })).toEqual({ outcome: 'delivered' });
    expect(await send({ to: 'degraded', from: 'up' }, { triggerOnDegraded: true })).toEqual({ outcome: 'delivered' });
    expect(await send({ to: 'unknown', from: 'up' })).toEqual({ outcome: 'delivered' });
    const sent = service().received.slice(before).map((r) => jsonObject(r));
    expect(sent.map((e) => e.event_action)).toEqual(['resolve', 'trigger']);
    expect(sent[1]!.payload).toMatchObject({ severity: 'warning' });
  });

  it('a test message triggers an alert of its own and resolves it at once', async () => {
    service().answer(pagerdutyLike);
    const before = service().received.length;
    const out = await send({ type: 'test', id: 'test-9', to: 'up', incidentKey: 'webmon:acme:tested' });
    expect(out).toEqual({ outcome: 'delivered' });
    const sent = service().received.slice(before).map((r) => jsonObject(r));
    expect(sent.map((e) => [e.event_action, e.dedup_key])).toEqual([
      ['trigger', 'webmon:acme:tested:test:test-9'],
      ['resolve', 'webmon:acme:tested:test:test-9'],
    ]);
    expect(incidents.get('webmon:acme:tested:test:test-9')).toEqual({ triggers: 1, resolved: true });
    expect(incidents.has('webmon:acme:tested')).toBe(false);
  });

  it('a test message refused by PagerDuty is not followed by a resolve', async () => {
    service().answer(() => invalid('Invalid routing key'));
    const before = service().received.length;
    expect(await send({ type: 'test', id: 'test-10' })).toEqual({ outcome: 'rejected', reason: 'PagerDuty answered HTTP 400: Event object is invalid: Invalid routing key' });
    expect(service().received.length - before).toBe(1);
  });

  it('rejects an invalid event (400) with PagerDuty\'s error and no routing key in the reason', async () => {
    service().answer(pagerdutyLike);
    const out = await send({ to: 'down' }, { routingKey: 'ANOTHERkeySECRET0123456789abcdef' });
    expect(out).toEqual({ outcome: 'rejected', reason: 'PagerDuty answered HTTP 400: Event object is invalid: Invalid routing key' });
    expect(JSON.stringify(out)).not.toContain('SECRET');
    const notFound = await pagerdutyChannel.send([channelMessage()], options({ eventsUrl: `${service().origin}/v1/enqueue` }), channelContext());
    expect(notFound).toEqual({ outcome: 'rejected', reason: 'PagerDuty answered HTTP 404' });
  });

  it('retries a 429 (after Retry-After when given) and a 503', async () => {
    service().answer(() => ({ status: 429, headers: { 'retry-after': '20' }, body: { status: 'throttle event', message: 'Requests for this service are arriving too quickly. Please retry later.' } }));
    expect(await send({ to: 'down' })).toMatchObject({ outcome: 'retry', retryAfterMs: 20_000, reason: expect.stringMatching(/^PagerDuty answered HTTP 429: Requests for this service/) });
    service().answer(() => ({ status: 503, body: '' }));
    expect(await send({ to: 'up' })).toEqual({ outcome: 'retry', reason: 'PagerDuty answered HTTP 503', retryAfterMs: null });
  });

  it('refuses a loopback endpoint for a client', async () => {
    await expectRefusedForClient(pagerdutyChannel, options(), service(), /secret/);
  });

  it('defaults to the US endpoint and critical severity, keeps the routing key secret', () => {
    expect(channelOptions(pagerdutyChannel, { routingKey: KEY })).toEqual({ routingKey: KEY, eventsUrl: 'https://events.pagerduty.com/v2/enqueue', triggerOnDegraded: false, severity: 'critical', degradedSeverity: 'warning' });
    expect(pagerdutyChannel.secretOptions).toEqual(['routingKey']);
    expect(optionsRefused(pagerdutyChannel, { routingKey: 'short' })).toBe(true);
    expect(optionsRefused(pagerdutyChannel, { routingKey: KEY, severity: 'fatal' })).toBe(true);
  });

  it('accepts the examples of its README', () => {
    expect(expectReadmeExamplesValid(pagerdutyChannel, new URL('../README.md', import.meta.url))).toBe(1);
  });
});
