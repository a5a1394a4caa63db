import { describe, expect, it } from 'vitest';
import { EgressDeniedError } from '@webmon/core';
import { classifyError } from './classify.js';

const denied = () => new EgressDeniedError('address 127.0.0.1 is loopback: clients may not reach it');
const coded = (code: string, message = code) => Object.assign(new Error(message), { code });

describe('classifyError', () => {
  it('is denied for a refusal of the egress guard wherever it sits in the chain', () => {
    const cases: unknown[] = [
      denied(),
      new TypeError('fetch failed', { cause: denied() }),
      new Error('outer', { cause: new Error('middle', { cause: denied() }) }),
      // Happy eyeballs: one family refused by the network, the other by the guard.
      new AggregateError([coded('ECONNREFUSED'), denied()], 'all attempts failed'),
      new Error('wrapped', { cause: new AggregateError([coded('ETIMEDOUT'), denied()]) }),
    ];
    for (const err of cases) expect(classifyError(err)).toEqual({ reason: 'denied', message: denied().message });
  });

  it('stays denied when the deadline passed meanwhile', () => {
    const c = new AbortController();
    c.abort();
    expect(classifyError(denied(), c.signal).reason).toBe('denied');
    expect(classifyError(coded('ECONNREFUSED'), c.signal).reason).toBe('timeout');
  });

  it('classifies other failures as before, AggregateError members included', () => {
    expect(classifyError(new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')])).reason).toBe('refused');
    expect(classifyError(new AggregateError([new Error('no code'), coded('ENETUNREACH')])).reason).toBe('unreachable');
    expect(classifyError(new TypeError('fetch failed', { cause: coded('ENOTFOUND') })).reason).toBe('dns');
    expect(classifyError(new Error('something odd')).reason).toBe('protocol');
  });
});
