/**
 * Jobs in Redis. A job is written (hash + queued index) before its id is sent anywhere; an
 * executor claims it with a lease (token + deadline), may extend the lease, and completes it
 * together with the asset's results in one script. Expired leases and lost ids are found by
 * the dispatcher's sweep. See ../../lua/job_*.lua for the exact state changes.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { validateConfig, type Config } from '../config.js';
import { ALL_OWNERS, byShard, markShard, shardOfId, type Keys, type ShardKeys } from '../keys.js';
import { rollupDurations } from '../rollup.js';
import type { Scripts } from '../scripts.js';
import type { CheckOutcome, CheckResult, JobStatus } from '../types.js';
import { parseAsset, safeJson, type AssetRecord } from './assets.js';
import { resultTokens } from './results-codec.js';

export interface JobRecord {
  id: string;
  assetId: string;
  owner: string;
  priority: number;
  status: JobStatus;
  attempts: number;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  outcome: CheckOutcome | null;
  error: string | null;
  results: CheckResult[] | null;
}

export interface JobToEnqueue {
  assetId: string;
  owner: string;
}

export type ClaimResult = { claimed: true; attempts: number; asset: AssetRecord } | { claimed: false; why: string };

export interface Completion {
  jobId: string;
  token: string;
  outcome: CheckOutcome;
  reason: string | null;
  results: CheckResult[];
  durationMs: number;
  /** The asset's owner (from the claim), to address its state indexes. */
  owner: string;
  assetId: string;
}

/** What recording a completion did: the state transition, or why nothing was written. */
export type CompletionResult = { recorded: true; from: string; to: string } | { recorded: false; why: string };

export interface JobPolicy {
  /** How long a finished job pushed through the API is kept; a scheduled one is deleted when done. */
  retentionSec: number;
  maxAttempts: number;
  /** First retry delay after a lost lease or a system fault; doubles with each attempt (at most 5 minutes). */
  retryBaseMs?: number;
  historyMax: number;
  /** Raw results older than this are trimmed (approximately). */
  historyMaxAgeSec?: number;
  /** How long roll-ups are kept, per resolution, seconds. */
  rollups?: { minuteSec: number; hourSec: number; daySec: number };
  /** Entries kept in the events stream (all assets; approximate). */
  eventsMax: number;
  /** Entries kept in each asset's own events stream (approximate; default 1000). */
  assetEventsMax?: number;
  downAfter: number;
  upAfter: number;
}

export interface SweepResult {
  /** Put on the delayed set for a retry (dispatched when their backoff ends, as `stale`). */
  requeued: string[];
  failed: string[];
  /** Queued jobs to dispatch now: ids nobody claimed within requeue-after, and delayed jobs whose time came. */
  stale: Array<{ id: string; priority: number }>;
}

/** The asset fields a claim returns: what running a check needs, no more. */
const CLAIM_FIELDS = ['id', 'seq', 'rev', 'owner', 'url', 'scheme', 'host', 'plugins', 'config', 'interval', 'tags', 'paused', 'state', 'createdAt', 'updatedAt'] as const;

/** The job policy a role uses, from its configuration. */
export function jobPolicy(config: Readonly<Config>): JobPolicy {
  return {
    retentionSec: config.jobs.retentionSec,
    maxAttempts: config.jobs.maxAttempts,
    retryBaseMs: config.jobs.retryBaseMs,
    historyMax: config.history.maxResults,
    historyMaxAgeSec: config.history.maxAgeSec,
    rollups: { minuteSec: config.history.minutesForSec, hourSec: config.history.hoursForSec, daySec: config.history.daysForSec },
    eventsMax: config.history.maxEvents,
    assetEventsMax: config.history.maxAssetEvents,
    downAfter: config.checks.downAfter,
    upAfter: config.checks.upAfter,
  };
}

let randomPool = Buffer.alloc(0);
let randomAt = 0;

/** Time-ordered, unguessable job id: base36 milliseconds + 8 random hex digits. */
export function newJobId(now = Date.now()): string {
  // Random bytes drawn 4 KB at a time: one call into the CSPRNG per 1,024 ids, not one per id.
  if (randomAt + 4 > randomPool.length) {
    randomPool = randomBytes(4096);
    randomAt = 0;
  }
  randomAt += 4;
  return now.toString(36) + randomPool.toString('hex', randomAt - 4, randomAt);
}

/**
 * `policy` with the optional fields it leaves out taken from the configuration's defaults (roles
 * pass jobPolicy(config), which has them all; tests often pass a partial policy).
 */
function completePolicy(policy: JobPolicy): Required<JobPolicy> {
  const given = policy as Required<JobPolicy>;
  if (given.retryBaseMs !== undefined && given.historyMaxAgeSec !== undefined && given.rollups !== undefined && given.assetEventsMax !== undefined) return given;
  return { ...jobPolicy(validateConfig({})), ...policy } as Required<JobPolicy>;
}

export class JobStore {
  private readonly policy: Required<JobPolicy>;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly scripts: Scripts,
    policy: JobPolicy,
  ) {
    this.policy = completePolicy(policy);
  }

  /** Writes jobs (their hashes and places in the queue: one job_enqueue call per shard) and returns their ids in input order. */
  async enqueue(items: readonly JobToEnqueue[], priority: number, now = Date.now()): Promise<string[]> {
    // A job lives in its asset's shard (a Cluster script call touches one slot).
    const jobs = items.map((it) => ({ jobId: markShard(newJobId(now), shardOfId(it.assetId), this.keys.layout), ...it }));
    await Promise.all(
      [...byShard(jobs, (j) => j.jobId)].map(([shard, at]) =>
        this.scripts.run(
          'job_enqueue',
          [this.keys.shard(shard).jobsQueued, ...at.map((i) => this.keys.job(jobs[i]!.jobId))],
          [now, priority, ...at.flatMap((i) => [jobs[i]!.jobId, jobs[i]!.assetId, jobs[i]!.owner])],
        ),
      ),
    );
    return jobs.map((j) => j.jobId);
  }

  async get(id: string): Promise<JobRecord | null> {
    return parseJob(await this.redis.hgetall(this.keys.job(id)));
  }

  async claim(jobId: string, token: string, leaseMs: number, now = Date.now()): Promise<ClaimResult> {
    return (await this.claimMany([{ jobId, token }], leaseMs, now))[0]!;
  }

  /** Claims several jobs (as `claim`), one script call per shard; the results in the given order. */
  async claimMany(claims: ReadonlyArray<{ jobId: string; token: string }>, leaseMs: number, now = Date.now()): Promise<ClaimResult[]> {
    const out: ClaimResult[] = new Array(claims.length);
    await Promise.all(
      [...byShard(claims, (c) => c.jobId)].map(async ([shard, at]) => {
        const k = this.keys.shard(shard);
        const replies = await this.scripts.run<Array<(string | number)[]>>(
          'job_claim',
          [k.jobsQueued, k.jobsLeases, k.jobsFailed, ...at.map((i) => this.keys.job(claims[i]!.jobId))],
          [now, leaseMs, k.assetPrefix, this.policy.retentionSec, CLAIM_FIELDS.length, ...CLAIM_FIELDS, ...at.flatMap((i) => [claims[i]!.jobId, claims[i]!.token])],
        );
        at.forEach((i, n) => {
          out[i] = claimResult(replies[n]!);
        });
      }),
    );
    return out;
  }

  async extend(jobId: string, token: string, leaseMs: number, now = Date.now()): Promise<boolean> {
    const res = await this.scripts.run<number>('job_extend', [this.keys.job(jobId), this.keys.shardOf(jobId).jobsLeases], [jobId, token, now, leaseMs]);
    return res === 1;
  }

  /** A system fault ended a claimed job: retry after a backoff, or fail it after maxAttempts. */
  async fail(jobId: string, token: string, error: string, now = Date.now()): Promise<'retry' | 'failed' | 'stale'> {
    const k = this.keys.shardOf(jobId);
    return this.scripts.run(
      'job_fail',
      [this.keys.job(jobId), k.jobsLeases, k.jobsDelayed, k.jobsFailed],
      [jobId, token, now, error.slice(0, 1000), this.policy.maxAttempts, this.policy.retryBaseMs, this.policy.retentionSec],
    );
  }

  /** Queues a failed job again. Returns 'queued', 'missing' or 'not_failed'. */
  async retry(jobId: string, now = Date.now()): Promise<'queued' | 'missing' | 'not_failed'> {
    const k = this.keys.shardOf(jobId);
    const res = await this.scripts.run<number>('job_retry', [this.keys.job(jobId), k.jobsFailed, k.jobsQueued], [jobId, now]);
    return res === 1 ? 'queued' : res === 0 ? 'missing' : 'not_failed';
  }

  /** Failed jobs, most recent first (owner: only theirs; ALL_OWNERS: every one). */
  async listFailed(owner: string, offset: number, limit: number): Promise<{ jobs: JobRecord[]; more: boolean }> {
    const out: JobRecord[] = [];
    let skipped = 0;
    let scanned = 0;
    // Scans the failed sets newest first, bounded; entries whose job expired are dropped.
    for await (const id of this.failedNewestFirst()) {
      if (++scanned > 100_000) return { jobs: out, more: true };
      const job = await this.get(id);
      if (!job) {
        await this.redis.zrem(this.keys.shardOf(id).jobsFailed, id);
        continue;
      }
      if (owner !== '*' && job.owner !== owner) continue;
      if (skipped < offset) {
        skipped++;
        continue;
      }
      if (out.length === limit) return { jobs: out, more: true };
      out.push(job);
    }
    return { jobs: out, more: false };
  }

  /** Ids of failed jobs of every shard, newest failure first (a merge of the shards' sets, read in chunks). */
  private async *failedNewestFirst(chunk = 500): AsyncGenerator<string> {
    const heads = this.keys.shardIds.map((n) => ({ key: this.keys.shard(n).jobsFailed, start: 0, rows: [] as Array<[string, number]>, done: false }));
    const fill = async (h: (typeof heads)[number]) => {
      if (h.rows.length || h.done) return;
      const flat = await this.redis.zrevrange(h.key, String(h.start), String(h.start + chunk - 1), 'WITHSCORES');
      for (let i = 0; i < flat.length; i += 2) h.rows.push([flat[i]!, Number(flat[i + 1])]);
      h.start += chunk;
      h.done = flat.length < chunk * 2;
    };
    for (;;) {
      await Promise.all(heads.map(fill));
      let best: (typeof heads)[number] | undefined;
      for (const h of heads) if (h.rows.length && (!best || h.rows[0]![1] > best.rows[0]![1])) best = h;
      if (!best) return;
      yield best.rows.shift()![0];
    }
  }

  /** Gives a claimed job back, to be queued again at `runAt` (not counted as an attempt). */
  async defer(jobId: string, token: string, runAt: number): Promise<boolean> {
    const k = this.keys.shardOf(jobId);
    const res = await this.scripts.run<number>('job_defer', [this.keys.job(jobId), k.jobsLeases, k.jobsDelayed], [jobId, token, runAt]);
    return res === 1;
  }

  /**
   * Reserves a start for a check of `host` by `owner`, `spacingMs` after the previous one across
   * all executors, shared fairly between owners (host_slot.lua). Returns the wait before
   * starting (>= 0), or a negative number: no start within `maxWaitMs`; give the job back and
   * ask again that many ms from now, when the owner's turn is within reach.
   */
  async hostSlot(host: string, owner: string, spacingMs: number, maxWaitMs: number, now = Date.now()): Promise<number> {
    return this.scripts.run<number>('host_slot', [this.keys.hostSlot(host), this.keys.hostTurns(host)], [now, spacingMs, maxWaitMs, owner]);
  }

  /** No check of `host` starts before `until` (Retry-After). */
  async hostBackoff(host: string, until: number, now = Date.now()): Promise<void> {
    await this.scripts.run('host_backoff', [this.keys.hostSlot(host), this.keys.hostTurns(host)], [now, until]);
  }

  /** Records results and finishes the job. Returns the state transition, or why nothing was written. */
  async complete(c: Completion, now = Date.now()): Promise<CompletionResult> {
    return (await this.completeMany([c], now))[0]!;
  }

  /**
   * Records several completions (as `complete`), one job_complete call per shard; the results in
   * the given order.
   */
  async completeMany(completions: readonly Completion[], now = Date.now()): Promise<CompletionResult[]> {
    const out: CompletionResult[] = new Array(completions.length);
    await Promise.all(
      [...byShard(completions, (c) => c.jobId)].map(async ([shard, at]) => {
        const k = this.keys.shard(shard);
        const keys: string[] = [k.jobsLeases, k.events, k.jobsQueued, k.jobsDelayed];
        const args: Array<string | number> = [at.length, ...this.completionPolicy(k)];
        for (const i of at) {
          const c = completions[i]!;
          keys.push(...this.completionKeys(c));
          const own = this.completionArgs(c, k, now);
          args.push(own.length, ...own);
        }
        const replies = await this.scripts.run<Array<string[] | [number, string, string]>>('job_complete', keys, args);
        at.forEach((i, n) => {
          const res = replies[n]!;
          out[i] = Number(res[0]) === 1 ? { recorded: true, from: String(res[1]), to: String(res[2]) } : { recorded: false, why: String(res[1]) };
        });
      }),
    );
    return out;
  }

  /** job_complete's keys of one completion after the shard's four, in the order its header documents. */
  private completionKeys(c: Completion): string[] {
    return [
      this.keys.job(c.jobId),
      this.keys.asset(c.assetId),
      this.keys.assetLatest(c.assetId),
      this.keys.assetHistory(c.assetId),
      this.keys.assetRollup(c.assetId, 'minute'),
      this.keys.assetRollup(c.assetId, 'hour'),
      this.keys.assetRollup(c.assetId, 'day'),
      this.keys.assetEvents(c.assetId),
      this.keys.assetHistoryLegacy(c.assetId),
    ];
  }

  /** job_complete's policy arguments, the same for every completion of a call. */
  private completionPolicy(k: ShardKeys): Array<string | number> {
    const p = this.policy;
    return [
      p.retentionSec,
      p.historyMax,
      p.historyMaxAgeSec * 1000,
      p.eventsMax,
      p.assetEventsMax,
      p.downAfter,
      p.upAfter,
      k.ownerIndexPrefix('*'),
      p.rollups.minuteSec,
      p.rollups.hourSec,
      p.rollups.daySec,
      k.statsPrefix,
    ];
  }

  /** job_complete's arguments of one completion, flat, in the order its header documents. */
  private completionArgs(c: Completion, k: ShardKeys, now: number): Array<string | number> {
    // Each result is serialised once: alone for `latest`, joined for the job and the history.
    const each = c.results.map((r) => JSON.stringify(r));
    const resultsJson = `[${each.join(',')}]`;
    const latest: string[] = [];
    c.results.forEach((r, i) => {
      latest.push(r.plugin, each[i]!);
    });
    const durations = rollupDurations(c.results);
    // Redis hands the arguments to Lua as the strings they are (no decoding), and ioredis writes
    // strings without encoding them first. `now` and `durationMs` go as the decimal strings Redis
    // stores: Lua would format a number with 17 digits (12.3 -> 12.300000000000001).
    return [
      c.jobId,
      c.token,
      String(now),
      c.outcome,
      c.reason ?? '',
      resultsJson,
      String(c.durationMs),
      k.ownerIndexPrefix(c.owner),
      durations.length / 3,
      ...durations,
      latest.length / 2,
      ...latest,
      ...resultTokens(c.results),
    ];
  }

  /** Re-dispatch work: expired leases (retried after a backoff, or failed), queued ids that were lost, delayed jobs now due. */
  async sweep(requeueAfterMs: number, limit = 1000, now = Date.now(), shard = 0): Promise<SweepResult> {
    const k = this.keys.shard(shard);
    const [requeued, failed, stale] = await this.scripts.run<[string[], string[], string[]]>(
      'jobs_sweep',
      [k.jobsLeases, k.jobsQueued, k.jobsFailed, k.jobsDelayed],
      [now, limit, this.policy.maxAttempts, k.jobPrefix, this.policy.retentionSec, requeueAfterMs, this.policy.retryBaseMs],
    );
    return { requeued, failed, stale: pairs(stale) };
  }

  /**
   * Creates jobs for due assets (see schedule_claim.lua). Returns the new job ids with the due
   * time each stands for, the checks skipped (`skipped`: previous check still pending; `late`:
   * due times passed more than an interval ago), whether the queue bound stopped it early, and
   * the jobs queued when it returned.
   */
  async scheduleDue(batch: number, maxQueued: number, now = Date.now(), shard = 0): Promise<ScheduleResult> {
    const k = this.keys.shard(shard);
    const res = await this.scripts.run<Array<number | string>>(
      'schedule_claim',
      [k.schedule, k.jobsQueued, k.jobSeq, k.checksSkipped],
      [now, batch, maxQueued, k.assetPrefix, k.jobPrefix, Math.floor(Math.random() * 2 ** 31), ALL_OWNERS, markShard('', shard, this.keys.layout)],
    );
    const ids: string[] = [];
    const dueAt: number[] = [];
    for (let i = 5; i < res.length; i += 2) {
      ids.push(String(res[i]));
      dueAt.push(Number(res[i + 1]));
    }
    return { ids, skipped: Number(res[1]), backpressure: Number(res[2]) === 1, late: Number(res[3]), queued: Number(res[4]), dueAt };
  }

  /** Scheduled checks skipped so far, by reason, for one owner or ALL_OWNERS (see schedule_claim.lua). */
  async skippedChecks(owner: string): Promise<{ late: number; pending: number }> {
    const out = { late: 0, pending: 0 };
    const rows = await Promise.all(this.keys.shardIds.map((n) => this.redis.hmget(this.keys.shard(n).checksSkipped, `${owner}:late`, `${owner}:pending`)));
    for (const [late, pending] of rows) {
      out.late += Number(late ?? 0);
      out.pending += Number(pending ?? 0);
    }
    return out;
  }

  /** Every queued job with its priority (dispatcher start-up), oldest first, in chunks. */
  async *queued(chunk = 1000, shards: readonly number[] = this.keys.shardIds): AsyncGenerator<Array<{ id: string; priority: number }>> {
    for (const shard of shards) {
      const queued = this.keys.shard(shard).jobsQueued;
      for (let start = 0; ; start += chunk) {
        const ids = await this.redis.zrange(queued, String(start), String(start + chunk - 1));
        if (ids.length === 0) break;
        const pipe = this.redis.pipeline();
        for (const id of ids) pipe.hget(this.keys.job(id), 'priority');
        const rows = (await pipe.exec()) ?? [];
        yield ids.map((id, i) => ({ id, priority: Number(rows[i]?.[1] ?? 0) || 0 }));
        if (ids.length < chunk) break;
      }
    }
  }

  async counts(): Promise<{ queued: number; running: number; failed: number }> {
    const out = { queued: 0, running: 0, failed: 0 };
    const rows = await Promise.all(
      this.keys.shardIds.map((n) => {
        const k = this.keys.shard(n);
        return Promise.all([this.redis.zcard(k.jobsQueued), this.redis.zcard(k.jobsLeases), this.redis.zcard(k.jobsFailed)]);
      }),
    );
    for (const [queued, running, failed] of rows) {
      out.queued += queued;
      out.running += running;
      out.failed += failed;
    }
    return out;
  }
}

export interface ScheduleResult {
  ids: string[];
  /** Due time (ms) of each created job, in the order of `ids`. */
  dueAt: number[];
  /** Checks skipped because the asset's previous check was still queued or running. */
  skipped: number;
  /** Checks skipped because their due time passed more than an interval ago. */
  late: number;
  backpressure: boolean;
  /** Jobs queued (all priorities) when the call returned. */
  queued: number;
}

function pairs(flat: string[]): Array<{ id: string; priority: number }> {
  const out: Array<{ id: string; priority: number }> = [];
  for (let i = 0; i < flat.length; i += 2) out.push({ id: flat[i]!, priority: Number(flat[i + 1]) || 0 });
  return out;
}

export function parseJob(h: Record<string, string> | null | undefined): JobRecord | null {
  if (!h?.id) return null;
  const num = (v: string | undefined) => (v === undefined || v === '' ? null : Number(v));
  return {
    id: h.id,
    assetId: h.assetId ?? '',
    owner: h.owner ?? '',
    priority: Number(h.priority ?? 0),
    status: (h.status as JobStatus | undefined) ?? 'queued',
    attempts: Number(h.attempts ?? 0),
    createdAt: Number(h.createdAt),
    startedAt: num(h.startedAt),
    finishedAt: num(h.finishedAt),
    outcome: (h.outcome as CheckOutcome | undefined) ?? null,
    error: h.error ?? null,
    results: (safeJson(h.results) as CheckResult[] | null) ?? null,
  };
}

/** A reply of job_claim for one job. */
function claimResult(res: (string | number)[]): ClaimResult {
  if (res[0] !== 1) return { claimed: false, why: String(res[1]) };
  const h: Record<string, string> = {};
  CLAIM_FIELDS.forEach((f, i) => {
    const v = res[i + 2];
    if (v !== undefined && v !== '') h[f] = String(v);
  });
  const asset = parseAsset(h);
  if (!asset) return { claimed: false, why: 'asset_unreadable' };
  return { claimed: true, attempts: Number(res[1]), asset };
}
