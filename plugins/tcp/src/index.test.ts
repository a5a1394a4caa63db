import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { PluginRegistry, clientEgress, createSharedCache, memoryStorage, operatorEgress, runPlugin, type CheckResult, type EgressGuard } from '@webmon/plugin-sdk';
import { tcpPlugin } from './index.js';

const registry = new PluginRegistry([tcpPlugin]);
const servers: Server[] = [];

async function serve(onConnection: (s: Socket) => void): Promise<number> {
  const srv = createServer((s) => {
    s.on('error', () => undefined);
    onConnection(s);
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return (srv.address() as { port: number }).port;
}

async function check(port: number, options: Record<string, unknown> = {}, host = '127.0.0.1', egress: EgressGuard = operatorEgress()): Promise<CheckResult> {
  const v = registry.validate('tcp', options);
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  const ctx = { log: pino({ level: 'silent' }), storage: memoryStorage(), shared: createSharedCache(), egress };
  return runPlugin(tcpPlugin, { url: new URL(`tcp://${host}:${port}`), assetId: 'a' }, v.value, ctx, v.value.timeoutMs as number);
}

const ports: Record<string, number> = {};

beforeAll(async () => {
  ports.ssh = await serve((s) => s.write('SSH-2.0-OpenSSH_9.6\r\n'));
  ports.smtp = await serve((s) => s.write('220 mail.test ESMTP ready\r\n'));
  ports.pop3 = await serve((s) => s.write('+OK POP3 ready\r\n'));
  ports.echo = await serve((s) => s.on('data', (d) => s.write(`you said: ${d.toString()}`)));
  ports.silent = await serve(() => undefined);
  ports.hangup = await serve((s) => s.end());
  ports.partial = await serve((s) => s.write('220 no newline yet'));
  ports.flood = await serve((s) => s.write(Buffer.alloc(100_000, 'x')));
  const gone = createServer();
  await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
  ports.refused = (gone.address() as { port: number }).port;
  await new Promise<void>((r) => gone.close(() => r()));
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

describe('tcp plugin', () => {
  it('is ok on connect alone, with the connect time', async () => {
    const r = await check(ports.silent!);
    expect(r).toMatchObject({ plugin: 'tcp', status: 'ok', reason: null, message: expect.stringMatching(/^connected in/) });
    expect(r.metrics.connectMs).toBeGreaterThan(0);
  });

  it.each([
    ['ssh', '^SSH-2\\.0', 'SSH-2.0-OpenSSH_9.6\r\n'],
    ['smtp', '^220 ', '220 mail.test ESMTP ready\r\n'],
    ['pop3', '^\\+OK', '+OK POP3 ready\r\n'],
  ])('matches a %s banner', async (name, expectRe, banner) => {
    const r = await check(ports[name]!, { expect: expectRe });
    expect(r).toMatchObject({ status: 'ok', details: { banner, ended: 'pattern' } });
    expect(r.metrics.firstByteMs).toBeGreaterThan(0);
    expect(r.metrics.bytes).toBe(Buffer.byteLength(banner));
  });

  it('reports a banner that does not match as mismatch', async () => {
    const r = await check(ports.smtp!, { expect: '^SSH-' });
    expect(r).toMatchObject({ status: 'error', reason: 'mismatch' });
    expect(r.message).toContain('220 mail.test ESMTP ready');
  });

  it('sends a string and matches the reply', async () => {
    expect(await check(ports.echo!, { send: 'PING\r\n', expect: '^you said: PING' })).toMatchObject({ status: 'ok' });
    expect(await check(ports.echo!, { send: 'PING\r\n', expect: 'PONG' })).toMatchObject({ status: 'error', reason: 'mismatch' });
  });

  it('times out when nothing is said', async () => {
    const started = Date.now();
    const r = await check(ports.silent!, { expect: '^220', readTimeoutMs: 200 });
    expect(r).toMatchObject({ status: 'error', reason: 'timeout', message: expect.stringContaining('no reply within 200 ms') });
    expect(Date.now() - started).toBeLessThan(2000);
    const overall = await check(ports.silent!, { expect: '^220', readTimeoutMs: 5000, timeoutMs: 300 });
    expect(overall).toMatchObject({ status: 'error', reason: 'timeout' });
  });

  it('matches a partial reply once the server goes quiet', async () => {
    const r = await check(ports.partial!, { expect: '^220', readTimeoutMs: 200 });
    expect(r).toMatchObject({ status: 'ok', details: { ended: 'idle', banner: '220 no newline yet' } });
  });

  it('fails when the server hangs up without a word', async () => {
    expect(await check(ports.hangup!, { expect: '.' })).toMatchObject({ status: 'error', reason: 'mismatch', message: expect.stringContaining('closed without a reply') });
  });

  it('stops reading at maxBytes', async () => {
    const r = await check(ports.flood!, { expect: '^x+$', maxBytes: 1000 });
    expect(r).toMatchObject({ status: 'ok', metrics: { bytes: 1000 }, details: { ended: 'cap' } });
  });

  it('reports refused and dns failures', async () => {
    expect(await check(ports.refused!)).toMatchObject({ status: 'error', reason: 'refused' });
    expect(await check(22, {}, 'no-such-host.invalid')).toMatchObject({ status: 'error', reason: 'dns' });
  });

  it("refuses a client's connection to loopback in every spelling, before anything is sent", async () => {
    let connections = 0;
    const port = await serve((s) => {
      connections++;
      s.end('hello\n');
    });
    const client = clientEgress();
    for (const host of ['127.0.0.1', '2130706433', '0x7f.1', '[::ffff:127.0.0.1]', 'localhost', 'LOCALHOST.']) {
      const r = await check(port, { send: 'INFO\r\n', expect: 'hello' }, host, client);
      expect(r, host).toMatchObject({ status: 'error', reason: 'denied', message: expect.stringMatching(/loopback|clients may not/) });
    }
    expect(connections).toBe(0);
    // The same server, for the operator and for a client allowed the range.
    expect(await check(port, { expect: 'hello' }, '2130706433')).toMatchObject({ status: 'ok' });
    expect(await check(port, { expect: 'hello' }, 'localhost')).toMatchObject({ status: 'ok' });
    expect(await check(port, { expect: 'hello' }, '127.0.0.1', clientEgress(['127.0.0.0/8']))).toMatchObject({ status: 'ok' });
    expect(connections).toBe(3);
  });

  it('judges every address a name resolves to, in the lookup used to connect', async () => {
    let connections = 0;
    const port = await serve((s) => {
      connections++;
      s.end('hi\n');
    });
    // The operator's policy denies loopback: `localhost` passes the name rules, its addresses do not.
    const strict = operatorEgress({ denyHosts: [], allowHosts: [], denyCidrs: ['127.0.0.0/8', '::1/128'], allowCidrs: [] });
    const r = await check(port, { expect: 'hi' }, 'localhost', strict);
    expect(r).toMatchObject({ status: 'error', reason: 'denied', message: expect.stringMatching(/localhost resolves to a refused address: .*denied range/) });
    expect(connections).toBe(0);
  });

  it('validates options, naming the field', () => {
    const bad = registry.validate('tcp', { expect: '(', maxBytes: 'lots', colour: 1 });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.problems.map((p) => p.field)).toEqual(expect.arrayContaining(['tcp.expect', 'tcp.maxBytes', 'tcp.colour']));
    expect(registry.validate('tcp', {})).toEqual({
      ok: true,
      value: { timeoutMs: 10_000, connectTimeoutMs: 5_000, until: '\\n', readTimeoutMs: 5_000, maxBytes: 4096 },
    });
  });
});
