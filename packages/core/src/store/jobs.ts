/**
 * Jobs in Redis. A job is written (hash + queued index) before its id is sent anywhere; an
 * executor claims it with a lease (token + deadline), may extend the lease, and completes it
 * together with the asset's results in one script. Expired leases and lost ids are found by
 * the dispatcher's sweep. See ../../lua/job_*.lua for the exact state changes.
 */
import { randomBytes } from 'node:crypto';
import { Encoder } from '@msgpack/msgpack';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { ALL_OWNERS, type Keys } from '../keys.js';
import type { Scripts } from '../scripts.js';
import type { CheckOutcome, CheckResult, JobStatus } from '../types.js';
import { parseAsset, safeJson, type AssetRecord } from './assets.js';
import { TOKEN_SEP, resultTokens } from './results-codec.js';

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

/** Time-ordered, unguessable job id: base36 milliseconds + 8 random hex digits. */
export function newJobId(now = Date.now()): string {
  return now.toString(36) + randomBytes(4).toString('hex');
}

export class JobStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly scripts: Scripts,
    private readonly policy: JobPolicy,
  ) {}

  /** Writes jobs (one MULTI: hashes + queued index) and returns their ids in input order. */
  async enqueue(items: readonly JobToEnqueue[], priority: number, now = Date.now()): Promise<string[]> {
    const ids = items.map(() => newJobId(now));
    const multi = this.redis.multi();
    items.forEach((it, i) => {
      const id = ids[i]!;
      multi.hset(this.keys.job(id), 'id', id, 'assetId', it.assetId, 'owner', it.owner, 'priority', priority, 'status', 'queued', 'attempts', 0, 'createdAt', now);
      multi.zadd(this.keys.jobsQueued, now, id);
    });
    const res = await multi.exec();
    for (const [err] of res ?? []) if (err) throw err;
    return ids;
  }

  async get(id: string): Promise<JobRecord | null> {
    return parseJob(await this.redis.hgetall(this.keys.job(id)));
  }

  async claim(jobId: string, token: string, leaseMs: number, now = Date.now()): Promise<ClaimResult> {
    const res = await this.scripts.run<(string | number)[]>(
      'job_claim',
      [this.keys.job(jobId), this.keys.jobsQueued, this.keys.jobsLeases, this.keys.jobsFailed],
      [jobId, token, now, leaseMs, this.keys.assetPrefix, this.policy.retentionSec, ...CLAIM_FIELDS],
    );
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

  async extend(jobId: string, token: string, leaseMs: number, now = Date.now()): Promise<boolean> {
    const res = await this.scripts.run<number>('job_extend', [this.keys.job(jobId), this.keys.jobsLeases], [jobId, token, now, leaseMs]);
    return res === 1;
  }

  /** A system fault ended a claimed job: retry after a backoff, or fail it after maxAttempts. */
  async fail(jobId: string, token: string, error: string, now = Date.now()): Promise<'retry' | 'failed' | 'stale'> {
    return this.scripts.run(
      'job_fail',
      [this.keys.job(jobId), this.keys.jobsLeases, this.keys.jobsDelayed, this.keys.jobsFailed],
      [jobId, token, now, error.slice(0, 1000), this.policy.maxAttempts, this.policy.retryBaseMs ?? 1000, this.policy.retentionSec],
    );
  }

  /** Queues a failed job again. Returns 'queued', 'missing' or 'not_failed'. */
  async retry(jobId: string, now = Date.now()): Promise<'queued' | 'missing' | 'not_failed'> {
    const res = await this.scripts.run<number>('job_retry', [this.keys.job(jobId), this.keys.jobsFailed, this.keys.jobsQueued], [jobId, now]);
    return res === 1 ? 'queued' : res === 0 ? 'missing' : 'not_failed';
  }

  /** Failed jobs, most recent first (owner: only theirs; ALL_OWNERS: every one). */
  async listFailed(owner: string, offset: number, limit: number): Promise<{ jobs: JobRecord[]; more: boolean }> {
    const out: JobRecord[] = [];
    let start = 0;
    let skipped = 0;
    const chunk = 500;
    // Scans the failed set newest first, bounded; entries whose job expired are dropped.
    for (let scanned = 0; scanned < 100_000; scanned += chunk) {
      const ids = await this.redis.zrevrange(this.keys.jobsFailed, String(start), String(start + chunk - 1));
      if (ids.length === 0) return { jobs: out, more: false };
      const pipe = this.redis.pipeline();
      for (const id of ids) pipe.hgetall(this.keys.job(id));
      const rows = (await pipe.exec()) ?? [];
      for (let i = 0; i < ids.length; i++) {
        const job = parseJob(rows[i]?.[1] as Record<string, string>);
        if (!job) {
          await this.redis.zrem(this.keys.jobsFailed, ids[i]!);
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
      start += chunk;
    }
    return { jobs: out, more: true };
  }

  /** Gives a claimed job back, to be queued again at `runAt` (not counted as an attempt). */
  async defer(jobId: string, token: string, runAt: number): Promise<boolean> {
    const res = await this.scripts.run<number>('job_defer', [this.keys.job(jobId), this.keys.jobsLeases, this.keys.jobsDelayed], [jobId, token, runAt]);
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
  async complete(c: Completion, now = Date.now()): Promise<{ recorded: true; from: string; to: string } | { recorded: false; why: string }> {
    // Each result is serialised once: alone for `latest`, joined for the job and the history.
    const each = c.results.map((r) => JSON.stringify(r));
    const resultsJson = `[${each.join(',')}]`;
    const latest: string[] = [];
    c.results.forEach((r, i) => {
      latest.push(r.plugin, each[i]!);
    });
    const p = this.policy;
    // One packed argument (fields documented in job_complete.lua): MessagePack, so Lua unpacks
    // the long texts (results, latest, tokens) as they are instead of unescaping JSON in JSON.
    // `now` and `durationMs` go as the decimal strings Redis stores: Lua would format a number
    // with 17 digits (12.3 -> 12.300000000000001).
    const completion = {
      id: c.jobId,
      token: c.token,
      now: String(now),
      outcome: c.outcome,
      reason: c.reason ?? '',
      results: resultsJson,
      durationMs: String(c.durationMs),
      retentionSec: p.retentionSec,
      historyMax: p.historyMax,
      historyMaxAgeMs: (p.historyMaxAgeSec ?? 604_800) * 1000,
      eventsMax: p.eventsMax,
      assetEventsMax: p.assetEventsMax ?? 1000,
      downAfter: p.downAfter,
      upAfter: p.upAfter,
      ownerIndex: this.keys.ownerIndexPrefix(c.owner),
      fleetIndex: this.keys.ownerIndexPrefix('*'),
      rollupSec: [p.rollups?.minuteSec ?? 86_400, p.rollups?.hourSec ?? 7_776_000, p.rollups?.daySec ?? 157_680_000],
      statsPrefix: this.keys.statsPrefix,
      durations: c.results.map((r) => `${r.plugin}=${r.durationMs}`).join(';'),
      latest,
      tokens: resultTokens(c.results).join(TOKEN_SEP),
    };
    const res = await this.scripts.run<string[] | [number, string, string]>(
      'job_complete',
      [
        this.keys.job(c.jobId),
        this.keys.jobsLeases,
        this.keys.asset(c.assetId),
        this.keys.assetLatest(c.assetId),
        this.keys.assetHistory(c.assetId),
        this.keys.events,
        this.keys.assetRollup(c.assetId, 'minute'),
        this.keys.assetRollup(c.assetId, 'hour'),
        this.keys.assetRollup(c.assetId, 'day'),
        this.keys.assetEvents(c.assetId),
        this.keys.jobsQueued,
        this.keys.assetHistoryLegacy(c.assetId),
        this.keys.jobsDelayed,
      ],
      [packed(completion)],
    );
    if (Number(res[0]) === 1) return { recorded: true, from: String(res[1]), to: String(res[2]) };
    return { recorded: false, why: String(res[1]) };
  }

  /** Re-dispatch work: expired leases (retried after a backoff, or failed), queued ids that were lost, delayed jobs now due. */
  async sweep(requeueAfterMs: number, limit = 1000, now = Date.now()): Promise<SweepResult> {
    const [requeued, failed, stale] = await this.scripts.run<[string[], string[], string[]]>(
      'jobs_sweep',
      [this.keys.jobsLeases, this.keys.jobsQueued, this.keys.jobsFailed, this.keys.jobsDelayed],
      [now, limit, this.policy.maxAttempts, this.keys.jobPrefix, this.policy.retentionSec, requeueAfterMs, this.policy.retryBaseMs ?? 1000],
    );
    return { requeued, failed, stale: pairs(stale) };
  }

  /**
   * Creates jobs for due assets (see schedule_claim.lua). Returns the new job ids with the due
   * time each stands for, the checks skipped (`skipped`: previous check still pending; `late`:
   * due times passed more than an interval ago), whether the queue bound stopped it early, and
   * the jobs queued when it returned.
   */
  async scheduleDue(batch: number, maxQueued: number, now = Date.now()): Promise<ScheduleResult> {
    const res = await this.scripts.run<Array<number | string>>(
      'schedule_claim',
      [this.keys.schedule, this.keys.jobsQueued, this.keys.jobSeq, this.keys.checksSkipped],
      [now, batch, maxQueued, this.keys.assetPrefix, this.keys.jobPrefix, Math.floor(Math.random() * 2 ** 31), ALL_OWNERS],
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
    const [late, pending] = await this.redis.hmget(this.keys.checksSkipped, `${owner}:late`, `${owner}:pending`);
    return { late: Number(late ?? 0), pending: Number(pending ?? 0) };
  }

  /** Every queued job with its priority (dispatcher start-up), oldest first, in chunks. */
  async *queued(chunk = 1000): AsyncGenerator<Array<{ id: string; priority: number }>> {
    let start = 0;
    for (;;) {
      const ids = await this.redis.zrange(this.keys.jobsQueued, String(start), String(start + chunk - 1));
      if (ids.length === 0) return;
      const pipe = this.redis.pipeline();
      for (const id of ids) pipe.hget(this.keys.job(id), 'priority');
      const rows = (await pipe.exec()) ?? [];
      yield ids.map((id, i) => ({ id, priority: Number(rows[i]?.[1] ?? 0) || 0 }));
      if (ids.length < chunk) return;
      start += chunk;
    }
  }

  async counts(): Promise<{ queued: number; running: number; failed: number }> {
    const [queued, running, failed] = await Promise.all([
      this.redis.zcard(this.keys.jobsQueued),
      this.redis.zcard(this.keys.jobsLeases),
      this.redis.zcard(this.keys.jobsFailed),
    ]);
    return { queued, running, failed };
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

const msgpack = new Encoder();

/** `value` as MessagePack, in a Buffer (ioredis sends a Buffer as bytes, anything else as text). */
function packed(value: unknown): Buffer {
  const bytes = msgpack.encode(value);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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
