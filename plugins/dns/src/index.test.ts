/**
 * The dns plugin against a DNS server on 127.0.0.1 (UDP and TCP on one port) that answers from
 * a table of canned records, with every response code, record type and flag the plugin judges.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server as TcpServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import * as packet from 'dns-packet';
import { PluginRegistry, clientEgress, createSharedCache, memoryStorage, operatorEgress, runPlugin, type CheckResult, type EgressGuard } from '@webmon/plugin-sdk';
import { dnsPlugin, questionOf, systemServer } from './index.js';

const registry = new PluginRegistry([dnsPlugin]);

type Reply = { rcode?: string; answers?: packet.Answer[]; ad?: boolean; truncate?: boolean; silent?: boolean; spoofFirst?: boolean; delayMs?: number };
const ZONE: Record<string, Reply> = {
  'A www.test': { answers: [{ type: 'A', name: 'www.test', ttl: 300, data: '192.0.2.10' }, { type: 'A', name: 'www.test', ttl: 60, data: '192.0.2.11' }] },
  'AAAA www.test': { answers: [{ type: 'AAAA', name: 'www.test', ttl: 300, data: '2001:db8::10' }] },
  'CNAME alias.test': { answers: [{ type: 'CNAME', name: 'alias.test', ttl: 300, data: 'WWW.test.' }] },
  'MX test': { answers: [{ type: 'MX', name: 'test', ttl: 300, data: { preference: 10, exchange: 'mail.test' } }] },
  'TXT test': { answers: [{ type: 'TXT', name: 'test', ttl: 300, data: ['v=spf1 ', '-all'] }] },
  'NS test': { answers: [{ type: 'NS', name: 'test', ttl: 300, data: 'ns1.test' }, { type: 'NS', name: 'test', ttl: 300, data: 'ns2.test' }] },
  'SOA test': { answers: [{ type: 'SOA', name: 'test', ttl: 300, data: { mname: 'ns1.test', rname: 'hostmaster.test', serial: 2026120601, refresh: 7200, retry: 3600, expire: 1209600, minimum: 300 } }] },
  'CAA test': { answers: [{ type: 'CAA', name: 'test', ttl: 300, data: { flags: 0, tag: 'issue', value: 'letsencrypt.org' } }] },
  'A missing.test': { rcode: 'NXDOMAIN' },
  'A broken.test': { rcode: 'SERVFAIL' },
  'A closed.test': { rcode: 'REFUSED' },
  'A signed.test': { ad: true, answers: [{ type: 'A', name: 'signed.test', ttl: 300, data: '192.0.2.20' }] },
  'TXT big.test': { truncate: true, answers: Array.from({ length: 40 }, (_, i) => ({ type: 'TXT', name: 'big.test', ttl: 300, data: `record-${i}-${'x'.repeat(60)}` }) as packet.Answer) },
  'A slow.test': { silent: true },
  'A lagging.test': { delayMs: 150, answers: [{ type: 'A', name: 'lagging.test', ttl: 300, data: '192.0.2.40' }] },
  'A spoofed.test': { spoofFirst: true, answers: [{ type: 'A', name: 'spoofed.test', ttl: 300, data: '192.0.2.30' }] },
  'TXT trickle.test': { answers: Array.from({ length: 5 }, (_, i) => ({ type: 'TXT', name: 'trickle.test', ttl: 300, data: `piece-${i}` }) as packet.Answer) },
  'A private.test': { answers: [{ type: 'A', name: 'private.test', ttl: 300, data: '10.1.2.3' }] },
};

let udp: UdpSocket;
let tcp: TcpServer;
let port = 0;
const seen: Array<{ key: string; transport: 'udp' | 'tcp'; rd: boolean; ad: boolean; dnssecOk: boolean }> = [];

function respond(query: packet.DecodedPacket, transport: 'udp' | 'tcp', id = query.id): Buffer | null {
  const q = query.questions![0]!;
  const key = `${q.type} ${q.name.toLowerCase()}`;
  const opt = (query.additionals ?? []).find((a) => a.type === 'OPT') as { flags?: number } | undefined;
  seen.push({ key, transport, rd: query.flag_rd, ad: query.flag_ad, dnssecOk: ((opt?.flags ?? 0) & packet.DNSSEC_OK) !== 0 });
  const reply = ZONE[key] ?? { rcode: 'NXDOMAIN' };
  if (reply.silent) return null;
  const truncated = reply.truncate === true && transport === 'udp';
  let flags = packet.RECURSION_AVAILABLE | (query.flag_rd ? packet.RECURSION_DESIRED : 0) | (reply.ad ? packet.AUTHENTIC_DATA : 0);
  if (truncated) flags |= packet.TRUNCATED_RESPONSE;
  const rcodeBits = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 }[reply.rcode ?? 'NOERROR'] ?? 0;
  return packet.encode({ type: 'response', id, flags: flags | rcodeBits, questions: query.questions, answers: truncated ? [] : (reply.answers ?? []) });
}

beforeAll(async () => {
  tcp = createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('error', () => undefined);
    s.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const query = packet.decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      const out = respond(query, 'tcp');
      if (!out) return;
      const len = Buffer.alloc(2);
      len.writeUInt16BE(out.length);
      const whole = Buffer.concat([len, out]);
      if (query.questions![0]!.name !== 'trickle.test') return void s.end(whole);
      // One byte per write, each in its own packet: the reader must assemble the answer.
      const next = (i: number): void => {
        if (i >= whole.length) return void s.end();
        s.write(whole.subarray(i, i + 1), () => setTimeout(() => next(i + 1), 1));
      };
      next(0);
    });
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  port = (tcp.address() as { port: number }).port;
  udp = createSocket('udp4');
  udp.on('message', (msg, from) => {
    const query = packet.decode(msg);
    const key = `${query.questions![0]!.type} ${query.questions![0]!.name.toLowerCase()}`;
    if (ZONE[key]?.spoofFirst) {
      // A forged answer with another id, first: it must be ignored.
      const forged = packet.encode({ type: 'response', id: (query.id! + 1) % 65_536, flags: packet.RECURSION_AVAILABLE, questions: query.questions, answers: [{ type: 'A', name: 'spoofed.test', ttl: 300, data: '203.0.113.66' }] });
      udp.send(forged, from.port, from.address);
    }
    const out = respond(query, 'udp');
    if (out) setTimeout(() => udp.send(out, from.port, from.address), ZONE[key]?.delayMs ?? 0);
  });
  await new Promise<void>((r) => udp.bind(port, '127.0.0.1', r));
});

afterAll(async () => {
  udp?.close();
  await new Promise<void>((r) => tcp.close(() => r()));
});

async function check(path: string, options: Record<string, unknown> = {}, egress: EgressGuard = operatorEgress(), host = `127.0.0.1:${port}`): Promise<CheckResult> {
  const v = registry.validate('dns', options);
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  const ctx = { log: pino({ level: 'silent' }), storage: memoryStorage(), shared: createSharedCache(), egress };
  return runPlugin(dnsPlugin, { url: new URL(`dns://${host}/${path}`), assetId: 'a', owner: egress.trusted ? 'admin' : 'c1' }, v.value, ctx, (v.value.timeoutMs as number) + 1000);
}

describe('dns plugin: record types', () => {
  it.each([
    ['www.test?type=A', ['192.0.2.10', '192.0.2.11']],
    ['www.test?type=AAAA', ['2001:db8::10']],
    ['alias.test?type=CNAME', ['www.test']],
    ['test?type=MX', ['10 mail.test']],
    ['test?type=TXT', ['v=spf1 -all']],
    ['test?type=NS', ['ns1.test', 'ns2.test']],
    ['test?type=SOA', ['ns1.test hostmaster.test 2026120601 7200 3600 1209600 300']],
    ['test?type=CAA', ['0 issue "letsencrypt.org"']],
  ])('%s answers %j', async (path, answers) => {
    const r = await check(path, { expectExact: answers });
    expect(r).toMatchObject({ plugin: 'dns', status: 'ok', reason: null });
    expect(r.details).toMatchObject({ rcode: 'NOERROR', answers });
    expect(r.metrics.answers).toBe(answers.length);
    expect(r.metrics.queryMs).toBeGreaterThan(0);
  });

  it('reports the lowest TTL and asks for recursion by default', async () => {
    const before = seen.length;
    const r = await check('www.test');
    expect(r.metrics.minTtlSec).toBe(60);
    expect(seen.slice(before)).toEqual([{ key: 'A www.test', transport: 'udp', rd: true, ad: false, dnssecOk: false }]);
  });

  it('takes the type from the options over the URL, and can leave recursion off', async () => {
    const before = seen.length;
    const r = await check('www.test?type=A', { type: 'AAAA', recursion: false });
    expect(r.details).toMatchObject({ type: 'AAAA', answers: ['2001:db8::10'] });
    expect(seen.slice(before)[0]).toMatchObject({ key: 'AAAA www.test', rd: false });
  });
});

describe('dns plugin: response codes', () => {
  it.each([
    ['missing.test', 'nxdomain', 'NXDOMAIN'],
    ['broken.test', 'servfail', 'SERVFAIL'],
    ['closed.test', 'refused', 'REFUSED'],
  ])('%s fails with %s', async (name, reason, rcode) => {
    const r = await check(name);
    expect(r).toMatchObject({ status: 'error', reason, message: `A ${name}: ${rcode}` });
    expect(r.details).toMatchObject({ rcode });
  });

  it('passes when the expected code is NXDOMAIN, and fails when such a name resolves', async () => {
    expect(await check('missing.test', { rcode: 'NXDOMAIN' })).toMatchObject({ status: 'ok', message: expect.stringMatching(/^A missing\.test: NXDOMAIN in/) });
    expect(await check('www.test', { rcode: 'NXDOMAIN' })).toMatchObject({ status: 'error', reason: 'answer_mismatch', message: 'A www.test: NOERROR, expected NXDOMAIN' });
  });
});

describe('dns plugin: expected answers', () => {
  it('fails on answers that are not exactly the expected ones, naming the difference', async () => {
    const r = await check('www.test', { expectExact: ['192.0.2.10'] });
    expect(r).toMatchObject({ status: 'error', reason: 'answer_mismatch' });
    expect(r.message).toContain('unexpected ["192.0.2.11"]');
  });

  it('checks contains and regex expectations (names compared without case)', async () => {
    expect(await check('alias.test?type=CNAME', { expectContains: ['WWW.TEST.'] })).toMatchObject({ status: 'ok' });
    expect(await check('www.test', { expectContains: ['192.0.2.99'] })).toMatchObject({ status: 'error', reason: 'answer_mismatch', message: expect.stringContaining('do not contain ["192.0.2.99"]') });
    expect(await check('test?type=MX', { expectRegex: '^10 mail\\.' })).toMatchObject({ status: 'ok' });
    expect(await check('test?type=MX', { expectRegex: '^20 ' })).toMatchObject({ status: 'error', reason: 'answer_mismatch' });
  });

  it('requires the AD flag when asked, and asks for it with AD and DO set', async () => {
    const before = seen.length;
    expect(await check('signed.test', { requireAd: true })).toMatchObject({ status: 'ok', metrics: expect.objectContaining({ ad: 1 }) });
    expect(seen[before]).toMatchObject({ ad: true, dnssecOk: true });
    expect(await check('www.test', { requireAd: true })).toMatchObject({ status: 'error', reason: 'answer_mismatch', message: 'A www.test: answer not validated (no AD flag)' });
  });

  it('warns when slower than slowMs', async () => {
    const r = await check('lagging.test', { slowMs: 100 });
    expect(r).toMatchObject({ status: 'warn', reason: 'slow', message: expect.stringMatching(/\(over 100 ms\)$/) });
    expect(r.metrics.queryMs).toBeGreaterThanOrEqual(100);
    expect(await check('lagging.test', { slowMs: 30_000 })).toMatchObject({ status: 'ok' });
  });
});

describe('dns plugin: transport', () => {
  it('asks again over TCP when the UDP answer is truncated', async () => {
    const before = seen.length;
    const r = await check('big.test?type=TXT');
    expect(r).toMatchObject({ status: 'ok', metrics: expect.objectContaining({ tcp: 1, answers: 40 }) });
    expect(seen.slice(before).map((s) => s.transport)).toEqual(['udp', 'tcp']);
  });

  it('assembles a TCP answer that arrives a byte at a time', async () => {
    const r = await check('trickle.test?type=TXT', { transport: 'tcp' });
    expect(r).toMatchObject({ status: 'ok', details: expect.objectContaining({ answers: ['piece-0', 'piece-1', 'piece-2', 'piece-3', 'piece-4'] }) });
  });

  it('uses TCP alone when told to', async () => {
    const before = seen.length;
    expect(await check('www.test', { transport: 'tcp' })).toMatchObject({ status: 'ok', metrics: expect.objectContaining({ tcp: 1 }) });
    expect(seen.slice(before).map((s) => s.transport)).toEqual(['tcp']);
  });

  it('ignores an answer with another id', async () => {
    const r = await check('spoofed.test', { expectExact: ['192.0.2.30'] });
    expect(r).toMatchObject({ status: 'ok', details: expect.objectContaining({ answers: ['192.0.2.30'] }) });
  });

  it('times out on a resolver that does not answer', async () => {
    const r = await check('slow.test', { timeoutMs: 300 });
    expect(r).toMatchObject({ status: 'error', reason: 'timeout' });
  });
});

describe('dns plugin: egress', () => {
  it('refuses a client a resolver on a private address, before sending anything', async () => {
    const before = seen.length;
    const r = await check('www.test', {}, clientEgress());
    expect(r).toMatchObject({ status: 'error', reason: 'denied' });
    expect(seen.length).toBe(before);
  });

  it('does not show a client a private address in an answer', async () => {
    // The resolver is allowed for this client; the answer is an address it may not reach.
    const r = await check('private.test', {}, clientEgress(['127.0.0.0/8']));
    expect(r).toMatchObject({ status: 'error', reason: 'denied' });
    expect(r.message).not.toContain('10.1.2.3');
    expect(r.details).toBeUndefined();
    expect(await check('private.test', {}, operatorEgress())).toMatchObject({ status: 'ok', details: expect.objectContaining({ answers: ['10.1.2.3'] }) });
  });
});

describe('dns plugin: questions', () => {
  it('reads the question from the URL and refuses what cannot be asked', () => {
    const cfg = registry.validate('dns', {});
    if (!cfg.ok) throw new Error('defaults');
    const c = cfg.value as never;
    expect(questionOf(new URL('dns://9.9.9.9/example.com.?type=mx'), c)).toEqual({ name: 'example.com', type: 'MX' });
    expect(questionOf(new URL('dns:///example.com'), c)).toEqual({ name: 'example.com', type: 'A' });
    expect(questionOf(new URL('dns://9.9.9.9/example.com?type=SRV'), c)).toMatch(/record type "SRV"/);
    expect(questionOf(new URL('dns://9.9.9.9/'), c)).toMatch(/no name to query/);
    expect(questionOf(new URL(`dns://9.9.9.9/${'a'.repeat(64)}.com`), c)).toMatch(/not a valid DNS name/);
  });

  it('parses every form of system resolver address', () => {
    expect(systemServer(['192.0.2.53'])).toEqual({ address: '192.0.2.53', port: 53 });
    expect(systemServer(['192.0.2.53:5353'])).toEqual({ address: '192.0.2.53', port: 5353 });
    expect(systemServer(['2001:db8::53'])).toEqual({ address: '2001:db8::53', port: 53 });
    expect(systemServer(['[2001:db8::53]:5353'])).toEqual({ address: '2001:db8::53', port: 5353 });
    expect(systemServer([])).toBeNull();
  });

  it('refuses an unknown option at save time', () => {
    expect(registry.validate('dns', { expectRegex: '(a)\\1' }).ok).toBe(false);
    expect(registry.validate('dns', { typo: 1 }).ok).toBe(false);
  });
});

describe('dns plugin: addresses', () => {
  it('takes a reply from the resolver however its IPv6 address is spelled', async () => {
    const { sameAddress } = await import('./transport.js');
    expect(sameAddress('::1', '0:0:0:0:0:0:0:1')).toBe(true);
    expect(sameAddress('::ffff:127.0.0.1', '::ffff:7f00:1')).toBe(true);
    expect(sameAddress('2001:DB8::1', '2001:db8::1')).toBe(true);
    expect(sameAddress('127.0.0.1', '127.0.0.1')).toBe(true);
    expect(sameAddress('::1', '::2')).toBe(false);
    expect(sameAddress('127.0.0.1', '127.0.0.2')).toBe(false);
  });
});
