/**
 * Completions gathered over one turn of the event loop and recorded together: one job_complete
 * call per shard instead of one per job (JobStore.completeMany). Under load many checks end in
 * the same turn; alone, a completion waits for nothing but the end of its turn.
 */
import type { Completion, CompletionResult, JobStore } from '@webmon/core';

interface Waiting {
  completion: Completion;
  resolve: (result: CompletionResult) => void;
  reject: (err: unknown) => void;
}

export class CompletionBatcher {
  private waiting: Waiting[] = [];
  private scheduled = false;

  constructor(
    private readonly jobs: JobStore,
    /** Most completions in one call. */
    private readonly max = 32,
  ) {}

  /** Records `completion` with the others of this turn; settles as JobStore.complete would. */
  complete(completion: Completion): Promise<CompletionResult> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ completion, resolve, reject });
      if (this.waiting.length >= this.max) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    const batch = this.waiting.splice(0);
    if (batch.length === 0) return;
    this.jobs.completeMany(batch.map((w) => w.completion)).then(
      (results) => {
        for (const [i, w] of batch.entries()) w.resolve(results[i]!);
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
  }
}
