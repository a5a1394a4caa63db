/**
 * Telegram channel: sends each notification to a chat through a bot (Bot API `sendMessage`), as
 * HTML or plain text.
 *
 * Documented format (core.telegram.org/bots/api):
 * - `POST <api server>/bot<token>/sendMessage` (default server `https://api.telegram.org`; a
 *   self-hosted Bot API server works the same), parameters as `application/json`: `chat_id`
 *   (required; integer id or `@channelusername`), `text` (required; 1–4096 characters after
 *   entities parsing), `parse_mode` (`HTML`), `link_preview_options`, `disable_notification`,
 *   `message_thread_id`.
 * - HTML style: `<b>`, `<i>`, `<a href="…">`, `<code>`, `<pre>`; "All `<`, `>` and `&` symbols
 *   that are not a part of a tag or an HTML entity must be replaced with the corresponding HTML
 *   entities" (`&lt;`, `&gt;`, `&amp;`; `&quot;` inside attributes).
 * - Answers: `{"ok": true, "result": …}`, or `{"ok": false, "error_code": …, "description": …,
 *   "parameters": {"retry_after": N}}`: 400 "Bad Request: chat not found" / "can't parse
 *   entities", 401 "Unauthorized" (bad token), 403 "Forbidden: bot was blocked by the user",
 *   404 "Not Found", 429 "Too Many Requests: retry after N" with `parameters.retry_after`
 *   ("the number of seconds left to wait before the request can be repeated").
 * The token is part of the URL path: it never appears in a reason.
 */
import Type from 'typebox';
import {
  cutText,
  defineChannel,
  delivered,
  outcomeOfStatus,
  rejected,
  retryLater,
  type ChannelMessage,
  type ChannelResponse,
  type SendOutcome,
} from '@webmon/plugin-sdk';

export const telegramOptionsSchema = Type.Object(
  {
    botToken: Type.String({ pattern: '^[0-9]{1,20}:[A-Za-z0-9_-]{20,100}$', description: 'The bot token from @BotFather (123456:ABC…). A secret.' }),
    chatId: Type.String({ pattern: '^(-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$', description: 'The chat: a numeric id (groups are negative, e.g. "-1001234567890") or "@channelusername".' }),
    apiUrl: Type.String({ default: 'https://api.telegram.org', pattern: '^https?://[^\\s]+$', maxLength: 2048, description: 'The Bot API server (a self-hosted one, or the official default).' }),
    parseMode: Type.Union([Type.Literal('HTML'), Type.Literal('text')], { default: 'HTML', description: '`HTML`: bold title and a link; `text`: plain text.' }),
    messageThreadId: Type.Optional(Type.Integer({ minimum: 1, description: 'A forum topic of the chat.' })),
    disableNotification: Type.Boolean({ default: false, description: 'Deliver silently (no sound).' }),
  },
  { additionalProperties: false },
);

type TelegramOptions = Type.Static<typeof telegramOptionsSchema>;

/** Room left for the text after the title and link (Telegram's limit is 4096 visible characters). */
const TEXT_MAX = 3500;
const STATE_EMOJI: Record<string, string> = { down: '🔴', degraded: '🟠', up: '🟢', paused: '⏸' };

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}


/** The message text in the chosen parse mode, within Telegram's length limit. */
export function telegramText(m: ChannelMessage, mode: TelegramOptions['parseMode']): string {
  const title = `${STATE_EMOJI[m.to] ?? '⚪'} ${cutText(m.title, 300)}`;
  const text = cutText(m.text, TEXT_MAX);
  if (mode === 'text') return [title, text, m.link].filter(Boolean).join('\n\n');
  const parts = [`<b>${escapeHtml(title)}</b>`];
  if (text) parts.push(escapeHtml(text));
  if (m.link) parts.push(`<a href="${escapeHtml(m.link)}">Open in webmon</a>`);
  return parts.join('\n\n');
}

export function telegramPayload(m: ChannelMessage, o: TelegramOptions): Record<string, unknown> {
  const body: Record<string, unknown> = {
    chat_id: o.chatId,
    text: telegramText(m, o.parseMode),
    link_preview_options: { is_disabled: true },
    disable_notification: o.disableNotification,
  };
  if (o.parseMode === 'HTML') body.parse_mode = 'HTML';
  if (o.messageThreadId !== undefined) body.message_thread_id = o.messageThreadId;
  return body;
}

/** Reads the Bot API's answer: `description` for the reason, `parameters.retry_after` (seconds) on a 429. */
export function telegramOutcome(res: ChannelResponse): SendOutcome {
  let answer: { description?: unknown; parameters?: { retry_after?: unknown } } = {};
  try {
    answer = JSON.parse(res.body) ?? {};
  } catch {
    // not JSON (a proxy's page): the status alone decides
  }
  const detail = typeof answer.description === 'string' ? answer.description.slice(0, 200) : '';
  const seconds = answer.parameters?.retry_after;
  if (res.status === 429 && typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0) {
    return retryLater(`Telegram answered HTTP 429${detail ? `: ${detail}` : ''}`, Math.ceil(seconds * 1000));
  }
  return outcomeOfStatus('Telegram', res, detail);
}

function methodUrl(o: TelegramOptions): string | null {
  if (!URL.canParse(o.apiUrl)) return null;
  const base = new URL(o.apiUrl);
  base.pathname = `${base.pathname.replace(/\/+$/, '')}/bot${o.botToken}/sendMessage`;
  return base.href;
}

export const telegramChannel = defineChannel({
  name: 'telegram',
  description: 'Sends a message to a Telegram chat through a bot (Bot API sendMessage).',
  optionsSchema: telegramOptionsSchema,
  secretOptions: ['botToken'],
  endpointOptions: ['apiUrl'],
  async send(messages, options, ctx) {
    const [m] = messages;
    if (!m) return delivered();
    const url = methodUrl(options);
    if (!url) return rejected('Telegram: the API URL is not a valid URL');
    return telegramOutcome(await ctx.request(url, { body: telegramPayload(m, options) }));
  },
});
