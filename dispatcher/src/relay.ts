/**
 * The streamer between the api and the executors: ids received on the frontend (PULL) go into
 * the priority queue; the send loop hands them out on the backend (PUSH), highest priority
 * first: one id per message while the queue is short, up to SEND_BATCH ids per message when it
 * holds more (an executor claims the ids of a message in one round trip). An id lost here is
 * still queued in Redis: the sweep re-dispatches it.
 */
import type { Pull, Push } from 'zeromq';
import { ProtocolError, decode, encode, type Logger } from '@webmon/core';
import type { DispatcherStats } from './index.js';
import type { PriorityQueue } from './queue.js';
import type { Scheduler } from './scheduler.js';
import type { RateLimitedWarnings } from './warnings.js';

/** Most ids in one message to an executor. */
export const SEND_BATCH = 16;

export interface RelayDeps {
  frontend: Pull;
  backend: Push;
  queue: PriorityQueue;
  /** Told about every hand-off (lateness) and every id it may have created that was not sent. */
  scheduler: Scheduler | null;
  stats: DispatcherStats;
  log: Logger;
  warnings: RateLimitedWarnings;
}

export interface Relay {
  /** Ends both loops; the caller closes the sockets (which ends the receive loop). */
  stop(): Promise<void>;
}

export function startRelay(d: RelayDeps): Relay {
  const state = { running: true };
  const loops = [receiveLoop(d, state), sendLoop(d, state)];
  return {
    async stop() {
      state.running = false;
      d.queue.wake();
      d.frontend.close();
      d.backend.close();
      await Promise.allSettled(loops);
    },
  };
}

async function receiveLoop(d: RelayDeps, state: { running: boolean }): Promise<void> {
  const { queue, stats } = d;
  try {
    for await (const frames of d.frontend) {
      try {
        const msg = decode(frames);
        const priority = msg.type === 'JOBS' ? msg.priority : 0;
        for (const id of msg.ids) queue.add(id, priority);
        stats.received += msg.ids.length;
      } catch (err) {
        stats.dropped++;
        if (err instanceof ProtocolError) d.warnings.warn('malformed-jobs', { err: err.message, frames: frames.length, dropped: stats.dropped }, 'dropped malformed message');
        else throw err;
      }
    }
  } catch (err) {
    if (state.running) d.log.error({ err }, 'frontend receive loop failed');
  }
}

async function sendLoop(d: RelayDeps, state: { running: boolean }): Promise<void> {
  const { queue, scheduler } = d;
  while (state.running) {
    const id = queue.take();
    if (id === undefined) {
      await queue.wait();
      continue;
    }
    const ids = [id];
    while (ids.length < SEND_BATCH) {
      const next = queue.take();
      if (next === undefined) break;
      ids.push(next);
    }
    try {
      await d.backend.send(encode({ type: 'JOB', ids }));
      d.stats.sent += ids.length;
      for (const sent of ids) scheduler?.handedOff(sent);
    } catch (err) {
      for (const lost of ids) scheduler?.forget(lost);
      if (state.running) d.log.error({ err, jobIds: ids }, 'backend send failed; the sweep will re-dispatch them');
    }
  }
}
