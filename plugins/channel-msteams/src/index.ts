/**
 * The `msteams` channel: an Adaptive Card posted to a Microsoft Teams workflow URL (Power Automate
 * / Teams Workflows, trigger "When a Teams webhook request is received", the successor of the
 * retired Office 365 connectors' incoming webhooks).
 *
 * Payload, as Microsoft documents it for sending Adaptive Cards to a Teams webhook
 * (learn.microsoft.com, "Send adaptive cards using an incoming webhook"): a POST with
 * `Content-Type: application/json` and the body
 *
 *   {
 *     "type": "message",
 *     "attachments": [
 *       {
 *         "contentType": "application/vnd.microsoft.card.adaptive",
 *         "contentUrl": null,
 *         "content": {
 *           "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
 *           "type": "AdaptiveCard",
 *           "version": "1.4",
 *           "body": [ { "type": "TextBlock", "text": "…" } ]
 *         }
 *       }
 *     ]
 *   }
 *
 * "The type field must be message; the attachments array contains a set of card objects; the
 * contentType field must be set to adaptive card type; the content object is the card formatted
 * in JSON." The workflow's "Post card in a chat or channel" step posts `attachments[0].content`.
 * Card version 1.4 (what Teams renders for webhooks); `msteams.width: "Full"` widens it.
 *
 * Answers: a workflow accepts with 202 (a legacy connector with 200 and "1"); 429 (with
 * Retry-After), 408 and 5xx are retried; 400 (bad card), 401/403 (bad `sig`), 404 (workflow
 * deleted or off) are rejected. Legacy connectors reported throttling in a 200 body ("Microsoft
 * Teams endpoint returned HTTP error 429"): that is retried too.
 *
 * The URL is the secret (its `sig` parameter authorizes the post): it is never logged and never
 * part of a reason, even when a service's error text echoes it.
 */
import Type from 'typebox';
import {
  cutText,
  defineChannel,
  delivered,
  egressDenial,
  outcomeOfStatus,
  retryLater,
  type ChannelContext,
  type ChannelMessage,
  type ChannelResponse,
  type SendOutcome,
} from '@webmon/plugin-sdk';

export const ADAPTIVE_CARD = 'application/vnd.microsoft.card.adaptive';
const TITLE_MAX = 300;
const TEXT_MAX = 4_000;
const DETAIL_MAX = 200;

export const msteamsOptionsSchema = Type.Object(
  {
    url: Type.String({
      format: 'uri',
      pattern: '^https?://',
      maxLength: 2048,
      description: 'The workflow URL of the Teams trigger "When a Teams webhook request is received" (secret: never returned nor logged).',
    }),
  },
  { additionalProperties: false },
);

export type MsteamsOptions = Type.Static<typeof msteamsOptionsSchema>;

export const msteamsChannel = defineChannel({
  name: 'msteams',
  description: 'Microsoft Teams: an Adaptive Card posted to a Teams workflow URL.',
  optionsSchema: msteamsOptionsSchema,
  secretOptions: ['url'],
  send: postCard,
});

async function postCard(messages: readonly ChannelMessage[], options: MsteamsOptions, ctx: ChannelContext): Promise<SendOutcome> {
  const m = messages[0];
  if (!m) return delivered();
  let res: ChannelResponse;
  try {
    res = await ctx.request(options.url, { method: 'POST', body: teamsPayload(m), headers: { accept: 'application/json' } });
  } catch (err) {
    return failureOutcome(err, options.url, ctx);
  }
  if (res.status < 300 && res.body.includes('returned HTTP error 429')) return retryLater('Teams throttled the post (HTTP error 429 in a 200 answer)');
  return outcomeOfStatus('Teams workflow', res, res.status < 300 ? '' : errorDetail(res.body, options.url));
}

const STATE_COLORS: Record<string, string> = { up: 'Good', down: 'Attention', degraded: 'Warning' };


/** The card's facts: what changed, why, when. */
function facts(m: ChannelMessage): { title: string; value: string }[] {
  const rows = [
    { title: 'Asset', value: m.asset.url },
    { title: 'State', value: `${m.from} → ${m.to}` },
  ];
  if (m.reason) rows.push({ title: 'Reason', value: m.reason });
  if (m.message) rows.push({ title: 'Message', value: cutText(m.message, TEXT_MAX) });
  rows.push({ title: 'At', value: m.at });
  if (m.since) rows.push({ title: 'Since', value: m.since });
  return rows;
}

/** The documented webhook body: one message with one Adaptive Card attachment. */
export function teamsPayload(m: ChannelMessage): Record<string, unknown> {
  const card: Record<string, unknown> = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    msteams: { width: 'Full' },
    body: [
      { type: 'TextBlock', text: cutText(m.title, TITLE_MAX), size: 'Large', weight: 'Bolder', color: STATE_COLORS[m.to] ?? 'Default', wrap: true },
      { type: 'TextBlock', text: cutText(m.text, TEXT_MAX), wrap: true },
      { type: 'FactSet', facts: facts(m) },
    ],
  };
  if (m.link && /^https?:\/\//i.test(m.link)) card.actions = [{ type: 'Action.OpenUrl', title: 'Open in webmon', url: m.link }];
  return { type: 'message', attachments: [{ contentType: ADAPTIVE_CARD, contentUrl: null, content: card }] };
}

/**
 * What an error answer says (a Power Automate / Logic Apps `{"error":{"code","message"}}`, else
 * the text), on one line, without the URL, cut short.
 */
function errorDetail(body: string, url: string): string {
  let text = body;
  try {
    const e = (JSON.parse(body) as { error?: { code?: unknown; message?: unknown } }).error;
    if (e && (typeof e.code === 'string' || typeof e.message === 'string')) text = [e.code, e.message].filter((x) => typeof x === 'string').join(': ');
  } catch {
    // not JSON: the text as is
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the detail is shown on one line
  return cutText(hideUrl(text, url).replace(/[\u0000-\u001f\u007f]+/g, ' ').trim(), DETAIL_MAX);
}

/** The text without the URL, its path or any of its query values (`sig`). */
function hideUrl(text: string, url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return text.split(url).join('[redacted]');
  }
  const secrets = [url, parsed.pathname + parsed.search, ...parsed.searchParams.values(), ...[...parsed.searchParams.values()].map(encodeURIComponent)];
  // Longest first, so the whole URL is hidden before any of its parts.
  const ordered = secrets.filter((s) => s.length >= 8).sort((a, b) => b.length - a.length);
  return ordered.reduce((t, s) => t.split(s).join('[redacted]'), text);
}

/** A refused address is thrown, as by every channel (the notifier records `denied: …` and retries); any other failure is retried. */
function failureOutcome(err: unknown, url: string, ctx: ChannelContext): SendOutcome {
  const denial = egressDenial(err);
  if (denial) throw denial;
  if (ctx.signal.aborted) return retryLater(`Teams workflow: no answer within ${ctx.timeoutMs} ms`);
  const e = err as { code?: unknown; cause?: { code?: unknown; message?: unknown }; message?: unknown };
  const why = String(e.cause?.code ?? e.code ?? e.cause?.message ?? e.message ?? err);
  return retryLater(hideUrl(`Teams workflow unreachable: ${why}`, url));
}
