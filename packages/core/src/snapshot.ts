/**
 * RDB snapshots on demand. `snapshot()` asks Redis for a background save (BGSAVE) and resolves
 * when it has finished, with the new LASTSAVE time, or rejects with why it failed. A save that
 * is already running is joined — or, with `fresh`, waited out and followed by a new one, so the
 * snapshot is sure to contain every write made before the call.
 *
 * `SnapshotCoalescer` serves many writers: at most one snapshot runs and one waits; every
 * request made while one runs is answered by the next, which starts after it. With
 * `minIntervalMs`, snapshots also start at most once per interval (a steady stream of requests
 * cannot keep Redis saving back to back).
 */
import type { Redis } from 'ioredis';

export interface SnapshotResult {
  /** LASTSAVE after the snapshot, seconds since the epoch. */
  lastSave: number;
  /** Date.now() when snapshot() was called; with `fresh`, the save reported here began later. */
  startedAt: number;
  durationMs: number;
  /** An already running save was joined instead of starting one. */
  joined: boolean;
}

export interface PersistenceInfo {
  lastSave: number;
  lastStatus: string;
  inProgress: boolean;
  changesSinceLastSave: number;
  /** RDB saves started since Redis started (counted when they start). */
  saves: number;
}

export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

export async function persistenceInfo(redis: Redis): Promise<PersistenceInfo> {
  const text = await redis.info('persistence');
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  return {
    lastSave: Number(field('rdb_last_save_time')),
    lastStatus: field('rdb_last_bgsave_status'),
    inProgress: field('rdb_bgsave_in_progress') === '1',
    changesSinceLastSave: Number(field('rdb_changes_since_last_save')),
    saves: Number(field('rdb_saves')),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function snapshot(redis: Redis, opts: { fresh?: boolean; timeoutMs?: number } = {}): Promise<SnapshotResult> {
  const started = Date.now();
  const deadline = started + (opts.timeoutMs ?? 120_000);
  let mustStart = true;
  let joined = false;
  for (;;) {
    const before = await persistenceInfo(redis);
    joined = false;
    try {
      await redis.bgsave(); // "started", or "scheduled" behind an AOF rewrite
    } catch (err) {
      if (!/already in progress/i.test((err as Error).message)) throw new SnapshotError(`BGSAVE refused: ${(err as Error).message}`);
      joined = true;
    }
    // rdb_saves counts saves as they start: ours is the next one (a joined one already counts).
    const target = joined ? before.saves : before.saves + 1;
    for (;;) {
      const info = await persistenceInfo(redis);
      if (!info.inProgress && info.saves >= target) {
        if (info.lastStatus !== 'ok') throw new SnapshotError(`the background save failed (rdb_last_bgsave_status:${info.lastStatus}); see the Redis log`);
        break;
      }
      if (Date.now() > deadline) throw new SnapshotError('the background save did not finish in time');
      await sleep(20);
    }
    // A save we only joined may have started before the caller's writes: take a new one.
    if (joined && opts.fresh && mustStart) {
      mustStart = false;
      continue;
    }
    return { lastSave: await redis.lastsave(), startedAt: started, durationMs: Date.now() - started, joined };
  }
}

export interface CoalescerOptions {
  /** Least time between the starts of two snapshots; requests in between share the next one. */
  minIntervalMs?: number;
}

export class SnapshotCoalescer {
  private running: Promise<SnapshotResult> | null = null;
  private pending: Promise<SnapshotResult> | null = null;
  /** Date.now() when the last snapshot started (0: none yet). */
  private lastStart = 0;
  private closed = false;
  private readonly sleeps = new Set<() => void>();

  constructor(
    private readonly redis: Redis,
    private readonly onError?: (err: Error) => void,
    private readonly opts: CoalescerOptions = {},
  ) {}

  /**
   * Resolves after a snapshot that started after this call has finished. At most one runs;
   * requests made while one runs or while the interval holds the next one back all share
   * that next one.
   */
  request(): Promise<SnapshotResult> {
    if (this.closed) return Promise.reject(new SnapshotError('snapshots are shutting down'));
    if (this.pending) return this.pending;
    if (!this.running && this.dueIn() <= 0) return this.start();
    const waitFor = this.running?.catch(() => undefined);
    this.pending = (async () => {
      await waitFor;
      for (let wait = this.dueIn(); wait > 0 && !this.closed; wait = this.dueIn()) await this.sleep(wait);
      this.pending = null;
      if (this.closed) throw new SnapshotError('snapshots are shutting down');
      return this.start();
    })();
    return this.pending;
  }

  private dueIn(): number {
    return this.lastStart + (this.opts.minIntervalMs ?? 0) - Date.now();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((res) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleeps.delete(wake);
        res();
      };
      const timer = setTimeout(wake, ms);
      this.sleeps.add(wake);
    });
  }

  private start(): Promise<SnapshotResult> {
    this.lastStart = Date.now();
    const run = snapshot(this.redis, { fresh: true });
    this.running = run;
    const clear = () => {
      if (this.running === run) this.running = null;
    };
    run.then(clear, (err: Error) => {
      clear();
      this.onError?.(err);
    });
    return run;
  }

  /** Resolves when nothing runs or waits (shutdown). */
  async idle(): Promise<void> {
    while (this.running || this.pending) await (this.pending ?? this.running)!.catch(() => undefined);
  }

  /** Refuses new requests, fails those still waiting for their turn, and waits for a running save. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of [...this.sleeps]) wake();
    await this.idle();
  }
}
