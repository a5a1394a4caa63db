/**
 * The email channel against real SMTP servers on 127.0.0.1 (the `smtp-server` package) that
 * record every session and message (parsed with `mailparser`): STARTTLS with AUTH PLAIN,
 * implicit TLS with AUTH LOGIN, servers that refuse STARTTLS, a wrong password, 451 and 550
 * replies, a silent server, and the egress guard of a client. Options are validated and
 * defaulted with the channel's schema first, as the notifier does. Nothing is mocked.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { simpleParser, type ParsedMail } from 'mailparser';
import { pino } from 'pino';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { Compile } from 'typebox/compile';
import Value from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChannelAgents, EgressDeniedError, clientEgress, createChannelContext, operatorEgress, type ChannelMessage, type EgressGuard, type SendOutcome } from '@webmon/plugin-sdk';
import { createPki, hasOpenssl, NO_OPENSSL, type Issued } from '../../../test/helpers/pki.js';
import { emailChannel, emailOptionsSchema, MAX_RECIPIENTS } from './index.js';

const PASSWORD = 'correct-horse-battery-staple';
const USER = 'alerts@example.org';
const validator = Compile(emailOptionsSchema);
const agents = new ChannelAgents(5_000);

function options(o: Record<string, unknown>): Record<string, unknown> {
  const value = Value.Default(emailOptionsSchema, structuredClone(o));
  if (!validator.Check(value)) throw new Error(`invalid test options: ${JSON.stringify(validator.Errors(value))}`);
  return value as Record<string, unknown>;
}

/** A pino logger whose lines are kept, to check what a delivery logs. */
function recordingLog(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { log: pino({ level: 'trace' }, stream), lines };
}

interface SendResult {
  outcome: SendOutcome;
  logged: string;
}

async function send(messages: ChannelMessage[], o: Record<string, unknown>, egress: EgressGuard = operatorEgress(), timeoutMs = 5_000): Promise<SendResult> {
  const { log, lines } = recordingLog();
  const ctx = createChannelContext({ agents, egress, timeoutMs, log, userAgent: 'webmon-notifier/test' });
  const outcome = await emailChannel.send(messages, options(o) as never, ctx);
  return { outcome, logged: lines.join('') };
}

let seq = 0;
function message(over: Partial<ChannelMessage> = {}): ChannelMessage {
  seq += 1;
  return {
    id: `evt-${seq}`,
    type: 'state_change',
    asset: { id: `a${seq}`, url: 'https://shop.example/', tags: ['prod'] },
    from: 'up',
    to: 'down',
    reason: 'timeout',
    message: 'no response within 10000 ms',
    at: '2025-03-30T01:30:00.000Z',
    since: null,
    durationSec: 7_380,
    client: 'acme',
    link: 'https://webmon.example/assets/a1',
    title: 'https://shop.example/ is down',
    text: 'https://shop.example/ went from up to down: timeout.',
    incidentKey: `acme:a${seq}`,
    ...over,
  };
}

// ---------------------------------------------------------------------------------------------
// A recording SMTP server

interface Received {
  mail: ParsedMail;
  session: { secure: boolean; user: unknown; from: string; to: string[] };
}

interface Recorder {
  port: number;
  received: Received[];
  auths: { method: string; username: string | undefined; password: string | null | undefined; secure: boolean }[];
  connections: number;
  close(): Promise<void>;
}

async function smtpServer(o: Partial<SMTPServerOptions> = {}): Promise<Recorder> {
  const rec: Recorder = { port: 0, received: [], auths: [], connections: 0, close: async () => undefined };
  const server = new SMTPServer({
    logger: false,
    authMethods: ['PLAIN', 'LOGIN'],
    onConnect(_session, callback) {
      rec.connections += 1;
      callback();
    },
    onAuth(auth, session, callback) {
      rec.auths.push({ method: auth.method, username: auth.username, password: auth.password, secure: session.secure });
      if (auth.username === USER && auth.password === PASSWORD) return callback(null, { user: auth.username });
      callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
    },
    onData(stream, session: SMTPServerSession, callback) {
      simpleParser(stream).then(
        (mail) => {
          const env = session.envelope;
          const from = env.mailFrom ? env.mailFrom.address : '';
          rec.received.push({ mail, session: { secure: session.secure, user: session.user, from, to: env.rcptTo.map((r) => r.address) } });
          callback();
        },
        (err: Error) => callback(err),
      );
    },
    ...o,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  rec.port = (server.server.address() as AddressInfo).port;
  rec.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return rec;
}

function smtpError(message: string, responseCode: number): Error {
  return Object.assign(new Error(message), { responseCode });
}

/** A TCP server that accepts and never says a word (a stuck SMTP server). */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const base = (port: number, over: Record<string, unknown> = {}) => ({
  host: '127.0.0.1',
  port,
  from: 'webmon@example.org',
  to: ['ops@example.org'],
  ...over,
});
const withAuth = { username: USER, password: PASSWORD };

afterAll(() => agents.close());

// ---------------------------------------------------------------------------------------------

describe('email channel: options', () => {
  it('defaults to required STARTTLS with certificate verification', () => {
    expect(options({ host: 'smtp.example.org', from: 'a@example.org', to: ['b@example.org'] })).toMatchObject({ security: 'starttls', rejectUnauthorized: true });
  });

  it('refuses a user without a password, unknown options, bad addresses and too many recipients', () => {
    const ok = { host: 'smtp.example.org', from: 'a@example.org', to: ['b@example.org'] };
    const check = (o: Record<string, unknown>) => validator.Check(Value.Default(emailOptionsSchema, o));
    expect(check(ok)).toBe(true);
    expect(check({ ...ok, username: 'u' })).toBe(false);
    expect(check({ ...ok, password: 'p' })).toBe(false);
    expect(check({ ...ok, tls: true })).toBe(false);
    expect(check({ ...ok, security: 'ssl' })).toBe(false);
    expect(check({ ...ok, from: 'not an address' })).toBe(false);
    expect(check({ ...ok, to: [] })).toBe(false);
    expect(check({ ...ok, host: 'smtp.example.org\r\nRCPT TO:<x@y>' })).toBe(false);
    const many = Array.from({ length: MAX_RECIPIENTS + 1 }, (_, i) => `r${i}@example.org`);
    expect(check({ ...ok, to: many })).toBe(false);
    expect(check({ ...ok, to: many.slice(0, MAX_RECIPIENTS) })).toBe(true);
  });

  it('declares the password secret and takes digests', () => {
    expect(emailChannel.secretOptions).toEqual(['password']);
    expect(emailChannel.digest).toBe(true);
  });
});

describe.skipIf(!hasOpenssl)(`email channel: TLS and AUTH${NO_OPENSSL}`, () => {
  let cert: Issued;
  let pki: ReturnType<typeof createPki>;

  beforeAll(() => {
    pki = createPki();
    cert = pki.selfSigned('localhost', ['DNS:localhost', 'IP:127.0.0.1']);
  });
  afterAll(() => pki?.close());

  it('upgrades with STARTTLS, authenticates with PLAIN and sends one mail with a text and an HTML part', async () => {
    const server = await smtpServer({ key: cert.key, cert: cert.cert, authMethods: ['PLAIN'] });
    try {
      const m = message();
      const { outcome } = await send([m], base(server.port, { ...withAuth, rejectUnauthorized: false, to: ['ops@example.org', 'oncall@example.org'] }));
      expect(outcome).toEqual({ outcome: 'delivered' });
      expect(server.auths).toEqual([{ method: 'PLAIN', username: USER, password: PASSWORD, secure: true }]);
      expect(server.received).toHaveLength(1);
      const { mail, session } = server.received[0]!;
      expect(session).toMatchObject({ secure: true, user: USER, from: 'webmon@example.org', to: ['ops@example.org', 'oncall@example.org'] });
      expect(mail.subject).toBe('[webmon] https://shop.example/ is DOWN (timeout)');
      expect(mail.from?.text).toBe('webmon@example.org');
      expect(mail.text).toContain(m.text);
      expect(mail.text).toContain('Previous state lasted: 2h 3m');
      expect(mail.html).toContain('<a href="https://webmon.example/assets/a1">');
      expect(mail.messageId).toMatch(/^<[0-9a-f]{40}\.webmon@example\.org>$/);
    } finally {
      await server.close();
    }
  });

  it('speaks implicit TLS with AUTH LOGIN', async () => {
    const server = await smtpServer({ secure: true, key: cert.key, cert: cert.cert, authMethods: ['LOGIN'] });
    try {
      const { outcome } = await send([message()], base(server.port, { ...withAuth, security: 'tls', rejectUnauthorized: false }));
      expect(outcome).toEqual({ outcome: 'delivered' });
      expect(server.auths).toEqual([{ method: 'LOGIN', username: USER, password: PASSWORD, secure: true }]);
      expect(server.received[0]?.session.secure).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('verifies the certificate unless told not to: a self-signed one is a temporary failure, and nothing is sent', async () => {
    const server = await smtpServer({ key: cert.key, cert: cert.cert });
    try {
      const { outcome } = await send([message()], base(server.port, withAuth));
      expect(outcome).toMatchObject({ outcome: 'retry', reason: expect.stringMatching(/self[- ]signed/i) });
      expect(server.auths).toEqual([]);
      expect(server.received).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('requires STARTTLS: a server that refuses it gets neither the credentials nor the mail', async () => {
    const refusing = await smtpServer({ key: cert.key, cert: cert.cert, disabledCommands: ['STARTTLS'], allowInsecureAuth: true });
    const plain = await smtpServer({ hideSTARTTLS: true, disabledCommands: ['STARTTLS'], allowInsecureAuth: true });
    try {
      for (const server of [refusing, plain]) {
        const { outcome } = await send([message()], base(server.port, { ...withAuth, rejectUnauthorized: false }));
        expect(outcome).toMatchObject({ outcome: 'rejected', reason: expect.stringMatching(/STARTTLS/) });
        expect(server.connections).toBe(1);
        expect(server.auths).toEqual([]);
        expect(server.received).toEqual([]);
      }
    } finally {
      await Promise.all([refusing.close(), plain.close()]);
    }
  });

  it('with security "none" never upgrades, even when the server offers STARTTLS', async () => {
    const server = await smtpServer({ key: cert.key, cert: cert.cert, authOptional: true });
    try {
      const { outcome } = await send([message()], base(server.port, { security: 'none' }));
      expect(outcome).toEqual({ outcome: 'delivered' });
      expect(server.received[0]?.session.secure).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('rejects a wrong password (535) without putting the password in the reason or the log', async () => {
    const server = await smtpServer({ key: cert.key, cert: cert.cert });
    const wrong = 'Tr0ub4dor&3-wrong';
    try {
      const { outcome, logged } = await send([message()], base(server.port, { username: USER, password: wrong, rejectUnauthorized: false }));
      expect(outcome).toMatchObject({ outcome: 'rejected', reason: expect.stringContaining('535') });
      expect(JSON.stringify(outcome)).not.toContain(wrong);
      expect(logged).not.toContain(wrong);
      expect(server.auths).toMatchObject([{ password: wrong, secure: true }]);
      expect(server.received).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

describe('email channel: replies, digests and escaping (plain SMTP)', () => {
  const plain = (o: Partial<SMTPServerOptions> = {}) => smtpServer({ hideSTARTTLS: true, authOptional: true, allowInsecureAuth: true, ...o });

  it('retries a 451 and rejects a 550 for every recipient', async () => {
    const busy = await plain({ onMailFrom: (_a, _s, cb) => cb(smtpError('Try again later', 451)) });
    const unknown = await plain({ onRcptTo: (_a, _s, cb) => cb(smtpError('Mailbox unavailable', 550)) });
    try {
      const retry = await send([message()], base(busy.port, { security: 'none' }));
      expect(retry.outcome).toMatchObject({ outcome: 'retry', reason: expect.stringContaining('451'), retryAfterMs: null });
      const gone = await send([message()], base(unknown.port, { security: 'none' }));
      expect(gone.outcome).toMatchObject({ outcome: 'rejected', reason: expect.stringContaining('550') });
      expect([busy.received, unknown.received]).toEqual([[], []]);
    } finally {
      await Promise.all([busy.close(), unknown.close()]);
    }
  });

  it('delivers to the recipients accepted when another is refused, and logs the refused one', async () => {
    const server = await plain({ onRcptTo: (a, _s, cb) => cb(a.address.startsWith('gone@') ? smtpError('No such user', 550) : null) });
    try {
      const { outcome, logged } = await send([message()], base(server.port, { security: 'none', to: ['gone@example.org', 'ops@example.org'] }));
      expect(outcome).toEqual({ outcome: 'delivered' });
      expect(server.received.map((r) => r.session.to)).toEqual([['ops@example.org']]);
      expect(logged).toContain('gone@example.org');
    } finally {
      await server.close();
    }
  });

  it('with credentials, a server that offers no AUTH is refused, not sent to unauthenticated', async () => {
    const server = await plain({ disabledCommands: ['AUTH'] });
    try {
      const { outcome } = await send([message()], base(server.port, { ...withAuth, security: 'none' }));
      expect(outcome).toMatchObject({ outcome: 'rejected' });
      expect(JSON.stringify(outcome)).not.toContain(PASSWORD);
      expect(server.received).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('sends a digest as one mail whose subject counts the changes, listing them in order', async () => {
    const server = await plain();
    try {
      const batch = [
        message({ asset: { id: 'x1', url: 'https://one.example/', tags: [] }, title: 'one is down', text: 'first' }),
        message({ asset: { id: 'x2', url: 'https://two.example/', tags: [] }, from: 'down', to: 'up', reason: '', title: 'two is up', text: 'second' }),
        message({ asset: { id: 'x3', url: 'https://three.example/', tags: [] }, reason: 'dns', title: 'three is down', text: 'third' }),
      ];
      const { outcome } = await send(batch, base(server.port, { security: 'none' }));
      expect(outcome).toEqual({ outcome: 'delivered' });
      expect(server.received).toHaveLength(1);
      const { mail } = server.received[0]!;
      expect(mail.subject).toBe('[webmon] 3 changes: 2 DOWN, 1 UP');
      const text = mail.text ?? '';
      const at = ['https://one.example/', 'https://two.example/', 'https://three.example/'].map((u) => text.indexOf(u));
      expect(at.every((i) => i >= 0)).toBe(true);
      expect([...at].sort((a, b) => a - b)).toEqual(at);
      for (const t of ['first', 'second', 'third']) expect(mail.html).toContain(t);
    } finally {
      await server.close();
    }
  });

  it('subjects: UP without a reason, reminders say "still", tests say so', async () => {
    const server = await plain();
    try {
      const cases: [Partial<ChannelMessage>, string][] = [
        [{ from: 'down', to: 'up', reason: 'timeout' }, '[webmon] https://shop.example/ is UP'],
        [{ type: 'reminder', from: 'down', to: 'down', reason: 'dns' }, '[webmon] https://shop.example/ is still DOWN (dns)'],
        [{ type: 'test' }, '[webmon] test: https://shop.example/ is DOWN (timeout)'],
        [{ to: 'degraded', reason: 'slow' }, '[webmon] https://shop.example/ is DEGRADED (slow)'],
      ];
      for (const [over] of cases) expect((await send([message(over)], base(server.port, { security: 'none' }))).outcome).toEqual({ outcome: 'delivered' });
      expect(server.received.map((r) => r.mail.subject)).toEqual(cases.map(([, s]) => s));
    } finally {
      await server.close();
    }
  });

  it('escapes everything in the HTML part and keeps the subject on one line', async () => {
    const server = await plain();
    try {
      const evil = message({
        asset: { id: 'e1', url: 'https://x.example/?q=<script>alert(1)</script>', tags: [] },
        reason: 'http_status\r\nBcc: victim@example.org',
        message: '"quoted" & <b>bold</b>',
        title: '<img src=x onerror=alert(1)>',
        text: 'line one\n<iframe src="https://evil.example/">',
        link: 'javascript:alert(1)',
      });
      const { outcome } = await send([evil], base(server.port, { security: 'none' }));
      expect(outcome).toEqual({ outcome: 'delivered' });
      const { mail, session } = server.received[0]!;
      expect(session.to).toEqual(['ops@example.org']);
      expect(mail.bcc).toBeUndefined();
      expect(mail.headers.has('bcc')).toBe(false);
      expect(mail.subject).toBe('[webmon] https://x.example/?q=<script>alert(1)</script> is DOWN (http_status Bcc: victim@example.org)');
      const html = String(mail.html);
      for (const raw of ['<script>', '<img', '<iframe', '<b>bold', 'href="javascript:']) expect(html).not.toContain(raw);
      expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
      expect(html).toContain('&#34;quoted&#34; &#38; &#60;b&#62;bold&#60;/b&#62;');
      expect(html).toContain('line one<br>&#60;iframe');
      expect(mail.text).toContain('<iframe src="https://evil.example/">');
    } finally {
      await server.close();
    }
  });

  it('gives every retry of a delivery the same Message-ID', async () => {
    const server = await plain();
    try {
      const m = message();
      await send([m], base(server.port, { security: 'none' }));
      await send([m], base(server.port, { security: 'none' }));
      await send([message()], base(server.port, { security: 'none' }));
      const ids = server.received.map((r) => r.mail.messageId);
      expect(ids[0]).toBe(ids[1]);
      expect(ids[2]).not.toBe(ids[0]);
    } finally {
      await server.close();
    }
  });
});

describe('email channel: network and egress', () => {
  it('retries when nothing listens, and when the server never greets within the time budget', async () => {
    const silent = await silentServer();
    const closed = await silentServer();
    await closed.close();
    try {
      const refused = await send([message()], base(closed.port, { security: 'none' }));
      expect(refused.outcome).toMatchObject({ outcome: 'retry', reason: expect.stringContaining('ECONNREFUSED') });
      const stuck = await send([message()], base(silent.port, { security: 'none' }), operatorEgress(), 300);
      expect(stuck.outcome).toMatchObject({ outcome: 'retry', reason: expect.stringMatching(/within 300 ms|timeout/i) });
    } finally {
      await silent.close();
    }
  });

  it("a client's guard refuses loopback (literal or name) before connecting, thrown as by every channel; an allowed range connects", async () => {
    const server = await smtpServer({ hideSTARTTLS: true, authOptional: true });
    try {
      for (const host of ['127.0.0.1', 'localhost', '2130706433']) {
        await expect(send([message()], base(server.port, { host, security: 'none' }), clientEgress()), host).rejects.toBeInstanceOf(EgressDeniedError);
      }
      expect(server.connections).toBe(0);
      const allowed = await send([message()], base(server.port, { security: 'none' }), clientEgress(['127.0.0.0/8']));
      expect(allowed.outcome).toEqual({ outcome: 'delivered' });
      expect(server.connections).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('judges the addresses a name resolves to: an operator policy denying loopback refuses "localhost"', async () => {
    const server = await smtpServer({ hideSTARTTLS: true, authOptional: true });
    const strict = operatorEgress({ denyHosts: [], allowHosts: [], denyCidrs: ['127.0.0.0/8', '::1/128'], allowCidrs: [] });
    try {
      await expect(send([message()], base(server.port, { host: 'localhost', security: 'none' }), strict)).rejects.toThrow(/resolves to a refused address/);
      expect(server.connections).toBe(0);
    } finally {
      await server.close();
    }
  });
});
