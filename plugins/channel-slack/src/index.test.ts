import { describe, expect, it } from 'vitest';
import { channelContext, channelMessage, channelOptions, isJson, optionsRefused, expectReadmeExamplesValid, expectRefusedForClient, useReceiver, type Answer, type Received } from '../../../test/helpers/channel-receiver.js';
import { slackChannel } from './index.js';

const KEY = 'T0001/B0002/XXXXsecretXXXX';

/** What hooks.slack.com checks: the keyed path, POST, a JSON body with text or blocks. */
function slackLike(req: Received): Answer {
  if (req.url !== `/services/${KEY}`) return { status: 404, body: 'no_service' };
  if (req.method !== 'POST') return { status: 405, body: 'invalid_method' };
  const body = req.json as { text?: unknown; blocks?: unknown } | undefined;
  if (!isJson(req) || !body || (typeof body.text !== 'string' && !Array.isArray(body.blocks))) return { status: 400, body: 'invalid_payload' };
  if (Array.isArray(body.blocks) && !body.blocks.every(validBlock)) return { status: 400, body: 'invalid_blocks' };
  return { status: 200, body: 'ok' };
}

function validBlock(b: { type?: string; text?: { type?: string; text?: string } }): boolean {
  if (b.type === 'header') return b.text?.type === 'plain_text' && (b.text.text?.length ?? 0) <= 150;
  if (b.type === 'section') return (b.text?.type === 'mrkdwn' || b.text?.type === 'plain_text') && (b.text.text?.length ?? 0) <= 3000;
  return b.type === 'context';
}

const service = useReceiver(slackLike);
const options = () => channelOptions(slackChannel, { webhookUrl: `${service().origin}/services/${KEY}` });

describe('slack channel', () => {
  it('posts a down message as Block Kit with a text fallback, escaped for mrkdwn', async () => {
    service().answer(slackLike);
    const before = service().received.length;
    const out = await slackChannel.send([channelMessage({ to: 'down' })], options(), channelContext());
    expect(out).toEqual({ outcome: 'delivered' });
    const req = service().received[before]!;
    expect(req.headers['user-agent']).toBe('webmon-notifier/test');
    const body = req.json as { text: string; blocks: Array<Record<string, any>> };
    expect(body.text).toBe('shop.example.com is DOWN');
    expect(body.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: ':red_circle: shop.example.com is DOWN', emoji: true } });
    expect(body.blocks[1]!.text.text).toBe('https://shop.example.com/health went from up to down &lt;b&gt;&amp;&lt;/b&gt;');
    expect(body.blocks[2]!.elements.map((e: { text: string }) => e.text)).toEqual([
      '<https://shop.example.com/health|https://shop.example.com/health>',
      '<https://webmon.example.com/assets/a1|Open in webmon>',
    ]);
  });

  it('escapes the text fallback too, so a title holding <!channel> pings no one', async () => {
    service().answer(slackLike);
    const before = service().received.length;
    const out = await slackChannel.send([channelMessage({ title: 'https://x.example/<!channel> & <@U123> is DOWN' })], options(), channelContext());
    expect(out).toEqual({ outcome: 'delivered' });
    expect((service().received[before]!.json as { text: string }).text).toBe('https://x.example/&lt;!channel&gt; &amp; &lt;@U123&gt; is DOWN');
  });

  it('posts an up message with the up emoji', async () => {
    service().answer(slackLike);
    const before = service().received.length;
    expect(await slackChannel.send([channelMessage({ to: 'up' })], options(), channelContext())).toEqual({ outcome: 'delivered' });
    expect((service().received[before]!.json as { blocks: Array<{ text: { text: string } }> }).blocks[0]!.text.text).toBe(':large_green_circle: shop.example.com is UP');
  });

  it('keeps the header within 150 characters', async () => {
    service().answer(slackLike);
    const out = await slackChannel.send([channelMessage({ title: 'x'.repeat(400), text: 'y'.repeat(5000) })], options(), channelContext());
    expect(out).toEqual({ outcome: 'delivered' });
  });

  it('retries a 429 after Retry-After and a 500', async () => {
    service().answer(() => ({ status: 429, headers: { 'retry-after': '7' }, body: 'rate_limited' }));
    expect(await slackChannel.send([channelMessage()], options(), channelContext())).toMatchObject({ outcome: 'retry', retryAfterMs: 7000, reason: 'Slack answered HTTP 429: rate_limited' });
    service().answer(() => ({ status: 500, body: 'rollup_error' }));
    expect(await slackChannel.send([channelMessage()], options(), channelContext())).toMatchObject({ outcome: 'retry', retryAfterMs: null });
  });

  it.each([
    [400, 'invalid_payload'],
    [403, 'action_prohibited'],
    [404, 'no_service'],
    [410, 'channel_is_archived'],
  ])('rejects HTTP %i (%s) without the webhook key in the reason', async (status, code) => {
    service().answer(() => ({ status, body: code }));
    const out = await slackChannel.send([channelMessage()], options(), channelContext());
    expect(out).toEqual({ outcome: 'rejected', reason: `Slack answered HTTP ${status}: ${code}` });
  });

  it('rejects a wrong webhook path the way Slack does', async () => {
    service().answer(slackLike);
    const out = await slackChannel.send([channelMessage()], channelOptions(slackChannel, { webhookUrl: `${service().origin}/services/T0001/B0002/wrong` }), channelContext());
    expect(out).toEqual({ outcome: 'rejected', reason: 'Slack answered HTTP 404: no_service' });
  });

  it('does not repeat an unexpected answer body in the reason', async () => {
    service().answer(() => ({ status: 400, body: `<html>error at /services/${KEY}</html>` }));
    const out = await slackChannel.send([channelMessage()], options(), channelContext());
    expect(out).toEqual({ outcome: 'rejected', reason: 'Slack answered HTTP 400' });
  });

  it('refuses a loopback webhook for a client, without the key in the error', async () => {
    await expectRefusedForClient(slackChannel, options(), service(), /secret/);
  });

  it('declares the webhook URL a secret and refuses other schemes and unknown options', () => {
    expect(slackChannel.secretOptions).toEqual(['webhookUrl']);
    expect(optionsRefused(slackChannel, { webhookUrl: 'ftp://hooks.slack.com/x' })).toBe(true);
    expect(optionsRefused(slackChannel, { webhookUrl: 'https://hooks.slack.com/x', channel: '#ops' })).toBe(true);
    expect(optionsRefused(slackChannel, {})).toBe(true);
  });

  it('accepts the examples of its README', () => {
    expect(expectReadmeExamplesValid(slackChannel, new URL('../README.md', import.meta.url))).toBe(1);
  });
});
