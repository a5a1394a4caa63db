/** Jobs: check assets now, see a job, list and retry failed ones. */
import { WebmonError, errorBody, type ErrorBody, type Principal } from '@webmon/core';
import { jobNotFound, mayAccess, ownerScope, visible } from '../access.js';
import type { ApiContext, App } from '../context.js';
import { jobsRateLimit } from '../limits.js';
import { error, response } from '../openapi.js';
import { presentJob } from '../present.js';
import { FailedJobs, FailedQuery, Job, JobId, JobsCreated, JobsInput, ref, type JobsFilter } from '../schemas/index.js';

type Target = { assetId: string; owner: string };
type Refused = { index: number; assetId: string; error: ErrorBody };

/** The listed assets the principal may check; the others are refused as not found, by index. */
async function targetsByIds(ctx: ApiContext, who: Principal, assetIds: readonly string[]): Promise<{ targets: Target[]; errors: Refused[] }> {
  const max = ctx.config.api.maxBatch;
  if (assetIds.length > max) throw new WebmonError('WEBMON_ERR_BATCH_TOO_LARGE', `assetIds: at most ${max} per request (got ${assetIds.length})`);
  const targets: Target[] = [];
  const errors: Refused[] = [];
  const owners = await ctx.assets.owners(assetIds);
  assetIds.forEach((assetId, index) => {
    const owner = owners[index];
    if (!owner || !mayAccess(who, owner)) {
      errors.push({ index, assetId, error: errorBody('WEBMON_ERR_ASSET_NOT_FOUND', `assetIds.${index}: asset ${assetId} not found`) });
    } else targets.push({ assetId, owner });
  });
  return { targets, errors };
}

/** Every asset of the principal's scope that matches the filter (at most api.maxBatch of them). */
async function targetsByFilter(ctx: ApiContext, who: Principal, filter: JobsFilter): Promise<Target[]> {
  const max = ctx.config.api.maxBatch;
  const targets: Target[] = [];
  let cursor: number | undefined;
  for (;;) {
    const page = await ctx.assets.list({ owner: ownerScope(who), ...filter, cursor, limit: 1000 });
    const owners = await ctx.assets.owners(page.ids);
    page.ids.forEach((assetId, i) => {
      const owner = owners[i];
      if (owner) targets.push({ assetId, owner });
    });
    if (targets.length > max) throw new WebmonError('WEBMON_ERR_BATCH_TOO_LARGE', `filter matches more than ${max} assets; narrow it or push in parts`);
    if (page.next === null) return targets;
    cursor = page.next;
  }
}

export function jobRoutes(ctx: ApiContext) {
  const { jobStore, sink } = ctx;
  const visibleJob = async (id: string, who: Principal) => visible(await jobStore.get(id), who, () => jobNotFound(id));

  return async function routes(app: App) {
    const rate = jobsRateLimit(app, ctx);
    app.post(
      '/jobs',
      {
        config: rate.config,
        preValidation: rate.preValidation,
        schema: {
          tags: ['jobs'],
          operationId: 'createJobs',
          summary: 'Check assets now: one job per asset, by ids or by filter (a client may post tenants.limits.jobsPerMinute per minute)',
          body: ref(JobsInput),
          response: { 202: response(JobsCreated, 'The jobs are queued') },
        },
      },
      async (req, reply) => {
        const { assetIds, filter, priority } = req.body;
        if ((assetIds === undefined) === (filter === undefined)) throw new WebmonError('WEBMON_ERR_VALIDATION', 'body: give either assetIds or filter');
        const { targets, errors } = assetIds ? await targetsByIds(ctx, req.principal, assetIds) : { targets: await targetsByFilter(ctx, req.principal, filter!), errors: [] };
        const ids = targets.length ? await jobStore.enqueue(targets, priority) : [];
        if (ids.length) await sink.push(ids, priority);
        return reply.code(202).send({ jobs: ids.map((id, i) => ({ id, assetId: targets[i]!.assetId })), errors });
      },
    );

    app.get(
      '/jobs/failed',
      {
        schema: {
          tags: ['jobs'],
          operationId: 'listFailedJobs',
          summary: 'Jobs that failed for a system reason after every retry, newest first',
          querystring: FailedQuery,
          response: { 200: response(FailedJobs, 'A page of failed jobs, newest first') },
        },
      },
      async (req) => {
        const { jobs, more } = await jobStore.listFailed(ownerScope(req.principal), req.query.offset, req.query.limit);
        return { items: jobs.map(presentJob), more };
      },
    );

    app.post(
      '/jobs/:id/retry',
      {
        schema: {
          tags: ['jobs'],
          operationId: 'retryJob',
          summary: 'Queue a failed job again',
          params: JobId,
          response: {
            202: response(Job, 'The job is queued again'),
            409: error(409, 'The job has not failed (WEBMON_ERR_JOB_NOT_FAILED)'),
          },
        },
      },
      async (req, reply) => {
        const job = await visibleJob(req.params.id, req.principal);
        const res = await jobStore.retry(job.id);
        if (res === 'missing') throw jobNotFound(req.params.id);
        if (res === 'not_failed') throw new WebmonError('WEBMON_ERR_JOB_NOT_FAILED', `job ${job.id} is ${job.status}, not failed`);
        await sink.push([job.id], job.priority);
        return reply.code(202).send(presentJob((await jobStore.get(job.id))!));
      },
    );

    app.get(
      '/jobs/:id',
      {
        schema: {
          tags: ['jobs'],
          operationId: 'getJob',
          summary: 'A job: status and results',
          params: JobId,
          response: { 200: response(Job, 'The job') },
        },
      },
      async (req) => presentJob(await visibleJob(req.params.id, req.principal)),
    );
  };
}
