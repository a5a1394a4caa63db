/**
 * Matching tenant expressions off the event loop. RE2 keeps matching linear, but a hostile
 * expression can still cost microseconds per byte (seconds on a 10 MiB body), and a match cannot
 * be interrupted from the thread that runs it. So texts larger than INLINE_BYTES are matched in
 * worker threads that are terminated when the check's time (or the per-match budget) runs out:
 * the executor's event loop, and so every other check, never waits for an expression.
 *
 * Contract: `matches()` resolves true/false, or rejects with RegexTimeoutError (budget spent, the
 * worker was replaced) or the signal's reason (the check's deadline). Workers are few (POOL_SIZE)
 * and shared; the next waiting match is taken from the owner (tenant) served least recently, so
 * one tenant's queue of expressions cannot hold the pool while another's wait.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { RE2JS } from 're2js';

/** Texts up to this many bytes are matched inline (worst case a few tens of milliseconds). */
export const INLINE_BYTES = 4096;
/** Longest a single match may run in a worker before it is stopped. */
export const MATCH_BUDGET_MS = 5000;
const POOL_SIZE = 2;

export class RegexTimeoutError extends Error {
  constructor(
    readonly budgetMs: number,
    bytes: number,
  ) {
    super(`regular expression still running after ${budgetMs} ms on ${bytes} bytes; stopped`);
    this.name = 'RegexTimeoutError';
  }
}

/** The worker: compiles (cached) and matches; CommonJS, evaluated from this string. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { RE2JS } = require(workerData.re2js);
const cache = new Map();
parentPort.on('message', ({ id, source, flags, text }) => {
  try {
    const key = flags + '/' + source;
    let re = cache.get(key);
    if (!re) {
      re = RE2JS.compile(source, flags);
      if (cache.size >= 256) cache.clear();
      cache.set(key, re);
    }
    const str = typeof text === 'string' ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString(workerData.encoding);
    parentPort.postMessage({ id, matched: re.matcher(str).find() });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
});
`;

interface Task {
  id: number;
  owner: string;
  source: string;
  flags: number;
  text: string | Uint8Array;
  bytes: number;
  /** Running time allowed once a worker has it (waiting is bounded by the signal). */
  budgetMs: number;
  resolve(matched: boolean): void;
  reject(err: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
  slot?: Slot;
  timer?: NodeJS.Timeout;
  done?: boolean;
}

interface Slot {
  worker: Worker;
  task: Task | null;
}

const re2jsPath = createRequire(import.meta.url).resolve('re2js');

export interface MatchRequest {
  /** The expression, already translated to RE2 syntax. */
  source: string;
  ignoreCase: boolean;
  /** A string, or bytes decoded as `encoding` in the worker (saves a copy of large bodies). */
  text: string | Uint8Array;
  encoding?: 'utf8' | 'latin1';
  /** Whose match this is (fair queueing); any stable string. */
  owner?: string;
  signal?: AbortSignal;
  budgetMs?: number;
}

export class RegexPool {
  private readonly slots: Slot[] = [];
  private readonly waiting = new Map<string, Task[]>();
  /** Owner → order in which it was last served (fair hand-out among waiting owners). */
  private readonly lastServed = new Map<string, number>();
  private served = 0;
  private seq = 0;

  constructor(
    private readonly size = POOL_SIZE,
    private readonly encoding: 'utf8' | 'latin1' = 'utf8',
  ) {}

  /** Whether the expression matches anywhere in the text. */
  matches(req: MatchRequest): Promise<boolean> {
    const flags = req.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0;
    const bytes = typeof req.text === 'string' ? req.text.length : req.text.byteLength;
    if (req.signal?.aborted) return Promise.reject(req.signal.reason);
    if (bytes <= INLINE_BYTES) {
      const text = typeof req.text === 'string' ? req.text : Buffer.from(req.text).toString(req.encoding ?? this.encoding);
      return Promise.resolve(RE2JS.compile(req.source, flags).matcher(text).find());
    }
    return new Promise<boolean>((resolve, reject) => {
      const task: Task = {
        id: ++this.seq,
        owner: req.owner ?? '',
        source: req.source,
        flags,
        text: req.text,
        bytes,
        resolve,
        reject,
        signal: req.signal,
        budgetMs: req.budgetMs ?? MATCH_BUDGET_MS,
        onAbort: () => this.cancel(task, req.signal!.reason),
      };
      req.signal?.addEventListener('abort', task.onAbort, { once: true });
      const queue = this.waiting.get(task.owner);
      if (queue) queue.push(task);
      else this.waiting.set(task.owner, [task]);
      this.pump();
    });
  }

  /** Terminates every worker (executor shutdown); waiting matches are rejected. */
  async close(): Promise<void> {
    for (const queue of this.waiting.values()) for (const t of queue) this.settle(t, new Error('regex pool closed'));
    this.waiting.clear();
    const slots = this.slots.splice(0);
    for (const s of slots) if (s.task) this.settle(s.task, new Error('regex pool closed'));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  /** Number of live workers (for tests). */
  get workers(): number {
    return this.slots.length;
  }

  private pump(): void {
    while (this.waiting.size > 0) {
      const slot = this.slots.find((s) => s.task === null) ?? (this.slots.length < this.size ? this.spawn() : null);
      if (!slot) return;
      const task = this.next();
      if (!task) return;
      slot.task = task;
      task.slot = slot;
      task.timer = setTimeout(() => this.cancel(task, new RegexTimeoutError(task.budgetMs, task.bytes)), task.budgetMs);
      slot.worker.postMessage({ id: task.id, source: task.source, flags: task.flags, text: task.text });
    }
  }

  /** The next task: the first waiting one of the owner served least recently (never served first). */
  private next(): Task | undefined {
    let pick: string | undefined;
    for (const owner of this.waiting.keys()) {
      if (pick === undefined || (this.lastServed.get(owner) ?? -1) < (this.lastServed.get(pick) ?? -1)) pick = owner;
    }
    if (pick === undefined) return undefined;
    const queue = this.waiting.get(pick)!;
    const task = queue.shift();
    if (!queue.length) this.waiting.delete(pick);
    if (this.lastServed.size > 10_000) this.lastServed.clear();
    this.lastServed.set(pick, ++this.served);
    return task;
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { re2js: re2jsPath, encoding: this.encoding } });
    worker.unref();
    const slot: Slot = { worker, task: null };
    worker.on('message', (msg: { id: number; matched?: boolean; error?: string }) => {
      const task = slot.task;
      if (!task || task.id !== msg.id) return;
      slot.task = null;
      if (msg.error !== undefined) this.settle(task, new Error(msg.error));
      else this.settle(task, null, msg.matched === true);
      this.pump();
    });
    worker.on('error', (err) => {
      const task = slot.task;
      this.drop(slot);
      if (task) this.settle(task, err);
      this.pump();
    });
    this.slots.push(slot);
    return slot;
  }

  /** Ends a task early: dequeued if waiting, its worker terminated and replaced if running. */
  private cancel(task: Task, reason: unknown): void {
    const queue = this.waiting.get(task.owner);
    const at = queue?.indexOf(task) ?? -1;
    if (queue && at >= 0) queue.splice(at, 1);
    const slot = task.slot;
    if (slot && slot.task === task) {
      this.drop(slot);
      void slot.worker.terminate();
    }
    this.settle(task, reason);
    this.pump();
  }

  private drop(slot: Slot): void {
    slot.task = null;
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
  }

  private settle(task: Task, err: unknown, matched = false): void {
    if (task.done) return;
    task.done = true;
    clearTimeout(task.timer);
    task.signal?.removeEventListener('abort', task.onAbort);
    if (err) task.reject(err);
    else task.resolve(matched);
  }
}
