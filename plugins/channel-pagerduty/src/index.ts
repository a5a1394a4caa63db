/**
 * PagerDuty channel: Events API v2. An asset going down (and degraded, when configured) triggers
 * an alert; coming back up resolves it. Both carry `dedup_key` = the message's incidentKey (one
 * per asset and client), so an outage is one incident however many changes and reminders it sees.
 *
 * Documented format (developer.pagerduty.com, Events API v2 "Send an Alert Event"):
 * - `POST https://events.pagerduty.com/v2/enqueue` (EU service region:
 *   `https://events.eu.pagerduty.com/v2/enqueue`), `Content-Type: application/json`.
 * - Body: `routing_key` (required; the 32-character integration key), `event_action` (required;
 *   `trigger` | `acknowledge` | `resolve`), `dedup_key` (≤ 255; required for acknowledge and
 *   resolve), and for `trigger` a `payload` with `summary` (required, ≤ 1024), `source`
 *   (required), `severity` (required; `critical` | `error` | `warning` | `info`), optional
 *   `timestamp`, `component`, `group`, `class`, `custom_details`; optional `client`,
 *   `client_url`, `links` (`[{href, text}]`).
 * - Answers: 202 `{"status": "success", "message": "Event processed", "dedup_key": …}`; 400
 *   `{"status": "invalid event", "message": "Event object is invalid", "errors": [ … ]}`; 429 when
 *   over the rate limit; 5xx: retry ("retry with backoff" on 429 and 5xx).
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
  type ChannelResponse,
  type SendOutcome,
} from '@webmon/plugin-sdk';

const severity = (fallback: string, description: string) =>
  Type.Union([Type.Literal('critical'), Type.Literal('error'), Type.Literal('warning'), Type.Literal('info')], { default: fallback, description });

export const pagerdutyOptionsSchema = Type.Object(
  {
    routingKey: Type.String({ pattern: '^[A-Za-z0-9]{32}$', description: 'The integration key of an Events API v2 integration (32 characters). A secret.' }),
    eventsUrl: Type.String({
      default: 'https://events.pagerduty.com/v2/enqueue',
      pattern: '^https?://[^\\s]+$',
      maxLength: 2048,
      description: 'The Events API endpoint; EU accounts use https://events.eu.pagerduty.com/v2/enqueue.',
    }),
    triggerOnDegraded: Type.Boolean({ default: false, description: 'Also trigger when an asset is degraded (otherwise degraded resolves, like up).' }),
    severity: severity('critical', 'Severity of a down alert.'),
    degradedSeverity: severity('warning', 'Severity of a degraded alert (with triggerOnDegraded).'),
  },
  { additionalProperties: false },
);

type PagerDutyOptions = Type.Static<typeof pagerdutyOptionsSchema>;
export type EventAction = 'trigger' | 'resolve';

/** The request for a change to `to` (see incidentAction), or null for none. */
export function eventAction(to: string, o: PagerDutyOptions): EventAction | null {
  const action = incidentAction(to, o.triggerOnDegraded);
  return action === null ? null : action === 'open' ? 'trigger' : 'resolve';
}


function alertPayload(m: ChannelMessage, o: PagerDutyOptions): Record<string, unknown> {
  return {
    summary: cutText(m.title, 1024),
    source: cutText(m.asset.url, 255),
    severity: m.to === 'degraded' ? o.degradedSeverity : o.severity,
    timestamp: m.at,
    component: m.asset.id,
    group: m.client,
    class: m.reason || m.to,
    custom_details: {
      text: m.text,
      asset: m.asset,
      from: m.from,
      to: m.to,
      reason: m.reason,
      message: m.message,
      since: m.since,
      durationSec: m.durationSec,
    },
  };
}

export function pagerdutyEvent(m: ChannelMessage, o: PagerDutyOptions, action: EventAction): Record<string, unknown> {
  const event: Record<string, unknown> = { routing_key: o.routingKey, event_action: action, dedup_key: m.incidentKey.slice(0, 255) };
  if (action === 'resolve') return event;
  event.payload = alertPayload(m, o);
  event.client = 'webmon';
  if (m.link) {
    event.client_url = m.link;
    event.links = [{ href: m.link, text: 'webmon' }];
  }
  return event;
}

/** The reason from PagerDuty's answer: its message and first error (never the routing key, which is not echoed). */
function pagerdutyOutcome(res: ChannelResponse): SendOutcome {
  let detail = '';
  try {
    const answer = JSON.parse(res.body) as { message?: unknown; errors?: unknown };
    const first = Array.isArray(answer?.errors) && typeof answer.errors[0] === 'string' ? answer.errors[0] : '';
    detail = [answer?.message, first].filter((s) => typeof s === 'string' && s !== '').join(': ').slice(0, 200);
  } catch {
    // not JSON (a proxy's page): the status alone decides
  }
  return outcomeOfStatus('PagerDuty', res, detail);
}

type Post = (event: Record<string, unknown>) => Promise<SendOutcome>;

/**
 * A test message opens an alert of its own (dedup key: the incident key and the message id) and
 * resolves it at once: it proves the routing key without leaving an incident open. A retry
 * repeats both under the same key, which PagerDuty folds into the same alert.
 */
async function sendTest(m: ChannelMessage, o: PagerDutyOptions, post: Post): Promise<SendOutcome> {
  const probe: ChannelMessage = { ...m, to: 'down', incidentKey: `${m.incidentKey}:test:${m.id}` };
  const opened = await post(pagerdutyEvent(probe, o, 'trigger'));
  return opened.outcome === 'delivered' ? post(pagerdutyEvent(probe, o, 'resolve')) : opened;
}

export const pagerdutyChannel = defineChannel({
  name: 'pagerduty',
  description: 'PagerDuty Events API v2: trigger on down, resolve on up, one incident per outage.',
  optionsSchema: pagerdutyOptionsSchema,
  secretOptions: ['routingKey'],
  endpointOptions: ['eventsUrl'],
  async send(messages, options, ctx) {
    const [m] = messages;
    if (!m) return delivered();
    if (!URL.canParse(options.eventsUrl)) return rejected('PagerDuty: the events URL is not a valid URL');
    const post: Post = async (event) => pagerdutyOutcome(await ctx.request(options.eventsUrl, { body: event }));
    if (m.type === 'test') return sendTest(m, options, post);
    const action = eventAction(m.to, options);
    return action ? post(pagerdutyEvent(m, options, action)) : delivered();
  },
});
