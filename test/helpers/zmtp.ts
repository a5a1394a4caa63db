/**
 * Raw ZMTP peers over node:net: the bytes a hostile local process (or a tenant's tcp check)
 * can write to a ZeroMQ port, without any ZeroMQ library. Used to prove the dispatcher's
 * sockets refuse old protocol versions and oversized messages.
 */
import { createConnection } from 'node:net';

export const SOCKET_TYPE = { REQ: 3, PUSH: 8 } as const;

/** ZMTP 1.0 (RFC 13): an empty identity frame, then the message; each frame is length, flags, body. */
export function zmtp10(frames: Array<string | Buffer>): Buffer {
  const frame = (body: Buffer, more: boolean) => {
    const length = body.length + 1;
    const head = length < 255 ? Buffer.from([length]) : Buffer.concat([Buffer.from([0xff]), u64(length)]);
    return Buffer.concat([head, Buffer.from([more ? 1 : 0]), body]);
  };
  const parts = frames.map((f) => (typeof f === 'string' ? Buffer.from(f) : f));
  return Buffer.concat([frame(Buffer.alloc(0), false), ...parts.map((p, i) => frame(p, i < parts.length - 1))]);
}

/** ZMTP 2.0 (RFC 15): signature, revision 1, socket type, empty identity, then the message. */
export function zmtp20(socketType: number, frames: Array<string | Buffer>): Buffer {
  const greeting = Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0x01, socketType, 0x00, 0x00]);
  const parts = frames.map((f) => (typeof f === 'string' ? Buffer.from(f) : f));
  return Buffer.concat([greeting, ...parts.map((p, i) => frame30(p, i < parts.length - 1))]);
}

/**
 * ZMTP 3.0 (RFC 23) with the NULL mechanism: greeting and READY as a PUSH peer. Messages may
 * follow only after the server's READY (see rawExchange's afterReady).
 */
export function zmtp30NullPush(): Buffer {
  const greeting = Buffer.alloc(64);
  greeting[0] = 0xff;
  greeting[9] = 0x7f;
  greeting[10] = 3;
  greeting.write('NULL', 12, 'latin1');
  const property = (name: string, value: string) => Buffer.concat([Buffer.from([name.length]), Buffer.from(name), u32(value.length), Buffer.from(value)]);
  const ready = Buffer.concat([Buffer.from([5]), Buffer.from('READY'), property('Socket-Type', 'PUSH')]);
  return Buffer.concat([greeting, Buffer.from([0x04, ready.length]), ready]);
}

/** A ZMTP 2.0/3.0 message frame: flags (MORE, LONG), size, body. */
export function frame30(body: Buffer, more = false): Buffer {
  const long = body.length > 255;
  const flags = (more ? 1 : 0) | (long ? 2 : 0);
  return Buffer.concat([Buffer.from([flags]), long ? u64(body.length) : Buffer.from([body.length]), body]);
}

/** The header of a ZMTP 2.0/3.0 frame announcing `size` bytes (the body is not included). */
export function longFrameHeader(size: number): Buffer {
  return Buffer.concat([Buffer.from([0x02]), u64(size)]);
}

export interface RawResult {
  /** Every byte the server wrote back. */
  received: Buffer;
  /** The server closed the connection within the wait. */
  closedByServer: boolean;
  /** The server finished a ZMTP 3 handshake (sent its READY), when one was asked for. */
  ready: boolean;
}

/**
 * Connects, writes `bytes`, and collects what comes back for at most `waitMs` (less when the
 * server closes the connection first). With `afterReady`, those bytes are written once the
 * server has sent its ZMTP 3 READY (a peer may send messages only then).
 */
export function rawExchange(port: number, bytes: Buffer | Buffer[], waitMs = 1500, afterReady?: Buffer[]): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = createConnection({ host: '127.0.0.1', port });
    let closedByServer = false;
    let ready = false;
    const finish = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ received: Buffer.concat(chunks), closedByServer, ready });
    };
    const timer = setTimeout(finish, waitMs);
    sock.on('data', (d) => {
      chunks.push(d);
      if (afterReady && !ready && Buffer.concat(chunks).subarray(64).includes('READY')) {
        ready = true;
        for (const b of afterReady) sock.write(b);
      }
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
        closedByServer = true;
        finish();
      } else {
        clearTimeout(timer);
        reject(err);
      }
    });
    sock.once('end', () => {
      closedByServer = true;
      finish();
    });
    sock.once('connect', () => {
      for (const b of Array.isArray(bytes) ? bytes : [bytes]) sock.write(b);
    });
  });
}

export function portOf(endpoint: string): number {
  return Number(/:(\d+)$/.exec(endpoint)?.[1]);
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
