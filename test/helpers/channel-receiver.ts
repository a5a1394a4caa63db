/**
 * For channel plugin tests: a local HTTP receiver on 127.0.0.1 that records every request and
 * answers the way the service it stands in for does, a ChannelContext bound to an egress guard,
 * option validation with defaults (as the notifier does when a channel is saved), and a message.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, expect } from 'vitest';
import { Compile } from 'typebox/compile';
import Value from 'typebox/value';
import { ChannelAgents, EgressDeniedError, clientEgress, createChannelContext, operatorEgress, type AnyChannel, type ChannelContext, type ChannelMessage, type EgressGuard } from '@webmon/plugin-sdk';

export interface Received {
  method: string;
  /** Path and query, as sent. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/** Answers one request: status, optional headers, and a body (an object is sent as JSON). */
export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export type Handler = (req: Received) => Answer;

export interface Receiver {
  /** http://127.0.0.1:<port> */
  origin: string;
  received: Received[];
  /** Replaces the handler (e.g. to answer 429 or 500 for the next requests). */
  answer(handler: Handler): void;
  close(): Promise<void>;
}

/** Bodies above this are refused, like any real service does. */
const MAX_BODY = 1_048_576;

export async function startReceiver(handler: Handler): Promise<Receiver> {
  const received: Received[] = [];
  let current = handler;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const r: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, json: parseJson(body) };
      received.push(r);
      reply(res, size > MAX_BODY ? { status: 413, body: 'too large' } : current(r));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    origin: `http://127.0.0.1:${port}`,
    received,
    answer: (h) => {
      current = h;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A receiver started before the file's tests and closed after them (with the pooled channel
 * connections). Read it through the returned getter: it exists once beforeAll has run.
 */
export function useReceiver(handler: Handler): () => Receiver {
  let receiver: Receiver | undefined;
  beforeAll(async () => {
    receiver = await startReceiver(handler);
  });
  afterAll(async () => {
    await receiver?.close();
    await agents.close();
  });
  return () => {
    if (!receiver) throw new Error('the receiver starts in beforeAll');
    return receiver;
  };
}

/**
 * Sends one message as a client (no extra ranges) to a loopback receiver and checks that the
 * client's egress guard refused it before any request reached the receiver, and that the error
 * does not carry the secret.
 */
export async function expectRefusedForClient<C extends AnyChannel>(channel: C, options: Parameters<C['send']>[1], receiver: Receiver, secret: RegExp): Promise<void> {
  const before = receiver.received.length;
  const error = await channel.send([channelMessage()], options, channelContext(clientEgress())).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EgressDeniedError);
  expect((error as Error).message).not.toMatch(secret);
  expect(receiver.received.length).toBe(before);
}

function reply(res: ServerResponse, a: Answer): void {
  const text = a.body === undefined ? '' : typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
  const type = typeof a.body === 'object' ? 'application/json' : 'text/plain';
  res.writeHead(a.status, { 'content-type': type, ...a.headers });
  res.end(text);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Whether a request's content-type is JSON (what JSON APIs check before reading the body). */
export function isJson(req: Received): boolean {
  return String(req.headers['content-type'] ?? '').startsWith('application/json');
}

/** The plain object behind a received JSON body ({} when it is not an object). */
export function jsonObject(req: Received): Record<string, unknown> {
  const j = req.json;
  return j !== null && typeof j === 'object' && !Array.isArray(j) ? (j as Record<string, unknown>) : {};
}

const agents = new ChannelAgents(5_000);

/** A context for one delivery through `egress` (default: the operator's, which may reach loopback). */
export function channelContext(egress: EgressGuard = operatorEgress()): ChannelContext {
  return createChannelContext({ agents, egress, timeoutMs: 5_000, log: pino({ level: 'silent' }), userAgent: 'webmon-notifier/test' });
}

/** The options with defaults applied; throws, naming the problems, when they do not validate. */
export function channelOptions<C extends AnyChannel>(channel: C, input: Record<string, unknown>): Parameters<C['send']>[1] {
  const value = Value.Default(channel.optionsSchema, structuredClone(input));
  const validator = Compile(channel.optionsSchema);
  if (!validator.Check(value)) throw new Error(`invalid ${channel.name} options: ${JSON.stringify([...validator.Errors(value)].map((e) => `${e.instancePath} ${e.message}`))}`);
  return value as Parameters<C['send']>[1];
}

/** Whether the options are refused by the channel's schema. */
export function optionsRefused(channel: AnyChannel, input: Record<string, unknown>): boolean {
  return !Compile(channel.optionsSchema).Check(Value.Default(channel.optionsSchema, structuredClone(input)));
}

/** A state-change message (down by default), as the notifier hands it to a channel. */
export function channelMessage(over: Partial<ChannelMessage> = {}): ChannelMessage {
  const to = over.to ?? 'down';
  const from = over.from ?? (to === 'up' ? 'down' : 'up');
  return {
    id: `evt-${to}-1`,
    type: 'state_change',
    asset: { id: 'a1', url: 'https://shop.example.com/health', tags: ['shop', 'prod'] },
    from,
    to,
    reason: to === 'down' ? 'http_status' : '',
    message: to === 'down' ? 'HTTP 503 <Service Unavailable> & more' : '',
    at: '2025-03-01T10:00:00.000Z',
    since: null,
    durationSec: 120,
    client: 'acme',
    link: 'https://webmon.example.com/assets/a1',
    title: `shop.example.com is ${to.toUpperCase()}`,
    text: `https://shop.example.com/health went from ${from} to ${to} <b>&</b>`,
    incidentKey: 'webmon:acme:a1',
    ...over,
  };
}

/**
 * Checks every ```json example of a channel's README: a channel body for
 * `POST /clients/<id>/channels` of this channel's type whose options validate. Returns how many.
 */
export function expectReadmeExamplesValid(channel: AnyChannel, readme: URL): number {
  const blocks = [...readFileSync(readme, 'utf8').matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as Record<string, unknown>);
  for (const body of blocks) {
    expect(Object.keys(body).sort()).toEqual(['name', 'options', 'type']);
    expect(body.type).toBe(channel.name);
    expect(() => channelOptions(channel, body.options as Record<string, unknown>)).not.toThrow();
  }
  return blocks.length;
}
