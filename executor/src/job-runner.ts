/**
 * One job from id to recorded result: claim it with a lease, decide whether the asset's owner may
 * check it at all, wait for the host's politeness slot, run the check while the lease is kept
 * alive, then record the results and complete the job in one script.
 */
import {
  effectiveLimits,
  isStoreUnavailable,
  round,
  sleep,
  type AssetRecord,
  type CheckResult,
  type Config,
  type EgressGuard,
  type JobStore,
  type Keys,
  type Logger,
  type OwnerEgress,
  type ProcessMetrics,
  type Redis,
} from '@webmon/core';
import type { PluginRegistry } from '@webmon/plugin-sdk';
import { checkAsset, hostSpacing, outcomeOf, withBodyCap } from './check.js';
import { CompletionBatcher } from './completions.js';
import type { ExecutorStats } from './index.js';

export interface JobRunnerDeps {
  config: Readonly<Config>;
  redis: Redis;
  keys: Keys;
  jobs: JobStore;
  owners: OwnerEgress;
  registry: PluginRegistry;
  metrics: ProcessMetrics;
  log: Logger;
  stats: ExecutorStats;
  /** Aborted at shutdown: checks in flight are cut short and their jobs run again later. */
  stopping: AbortSignal;
}

export type CompleteArgs = Parameters<JobStore['complete']>[0];

export class JobRunner {
  private tokenSeq = 0;
  /** Completions of one turn of the event loop go to Redis together. */
  private readonly completions: CompletionBatcher;

  /** Lease tokens are `tokenPrefix` + a counter: unique per claim, unguessable across executors, cheap to make. */
  constructor(
    private readonly d: JobRunnerDeps,
    private readonly tokenPrefix: string,
  ) {
    this.completions = new CompletionBatcher(d.jobs);
  }

  /**
   * Claims several jobs in one round trip per shard, then runs each claimed one; a promise per
   * job, settled when that job is done. A fault of the system fails a job (retried with backoff).
   */
  runAll(jobIds: readonly string[]): Array<Promise<void>> {
    const tokens = jobIds.map(() => `${this.tokenPrefix}${(this.tokenSeq++).toString(36)}`);
    const claims = this.d.jobs.claimMany(
      jobIds.map((jobId, i) => ({ jobId, token: tokens[i]! })),
      this.d.config.executor.leaseMs,
    );
    return jobIds.map((jobId, i) => claims.then((all) => this.runClaimed(jobId, tokens[i]!, all[i]!)));
  }

  private async runClaimed(jobId: string, token: string, claim: Awaited<ReturnType<JobStore['claim']>>): Promise<void> {
    const { jobs, stats, log } = this.d;
    if (!claim.claimed) {
      stats.skipped++;
      log.debug({ jobId, why: claim.why }, 'job not claimed');
      return;
    }
    stats.claimed++;
    try {
      await this.checkClaimed(jobId, token, claim.asset);
    } catch (err) {
      if (this.d.stopping.aborted) return;
      // A fault of the system, not a failed check: retry with backoff, then keep it as failed.
      const verdict = await jobs.fail(jobId, token, (err as Error).message).catch(() => 'unrecorded');
      log.error({ jobId, assetId: claim.asset.id, err, verdict }, 'job failed');
    }
  }

  private async checkClaimed(jobId: string, token: string, claimed: AssetRecord): Promise<void> {
    const { guard, settings } = await this.whileStoreAway(() => this.d.owners.forOwner(claimed.owner));
    const asset = guard.trusted ? claimed : withBodyCap(claimed, effectiveLimits(this.d.config, settings).maxBodyBytes);
    const denied = deniedReason(asset, guard);
    if (denied) {
      // Unsupported is a verdict, not a failure: recorded once, never retried as an error.
      await this.complete({ jobId, token, outcome: 'unsupported', reason: denied, results: [], durationMs: 0, owner: asset.owner, assetId: asset.id });
      return;
    }
    if (!(await this.waitForHost(jobId, token, asset))) return;
    const started = performance.now();
    const results = await this.checkLeased(jobId, token, asset, guard);
    if (this.d.stopping.aborted) return; // cut short by shutdown: the lease expires and the job runs again
    const durationMs = round(performance.now() - started, 3);
    await this.record(jobId, token, asset, results, durationMs);
  }

  /**
   * Politeness: one start per host per spacing, across every executor (a slot in Redis). Waits
   * for the slot when it comes soon enough; otherwise gives the job back to run later and
   * returns false.
   */
  private async waitForHost(jobId: string, token: string, asset: AssetRecord): Promise<boolean> {
    const { config, jobs } = this.d;
    const spacing = hostSpacing(config.politeness, asset.host, asset.tags);
    if (spacing <= 0 || !asset.host) return true;
    const wait = await jobs.hostSlot(asset.host, asset.owner, spacing, config.politeness.maxWaitMs);
    if (wait < 0) {
      await jobs.defer(jobId, token, Date.now() - wait);
      this.d.stats.deferred++;
      return false;
    }
    if (wait > 0) await sleep(wait, this.d.stopping);
    return true;
  }

  /** Runs the asset's plugins, extending the lease while they run. */
  private async checkLeased(jobId: string, token: string, asset: AssetRecord, guard: EgressGuard): Promise<CheckResult[]> {
    const { config, jobs, log, registry, redis, keys } = this.d;
    const leaseMs = config.executor.leaseMs;
    const extender = setInterval(() => {
      jobs.extend(jobId, token, leaseMs).catch((err: Error) => log.warn({ jobId, err: err.message }, 'lease extension failed'));
    }, Math.floor(leaseMs / 2));
    extender.unref();
    try {
      return await checkAsset(asset, { registry, redis, keys, log, defaultTimeoutMs: config.checks.timeoutMs, egress: guard, signal: this.d.stopping });
    } finally {
      clearInterval(extender);
    }
  }

  /** Counts the results, completes the job, and honours a host's Retry-After. */
  private async record(jobId: string, token: string, asset: AssetRecord, results: CheckResult[], durationMs: number): Promise<void> {
    const { config, jobs, log, metrics } = this.d;
    for (const r of results) {
      metrics.checks.inc({ plugin: r.plugin, status: r.status, reason: r.reason ?? '' });
      metrics.checkDuration.observe({ plugin: r.plugin }, r.durationMs / 1000);
    }
    const { outcome, reason } = outcomeOf(results);
    await this.complete({ jobId, token, outcome, reason, results, durationMs, owner: asset.owner, assetId: asset.id });
    // A host that asked us to wait (Retry-After on 429/503) gets no check before then.
    const retryAfter = Math.max(0, ...results.map((r) => r.metrics.retryAfterSec ?? 0));
    if (retryAfter > 0 && asset.host) {
      const until = Date.now() + Math.min(retryAfter, config.politeness.maxRetryAfterSec) * 1000;
      await jobs.hostBackoff(asset.host, until).catch((err: Error) => log.warn({ err: err.message, host: asset.host }, 'could not record Retry-After'));
    }
    log.debug({ jobId, assetId: asset.id, outcome, durationMs }, 'check done');
  }

  private async complete(args: CompleteArgs): Promise<void> {
    // Redis is away: hold the result and retry until it is back.
    const res = await this.whileStoreAway(() => this.completions.complete(args));
    if (!res.recorded) this.d.log.info({ jobId: args.jobId, why: res.why }, 'result not recorded');
    else this.d.stats.completed++;
  }

  /** Runs `op` again, with backoff, while Redis is away (the job stays claimed meanwhile). */
  private async whileStoreAway<T>(op: () => Promise<T>): Promise<T> {
    let delay = 100;
    for (;;) {
      try {
        return await op();
      } catch (err) {
        if (!isStoreUnavailable(err) || this.d.stopping.aborted) throw err;
        await sleep(delay);
        delay = Math.min(delay * 2, 2000);
      }
    }
  }
}

/**
 * Why the asset is not checked at all (no plugin for its scheme, or its host refused by the
 * owner's guard), or null. Names and literals only: addresses are judged by the plugins'
 * connections (no resolution here).
 */
function deniedReason(asset: AssetRecord, guard: EgressGuard): string | null {
  if (asset.plugins.length === 0) return `no plugin handles ${asset.scheme}: URLs`;
  const refused = asset.host ? guard.judgeHost(asset.host) : null;
  return refused ? `denied: ${refused}` : null;
}
