/**
 * Slack channel: posts each notification to a Slack incoming webhook as a Block Kit message.
 *
 * Documented format (api.slack.com/messaging/webhooks, Block Kit reference):
 * - `POST <incoming webhook URL>` (`https://hooks.slack.com/services/T…/B…/…`, the URL is the
 *   credential), `Content-Type: application/json`, body `{"text": …, "blocks": [ … ]}`; with
 *   blocks present, `text` is the fallback shown in notifications.
 * - Blocks: `{"type": "header", "text": {"type": "plain_text", "text": …}}` (≤ 150 characters),
 *   `{"type": "section", "text": {"type": "mrkdwn", "text": …}}` (≤ 3000 characters),
 *   `{"type": "context", "elements": [{"type": "mrkdwn", "text": …}]}` (≤ 10 elements). In
 *   mrkdwn, `&`, `<` and `>` are written `&amp;`, `&lt;`, `&gt;`; links are `<url|text>`.
 * - Answers: 200 with the body `ok`; 400 `invalid_payload` / `user_not_found`; 403
 *   `action_prohibited` / `invalid_token`; 404 `channel_not_found` / `no_service`; 410
 *   `channel_is_archived`; 500 `rollup_error`; 429 when over about one message per second, with
 *   Retry-After.
 */
import Type from 'typebox';
import { cutText, defineChannel, delivered, outcomeOfStatus, rejected, type ChannelMessage } from '@webmon/plugin-sdk';

export const slackOptionsSchema = Type.Object(
  {
    webhookUrl: Type.String({
      pattern: '^https?://[^\\s]+$',
      maxLength: 2048,
      description: 'The incoming webhook URL (https://hooks.slack.com/services/…). A secret: whoever has it can post to the channel.',
    }),
  },
  { additionalProperties: false },
);

const HEADER_MAX = 150;
const SECTION_MAX = 3000;
/** Slack's error answers are short snake_case codes; anything else is not repeated in a reason. */
const SLACK_ERROR = /^[a-z_]{1,64}$/;

/** Shortcodes Slack renders in plain_text (emoji: true) and mrkdwn. */
const STATE_EMOJI: Record<string, string> = {
  down: ':red_circle:',
  degraded: ':large_orange_circle:',
  up: ':large_green_circle:',
  paused: ':double_vertical_bar:',
};

export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `<url|label>`; a `|` in the URL would end it early, so it is percent-encoded. */
function mrkdwnLink(url: string, label: string): string {
  return `<${escapeMrkdwn(url.replace(/\|/g, '%7C'))}|${escapeMrkdwn(label)}>`;
}


/** The Block Kit payload for one message. */
export function slackPayload(m: ChannelMessage): Record<string, unknown> {
  const emoji = STATE_EMOJI[m.to] ?? ':white_circle:';
  const context = [mrkdwnLink(m.asset.url, m.asset.url)];
  if (m.link) context.push(mrkdwnLink(m.link, 'Open in webmon'));
  const blocks: unknown[] = [{ type: 'header', text: { type: 'plain_text', text: cutText(`${emoji} ${m.title}`, HEADER_MAX), emoji: true } }];
  if (m.text) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: cutText(escapeMrkdwn(m.text), SECTION_MAX) } });
  blocks.push({ type: 'context', elements: context.map((text) => ({ type: 'mrkdwn', text })) });
  // The fallback `text` is mrkdwn too (notifications, screen readers): `<!channel>` in a title must stay text.
  return { text: escapeMrkdwn(m.title), blocks };
}

export const slackChannel = defineChannel({
  name: 'slack',
  description: 'Posts a Block Kit message to a Slack incoming webhook.',
  optionsSchema: slackOptionsSchema,
  secretOptions: ['webhookUrl'],
  async send(messages, options, ctx) {
    const [m] = messages;
    if (!m) return delivered();
    if (!URL.canParse(options.webhookUrl)) return rejected('Slack: the webhook URL is not a valid URL');
    const res = await ctx.request(options.webhookUrl, { body: slackPayload(m) });
    const code = res.body.trim();
    return outcomeOfStatus('Slack', res, SLACK_ERROR.test(code) && code !== 'ok' ? code : '');
  },
});
