/**
 * The control channel: a ZeroMQ ROUTER socket on the dispatcher, spoken to with REQ (or
 * DEALER) sockets. One request frame, one reply frame:
 *
 *   PING          → PONG
 *   SNAPSHOT NOW  → "OK <LASTSAVE>" once Redis has written an RDB snapshot that began after the
 *                   command arrived (so it holds every write made before it), or
 *                   "ERR <why it failed>". Concurrent requests share one save; saves start at
 *                   most once per snapshots.minIntervalMs.
 *   STATUS        → JSON {queue, queuedInRedis, running, failed, executors, lastSnapshot, …}
 *   anything else → "ERR <reason>" (the socket and the dispatcher carry on)
 *
 * Requests are served concurrently: a long snapshot does not hold up a PING.
 */
import { Router } from 'zeromq';
import type { Logger } from '@webmon/core';

export type CommandHandler = (command: string) => Promise<string>;

const MAX_REQUEST_BYTES = 4096;

export class ControlChannel {
  private readonly socket: Router;
  private loop: Promise<void> | null = null;
  private sending: Promise<void> = Promise.resolve();
  private inFlight = new Set<Promise<void>>();

  constructor(
    /** Extra socket options (ZAP domain, CURVE, maximum message size). */
    security: object,
    private readonly handlers: Record<string, CommandHandler>,
    private readonly log: Logger,
  ) {
    this.socket = new Router({ linger: 0, ...security });
  }

  async bind(endpoint: string): Promise<void> {
    await this.socket.bind(endpoint);
    this.loop = this.serve();
  }

  private async answer(command: string): Promise<string> {
    const handler = this.handlers[command];
    if (!handler) return `ERR unknown command ${JSON.stringify(command.slice(0, 40))}; try PING, STATUS, SNAPSHOT NOW`;
    try {
      return await handler(command);
    } catch (err) {
      return `ERR ${(err as Error).message}`;
    }
  }

  private async serve(): Promise<void> {
    try {
      for await (const frames of this.socket) {
        // [identity, '', body] from REQ; [identity, body] from DEALER.
        const withDelimiter = frames.length >= 3 && frames[1]!.length === 0;
        const envelope = withDelimiter ? frames.slice(0, 2) : frames.slice(0, 1);
        const body = frames[envelope.length];
        let command = '';
        if (body && body.length <= MAX_REQUEST_BYTES) command = body.toString('utf8').trim().replace(/\s+/g, ' ').toUpperCase();
        const work = (body && body.length > MAX_REQUEST_BYTES ? Promise.resolve('ERR request too large') : this.answer(command)).then((reply) => {
          this.sending = this.sending.then(() => this.socket.send([...envelope, reply])).catch((err: Error) => {
            if (!this.socket.closed) this.log.warn({ err: err.message }, 'control reply not sent');
          });
          return this.sending;
        });
        this.inFlight.add(work);
        void work.finally(() => this.inFlight.delete(work));
      }
    } catch (err) {
      if (!this.socket.closed) this.log.error({ err }, 'control channel stopped');
    }
  }

  async close(): Promise<void> {
    this.socket.close();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
  }
}
