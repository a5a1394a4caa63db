/**
 * Opsgenie channel: Alert API. An asset going down (and degraded, when configured) creates an
 * alert with `alias` = the message's incidentKey; coming back up closes the alert by that alias.
 * Opsgenie keeps one open alert per alias, so an outage is one alert.
 *
 * Documented format (docs.opsgenie.com/docs/alert-api):
 * - Every request: `Authorization: GenieKey <API integration key>`, `Content-Type:
 *   application/json`, against `https://api.opsgenie.com` (EU: `https://api.eu.opsgenie.com`).
 * - Create alert: `POST /v2/alerts` with `message` (required, ≤ 130 characters), `alias`
 *   (≤ 512; "there can be only one alert with open status with the same alias"),
 *   `description` (≤ 15000), `tags` (≤ 20, each ≤ 50), `details` (map), `entity` (≤ 512),
 *   `source` (≤ 100), `priority` (`P1`–`P5`, default `P3`).
 * - Close alert: `POST /v2/alerts/:identifier/close?identifierType=alias` with optional `source`,
 *   `note` (≤ 25000).
 * - Answers: 202 `{"result": "Request will be processed", "took": …, "requestId": …}` (processed
 *   asynchronously); 401/403 for a bad or unauthorised key; 404; 422 `{"message": "Request body
 *   is not processable. Please check the errors.", "errors": {…}}`; 429 over the rate limit.
 */
import Type from 'typebox';
import {
  cutText,
  incidentAction,
  defineChannel,
  delivered,
  outcomeOfStatus,
  rejected,
  type ChannelMessage,
  type ChannelRequest,
  type ChannelResponse,
  type SendOutcome,
} from '@webmon/plugin-sdk';

const priority = (fallback: string, description: string) =>
  Type.Union([Type.Literal('P1'), Type.Literal('P2'), Type.Literal('P3'), Type.Literal('P4'), Type.Literal('P5')], { default: fallback, description });

export const opsgenieOptionsSchema = Type.Object(
  {
    apiKey: Type.String({ pattern: '^[A-Za-z0-9-]{20,64}$', description: 'The API key of an Opsgenie API integration. A secret.' }),
    apiUrl: Type.String({ default: 'https://api.opsgenie.com', pattern: '^https?://[^\\s]+$', maxLength: 2048, description: 'The API server; EU accounts use https://api.eu.opsgenie.com.' }),
    alertOnDegraded: Type.Boolean({ default: false, description: 'Also create an alert when an asset is degraded (otherwise degraded closes it, like up).' }),
    priority: priority('P3', 'Priority of a down alert.'),
    degradedPriority: priority('P4', 'Priority of a degraded alert (with alertOnDegraded).'),
  },
  { additionalProperties: false },
);

type OpsgenieOptions = Type.Static<typeof opsgenieOptionsSchema>;
export type AlertAction = 'create' | 'close';

/** The request for a change to `to` (see incidentAction), or null for none. */
export function alertAction(to: string, o: OpsgenieOptions): AlertAction | null {
  const action = incidentAction(to, o.alertOnDegraded);
  return action === null ? null : action === 'open' ? 'create' : 'close';
}


function alias(m: ChannelMessage): string {
  return m.incidentKey.slice(0, 512);
}

export function createAlertBody(m: ChannelMessage, o: OpsgenieOptions): Record<string, unknown> {
  const details: Record<string, string> = { assetId: m.asset.id, url: m.asset.url, from: m.from, to: m.to, client: m.client };
  if (m.reason) details.reason = m.reason;
  if (m.link) details.link = m.link;
  return {
    message: cutText(m.title, 130),
    alias: alias(m),
    description: cutText(m.text, 15_000),
    tags: m.asset.tags.slice(0, 20).map((t) => cutText(t, 50)),
    details,
    entity: cutText(m.asset.url, 512),
    source: 'webmon',
    priority: m.to === 'degraded' ? o.degradedPriority : o.priority,
  };
}

/** The URL and body of the request for an action, against the configured API server. */
export function alertRequest(m: ChannelMessage, o: OpsgenieOptions, action: AlertAction, base: URL): { url: string; body: unknown } {
  const root = base.pathname.replace(/\/+$/, '');
  const url = new URL(base.href);
  if (action === 'create') {
    url.pathname = `${root}/v2/alerts`;
    return { url: url.href, body: createAlertBody(m, o) };
  }
  url.pathname = `${root}/v2/alerts/${encodeURIComponent(alias(m))}/close`;
  url.search = '?identifierType=alias';
  return { url: url.href, body: { source: 'webmon', note: cutText(m.text || m.title, 25_000) } };
}

function opsgenieOutcome(res: ChannelResponse): SendOutcome {
  let detail = '';
  try {
    const answer = JSON.parse(res.body) as { message?: unknown };
    if (typeof answer?.message === 'string') detail = answer.message.slice(0, 200);
  } catch {
    // not JSON (a proxy's page): the status alone decides
  }
  return outcomeOfStatus('Opsgenie', res, detail);
}

type Post = (m: ChannelMessage, action: AlertAction) => Promise<SendOutcome>;

/**
 * A test message creates an alert of its own (alias: the incident key and the message id) and
 * closes it at once: it proves the key without leaving an alert open. A retry repeats both under
 * the same alias, which Opsgenie folds into the same alert.
 */
async function sendTest(m: ChannelMessage, post: Post): Promise<SendOutcome> {
  const probe: ChannelMessage = { ...m, to: 'down', incidentKey: `${m.incidentKey}:test:${m.id}` };
  const opened = await post(probe, 'create');
  return opened.outcome === 'delivered' ? post(probe, 'close') : opened;
}

export const opsgenieChannel = defineChannel({
  name: 'opsgenie',
  description: 'Opsgenie Alert API: create an alert on down, close it on up, one alert per outage.',
  optionsSchema: opsgenieOptionsSchema,
  secretOptions: ['apiKey'],
  endpointOptions: ['apiUrl'],
  async send(messages, options, ctx) {
    const [m] = messages;
    if (!m) return delivered();
    if (!URL.canParse(options.apiUrl)) return rejected('Opsgenie: the API URL is not a valid URL');
    const base = new URL(options.apiUrl);
    const post: Post = async (message, action) => {
      const { url, body } = alertRequest(message, options, action, base);
      const init: ChannelRequest = { headers: { authorization: `GenieKey ${options.apiKey}` }, body };
      return opsgenieOutcome(await ctx.request(url, init));
    };
    if (m.type === 'test') return sendTest(m, post);
    const action = alertAction(m.to, options);
    return action ? post(m, action) : delivered();
  },
});
