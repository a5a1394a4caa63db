/**
 * Runs one probe through the normal executor path: the caller's asset for the target (created
 * for the probe when the caller has none: paused, so the scheduler never checks it and its
 * state never changes or notifies, unless the probe is recorded), a job at the highest
 * priority handed to the dispatcher like POST /jobs, and a bounded wait for its result. The
 * executor applies the owner's egress policy, host politeness and limits as for any check.
 *
 * A temporary asset is deleted once the probe ends. Two probes of one target at once (two
 * Prometheus replicas) share it; when the other one deleted it before this job was claimed, the
 * job fails with `asset_deleted` and the probe starts over while time remains.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { MAX_PRIORITY, WebmonError, type JobRecord, type NewAsset, type Principal } from '@webmon/core';
import type { ApiContext } from '../context.js';
import { limitsFor } from '../limits.js';
import type { ProbeModule } from './modules.js';

export interface ProbeRun {
  /** The finished job, or null when it did not finish in time. */
  job: JobRecord | null;
  /** Wall time of the probe, ms. */
  wallMs: number;
}

/** Tag of the assets created by probes. */
export const PROBE_TAG = 'probe';

const POLL_FIRST_MS = 10;
const POLL_MAX_MS = 100;
const ATTEMPTS = 3;

/**
 * The job's record once it is done or failed, or null at the deadline. The job hash carries no
 * completion signal to block on, so it is read with a short backoff (one HGETALL a read).
 */
async function waitForJob(ctx: ApiContext, jobId: string, deadline: number): Promise<JobRecord | null> {
  let pause = POLL_FIRST_MS;
  for (;;) {
    const job = await ctx.jobStore.get(jobId);
    if (job && (job.status === 'done' || job.status === 'failed')) return job;
    const left = deadline - Date.now();
    if (left <= 0) return null;
    await new Promise((r) => setTimeout(r, Math.min(pause, left)));
    pause = Math.min(pause * 2, POLL_MAX_MS);
  }
}

/** The asset a probe of this URL runs on, and whether the probe created it. */
async function probeAsset(ctx: ApiContext, who: Principal, input: NewAsset, maxAssets: number | undefined): Promise<{ id: string; created: boolean }> {
  const { id, created } = await ctx.assets.create(input, undefined, { maxAssets });
  if (created) return { id, created };
  const existing = await ctx.assets.get(id);
  if (!existing) return { id, created: false };
  if (!isDeepStrictEqual(existing.plugins, input.plugins) || !isDeepStrictEqual(existing.config, input.config)) {
    throw new WebmonError(
      'WEBMON_ERR_PROBE_CONFLICT',
      `asset ${id} of ${who.id} already watches ${input.url.url} with other plugins or options than the module's; probe another URL or align the asset's options`,
      { assetId: id },
    );
  }
  return { id, created: false };
}

export async function runProbe(ctx: ApiContext, who: Principal, m: ProbeModule, url: string, opts: { record: boolean; timeoutMs: number }): Promise<ProbeRun> {
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  const limits = await limitsFor(ctx, who);
  const input = ctx.inputs.forCreate({ url, plugins: [m.prober], config: { [m.prober]: m.given }, paused: !opts.record, tags: [PROBE_TAG] }, who.id, limits);
  // A temporary asset carries a mark: the client creating the same URL meanwhile adopts it, and then it stays.
  const mark = opts.record ? undefined : randomUUID();
  if (mark) input.temporaryMark = mark;
  let job: JobRecord | null = null;
  for (let attempt = 0; attempt < ATTEMPTS && Date.now() < deadline; attempt++) {
    const asset = await probeAsset(ctx, who, input, limits?.maxAssets);
    try {
      const [jobId] = await ctx.jobStore.enqueue([{ assetId: asset.id, owner: who.id }], MAX_PRIORITY);
      await ctx.sink.push([jobId!], MAX_PRIORITY);
      job = await waitForJob(ctx, jobId!, deadline);
      // The result is read here and nowhere else: the job's record is not kept for jobs.retentionSec.
      if (job?.status === 'done') await ctx.redis.del(ctx.keys.job(jobId!));
    } finally {
      if (asset.created && mark) await ctx.assets.deleteTemporary(asset.id, mark);
    }
    if (!(job?.status === 'failed' && job.error === 'asset_deleted')) break;
  }
  return { job, wallMs: Date.now() - started };
}
