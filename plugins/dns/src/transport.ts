/**
 * One DNS exchange with one server: a query over UDP, again over TCP when the UDP answer is
 * truncated (or over TCP only when asked). Packets are encoded and decoded by dns-packet.
 *
 * A UDP answer is accepted only from the address and port queried and with the query's id;
 * anything else is ignored (off-path spoofing needs both). Sizes are bounded by the protocol
 * (65,535 bytes over TCP, the datagram over UDP).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { randomInt } from 'node:crypto';
import * as packet from 'dns-packet';

export interface Server {
  address: string;
  port: number;
}

export interface Answer extends packet.DecodedPacket {
  /** Response code, as dns-packet names it (NOERROR, NXDOMAIN, SERVFAIL, REFUSED, …). */
  rcode: string;
}

export interface Exchange {
  response: Answer;
  /** The answer came over TCP (asked for, or after a truncated UDP answer). */
  tcp: boolean;
}

export interface Query {
  name: string;
  type: packet.RecordType;
  recursion: boolean;
  /** Ask for DNSSEC validation: AD bit set in the query, and the DO bit in an EDNS OPT record. */
  dnssec: boolean;
}

function encodeQuery(q: Query, id: number): packet.Packet {
  let flags = q.recursion ? packet.RECURSION_DESIRED : 0;
  if (q.dnssec) flags |= packet.AUTHENTIC_DATA;
  const p: packet.Packet = { type: 'query', id, flags, questions: [{ type: q.type, name: q.name, class: 'IN' }] };
  // EDNS: a 1232-byte UDP payload (the DNS flag day 2020 size), DO when validation is asked for.
  p.additionals = [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: q.dnssec ? packet.DNSSEC_OK : 0 } as packet.Answer];
  return p;
}

/** An address in one spelling (IPv6 compressed, lower case), so a reply's sender compares equal to the address asked. */
export function sameAddress(a: string, b: string): boolean {
  const canonical = (x: string) => (isIPv6(x) ? new URL(`http://[${x}]/`).hostname : x);
  return canonical(a) === canonical(b);
}

function timeoutError(ms: number): Error {
  return Object.assign(new Error(`no answer within ${ms} ms`), { code: 'ETIMEDOUT' });
}

/**
 * The one way an exchange ends: `cleanup` once, then resolve or reject; an abort of `signal`
 * ends it with the signal's reason.
 */
function settler(signal: AbortSignal, cleanup: () => void, resolve: (a: Answer) => void, reject: (e: Error) => void): (err: Error | null, answer?: Answer) => void {
  const done = (err: Error | null, answer?: Answer) => {
    signal.removeEventListener('abort', onAbort);
    cleanup();
    if (err) reject(err);
    else resolve(answer!);
  };
  const onAbort = () => done(signal.reason instanceof Error ? signal.reason : timeoutError(0));
  if (signal.aborted) queueMicrotask(onAbort);
  else signal.addEventListener('abort', onAbort, { once: true });
  return done;
}

/** Resolves with the first answer of the server to this id, rejects on a socket error or abort. */
function overUdp(server: Server, query: Buffer, id: number, signal: AbortSignal): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket: UdpSocket = createSocket(isIPv6(server.address) ? 'udp6' : 'udp4');
    const done = settler(signal, () => socket.close(), resolve, reject);
    socket.on('error', (err) => done(err));
    socket.on('message', (msg, from) => {
      if (!sameAddress(from.address, server.address) || from.port !== server.port) return;
      let decoded: Answer;
      try {
        decoded = packet.decode(msg) as Answer;
      } catch {
        return; // not a DNS message: keep waiting for the real one
      }
      if (decoded.id === id && decoded.type === 'response') done(null, decoded);
    });
    socket.send(query, server.port, server.address, (err) => {
      if (err) done(err);
    });
  });
}

/** One query over a TCP connection (2-byte length prefix, RFC 7766). */
function overTcp(server: Server, query: Buffer, id: number, signal: AbortSignal): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: server.address, port: server.port, noDelay: true });
    // Chunks are kept apart until the length prefix says the answer is complete: a server sending
    // a byte at a time costs linear work, not quadratic.
    const chunks: Buffer[] = [];
    let received = 0;
    const done = settler(signal, () => socket.destroy(), resolve, reject);
    socket.on('error', (err) => done(err));
    socket.once('connect', () => socket.write(Buffer.concat([lengthPrefix(query.length), query])));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received < 2) return;
      const head = chunks[0]!.length >= 2 ? chunks[0]! : Buffer.concat(chunks);
      if (received < 2 + head.readUInt16BE(0)) return;
      const buf = Buffer.concat(chunks, received);
      try {
        const decoded = packet.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))) as Answer;
        if (decoded.id !== id) return done(Object.assign(new Error('answer to another query over TCP'), { code: 'EPROTO' }));
        done(null, decoded);
      } catch (err) {
        done(Object.assign(new Error(`malformed DNS answer: ${(err as Error).message}`), { code: 'EPROTO' }));
      }
    });
    socket.once('end', () => done(Object.assign(new Error('connection closed before an answer'), { code: 'ECONNRESET' })));
  });
}

function lengthPrefix(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/**
 * Asks `server` one question. `signal` bounds the whole exchange (UDP and a TCP retry); an
 * abort rejects with an ETIMEDOUT error naming `timeoutMs`.
 */
export async function exchange(server: Server, q: Query, opts: { tcp: boolean; signal: AbortSignal; timeoutMs: number }): Promise<Exchange> {
  const id = randomInt(0, 65_536);
  const query = packet.encode(encodeQuery(q, id));
  const ctl = new AbortController();
  const onAbort = () => ctl.abort(timeoutError(opts.timeoutMs));
  if (opts.signal.aborted) onAbort();
  else opts.signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(onAbort, opts.timeoutMs);
  try {
    if (!opts.tcp) {
      const response = await overUdp(server, query, id, ctl.signal);
      if (!response.flag_tc) return { response, tcp: false };
    }
    return { response: await overTcp(server, query, id, ctl.signal), tcp: true };
  } finally {
    clearTimeout(timer);
    opts.signal.removeEventListener('abort', onAbort);
  }
}
