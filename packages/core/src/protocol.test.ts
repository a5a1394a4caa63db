import fc from 'fast-check';
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
    ['priority with spaces', frames('1', 'JOBS', ' 9 ', 'a')],
    ['priority with an exponent', frames('1', 'JOBS', '1e0', 'a')],
    ['priority with a leading zero', frames('1', 'JOBS', '09', 'a')],
    ['priority with a sign', frames('1', 'JOBS', '+1', 'a')],
    ['negative zero priority', frames('1', 'JOBS', '-0', 'a')],
    ['hex priority', frames('1', 'JOBS', '0x1', 'a')],
    ['fractional priority', frames('1', 'JOBS', '1.0', 'a')],
    ['empty priority', frames('1', 'JOBS', '', 'a')],
    ['priority with a newline', frames('1', 'JOBS', '9\n', 'a')],
    ['non-ASCII digit priority', frames('1', 'JOBS', '\u0669', 'a')],
    ['version with a space', frames('1 ', 'JOB', 'a')],
    ['version "01"', frames('01', 'JOB', 'a')],
    ['lower-case type', frames('1', 'job', 'a')],
    ['type with a trailing NUL', [Buffer.from('1'), Buffer.from('JOB\0'), Buffer.from('a')]],
    ['trailing newline after the ids', frames('1', 'JOB', 'a\n')],
    ['id with a carriage return', frames('1', 'JOB', 'a\r')],
    ['id with a non-ASCII letter', [Buffer.from('1'), Buffer.from('JOB'), Buffer.from([0x61, 0xe9])]],
  ])('rejects %s with a ProtocolError', (_name, input) => {
    expect(() => decode(input)).toThrow(ProtocolError);
  });

  it('accepts exactly the ten one-digit priorities', () => {
    for (let p = 0; p <= 9; p++) expect(decode(frames('1', 'JOBS', String(p), 'a'))).toMatchObject({ priority: p });
    fc.assert(
      fc.property(fc.string({ maxLength: 6 }), (text) => {
        let accepted: boolean;
        try {
          accepted = (decode(frames('1', 'JOBS', text, 'a')) as { priority: number }).priority === Number(text);
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err;
          accepted = false;
        }
        expect(accepted).toBe(/^[0-9]$/.test(text));
      }),
      { numRuns: 2000 },
    );
  });
});
