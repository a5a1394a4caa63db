import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, ProtocolError, decode, encode } from './protocol.js';

const frames = (...parts: string[]) => parts.map((p) => Buffer.from(p));

describe('protocol', () => {
  it('round-trips JOBS and JOB messages', () => {
    const jobs = encode({ type: 'JOBS', priority: 7, ids: ['a1', 'b-2', 'c_3'] });
    expect(jobs[0]).toBe(PROTOCOL_VERSION);
    expect(decode(jobs.map((f) => Buffer.from(f)))).toEqual({ type: 'JOBS', priority: 7, ids: ['a1', 'b-2', 'c_3'] });
    expect(decode(encode({ type: 'JOB', ids: ['x'] }).map((f) => Buffer.from(f)))).toEqual({ type: 'JOB', ids: ['x'] });
  });

  it.each([
    ['no frames', frames()],
    ['one frame', frames('1')],
    ['wrong version', frames('2', 'JOB', 'a')],
    ['unknown type', frames('1', 'NOPE', 'a')],
    ['JOB with extra frames', frames('1', 'JOB', 'a', 'b')],
    ['JOBS without priority', frames('1', 'JOBS', 'a')],
    ['priority out of range', frames('1', 'JOBS', '10', 'a')],
    ['priority not a number', frames('1', 'JOBS', 'high', 'a')],
    ['empty id list', frames('1', 'JOB', '')],
    ['id with a space', frames('1', 'JOB', 'a b')],
    ['id too long', frames('1', 'JOB', 'x'.repeat(65))],
    ['binary garbage', [Buffer.from([0xff, 0x00]), Buffer.from([0x01])]],
  ])('rejects %s with a ProtocolError', (_name, input) => {
    expect(() => decode(input)).toThrow(ProtocolError);
  });
});
