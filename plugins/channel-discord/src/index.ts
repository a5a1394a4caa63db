/**
 * Discord channel: executes a Discord webhook with one embed per notification (or plain text).
 *
 * Documented format (discord.com/developers/docs/resources/webhook#execute-webhook):
 * - `POST /api/webhooks/{webhook.id}/{webhook.token}` (the URL holds the token),
 *   `Content-Type: application/json`; query `wait` ("waits for server confirmation of message send
 *   before response … when false a message that is not saved does not return an error") and
 *   `thread_id`.
 * - Body: at least one of `content` (≤ 2000 characters) and `embeds` (≤ 10); optional
 *   `username`, `avatar_url`, `allowed_mentions`. An embed has `title` (≤ 256), `description`
 *   (≤ 4096), `url`, `timestamp` (ISO 8601), `color` (integer), `fields` (≤ 25; name ≤ 256,
 *   value ≤ 1024), `footer.text`; all of a message's embed text ≤ 6000.
 * - Answers: 204 (no wait) or 200 with the message (wait=true); 400 `{"code": 50006 | 50035,
 *   "message": …}`; 401 `{"code": 50027, "message": "Invalid Webhook Token"}`; 404
 *   `{"code": 10015, "message": "Unknown Webhook"}`; 429 `{"message": "You are being rate
 *   limited.", "retry_after": 1.234, "global": false}` (seconds), also as Retry-After.
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

export const discordOptionsSchema = Type.Object(
  {
    webhookUrl: Type.String({
      pattern: '^https?://[^\\s]+$',
      maxLength: 2048,
      description: 'The webhook URL (https://discord.com/api/webhooks/<id>/<token>). A secret: it holds the token.',
    }),
    format: Type.Union([Type.Literal('embed'), Type.Literal('text')], { default: 'embed', description: '`embed`: a coloured embed per message; `text`: plain `content`.' }),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 80, description: 'Overrides the webhook\'s name.' })),
    avatarUrl: Type.Optional(Type.String({ pattern: '^https://[^\\s]+$', maxLength: 2048, description: 'Overrides the webhook\'s avatar.' })),
    threadId: Type.Optional(Type.String({ pattern: '^[0-9]{1,20}$', description: 'Posts into this thread of the webhook\'s channel.' })),
    wait: Type.Boolean({ default: true, description: 'Ask Discord to confirm the message was saved (without it a message that is not saved is not reported).' }),
  },
  { additionalProperties: false },
);

type DiscordOptions = Type.Static<typeof discordOptionsSchema>;

/** Embed colours by state (decimal RGB). */
const STATE_COLOR: Record<string, number> = { down: 0xe74c3c, degraded: 0xf39c12, up: 0x2ecc71 };
const NEUTRAL = 0x95a5a6;


function embedOf(m: ChannelMessage): Record<string, unknown> {
  const fields = [{ name: 'State', value: `${m.from} → ${m.to}`, inline: true }];
  if (m.reason) fields.push({ name: 'Reason', value: cutText(m.reason, 1024), inline: true });
  return {
    title: cutText(m.title, 256),
    description: cutText(m.text, 4096),
    url: m.link ?? m.asset.url,
    timestamp: m.at,
    color: STATE_COLOR[m.to] ?? NEUTRAL,
    fields,
    footer: { text: 'webmon' },
  };
}

/** The execute-webhook body; mentions are never parsed, so an asset named "@everyone" pings no one. */
export function discordPayload(m: ChannelMessage, o: DiscordOptions): Record<string, unknown> {
  const body: Record<string, unknown> = { allowed_mentions: { parse: [] } };
  if (o.format === 'text') body.content = cutText(`**${m.title}**\n${m.text}`, 2000);
  else body.embeds = [embedOf(m)];
  if (o.username) body.username = o.username;
  if (o.avatarUrl) body.avatar_url = o.avatarUrl;
  return body;
}

function webhookTarget(o: DiscordOptions): string | null {
  if (!URL.canParse(o.webhookUrl)) return null;
  const url = new URL(o.webhookUrl);
  if (o.wait) url.searchParams.set('wait', 'true');
  if (o.threadId) url.searchParams.set('thread_id', o.threadId);
  return url.href;
}

/** Discord's JSON error answer: `message` for the reason, `retry_after` (seconds) on a 429. */
export function discordOutcome(res: ChannelResponse): SendOutcome {
  let answer: { message?: unknown; retry_after?: unknown } = {};
  try {
    answer = JSON.parse(res.body) ?? {};
  } catch {
    // not JSON (a proxy's page): the status alone decides
  }
  const detail = typeof answer.message === 'string' ? answer.message.slice(0, 200) : '';
  const seconds = answer.retry_after;
  if (res.status === 429 && typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0) {
    return retryLater(`Discord answered HTTP 429${detail ? `: ${detail}` : ''}`, Math.ceil(seconds * 1000));
  }
  return outcomeOfStatus('Discord', res, detail);
}

export const discordChannel = defineChannel({
  name: 'discord',
  description: 'Posts an embed (or text) through a Discord webhook.',
  optionsSchema: discordOptionsSchema,
  secretOptions: ['webhookUrl'],
  async send(messages, options, ctx) {
    const [m] = messages;
    if (!m) return delivered();
    const target = webhookTarget(options);
    if (!target) return rejected('Discord: the webhook URL is not a valid URL');
    return discordOutcome(await ctx.request(target, { body: discordPayload(m, options) }));
  },
});
