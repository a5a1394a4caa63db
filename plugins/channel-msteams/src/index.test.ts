/**
 * The msteams channel against a local receiver on 127.0.0.1 that checks each request the way a
 * Teams workflow trigger does: POST to the workflow path with the right `sig`, JSON content
 * type, and the documented body (a `message` with Adaptive Card attachments, each card with
 * `type`, `version` and typed body elements); it answers 202, or what a test asks for.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Compile } from 'typebox/compile';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChannelAgents, EgressDeniedError, clientEgress, createChannelContext, operatorEgress, type ChannelMessage, type EgressGuard, type SendOutcome } from '@webmon/plugin-sdk';
import { ADAPTIVE_CARD, msteamsChannel, msteamsOptionsSchema } from './index.js';

const SIG = 'Zq3xS1gNaTuRe-0f-the-w0rkflow_k3y';
const WORKFLOW_PATH = '/workflows/4f1c2d/triggers/manual/paths/invoke';
const agents = new ChannelAgents(5_000);
afterAll(() => agents.close());

interface Hit {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

type Answer = { status: number; headers?: Record<string, string>; body?: string };

/** Why the service would refuse this body with 400, or null: the checks of the documented format. */
function shapeProblem(body: unknown): string | null {
  const b = body as { type?: unknown; attachments?: unknown };
  if (b?.type !== 'message') return 'type must be "message"';
  if (!Array.isArray(b.attachments) || b.attachments.length === 0) return 'attachments must be a non-empty array';
  for (const a of b.attachments as { contentType?: unknown; content?: Record<string, unknown> }[]) {
    if (a.contentType !== ADAPTIVE_CARD) return `contentType must be ${ADAPTIVE_CARD}`;
    const c = a.content;
    if (c?.type !== 'AdaptiveCard') return 'content.type must be AdaptiveCard';
    if (typeof c.version !== 'string' || !/^1\.\d$/.test(c.version)) return 'content.version must be 1.x';
    if (!Array.isArray(c.body) || c.body.some((e: { type?: unknown }) => typeof e?.type !== 'string')) return 'content.body elements need a type';
  }
  return null;
}

class Receiver {
  readonly hits: Hit[] = [];
  readonly answers: Answer[] = [];
  private server: Server | undefined;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}${WORKFLOW_PATH}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${SIG}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const u = new URL(req.url ?? '/', 'http://x');
        let body: unknown = null;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          // left null: refused below
        }
        this.hits.push({ method: req.method ?? '', path: u.pathname, headers: req.headers, body });
        const a = this.answer(req.method, u, req.headers, body);
        res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers }).end(a.body ?? '');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  private answer(method: string | undefined, u: URL, headers: IncomingHttpHeaders, body: unknown): Answer {
    const refuse = (status: number, code: string, message: string) => ({ status, body: JSON.stringify({ error: { code, message } }) });
    if (method !== 'POST') return refuse(405, 'MethodNotAllowed', `${method} is not allowed`);
    if (u.pathname !== WORKFLOW_PATH) return refuse(404, 'WorkflowNotFound', 'no such workflow');
    if (u.searchParams.get('sig') !== SIG) return refuse(401, 'DirectApiAuthorizationRequired', 'invalid signature');
    if (!String(headers['content-type']).startsWith('application/json')) return refuse(415, 'UnsupportedMediaType', 'expected application/json');
    const problem = shapeProblem(body);
    if (problem) return refuse(400, 'InvalidRequestContent', problem);
    return this.answers.shift() ?? { status: 202 };
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function message(over: Partial<ChannelMessage> = {}): ChannelMessage {
  return {
    id: 'evt-1',
    type: 'state_change',
    asset: { id: 'a1', url: 'https://shop.example/', tags: ['prod'] },
    from: 'up',
    to: 'down',
    reason: 'http_status',
    message: 'HTTP 503',
    at: '2025-03-30T01:30:00.000Z',
    since: null,
    durationSec: 60,
    client: 'acme',
    link: 'https://webmon.example/assets/a1',
    title: 'https://shop.example/ is down',
    text: 'https://shop.example/ went from up to down: http_status (HTTP 503).',
    incidentKey: 'acme:a1',
    ...over,
  };
}

async function send(url: string, m: ChannelMessage = message(), egress: EgressGuard = operatorEgress()): Promise<{ outcome: SendOutcome; logged: string }> {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const ctx = createChannelContext({ agents, egress, timeoutMs: 5_000, log: pino({ level: 'trace' }, stream), userAgent: 'webmon-notifier/test' });
  const outcome = await msteamsChannel.send([m], { url }, ctx);
  return { outcome, logged: lines.join('') };
}

let rx: Receiver;
beforeEach(async () => {
  rx = new Receiver();
  await rx.start();
});
afterEach(() => rx.close());

describe('msteams channel: options', () => {
  const validator = Compile(msteamsOptionsSchema);

  it('takes an http(s) URL only, and declares it secret', () => {
    expect(validator.Check({ url: 'https://prod-12.westeurope.logic.azure.com:443/workflows/x/triggers/manual/paths/invoke?sig=y' })).toBe(true);
    expect(validator.Check({})).toBe(false);
    expect(validator.Check({ url: 'ftp://example.org/x' })).toBe(false);
    expect(validator.Check({ url: 'not a url' })).toBe(false);
    expect(validator.Check({ url: 'https://example.org/', title: 'x' })).toBe(false);
    expect(msteamsChannel.secretOptions).toEqual(['url']);
    expect(msteamsChannel.digest).toBeUndefined();
  });
});

describe('msteams channel: posting', () => {
  it('posts the documented Adaptive Card message, which the receiver accepts', async () => {
    const { outcome } = await send(rx.url);
    expect(outcome).toEqual({ outcome: 'delivered' });
    expect(rx.hits).toHaveLength(1);
    const hit = rx.hits[0]!;
    expect(hit).toMatchObject({ method: 'POST', path: WORKFLOW_PATH });
    expect(hit.headers['content-type']).toBe('application/json');
    expect(hit.headers['user-agent']).toBe('webmon-notifier/test');
    expect(hit.body).toEqual({
      type: 'message',
      attachments: [
        {
          contentType: 'application/vnd.microsoft.card.adaptive',
          contentUrl: null,
          content: {
            $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
            type: 'AdaptiveCard',
            version: '1.4',
            msteams: { width: 'Full' },
            body: [
              { type: 'TextBlock', text: 'https://shop.example/ is down', size: 'Large', weight: 'Bolder', color: 'Attention', wrap: true },
              { type: 'TextBlock', text: 'https://shop.example/ went from up to down: http_status (HTTP 503).', wrap: true },
              {
                type: 'FactSet',
                facts: [
                  { title: 'Asset', value: 'https://shop.example/' },
                  { title: 'State', value: 'up → down' },
                  { title: 'Reason', value: 'http_status' },
                  { title: 'Message', value: 'HTTP 503' },
                  { title: 'At', value: '2025-03-30T01:30:00.000Z' },
                ],
              },
            ],
            actions: [{ type: 'Action.OpenUrl', title: 'Open in webmon', url: 'https://webmon.example/assets/a1' }],
          },
        },
      ],
    });
  });

  it('colours a recovery green and leaves out the button without a dashboard link', async () => {
    await send(rx.url, message({ from: 'down', to: 'up', reason: '', message: '', link: null }));
    const card = (rx.hits[0]!.body as { attachments: { content: { body: { color?: string }[]; actions?: unknown } }[] }).attachments[0]!.content;
    expect(card.body[0]!.color).toBe('Good');
    expect(card.actions).toBeUndefined();
    expect(rx.hits[0]!.body).toSatisfy((b: unknown) => !JSON.stringify(b).includes('"Reason"'));
  });

  it('retries a 429 after its Retry-After, and a 5xx', async () => {
    rx.answers.push({ status: 429, headers: { 'retry-after': '30' }, body: '{"error":{"code":"TooManyRequests","message":"Rate limit is exceeded"}}' });
    rx.answers.push({ status: 502 }, { status: 503, headers: { 'retry-after': '5' } });
    expect((await send(rx.url)).outcome).toEqual({ outcome: 'retry', reason: 'Teams workflow answered HTTP 429: TooManyRequests: Rate limit is exceeded', retryAfterMs: 30_000 });
    expect((await send(rx.url)).outcome).toMatchObject({ outcome: 'retry', reason: 'Teams workflow answered HTTP 502', retryAfterMs: null });
    expect((await send(rx.url)).outcome).toMatchObject({ outcome: 'retry', retryAfterMs: 5_000 });
    expect(rx.hits).toHaveLength(3);
  });

  it('retries a legacy connector throttle reported in a 200 body', async () => {
    rx.answers.push({ status: 200, body: 'Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0' });
    expect((await send(rx.url)).outcome).toMatchObject({ outcome: 'retry' });
  });

  it('rejects 400, 401 and 404, with the service error and without the URL or its sig', async () => {
    const badSig = rx.url.replace(SIG, 'wrong-signature-value-1234');
    const gone = rx.url.replace('/workflows/4f1c2d/', '/workflows/deleted/');
    rx.answers.push({ status: 400, body: JSON.stringify({ error: { code: 'InvalidRequestContent', message: `bad card posted to ${rx.url}` } }) });
    const r400 = await send(rx.url);
    const r401 = await send(badSig);
    const r404 = await send(gone);
    expect(r400.outcome).toEqual({ outcome: 'rejected', reason: expect.stringMatching(/^Teams workflow answered HTTP 400: InvalidRequestContent: bad card posted to \[redacted\]/) });
    expect(r401.outcome).toEqual({ outcome: 'rejected', reason: 'Teams workflow answered HTTP 401: DirectApiAuthorizationRequired: invalid signature' });
    expect(r404.outcome).toEqual({ outcome: 'rejected', reason: 'Teams workflow answered HTTP 404: WorkflowNotFound: no such workflow' });
    for (const r of [r400, r401, r404]) {
      expect(JSON.stringify(r)).not.toContain(SIG);
      expect(JSON.stringify(r)).not.toContain('wrong-signature-value-1234');
    }
  });

  it('retries when nothing listens', async () => {
    const url = rx.url;
    await rx.close();
    const { outcome, logged } = await send(url);
    expect(outcome).toMatchObject({ outcome: 'retry', reason: expect.stringContaining('ECONNREFUSED') });
    expect(JSON.stringify(outcome) + logged).not.toContain(SIG);
  });

  it("a client's guard refuses loopback before connecting (thrown, as by every channel); an allowed range posts", async () => {
    const thrown = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e);
    const refused = await thrown(send(rx.url, message(), clientEgress()));
    expect(refused).toBeInstanceOf(EgressDeniedError);
    expect((refused as Error).message).not.toContain(SIG);
    expect(await thrown(send(rx.url.replace('127.0.0.1', 'localhost'), message(), clientEgress()))).toBeInstanceOf(EgressDeniedError);
    expect(rx.hits).toHaveLength(0);
    expect((await send(rx.url, message(), clientEgress(['127.0.0.0/8']))).outcome).toEqual({ outcome: 'delivered' });
    expect(rx.hits).toHaveLength(1);
  });
});
