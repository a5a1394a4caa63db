/**
 * The ZeroMQ wire protocol. Every message is a multipart frame set:
 *
 *   frame 0: protocol version, ASCII (`"1"`)
 *   frame 1: message type, ASCII
 *   frame 2…: type-specific frames, below
 *
 * Types (version 1):
 *   JOBS  api → dispatcher         [priority 0-9, ids joined by "\n"]
 *   JOB   dispatcher → executor    [ids joined by "\n"]        (one, or up to 16 under load)
 *
 * Job ids travel as plain ASCII; the job itself lives in Redis. Parsing is exact: the version
 * and type frames are compared byte for byte, a priority is one ASCII digit (no sign, space,
 * leading zero or exponent), every id matches ID_RE. A frame set that does not parse is reported
 * as a ProtocolError by decode(); receivers log and drop it, never crash.
 */
import { MAX_PRIORITY } from './types.js';
import { ID_PATTERN } from './keys.js';

export const PROTOCOL_VERSION = '1';

export type Message = { type: 'JOBS'; priority: number; ids: string[] } | { type: 'JOB'; ids: string[] };

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

const ID_RE = new RegExp(ID_PATTERN);
const PRIORITY_RE = /^[0-9]$/;

export function encode(msg: Message): string[] {
  switch (msg.type) {
    case 'JOBS':
      return [PROTOCOL_VERSION, 'JOBS', String(msg.priority), msg.ids.join('\n')];
    case 'JOB':
      return [PROTOCOL_VERSION, 'JOB', msg.ids.join('\n')];
  }
}

/** Parses a frame set. Throws ProtocolError with a short reason when it is not a valid message. */
export function decode(frames: readonly Buffer[]): Message {
  if (frames.length < 2) throw new ProtocolError(`expected at least 2 frames, got ${frames.length}`);
  const version = frames[0]!.toString('latin1');
  if (version !== PROTOCOL_VERSION) throw new ProtocolError(`unsupported protocol version ${JSON.stringify(version.slice(0, 16))}`);
  const type = frames[1]!.toString('latin1');
  switch (type) {
    case 'JOBS': {
      if (frames.length !== 4) throw new ProtocolError(`JOBS needs 4 frames, got ${frames.length}`);
      return { type, priority: parsePriority(frames[2]!), ids: parseIds(frames[3]!) };
    }
    case 'JOB': {
      if (frames.length !== 3) throw new ProtocolError(`JOB needs 3 frames, got ${frames.length}`);
      return { type, ids: parseIds(frames[2]!) };
    }
    default:
      throw new ProtocolError(`unknown message type ${JSON.stringify(type.slice(0, 32))}`);
  }
}

function parsePriority(frame: Buffer): number {
  const text = frame.toString('latin1');
  const priority = PRIORITY_RE.test(text) ? Number(text) : NaN;
  if (!(priority <= MAX_PRIORITY)) throw new ProtocolError(`JOBS priority must be one digit 0-${MAX_PRIORITY}, got ${JSON.stringify(text.slice(0, 16))}`);
  return priority;
}

function parseIds(frame: Buffer): string[] {
  if (frame.length === 0) throw new ProtocolError('empty id list');
  const ids = frame.toString('latin1').split('\n');
  for (const id of ids) if (!ID_RE.test(id)) throw new ProtocolError(`malformed job id ${JSON.stringify(id.slice(0, 70))}`);
  return ids;
}
