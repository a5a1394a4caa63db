/**
 * ZAP (ZeroMQ RFC 27) handler: decides which CURVE clients may connect to the dispatcher's
 * sockets. A client is admitted when its public key is the server's own or in
 * zmq.curve.allowedClientKeys; anyone else is refused during the handshake (their messages
 * never reach the dispatcher).
 */
import { Router, context } from 'zeromq';
import { z85Encode, type Logger } from '@webmon/core';

export class ZapHandler {
  private readonly socket = new Router({ linger: 0, context });
  private loop: Promise<void> | null = null;
  private readonly allowed: Set<string>;

  constructor(
    allowedKeys: readonly string[],
    private readonly log: Logger,
  ) {
    this.allowed = new Set(allowedKeys);
  }

  async start(): Promise<void> {
    await this.socket.bind('inproc://zeromq.zap.01');
    this.loop = this.serve();
  }

  private async serve(): Promise<void> {
    try {
      for await (const frames of this.socket) {
        // [routing id, '', version, request id, domain, address, identity, mechanism, credentials…]
        const [routing, empty, version, requestId, , address, , mechanism, key] = frames;
        let status = '400';
        let text = 'not allowed';
        const keyText = mechanism?.toString() === 'CURVE' && key?.length === 32 ? z85Encode(key) : '';
        if (keyText && this.allowed.has(keyText)) {
          status = '200';
          text = 'OK';
        } else {
          this.log.warn({ address: address?.toString(), mechanism: mechanism?.toString(), clientKey: keyText || undefined }, 'refused a ZeroMQ client (key not allowed)');
        }
        await this.socket.send([routing!, empty!, version!, requestId!, status, text, keyText, Buffer.alloc(0)]);
      }
    } catch (err) {
      if (!this.socket.closed) this.log.error({ err }, 'ZAP handler stopped');
    }
  }

  async close(): Promise<void> {
    this.socket.close();
    await this.loop;
  }
}
