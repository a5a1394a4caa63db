import { describe, expect, it } from 'vitest';
import { channelContext, channelMessage, channelOptions, isJson, jsonObject, optionsRefused, expectReadmeExamplesValid, expectRefusedForClient, useReceiver, type Answer, type Received } from '../../../test/helpers/channel-receiver.js';
import { telegramChannel } from './index.js';

const TOKEN = '123456:AAsecretSECRETsecretSECRET_x';
const CHATS = new Set(['-1001234567890', '@webmon_ops']);

const fail = (code: number, description: string, extra: Record<string, unknown> = {}): Answer => ({ status: code, body: { ok: false, error_code: code, description, ...extra } });

/** Telegram's HTML parser: the allowed tags, and every other <, > and & written as an entity. */
function htmlProblem(text: string): string | null {
  const bare = text.replace(/<\/?(b|i|u|s|code|pre)>|<a href="[^"<>]*">|<\/a>/g, '');
  if (/[<>]/.test(bare)) return "Bad Request: can't parse entities: unsupported start tag";
  if (/&(?!(amp|lt|gt|quot|#\d+);)/.test(bare)) return "Bad Request: can't parse entities: unexpected end of name";
  return null;
}

function visibleLength(text: string, html: boolean): number {
  if (!html) return text.length;
  return text.replace(/<[^>]*>/g, '').replace(/&(amp|lt|gt|quot|#\d+);/g, '_').length;
}

/** What the Bot API checks for sendMessage. */
function telegramLike(req: Received): Answer {
  if (!req.url.startsWith('/bot')) return fail(404, 'Not Found');
  if (req.url !== `/bot${TOKEN}/sendMessage`) return fail(401, 'Unauthorized');
  if (req.method !== 'POST' || !isJson(req)) return fail(400, 'Bad Request: message text is empty');
  const p = jsonObject(req);
  if (typeof p.chat_id !== 'string' || !CHATS.has(p.chat_id)) return fail(400, 'Bad Request: chat not found');
  const html = p.parse_mode === 'HTML';
  if (typeof p.text !== 'string' || p.text.length === 0) return fail(400, 'Bad Request: message text is empty');
  const problem = html ? htmlProblem(p.text) : null;
  if (problem) return fail(400, problem);
  if (visibleLength(p.text, html) > 4096) return fail(400, 'Bad Request: message is too long');
  return { status: 200, body: { ok: true, result: { message_id: 7, chat: { id: -1001234567890 }, date: 1700000000, text: p.text } } };
}

const service = useReceiver(telegramLike);
const options = (extra: Record<string, unknown> = {}) => channelOptions(telegramChannel, { botToken: TOKEN, chatId: '-1001234567890', apiUrl: service().origin, ...extra });

describe('telegram channel', () => {
  it('sends a down message as HTML, escaped so the Bot API parses it', async () => {
    service().answer(telegramLike);
    const before = service().received.length;
    expect(await telegramChannel.send([channelMessage({ to: 'down' })], options(), channelContext())).toEqual({ outcome: 'delivered' });
    expect(service().received[before]!.json).toEqual({
      chat_id: '-1001234567890',
      parse_mode: 'HTML',
      text: '<b>🔴 shop.example.com is DOWN</b>\n\nhttps://shop.example.com/health went from up to down &lt;b&gt;&amp;&lt;/b&gt;\n\n<a href="https://webmon.example.com/assets/a1">Open in webmon</a>',
      link_preview_options: { is_disabled: true },
      disable_notification: false,
    });
  });

  it('sends an up message as plain text to a channel username, in a topic, silently', async () => {
    service().answer(telegramLike);
    const before = service().received.length;
    const o = options({ parseMode: 'text', chatId: '@webmon_ops', messageThreadId: 5, disableNotification: true });
    expect(await telegramChannel.send([channelMessage({ to: 'up' })], o, channelContext())).toEqual({ outcome: 'delivered' });
    const body = service().received[before]!.json as Record<string, unknown>;
    expect(body.parse_mode).toBeUndefined();
    expect(body).toMatchObject({ chat_id: '@webmon_ops', message_thread_id: 5, disable_notification: true, text: expect.stringMatching(/^🟢 shop\.example\.com is UP\n\n.*<b>&<\/b>\n\nhttps:\/\/webmon/s) });
  });

  it('stays within 4096 characters however long the text, with markup-heavy text', async () => {
    service().answer(telegramLike);
    const out = await telegramChannel.send([channelMessage({ title: '<'.repeat(500), text: '&<>"'.repeat(3000) })], options(), channelContext());
    expect(out).toEqual({ outcome: 'delivered' });
  });

  it('retries a 429 after parameters.retry_after, and a 500', async () => {
    service().answer(() => fail(429, 'Too Many Requests: retry after 12', { parameters: { retry_after: 12 } }));
    expect(await telegramChannel.send([channelMessage()], options(), channelContext())).toEqual({ outcome: 'retry', reason: 'Telegram answered HTTP 429: Too Many Requests: retry after 12', retryAfterMs: 12_000 });
    service().answer(() => ({ status: 500, body: 'oops' }));
    expect(await telegramChannel.send([channelMessage()], options(), channelContext())).toEqual({ outcome: 'retry', reason: 'Telegram answered HTTP 500', retryAfterMs: null });
  });

  it('rejects a wrong token (401), an unknown chat (400), a blocked bot (403), without the token', async () => {
    service().answer(telegramLike);
    const outs = [
      await telegramChannel.send([channelMessage()], options({ botToken: '123456:AAsecretSECRETsecretSECRET_y' }), channelContext()),
      await telegramChannel.send([channelMessage()], options({ chatId: '42' }), channelContext()),
    ];
    service().answer(() => fail(403, 'Forbidden: bot was blocked by the user'));
    outs.push(await telegramChannel.send([channelMessage()], options(), channelContext()));
    expect(outs).toEqual([
      { outcome: 'rejected', reason: 'Telegram answered HTTP 401: Unauthorized' },
      { outcome: 'rejected', reason: 'Telegram answered HTTP 400: Bad Request: chat not found' },
      { outcome: 'rejected', reason: 'Telegram answered HTTP 403: Forbidden: bot was blocked by the user' },
    ]);
    expect(JSON.stringify(outs)).not.toMatch(/secret|SECRET/);
  });

  it('refuses a loopback API server for a client, without the token in the error', async () => {
    await expectRefusedForClient(telegramChannel, options(), service(), /secret|SECRET/);
  });

  it('defaults to the official API server and validates token and chat', () => {
    expect(channelOptions(telegramChannel, { botToken: TOKEN, chatId: '@webmon_ops' })).toEqual({ botToken: TOKEN, chatId: '@webmon_ops', apiUrl: 'https://api.telegram.org', parseMode: 'HTML', disableNotification: false });
    expect(telegramChannel.secretOptions).toEqual(['botToken']);
    expect(optionsRefused(telegramChannel, { botToken: 'not-a-token', chatId: '1' })).toBe(true);
    expect(optionsRefused(telegramChannel, { botToken: TOKEN, chatId: 'ops' })).toBe(true);
  });

  it('accepts the examples of its README', () => {
    expect(expectReadmeExamplesValid(telegramChannel, new URL('../README.md', import.meta.url))).toBe(1);
  });
});
