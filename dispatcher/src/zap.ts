/**
 * ZAP (ZeroMQ RFC 27) handler: decides who may connect to the dispatcher's sockets.
 *
 * Every dispatcher socket sets a ZAP domain, which also makes libzmq refuse ZMTP 1.0 and 2.0
 * peers outright (they have no security handshake: plain bytes framed by hand would otherwise
 * be accepted as messages). For each handshake libzmq asks this handler:
 *   CURVE: admitted when the client's public key is the server's own or in
 *          zmq.curve.allowedClientKeys;
 *   NULL:  admitted only when CURVE is not configured (the sockets then speak NULL only).
 * Anyone else is refused during the handshake; their messages never reach the dispatcher.
 *
 * libzmq serves one handler per context (`inproc://zeromq.zap.01`), so it is shared by every
 * dispatcher started in this process: each registers its own domain and admission rules, and
 * the socket closes with the last registration.
 */
import { Router, context } from 'zeromq';
import { sleep, z85Encode, type Logger } from '@webmon/core';
import { RateLimitedWarnings } from './warnings.js';

const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

export interface ZapAdmission {
  /** Z85 public keys admitted over CURVE. */
  curveKeys: readonly string[];
  /** Admit the NULL mechanism (no CURVE configured). */
  allowNull: boolean;
}

export interface ZapRegistration {
  /** The ZAP domain to set on every socket these rules protect. */
  readonly domain: string;
  close(): Promise<void>;
}

interface Domain {
  curveKeys: ReadonlySet<string>;
  allowNull: boolean;
  warnings: RateLimitedWarnings;
}

const domains = new Map<string, Domain>();
let server: { socket: Router; loop: Promise<void> } | null = null;
let serial = 0;
/** Registrations and releases run one at a time (binding and closing the socket take turns). */
let turn: Promise<unknown> = Promise.resolve();

function inTurn<T>(work: () => Promise<T>): Promise<T> {
  const next = turn.then(work, work);
  turn = next.catch(() => undefined);
  return next;
}

/** Registers admission rules under a fresh domain, starting the process's handler if needed. */
export function registerZap(admission: ZapAdmission, log: Logger): Promise<ZapRegistration> {
  return inTurn(async () => {
    if (!server) server = await startServer(log);
    const domain = `webmon-${process.pid}-${++serial}`;
    domains.set(domain, { curveKeys: new Set(admission.curveKeys), allowNull: admission.allowNull, warnings: new RateLimitedWarnings(log) });
    let closed = false;
    return {
      domain,
      close: () =>
        inTurn(async () => {
          if (closed) return;
          closed = true;
          domains.delete(domain);
          if (domains.size === 0 && server) {
            const { socket, loop } = server;
            server = null;
            socket.close();
            await loop;
          }
        }),
    };
  });
}

async function startServer(log: Logger): Promise<{ socket: Router; loop: Promise<void> }> {
  const socket = new Router({ linger: 0, context });
  // A handler closed a moment ago may still hold the endpoint while libzmq tears it down.
  for (let attempt = 0; ; attempt++) {
    try {
      await socket.bind(ZAP_ENDPOINT);
      break;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EADDRINUSE' || attempt >= 100) {
        socket.close();
        throw err;
      }
      await sleep(20);
    }
  }
  return { socket, loop: serve(socket, log) };
}

async function serve(socket: Router, log: Logger): Promise<void> {
  try {
    for await (const frames of socket) {
      // [routing id, '', version, request id, domain, address, identity, mechanism, credentials…]
      const [routing, empty, version, requestId, domainFrame, address, , mechanismFrame, key] = frames;
      const domain = domains.get(domainFrame?.toString() ?? '');
      const mechanism = mechanismFrame?.toString() ?? '';
      const clientKey = mechanism === 'CURVE' && key?.length === 32 ? z85Encode(key) : '';
      const ok = domain !== undefined && admits(domain, mechanism, clientKey);
      if (!ok) {
        (domain?.warnings ?? fallbackWarnings(log)).warn(
          'zap-refused',
          { address: address?.toString(), mechanism, clientKey: clientKey || undefined },
          mechanism === 'CURVE' ? 'refused a ZeroMQ client (key not allowed)' : 'refused a ZeroMQ client (CURVE required)',
        );
      }
      await socket.send([routing!, empty!, version!, requestId!, ok ? '200' : '400', ok ? 'OK' : 'not allowed', clientKey, Buffer.alloc(0)]);
    }
  } catch (err) {
    if (!socket.closed) log.error({ err }, 'ZAP handler stopped');
  }
}

function admits(domain: Domain, mechanism: string, clientKey: string): boolean {
  if (mechanism === 'NULL') return domain.allowNull;
  if (mechanism === 'CURVE') return clientKey !== '' && domain.curveKeys.has(clientKey);
  return false;
}

let fallback: RateLimitedWarnings | null = null;
function fallbackWarnings(log: Logger): RateLimitedWarnings {
  fallback ??= new RateLimitedWarnings(log);
  return fallback;
}
