/**
 * ntfy channel: publishes each notification to an ntfy topic (ntfy.sh or a self-hosted server)
 * as JSON, with a priority and an emoji tag by state.
 *
 * Documented format (docs.ntfy.sh/publish, "Publish as JSON"):
 * - `POST <server root URL>` (e.g. `https://ntfy.sh/`) with a JSON body: `topic` (required;
 *   `[-_A-Za-z0-9]{1,64}`), `message`, `title`, `tags` (string array; a tag that is an emoji
 *   shortcode such as `rotating_light` shows as that emoji), `priority` (1 min, 2 low, 3 default,
 *   4 high, 5 max/urgent), `click` (URL opened when the notification is tapped).
 * - Access control: `Authorization: Bearer <access token>` (`tk_…`) or `Authorization: Basic
 *   <base64 user:password>`. Without sign-up the topic name is the password: it is kept secret.
 * - Answers: 200 with the published message as JSON; errors as JSON `{"code": 40301, "http": 403,
 *   "error": "forbidden", "link": …}`: 400 invalid request, 401 unauthorized, 403 forbidden,
 *   413 too large, 429 `limit reached` (rate limits), 5xx server faults.
 */
import Type from 'typebox';
import { defineChannel, delivered, outcomeOfStatus, rejected, type ChannelMessage, type ChannelResponse, type SendOutcome } from '@webmon/plugin-sdk';

export const ntfyOptionsSchema = Type.Object(
  {
    server: Type.String({ default: 'https://ntfy.sh', pattern: '^https?://[^\\s]+$', maxLength: 2048, description: 'The ntfy server (self-hosted, or the public https://ntfy.sh).' }),
    topic: Type.String({ pattern: '^[-_A-Za-z0-9]{1,64}$', description: 'The topic. A secret: on a server without access control whoever knows it can read the notifications.' }),
    token: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Access token (tk_…), sent as Bearer. A secret.' })),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'User for Basic authentication (with password; token wins when both are set).' })),
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Password for Basic authentication. A secret.' })),
    tags: Type.Array(Type.String({ pattern: '^[^,\\s]{1,64}$' }), { default: [], maxItems: 10, description: 'Extra tags after the state\'s emoji tag.' }),
  },
  { additionalProperties: false },
);

type NtfyOptions = Type.Static<typeof ntfyOptionsSchema>;

/** ntfy priority and emoji tag by state; other states use the default priority (3). */
const STATE_STYLE: Record<string, { priority: number; tag: string }> = {
  down: { priority: 5, tag: 'rotating_light' },
  degraded: { priority: 4, tag: 'warning' },
  up: { priority: 3, tag: 'white_check_mark' },
};
const NEUTRAL = { priority: 3, tag: 'grey_question' };

export function ntfyPayload(m: ChannelMessage, o: NtfyOptions): Record<string, unknown> {
  const style = STATE_STYLE[m.to] ?? NEUTRAL;
  return {
    topic: o.topic,
    title: m.title,
    message: m.text || m.title,
    priority: style.priority,
    tags: [style.tag, ...o.tags],
    click: m.link ?? m.asset.url,
  };
}

/** The Authorization header, or a reason when the credentials are incomplete. */
function authorization(o: NtfyOptions): { header?: string; problem?: string } {
  if (o.token) return { header: `Bearer ${o.token}` };
  if (o.username === undefined && o.password === undefined) return {};
  if (o.username === undefined || o.password === undefined) return { problem: 'ntfy: username and password go together' };
  return { header: `Basic ${Buffer.from(`${o.username}:${o.password}`).toString('base64')}` };
}

/** The server's root URL, where JSON is published (a path of a server behind a proxy is kept). */
function rootUrl(server: string): string | null {
  if (!URL.canParse(server)) return null;
  const url = new URL(server);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.search = '';
  url.hash = '';
  return url.href;
}

function ntfyOutcome(res: ChannelResponse): SendOutcome {
  let error = '';
  try {
    const answer = JSON.parse(res.body) as { error?: unknown };
    if (typeof answer?.error === 'string') error = answer.error.slice(0, 200);
  } catch {
    // not JSON (a proxy's page): the status alone decides
  }
  return outcomeOfStatus('ntfy', res, error);
}

export const ntfyChannel = defineChannel({
  name: 'ntfy',
  description: 'Publishes a push notification to an ntfy topic (ntfy.sh or self-hosted).',
  optionsSchema: ntfyOptionsSchema,
  secretOptions: ['topic', 'token', 'password'],
  endpointOptions: ['server'],
  async send(messages, options, ctx) {
    const [m] = messages;
    if (!m) return delivered();
    const root = rootUrl(options.server);
    if (!root) return rejected('ntfy: the server is not a valid URL');
    const auth = authorization(options);
    if (auth.problem) return rejected(auth.problem);
    const headers: Record<string, string> = auth.header ? { authorization: auth.header } : {};
    return ntfyOutcome(await ctx.request(root, { headers, body: ntfyPayload(m, options) }));
  },
});
