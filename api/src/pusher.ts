/**
 * Hands job ids to the dispatcher over ZeroMQ (PUSH → the dispatcher's PULL frontend). Jobs are
 * already in Redis when this runs, so a send that times out loses nothing: the dispatcher's
 * sweep re-dispatches queued jobs that nobody claimed. Sends are serialised (a zeromq socket
 * allows one send at a time) and split into messages of at most CHUNK ids.
 */
import { Push } from 'zeromq';
import { encode, type Logger } from '@webmon/core';

const CHUNK = 1000;

export class JobPusher {
  private readonly socket: Push;
  private tail: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    endpoint: string,
    sendTimeoutMs: number,
    private readonly log: Logger,
    /** Extra socket options (CURVE, see curveClientOptions). */
    security: object = {},
  ) {
    this.socket = new Push({ sendTimeout: sendTimeoutMs, sendHighWaterMark: 100_000, linger: 1000, ...security });
    this.socket.connect(endpoint);
  }

  /** Queues ids for sending; resolves with the number handed to ZeroMQ (the rest wait for the sweep). */
  push(ids: readonly string[], priority: number): Promise<number> {
    const run = async (): Promise<number> => {
      let sent = 0;
      for (let i = 0; i < ids.length && !this.closed; i += CHUNK) {
        const slice = ids.slice(i, i + CHUNK);
        try {
          await this.socket.send(encode({ type: 'JOBS', priority, ids: slice }));
          sent += slice.length;
        } catch (err) {
          this.log.warn({ err: (err as Error).message, jobs: ids.length - sent }, 'dispatcher not accepting job ids; they stay queued in Redis for the sweep');
          break;
        }
      }
      return sent;
    };
    const result = this.tail.then(run, run);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  async close(): Promise<void> {
    await this.tail;
    this.closed = true;
    this.socket.close();
  }
}
