/**
 * The control channel: a ZeroMQ REP socket on the dispatcher. One request frame, one reply:
 *
 *   PING      → PONG
 *   STATUS    → JSON {queue, queuedInRedis, running, failed, executors, dispatchers, …}
 *   anything else → "ERR <reason>" (the socket and the dispatcher carry on)
 */
import { Reply } from 'zeromq';
import type { Logger } from '@webmon/core';

export type CommandHandler = (command: string) => Promise<string>;

export class ControlChannel {
  private readonly socket = new Reply({ linger: 0 });
  private loop: Promise<void> | null = null;

  constructor(
    private readonly handlers: Record<string, CommandHandler>,
    private readonly log: Logger,
  ) {}

  async bind(endpoint: string): Promise<void> {
    await this.socket.bind(endpoint);
    this.loop = this.serve();
  }

  private async serve(): Promise<void> {
    try {
      for await (const frames of this.socket) {
        let reply: string;
        try {
          const command = (frames[0] ?? Buffer.alloc(0)).toString('utf8').trim().replace(/\s+/g, ' ').toUpperCase();
          const handler = this.handlers[command];
          reply = handler ? await handler(command) : `ERR unknown command ${JSON.stringify(command.slice(0, 40))}; try PING, STATUS`;
        } catch (err) {
          reply = `ERR ${(err as Error).message}`;
        }
        await this.socket.send(reply);
      }
    } catch (err) {
      if (!this.socket.closed) this.log.error({ err }, 'control channel stopped');
    }
  }

  async close(): Promise<void> {
    this.socket.close();
    await this.loop;
  }
}
