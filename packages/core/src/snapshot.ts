/**
 * RDB snapshots on demand. `snapshot()` asks Redis for a background save (BGSAVE) and resolves
 * when it has finished, with the new LASTSAVE time, or rejects with why it failed. A save that
 * is already running is joined — or, with `fresh`, waited out and followed by a new one, so the
 * snapshot is sure to contain every write made before the call.
 *
 * `SnapshotCoalescer` serves many writers: at most one snapshot runs and one waits; every
 * request made while one runs is answered by the next, which starts after it. With
 * `minIntervalMs`, snapshots also start at most once per interval (a steady stream of requests
 * cannot keep Redis saving back to back). The window also grows with the dataset: a snapshot
 * never starts within `durationFactor` × its own last save's duration after that save ended
 * (and within once the duration of a save it did not start: another process's, or Redis's own
 * `save` schedule's), so Redis spends at most 1 / (1 + durationFactor) of its time on this
 * coalescer's saves, however long a save takes. With
 * `keyDelayUs`, its snapshots are also paced (see `bgsave`), and `every(ms)` makes it take one
 * whenever the last save is that old and something changed since.
 */
import type { Redis } from 'ioredis';
import { masterNodes } from './redis.js';

export interface SnapshotResult {
  /** LASTSAVE after the snapshot, seconds since the epoch. */
  lastSave: number;
  /** Date.now() when snapshot() was called; with `fresh`, the save reported here began later. */
  startedAt: number;
  durationMs: number;
  /** How long the save reported here took, from its BGSAVE (for a joined one: from joining it). */
  saveMs: number;
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
  /** How long the last background save took, ms (whole seconds as Redis reports them; 0 when none). */
  lastSaveDurationMs: number;
}

export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

/**
 * Persistence figures of Redis; on a Cluster, of every master combined: the oldest last save,
 * a failed status if any failed, in progress while any is, counts summed, the longest save.
 */
export async function persistenceInfo(redis: Redis): Promise<PersistenceInfo> {
  const nodes = masterNodes(redis);
  if (nodes.length === 1) return nodePersistenceInfo(nodes[0]!);
  const all = await Promise.all(nodes.map(nodePersistenceInfo));
  return {
    lastSave: Math.min(...all.map((i) => i.lastSave)),
    lastStatus: all.find((i) => i.lastStatus !== 'ok')?.lastStatus ?? 'ok',
    inProgress: all.some((i) => i.inProgress),
    changesSinceLastSave: all.reduce((n, i) => n + i.changesSinceLastSave, 0),
    saves: all.reduce((n, i) => n + i.saves, 0),
    lastSaveDurationMs: Math.max(...all.map((i) => i.lastSaveDurationMs)),
  };
}

async function nodePersistenceInfo(redis: Redis): Promise<PersistenceInfo> {
  const text = await redis.info('persistence');
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  return {
    lastSave: Number(field('rdb_last_save_time')),
    lastStatus: field('rdb_last_bgsave_status'),
    inProgress: field('rdb_bgsave_in_progress') === '1',
    changesSinceLastSave: Number(field('rdb_changes_since_last_save')),
    saves: Number(field('rdb_saves')),
    lastSaveDurationMs: Math.max(0, Number(field('rdb_last_bgsave_time_sec')) || 0) * 1000,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * BGSAVE. With `keyDelayUs` > 0 the snapshot child pauses that long after each key it writes:
 * Redis's `rdb-key-save-delay`, set just for the fork and put back to 0 right after it (the
 * child keeps its own copy), so the server's foreground saves, at SHUTDOWN, stay at full speed.
 * A snapshot of a large dataset then uses a share of one core over a longer time instead of a
 * whole core, which on a box the checks keep busy is taken from them. A Redis that refuses
 * CONFIG, or has a delay of its own already, saves as it is configured.
 */
async function bgsave(redis: Redis, keyDelayUs: number): Promise<void> {
  const own = keyDelayUs > 0 ? await redis.config('GET', KEY_DELAY).then((r) => (r as string[])[1], () => undefined) : undefined;
  if (own !== '0') {
    await redis.bgsave();
    return;
  }
  // One write of three commands: nothing of this connection runs between them.
  const replies = (await redis.pipeline().config('SET', KEY_DELAY, String(keyDelayUs)).bgsave().config('SET', KEY_DELAY, '0').exec()) ?? [];
  if (replies[2]?.[0]) await redis.config('SET', KEY_DELAY, '0').catch(() => undefined);
  const err = replies[1]?.[0];
  if (err) throw err;
}

const KEY_DELAY = 'rdb-key-save-delay';

/**
 * How long a client of SNAPSHOT NOW (`webmon snapshot`, POST /snapshots) waits for it: one that
 * arrives while a paced periodic save runs waits it out first (about 3.5 minutes at 100,000
 * assets), then saves at full speed.
 */
export const SNAPSHOT_NOW_WAIT_MS = 600_000;

export interface SnapshotOptions {
  /** A save already running is waited out and followed by a new one. */
  fresh?: boolean;
  /**
   * Longest wait, ms (default an hour: a fresh save may first wait out a paced one, which takes
   * minutes on a large dataset, and Redis reports while a save runs).
   */
  timeoutMs?: number;
  /** Pace the save: the snapshot child pauses this long after each key it writes (see `bgsave`). */
  keyDelayUs?: number;
  /** Stop waiting for the save (it goes on in Redis): rejects with a SnapshotError. */
  signal?: AbortSignal;
}

/** An RDB snapshot of Redis; on a Cluster, of every master at once (done when the last one is). */
export async function snapshot(redis: Redis, opts: SnapshotOptions = {}): Promise<SnapshotResult> {
  const nodes = masterNodes(redis);
  if (nodes.length === 1) return nodeSnapshot(nodes[0]!, opts);
  const all = await Promise.all(nodes.map((n) => nodeSnapshot(n, opts)));
  return {
    lastSave: Math.min(...all.map((r) => r.lastSave)),
    startedAt: Math.min(...all.map((r) => r.startedAt)),
    durationMs: Math.max(...all.map((r) => r.durationMs)),
    saveMs: Math.max(...all.map((r) => r.saveMs)),
    joined: all.some((r) => r.joined),
  };
}

async function nodeSnapshot(redis: Redis, opts: SnapshotOptions): Promise<SnapshotResult> {
  const started = Date.now();
  const deadline = started + (opts.timeoutMs ?? 3_600_000);
  let mustStart = true;
  let joined = false;
  for (;;) {
    const before = await nodePersistenceInfo(redis);
    const saveStarted = Date.now();
    joined = false;
    try {
      await bgsave(redis, opts.keyDelayUs ?? 0); // "started", or "scheduled" behind an AOF rewrite
    } catch (err) {
      if (!/already in progress/i.test((err as Error).message)) throw new SnapshotError(`BGSAVE refused: ${(err as Error).message}`);
      joined = true;
    }
    // rdb_saves counts saves as they start: ours is the next one (a joined one already counts).
    const target = joined ? before.saves : before.saves + 1;
    for (;;) {
      const info = await nodePersistenceInfo(redis);
      if (!info.inProgress && info.saves >= target) {
        if (info.lastStatus !== 'ok') throw new SnapshotError(`the background save failed (rdb_last_bgsave_status:${info.lastStatus}); see the Redis log`);
        break;
      }
      if (Date.now() > deadline) throw new SnapshotError('the background save did not finish in time');
      if (opts.signal?.aborted) throw new SnapshotError('snapshots are shutting down');
      // Every 20 ms at first, then less often: a paced save of a large dataset runs for minutes.
      await sleep(Math.min(1000, 20 + (Date.now() - saveStarted) / 50));
    }
    // A save we only joined may have started before the caller's writes: take a new one.
    if (joined && opts.fresh && mustStart) {
      mustStart = false;
      continue;
    }
    const end = Date.now();
    return { lastSave: await redis.lastsave(), startedAt: started, durationMs: end - started, saveMs: end - saveStarted, joined };
  }
}

export interface CoalescerOptions {
  /** Least time between the starts of two snapshots; requests in between share the next one. */
  minIntervalMs?: number;
  /**
   * A snapshot never starts within this many times the last save's duration after it ended
   * (default DEFAULT_DURATION_FACTOR, PACED_DURATION_FACTOR with keyDelayUs; 0: no such window).
   */
  durationFactor?: number;
  /** Pace its snapshots (see `bgsave`); 0 or unset: full speed. */
  keyDelayUs?: number;
}

/** Redis saves at most a quarter of the time: an 8 s save is followed by 24 s without one. */
export const DEFAULT_DURATION_FACTOR = 3;
/**
 * For paced snapshots, which use about a quarter of a core while they run (keyDelayUs 100):
 * Redis saves at most half the time, an eighth of a core on average.
 */
export const PACED_DURATION_FACTOR = 1;

export class SnapshotCoalescer {
  private running: Promise<SnapshotResult> | null = null;
  private pending: Promise<SnapshotResult> | null = null;
  /** Date.now() when the last snapshot started (0: none yet). */
  private lastStart = 0;
  /** Date.now() when this coalescer's last snapshot ended, and how long it took (ms). */
  private lastEnd = 0;
  private lastDurationMs = 0;
  private closed = false;
  private readonly sleeps = new Set<() => void>();
  private periodic: NodeJS.Timeout | undefined;
  private readonly abandon = new AbortController();

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
    const waitFor = this.running?.catch(() => undefined);
    this.pending = (async () => {
      try {
        await waitFor;
        for (let wait = await this.dueIn(); wait > 0 && !this.closed; wait = await this.dueIn()) await this.sleep(wait);
      } finally {
        this.pending = null;
      }
      if (this.closed) throw new SnapshotError('snapshots are shutting down');
      return this.start();
    })();
    return this.pending;
  }

  /** Milliseconds until a snapshot may start (<= 0: now). */
  private async dueIn(): Promise<number> {
    const k = this.opts.durationFactor ?? (this.opts.keyDelayUs ? PACED_DURATION_FACTOR : DEFAULT_DURATION_FACTOR);
    let notBefore = this.lastStart + (this.opts.minIntervalMs ?? 0);
    if (k > 0) {
      notBefore = Math.max(notBefore, this.lastEnd + k * this.lastDurationMs);
      // A save this coalescer did not start (it ended after ours) counts too, at most once its
      // duration: most are the dispatcher's paced periodic saves, whose length overstates their
      // cost. Redis reports it in whole seconds of the wall clock (a 0.2 s save may read 1): take
      // 1 s off.
      const info = await persistenceInfo(this.redis);
      const foreignMs = Math.max(0, info.lastSaveDurationMs - 1000);
      const foreignK = Math.min(k, PACED_DURATION_FACTOR);
      if (info.lastSave * 1000 > this.lastEnd && foreignMs > 0) notBefore = Math.max(notBefore, info.lastSave * 1000 + foreignK * foreignMs);
    }
    return notBefore - Date.now();
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
    const run = snapshot(this.redis, { fresh: true, keyDelayUs: this.opts.keyDelayUs, signal: this.abandon.signal });
    this.running = run;
    const clear = () => {
      if (this.running === run) this.running = null;
    };
    run.then((res) => {
      // A joined save's duration is unknown (it began earlier): only a save of ours is measured.
      if (!res.joined) [this.lastEnd, this.lastDurationMs] = [Date.now(), res.saveMs];
      clear();
    }, (err: Error) => {
      clear();
      if (!this.abandon.signal.aborted) this.onError?.(err);
    });
    return run;
  }

  /**
   * Takes a snapshot whenever the last save (any: this coalescer's, another's, Redis's own
   * schedule's) ended `everyMs` ago or more and something changed since; looks every tenth of
   * that, at most every 10 s. Failures (of the save, or of reading Redis's figures) go to onError;
   * the next try is a period later.
   */
  every(everyMs: number): void {
    clearInterval(this.periodic);
    // After a failed save (disk full, …) the next try waits a whole period, not a tick.
    let failedAt = 0;
    this.periodic = setInterval(() => {
      if (this.running || this.pending || this.closed || Date.now() - failedAt < everyMs) return;
      persistenceInfo(this.redis).then(
        (info) => {
          if (info.inProgress || info.changesSinceLastSave === 0 || Date.now() - info.lastSave * 1000 < everyMs) return;
          this.request().catch(() => {
            failedAt = Date.now();
          });
        },
        (err: Error) => {
          failedAt = Date.now();
          this.onError?.(err);
        },
      );
    }, Math.min(everyMs / 10, 10_000));
    this.periodic.unref();
  }

  /** Resolves when nothing runs or waits (shutdown). */
  async idle(): Promise<void> {
    while (this.running || this.pending) await (this.pending ?? this.running)!.catch(() => undefined);
  }

  /**
   * Refuses new requests, fails those still waiting for their turn, and waits for a running save;
   * with `wait` false, stops waiting for it too (it goes on in Redis, whose shutdown saves anyway).
   */
  async close(wait = true): Promise<void> {
    this.closed = true;
    clearInterval(this.periodic);
    if (!wait) this.abandon.abort();
    for (const wake of [...this.sleeps]) wake();
    await this.idle();
  }
}
