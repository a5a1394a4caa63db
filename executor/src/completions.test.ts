import type { Completion, CompletionResult, JobStore } from '@webmon/core';
import { describe, expect, it } from 'vitest';
import { CompletionBatcher } from './completions.js';

/** A store that answers completeMany in order and remembers each batch's job ids. */
function store(fail = false) {
  const batches: string[][] = [];
  const jobs = {
    completeMany: async (cs: readonly Completion[]): Promise<CompletionResult[]> => {
      batches.push(cs.map((c) => c.jobId));
      if (fail) throw new Error('store away');
      return cs.map((c) => ({ recorded: true, from: 'up', to: c.jobId }));
    },
  } as unknown as JobStore;
  return { jobs, batches };
}
const completion = (jobId: string) => ({ jobId, token: 't', outcome: 'ok', reason: null, results: [], durationMs: 1, owner: 'o', assetId: 'a' }) as Completion;

describe('CompletionBatcher', () => {
  it('records the completions of one turn in one call, each answered with its own result', async () => {
    const { jobs, batches } = store();
    const b = new CompletionBatcher(jobs, 3);
    const results = await Promise.all(['j1', 'j2', 'j3', 'j4'].map((id) => b.complete(completion(id))));
    expect(results.map((r) => r.recorded && r.to)).toEqual(['j1', 'j2', 'j3', 'j4']);
    // At most 3 a call: the fourth goes at the end of the turn.
    expect(batches).toEqual([['j1', 'j2', 'j3'], ['j4']]);
    await b.complete(completion('j5'));
    expect(batches.at(-1)).toEqual(['j5']);
  });

  it('rejects every completion of a call that failed', async () => {
    const { jobs } = store(true);
    const b = new CompletionBatcher(jobs);
    const settled = await Promise.allSettled([b.complete(completion('a')), b.complete(completion('b'))]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
  });
});
