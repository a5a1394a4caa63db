/**
 * The tls plugin against real TLS servers on 127.0.0.1, with certificates made by openssl in
 * the test (test/helpers/pki.ts), and fake plaintext SMTP/IMAP/POP3/FTP servers that upgrade
 * the connection after STARTTLS. Skipped without `openssl`.
 */
import { once } from 'node:events';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { TLSSocket, createSecureContext, createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { PluginRegistry, clientEgress, createSharedCache, memoryStorage, operatorEgress, runPlugin, type CheckResult, type EgressGuard } from '@webmon/plugin-sdk';
import { NO_OPENSSL, createPki, hasOpenssl, type Issued, type Pki } from '../../../test/helpers/pki.js';
import { MAX_DIALOGUE_BYTES } from './starttls.js';
import { tlsPlugin } from './index.js';

const registry = new PluginRegistry([tlsPlugin]);
const servers: NetServer[] = [];
const noop = () => undefined;

async function check(port: number, options: Record<string, unknown> = {}, host = '127.0.0.1', egress: EgressGuard = operatorEgress()): Promise<CheckResult> {
  const v = registry.validate('tls', options);
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  const ctx = { log: pino({ level: 'silent' }), storage: memoryStorage(), shared: createSharedCache(), egress };
  return runPlugin(tlsPlugin, { url: new URL(`tls://${host}:${port}`), assetId: 'a' }, v.value, ctx, v.value.timeoutMs as number);
}

/** TCP connections accepted, by the server's port. */
const accepted = new Map<number, number>();

/**
 * Listens on a free loopback port. Closing the servers at the end waits for their connections:
 * a connection the plugin left open would fail the suite.
 */
async function listen(srv: NetServer): Promise<number> {
  servers.push(srv);
  srv.on('connection', (s: Socket) => {
    const port = s.localPort ?? 0;
    accepted.set(port, (accepted.get(port) ?? 0) + 1);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return (srv.address() as { port: number }).port;
}

/** What a server saw of one TLS connection, known once it closed. */
interface Seen {
  servername: string | false;
  /** Bytes of application data received after the handshake. */
  appBytes: number;
  /** Plaintext commands received before TLS (STARTTLS servers). */
  commands: string[];
}

/** Counts application data on an established TLS connection; resolves what was seen when it closes. */
function watch(secure: TLSSocket, commands: string[]): Promise<Seen> {
  const seen: Seen = { servername: secure.servername ?? false, appBytes: 0, commands };
  secure.on('data', (d: Buffer) => (seen.appBytes += d.length));
  secure.on('error', noop);
  return new Promise((resolve) => secure.once('close', () => resolve(seen)));
}

/** The TLS connections a server completed, in order, each known once it closed. */
class Handshakes {
  private readonly slots: Array<{ seen: Promise<Seen>; resolve: (s: Seen) => void }> = [];
  private count = 0;

  add(secure: TLSSocket, commands: string[]): void {
    void watch(secure, commands).then(this.slot(this.count++).resolve);
  }

  /** The i-th connection (from 0), once it has closed. */
  nth(i: number): Promise<Seen> {
    return this.slot(i).seen;
  }

  private slot(i: number) {
    while (this.slots.length <= i) {
      let resolve!: (s: Seen) => void;
      const seen = new Promise<Seen>((r) => (resolve = r));
      this.slots.push({ seen, resolve });
    }
    return this.slots[i]!;
  }
}

interface Served {
  port: number;
  handshakes: Handshakes;
  /** TCP connections accepted. */
  accepted: () => number;
}

function servedOn(port: number, handshakes: Handshakes): Served {
  return { port, handshakes, accepted: () => accepted.get(port) ?? 0 };
}

function keyAndChain(issued: Issued, chain: readonly Issued[] = []): { key: string; cert: string } {
  return { key: issued.key, cert: [issued.cert, ...chain.map((c) => c.cert)].join('') };
}

async function tlsServer(issued: Issued, options: TlsOptions & { chain?: readonly Issued[]; staple?: Buffer } = {}): Promise<Served> {
  const { chain, staple, ...tlsOptions } = options;
  const handshakes = new Handshakes();
  const srv = createTlsServer({ ...keyAndChain(issued, chain), ...tlsOptions }, (secure) => handshakes.add(secure, []));
  srv.on('tlsClientError', noop);
  if (staple) srv.on('OCSPRequest', (_cert: Buffer, _issuer: Buffer, cb: (err: Error | null, resp: Buffer | null) => void) => cb(null, staple));
  return servedOn(await listen(srv), handshakes);
}

type Protocol = 'smtp' | 'imap' | 'pop3' | 'ftp';

interface Script {
  greeting: string;
  /** The reply to a command line: `upgrade` then switches the connection to TLS. */
  answer(line: string): { reply: string; upgrade?: boolean } | null;
}

const SCRIPTS: Record<Protocol, Script> = {
  smtp: {
    greeting: '220-mail.test ESMTP\r\n220 ready\r\n',
    answer: (line) =>
      /^EHLO /i.test(line) ? { reply: '250-mail.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n' } : /^STARTTLS$/i.test(line) ? { reply: '220 go ahead\r\n', upgrade: true } : null,
  },
  imap: {
    greeting: '* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n',
    answer: (line) => (/^a1 STARTTLS$/i.test(line) ? { reply: '* CAPABILITY IMAP4rev1\r\na1 OK Begin TLS negotiation now\r\n', upgrade: true } : null),
  },
  pop3: {
    greeting: '+OK POP3 ready\r\n',
    answer: (line) => (line === 'STLS' ? { reply: '+OK Begin TLS\r\n', upgrade: true } : null),
  },
  ftp: {
    greeting: '220-Welcome\r\n220 FTP ready\r\n',
    answer: (line) => (line === 'AUTH TLS' ? { reply: '234 AUTH TLS OK\r\n', upgrade: true } : null),
  },
};

/** A plaintext server that follows `script`, then speaks TLS with `issued` on the same socket. */
async function starttlsServer(issued: Issued, script: Script): Promise<Served> {
  const context = createSecureContext(keyAndChain(issued));
  const handshakes = new Handshakes();
  const srv = createNetServer((socket: Socket) => {
    const commands: string[] = [];
    let buffer = '';
    socket.on('error', noop);
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (let nl = buffer.indexOf('\r\n'); nl >= 0; nl = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        commands.push(line);
        const step = script.answer(line);
        if (!step) {
          socket.end('500 unknown command\r\n');
          return;
        }
        socket.write(step.reply);
        if (step.upgrade) {
          socket.off('data', onData);
          const secure = new TLSSocket(socket, { isServer: true, secureContext: context });
          secure.once('secure', () => handshakes.add(secure, commands));
          secure.on('error', noop);
          return;
        }
      }
    };
    socket.on('data', onData);
    socket.write(script.greeting);
  });
  return servedOn(await listen(srv), handshakes);
}

/** A plaintext server that writes `text` on connect and ignores what it is sent (reading it, so that it sees the close). */
async function talker(text: string): Promise<number> {
  const srv = createNetServer((socket) => {
    socket.on('error', noop);
    socket.resume();
    if (text) socket.write(text);
  });
  return listen(srv);
}

let pki: Pki;
const ports: Record<string, number> = {};
const served: Record<string, Served> = {};
const STAPLE = Buffer.from('a canned OCSP response');

beforeAll(async () => {
  if (!hasOpenssl) return;
  pki = createPki('webmon-tls-test-');
  const localhost = ['DNS:localhost', 'IP:127.0.0.1'];
  const good = pki.issue({ cn: 'localhost', sans: localhost, days: 60 });
  served.good = await tlsServer(good);
  served.stapling = await tlsServer(good, { staple: STAPLE });
  served.expired = await tlsServer(pki.issue({ cn: 'localhost', sans: localhost, fromDaysAgo: 30, days: -3 }));
  served.expiring = await tlsServer(pki.issue({ cn: 'localhost', sans: localhost, days: 5 }));
  const intermediate = pki.issue({ cn: 'webmon test intermediate', ca: true, days: 8 });
  served.intermediate = await tlsServer(pki.issue({ cn: 'localhost', sans: localhost, days: 90, issuer: intermediate }), { chain: [intermediate] });
  served.otherName = await tlsServer(pki.issue({ cn: 'other.test', sans: ['DNS:other.test', 'DNS:*.other.test'], days: 60 }));
  served.manyNames = await tlsServer(pki.issue({ cn: 'many.test', sans: Array.from({ length: 80 }, (_, i) => `DNS:host-${i}.many.test`), days: 60 }));
  served.selfSigned = await tlsServer(pki.selfSigned('localhost', localhost, 30));
  served.tls12 = await tlsServer(good, { maxVersion: 'TLSv1.2' });
  served.tls10 = await tlsServer(good, { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' });
  for (const protocol of Object.keys(SCRIPTS) as Protocol[]) served[protocol] = await starttlsServer(good, SCRIPTS[protocol]);
  ports.plaintext = await talker('SSH-2.0-OpenSSH_9.6\r\n');
  ports.silent = await talker('');
  const noTls: Script = { greeting: '220 ready\r\n', answer: (l) => ({ reply: l.startsWith('EHLO') ? '250 ok\r\n' : '454 TLS not available due to temporary reason\r\n' }) };
  ports.smtpNoTls = (await starttlsServer(good, noTls)).port;
  ports.smtpGoAway = await talker('554 no service here\r\n');
  ports.injecting = await starttlsServer(good, { greeting: '220 ready\r\n', answer: (l) => (l.startsWith('EHLO') ? { reply: '250 ok\r\n' } : { reply: '220 go ahead\r\nRSET\r\n' }) }).then((s) => s.port);
  ports.flood = await talker(`220-${'x'.repeat(MAX_DIALOGUE_BYTES)}\r\n220 done\r\n`);
  const hangup = createNetServer((s) => s.destroy());
  ports.hangup = await listen(hangup);
  const gone = createNetServer();
  gone.listen(0, '127.0.0.1');
  await once(gone, 'listening');
  ports.refused = (gone.address() as { port: number }).port;
  await new Promise<void>((r) => gone.close(() => r()));
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  pki?.close();
});

describe.skipIf(!hasOpenssl)(`tls plugin${NO_OPENSSL}`, () => {
  it('reports a chain from a private CA given as `ca`, and sends no application data', async () => {
    const r = await check(served.good!.port, { ca: pki.root.cert });
    expect(r).toMatchObject({
      plugin: 'tls',
      status: 'ok',
      reason: null,
      message: expect.stringMatching(/^TLSv1\.3 TLS_\w+, certificate valid 5\d more days$/),
      metrics: { ocspStapled: 0 },
      details: {
        protocol: 'TLSv1.3',
        subject: 'localhost',
        issuer: 'webmon test root',
        sans: ['DNS:localhost', 'IP Address:127.0.0.1'],
        serverName: '127.0.0.1',
        hostnameMatch: true,
        chainVerified: true,
        ocspStapled: false,
        chain: [
          { subject: 'localhost', issuer: 'webmon test root' },
          { subject: 'webmon test root', issuer: 'webmon test root' },
        ],
      },
    });
    expect(r.metrics.certDaysLeft).toBeGreaterThan(59);
    expect(r.metrics.certDaysLeft).toBeLessThanOrEqual(60);
    expect(r.metrics.chainEarliestDaysLeft).toBe(r.metrics.certDaysLeft);
    expect(r.metrics.connectMs).toBeGreaterThan(0);
    expect(r.metrics.handshakeMs).toBeGreaterThan(0);
    expect(Date.parse(r.details!.validTo as string) - Date.parse(r.details!.validFrom as string)).toBe(61 * 86_400_000);
    expect(r.details).not.toHaveProperty('sni');
    const seen = await served.good!.handshakes.nth(0);
    expect(seen).toMatchObject({ servername: false, appBytes: 0 });
  });

  it('is untrusted without the CA, naming the reason', async () => {
    const r = await check(served.good!.port);
    expect(r).toMatchObject({
      status: 'error',
      reason: 'untrusted',
      message: expect.stringContaining('UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
      details: { chainVerified: false, authorizationError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', subject: 'localhost' },
    });
    expect(r.metrics.certDaysLeft).toBeGreaterThan(59);
  });

  it('is untrusted for a self-signed certificate, unless verification is off', async () => {
    const r = await check(served.selfSigned!.port, { ca: pki.root.cert });
    expect(r).toMatchObject({ status: 'error', reason: 'untrusted', message: 'certificate not trusted: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)' });
    const unverified = await check(served.selfSigned!.port, { verify: false });
    expect(unverified).toMatchObject({ status: 'ok', details: { chainVerified: false, authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT' } });
  });

  it('fails an expired certificate as cert_expired, with or without verification', async () => {
    const r = await check(served.expired!.port, { ca: pki.root.cert });
    expect(r).toMatchObject({ status: 'error', reason: 'cert_expired', message: expect.stringMatching(/^certificate expired 3 days ago \(\d{4}-/) });
    expect(r.metrics.certDaysLeft).toBeLessThan(-2.9);
    expect(r.metrics.certDaysLeft).toBeGreaterThan(-3.1);
    expect(await check(served.expired!.port, { verify: false })).toMatchObject({ status: 'error', reason: 'cert_expired' });
  });

  it('warns within warnDays and fails within errorDays', async () => {
    const r = await check(served.expiring!.port, { ca: pki.root.cert });
    expect(r).toMatchObject({ status: 'warn', reason: 'cert_expiring', message: 'certificate expires in 4 days (warning below 14)' });
    expect(await check(served.expiring!.port, { ca: pki.root.cert, warnDays: 3 })).toMatchObject({ status: 'ok' });
    expect(await check(served.expiring!.port, { ca: pki.root.cert, errorDays: 7 })).toMatchObject({
      status: 'error',
      reason: 'cert_expiring',
      message: 'certificate expires in 4 days (error below 7)',
    });
  });

  it('judges the earliest expiry of the chain, naming the certificate', async () => {
    const r = await check(served.intermediate!.port, { ca: pki.root.cert });
    expect(r).toMatchObject({
      status: 'warn',
      reason: 'cert_expiring',
      message: 'chain certificate "webmon test intermediate" expires in 7 days (warning below 14)',
      details: { chainVerified: true, issuer: 'webmon test intermediate' },
    });
    expect(r.details!.chain).toHaveLength(3);
    expect(r.metrics.certDaysLeft).toBeGreaterThan(89);
    expect(r.metrics.chainEarliestDaysLeft).toBeGreaterThan(7);
    expect(r.metrics.chainEarliestDaysLeft).toBeLessThanOrEqual(8);
  });

  it('fails a certificate for another name, and checks the name given as serverName (sent as SNI)', async () => {
    const r = await check(served.otherName!.port, { ca: pki.root.cert });
    expect(r).toMatchObject({
      status: 'error',
      reason: 'hostname_mismatch',
      message: expect.stringContaining("IP: 127.0.0.1 is not in the cert's list"),
      details: { hostnameMatch: false, chainVerified: true, sans: ['DNS:other.test', 'DNS:*.other.test'] },
    });
    const named = await check(served.otherName!.port, { ca: pki.root.cert, serverName: 'www.other.test' });
    expect(named).toMatchObject({ status: 'ok', details: { serverName: 'www.other.test', sni: 'www.other.test', hostnameMatch: true } });
    expect(await check(served.otherName!.port, { ca: pki.root.cert, serverName: 'a.b.other.test' })).toMatchObject({ reason: 'hostname_mismatch' });
    expect(await check(served.otherName!.port, { ca: pki.root.cert, verify: false })).toMatchObject({ status: 'ok', details: { hostnameMatch: false } });
    const seen = await Promise.all([0, 1, 2, 3].map((i) => served.otherName!.handshakes.nth(i)));
    expect(seen.map((s) => s.servername)).toEqual([false, 'www.other.test', 'a.b.other.test', false]);
    expect(seen.every((s) => s.appBytes === 0)).toBe(true);
  });

  it('bounds the names shown of a certificate with many', async () => {
    const r = await check(served.manyNames!.port, { ca: pki.root.cert, serverName: 'other.test' });
    expect(r).toMatchObject({ status: 'error', reason: 'hostname_mismatch', message: expect.stringMatching(/^Hostname\/IP does not match .*…$/) });
    expect(r.message.length).toBe(301);
    expect(r.details!.sans).toHaveLength(50);
    expect((r.details!.sans as string[])[49]).toBe('DNS:host-49.many.test');
  });

  it('sends the URL host name as SNI and checks it', async () => {
    const r = await check(served.good!.port, { ca: pki.root.cert }, 'localhost');
    expect(r).toMatchObject({ status: 'ok', details: { serverName: 'localhost', sni: 'localhost', hostnameMatch: true } });
  });

  it('reports whether an OCSP response was stapled', async () => {
    const stapled = await check(served.stapling!.port, { ca: pki.root.cert });
    expect(stapled).toMatchObject({ status: 'ok', metrics: { ocspStapled: 1 }, details: { ocspStapled: true } });
    const plain = await check(served.good!.port, { ca: pki.root.cert });
    expect(plain).toMatchObject({ status: 'ok', metrics: { ocspStapled: 0 }, details: { ocspStapled: false } });
  });

  it('refuses a protocol version below minVersion', async () => {
    expect(await check(served.tls12!.port, { ca: pki.root.cert })).toMatchObject({ status: 'ok', details: { protocol: 'TLSv1.2' } });
    const floor = await check(served.tls12!.port, { ca: pki.root.cert, minVersion: 'TLSv1.3' });
    expect(floor).toMatchObject({ status: 'error', reason: 'tls', message: expect.stringMatching(/^no protocol version at or above TLSv1\.3 in common with the server/) });
    const legacy = await check(served.tls10!.port, { ca: pki.root.cert });
    expect(legacy).toMatchObject({ status: 'error', reason: 'tls', message: expect.stringContaining('at or above TLSv1.2') });
    expect(await check(served.tls10!.port, { ca: pki.root.cert, minVersion: 'TLSv1' })).toMatchObject({ status: 'ok', details: { protocol: 'TLSv1' } });
  });

  it.each([
    ['smtp', ['EHLO webmon', 'STARTTLS']],
    ['imap', ['a1 STARTTLS']],
    ['pop3', ['STLS']],
    ['ftp', ['AUTH TLS']],
  ] as const)('upgrades a %s connection with STARTTLS', async (protocol, commands) => {
    const server = served[protocol]!;
    const r = await check(server.port, { ca: pki.root.cert, starttls: protocol });
    expect(r).toMatchObject({ status: 'ok', details: { protocol: 'TLSv1.3', subject: 'localhost', chainVerified: true } });
    expect(r.metrics.starttlsMs).toBeGreaterThan(0);
    const seen = await server.handshakes.nth(0);
    expect(seen).toEqual({ servername: false, appBytes: 0, commands });
  });

  it('fails STARTTLS that is declined (tls), a greeting that is not a welcome (protocol) and a silent server (timeout)', async () => {
    expect(await check(ports.smtpNoTls!, { starttls: 'smtp' })).toMatchObject({
      status: 'error',
      reason: 'tls',
      message: 'smtp STARTTLS: the server declined TLS: "454 TLS not available due to temporary reason"',
    });
    expect(await check(ports.smtpGoAway!, { starttls: 'smtp' })).toMatchObject({ status: 'error', reason: 'protocol', message: 'smtp greeting: the server answered: "554 no service here"' });
    expect(await check(ports.silent!, { starttls: 'imap', replyTimeoutMs: 200 })).toMatchObject({ status: 'error', reason: 'timeout', message: 'no reply to greeting within 200 ms' });
    expect(await check(served.smtp!.port, { starttls: 'pop3' })).toMatchObject({ status: 'error', reason: 'protocol' });
  });

  it('refuses plaintext sent after the STARTTLS reply, and a dialogue beyond its byte cap', async () => {
    expect(await check(ports.injecting!, { starttls: 'smtp' })).toMatchObject({ status: 'error', reason: 'protocol', message: 'smtp STARTTLS: the server sent more than its reply' });
    expect(await check(ports.flood!, { starttls: 'ftp' })).toMatchObject({ status: 'error', reason: 'protocol', message: `more than ${MAX_DIALOGUE_BYTES} bytes before TLS` });
  });

  it('classifies a server that does not speak TLS, hangs up, or is not there', async () => {
    expect(await check(ports.plaintext!)).toMatchObject({ status: 'error', reason: 'tls' });
    expect(await check(ports.silent!, { replyTimeoutMs: 200 })).toMatchObject({ status: 'error', reason: 'timeout', message: 'no TLS handshake within 200 ms' });
    expect(await check(ports.hangup!)).toMatchObject({ status: 'error', reason: 'reset' });
    expect(await check(ports.refused!)).toMatchObject({ status: 'error', reason: 'refused' });
  });

  it("refuses a client's connection to loopback before connecting", async () => {
    const before = served.good!.accepted();
    const r = await check(served.good!.port, { ca: pki.root.cert }, '127.0.0.1', clientEgress());
    expect(r).toMatchObject({ status: 'error', reason: 'denied', message: expect.stringMatching(/loopback|clients may not/) });
    expect(await check(served.good!.port, { ca: pki.root.cert }, 'localhost', clientEgress())).toMatchObject({ status: 'error', reason: 'denied' });
    expect(served.good!.accepted()).toBe(before);
    expect(await check(served.good!.port, { ca: pki.root.cert }, '127.0.0.1', clientEgress(['127.0.0.0/8']))).toMatchObject({ status: 'ok' });
    expect(served.good!.accepted()).toBe(before + 1);
  });
});

describe('tls plugin options', () => {
  it('has defaults and names bad fields', () => {
    expect(registry.validate('tls', {})).toEqual({
      ok: true,
      value: { timeoutMs: 10_000, connectTimeoutMs: 5_000, replyTimeoutMs: 5_000, minVersion: 'TLSv1.2', verify: true, warnDays: 14, errorDays: 0 },
    });
    for (const [field, value] of Object.entries({ starttls: 'xmpp', minVersion: 'SSLv3', ca: 'not a certificate', serverName: 'a b', warnDays: -1, colour: 1 })) {
      const bad = registry.validate('tls', { [field]: value });
      expect(bad.ok, field).toBe(false);
      if (!bad.ok) expect(bad.problems.map((p) => p.field)).toContain(`tls.${field}`);
    }
  });

  it.skipIf(!hasOpenssl)(`accepts a ca of PEM certificates that parse, and nothing else${NO_OPENSSL}`, () => {
    const p = createPki('webmon-tls-options-');
    try {
      const two = `# private roots\n${p.root.cert}${p.selfSigned('other').cert}`;
      expect(registry.validate('tls', { ca: two }).ok).toBe(true);
      const broken = p.root.cert.replace(/\n[A-Za-z0-9+/]{10}/, '\n!!!!!!!!!!');
      expect(registry.validate('tls', { ca: broken }).ok).toBe(false);
    } finally {
      p.close();
    }
  });
});
