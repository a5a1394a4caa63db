import { describe, expect, it } from 'vitest';
import { channelContext, channelMessage, channelOptions, isJson, jsonObject, optionsRefused, expectReadmeExamplesValid, expectRefusedForClient, useReceiver, type Answer, type Received } from '../../../test/helpers/channel-receiver.js';
import { discordChannel } from './index.js';

const HOOK = '/api/webhooks/123456789/tokenSECRETtoken';

/** What Discord checks: the webhook path and token, POST JSON, content or embeds within limits. */
function discordLike(req: Received): Answer {
  const url = new URL(req.url, 'http://x');
  if (!url.pathname.startsWith('/api/webhooks/123456789/')) return { status: 404, body: { message: 'Unknown Webhook', code: 10015 } };
  if (url.pathname !== HOOK) return { status: 401, body: { message: 'Invalid Webhook Token', code: 50027 } };
  const body = jsonObject(req);
  if (req.method !== 'POST' || !isJson(req)) return { status: 400, body: { message: 'Invalid Form Body', code: 50035 } };
  const embeds = body.embeds as Array<Record<string, any>> | undefined;
  if (typeof body.content !== 'string' && !embeds?.length) return { status: 400, body: { message: 'Cannot send an empty message', code: 50006 } };
  if (typeof body.content === 'string' && body.content.length > 2000) return { status: 400, body: { message: 'Invalid Form Body', code: 50035 } };
  if (embeds?.some((e) => e.title?.length > 256 || e.description?.length > 4096 || !Number.isInteger(e.color))) return { status: 400, body: { message: 'Invalid Form Body', code: 50035 } };
  return url.searchParams.get('wait') === 'true' ? { status: 200, body: { id: '1', content: body.content ?? '' } } : { status: 204 };
}

const service = useReceiver(discordLike);
const options = (extra: Record<string, unknown> = {}) => channelOptions(discordChannel, { webhookUrl: `${service().origin}${HOOK}`, ...extra });

describe('discord channel', () => {
  it('posts a down message as a red embed, waiting for confirmation, mentions disabled', async () => {
    service().answer(discordLike);
    const before = service().received.length;
    expect(await discordChannel.send([channelMessage({ to: 'down' })], options(), channelContext())).toEqual({ outcome: 'delivered' });
    const req = service().received[before]!;
    expect(req.url).toBe(`${HOOK}?wait=true`);
    const body = req.json as Record<string, any>;
    expect(body.allowed_mentions).toEqual({ parse: [] });
    expect(body.content).toBeUndefined();
    expect(body.embeds[0]).toMatchObject({
      title: 'shop.example.com is DOWN',
      url: 'https://webmon.example.com/assets/a1',
      color: 0xe74c3c,
      timestamp: '2025-03-01T10:00:00.000Z',
      fields: [
        { name: 'State', value: 'up → down', inline: true },
        { name: 'Reason', value: 'http_status', inline: true },
      ],
    });
  });

  it('posts an up message as a green embed, and text with username and thread when asked', async () => {
    service().answer(discordLike);
    const before = service().received.length;
    expect(await discordChannel.send([channelMessage({ to: 'up' })], options(), channelContext())).toEqual({ outcome: 'delivered' });
    expect((service().received[before]!.json as any).embeds[0].color).toBe(0x2ecc71);
    const text = options({ format: 'text', username: 'webmon', wait: false, threadId: '42' });
    expect(await discordChannel.send([channelMessage({ to: 'up', text: 'z'.repeat(3000) })], text, channelContext())).toEqual({ outcome: 'delivered' });
    const req = service().received[before + 1]!;
    expect(req.url).toBe(`${HOOK}?thread_id=42`);
    expect(req.json).toMatchObject({ username: 'webmon', content: expect.stringMatching(/^\*\*shop\.example\.com is UP\*\*\nzzz/) });
    expect((req.json as { content: string }).content.length).toBe(2000);
  });

  it('retries a 429 after the JSON retry_after (seconds, fractional)', async () => {
    service().answer(() => ({ status: 429, headers: { 'retry-after': '3' }, body: { message: 'You are being rate limited.', retry_after: 2.5, global: false } }));
    expect(await discordChannel.send([channelMessage()], options(), channelContext())).toEqual({ outcome: 'retry', reason: 'Discord answered HTTP 429: You are being rate limited.', retryAfterMs: 2500 });
  });

  it('retries a 429 without a JSON body after Retry-After, and a 502', async () => {
    service().answer(() => ({ status: 429, headers: { 'retry-after': '4' }, body: 'slow down' }));
    expect(await discordChannel.send([channelMessage()], options(), channelContext())).toMatchObject({ outcome: 'retry', retryAfterMs: 4000 });
    service().answer(() => ({ status: 502, body: '<html>bad gateway</html>' }));
    expect(await discordChannel.send([channelMessage()], options(), channelContext())).toEqual({ outcome: 'retry', reason: 'Discord answered HTTP 502', retryAfterMs: null });
  });

  it('rejects an unknown webhook (404), a wrong token (401) and an empty message (400), without the token', async () => {
    service().answer(discordLike);
    const unknown = channelOptions(discordChannel, { webhookUrl: `${service().origin}/api/webhooks/999/tokenSECRETtoken` });
    const wrong = channelOptions(discordChannel, { webhookUrl: `${service().origin}/api/webhooks/123456789/nope` });
    const outs = [
      await discordChannel.send([channelMessage()], unknown, channelContext()),
      await discordChannel.send([channelMessage()], wrong, channelContext()),
    ];
    service().answer(() => ({ status: 400, body: { message: 'Cannot send an empty message', code: 50006 } }));
    outs.push(await discordChannel.send([channelMessage()], options(), channelContext()));
    expect(outs).toEqual([
      { outcome: 'rejected', reason: 'Discord answered HTTP 404: Unknown Webhook' },
      { outcome: 'rejected', reason: 'Discord answered HTTP 401: Invalid Webhook Token' },
      { outcome: 'rejected', reason: 'Discord answered HTTP 400: Cannot send an empty message' },
    ]);
    expect(JSON.stringify(outs)).not.toContain('SECRET');
  });

  it('refuses a loopback webhook for a client', async () => {
    await expectRefusedForClient(discordChannel, options(), service(), /SECRET/);
  });

  it('declares the webhook URL a secret and validates its options', () => {
    expect(discordChannel.secretOptions).toEqual(['webhookUrl']);
    expect(optionsRefused(discordChannel, { webhookUrl: 'https://discord.com/api/webhooks/1/t', format: 'html' })).toBe(true);
    expect(optionsRefused(discordChannel, { webhookUrl: 'https://discord.com/api/webhooks/1/t', threadId: 'abc' })).toBe(true);
    expect(optionsRefused(discordChannel, { webhookUrl: 'https://discord.com/api/webhooks/1/t' })).toBe(false);
  });

  it('accepts the examples of its README', () => {
    expect(expectReadmeExamplesValid(discordChannel, new URL('../README.md', import.meta.url))).toBe(1);
  });
});
