/**
 * Hands job ids to the dispatcher over ZeroMQ (PUSH → the dispatcher's PULL frontend). Jobs are
 * already in Redis when this runs, so a send that times out loses nothing: the dispatcher's
 * sweep re-dispatches queued jobs that nobody claimed. Sends are serialised (a zeromq socket
 * allows one send at a time) and split into messages of at most CHUNK ids whose id frame stays
 * within the dispatcher's zmq.maxMessageBytes (a larger one would get this socket disconnected).
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
    /** The dispatcher's zmq.maxMessageBytes. */
    private readonly maxMessageBytes = 1_048_576,
  ) {
    this.socket = new Push({ sendTimeout: sendTimeoutMs, sendHighWaterMark: 100_000, linger: 1000, ...security });
    this.socket.connect(endpoint);
  }

  /** Queues ids for sending; resolves with the number handed to ZeroMQ (the rest wait for the sweep). */
  push(ids: readonly string[], priority: number): Promise<number> {
    const run = async (): Promise<number> => {
      let sent = 0;
      for (const slice of chunks(ids, CHUNK, this.maxMessageBytes)) {
        if (this.closed) break;
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

/** Splits ids into runs of at most maxCount whose "\n"-joined frame is at most maxBytes. */
export function* chunks(ids: readonly string[], maxCount: number, maxBytes: number): Generator<string[]> {
  let run: string[] = [];
  let bytes = 0;
  for (const id of ids) {
    const size = Buffer.byteLength(id);
    if (run.length && (run.length >= maxCount || bytes + 1 + size > maxBytes)) {
      yield run;
      run = [];
      bytes = 0;
    }
    bytes += run.length ? 1 + size : size;
    run.push(id);
  }
  if (run.length) yield run;
}
