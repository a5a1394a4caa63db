import { WebmonError, errorBody } from '@webmon/core';
import type { ApiContext, App } from '../app.js';
import { presentJob } from '../present.js';
import { FailedJobs, FailedQuery, Job, JobId, JobsCreated, JobsInput } from '../schemas.js';
import { jobsRateLimit } from '../limits.js';
import { ownerScope } from './assets.js';

const E = { $ref: 'Error#' };

export function jobRoutes(ctx: ApiContext) {
  const { assets, jobStore, sink, config } = ctx;
  return async function routes(app: App) {
    const rate = jobsRateLimit(app, ctx);
    app.post(
      '/jobs',
      {
        config: rate.config,
        preValidation: rate.preValidation,
        schema: {
          tags: ['jobs'],
          summary: 'Check assets now: one job per asset, by ids or by filter (a client may post tenants.limits.jobsPerMinute per minute)',
          body: JobsInput,
          response: { 202: JobsCreated, 400: E, 401: E, 429: E },
        },
      },
      async (req, reply) => {
        const { assetIds, filter, priority } = req.body;
        if ((assetIds === undefined) === (filter === undefined)) {
          throw new WebmonError('WEBMON_ERR_VALIDATION', 'body: give either assetIds or filter');
        }
        const max = config.api.maxBatch;
        const who = req.principal;
        const targets: Array<{ assetId: string; owner: string }> = [];
        const errors: Array<{ index: number; assetId: string; error: ReturnType<typeof errorBody> }> = [];
        if (assetIds) {
          if (assetIds.length > max) throw new WebmonError('WEBMON_ERR_BATCH_TOO_LARGE', `assetIds: at most ${max} per request (got ${assetIds.length})`);
          const owners = await assets.owners(assetIds);
          assetIds.forEach((assetId, index) => {
            const owner = owners[index];
            if (!owner || (!who.admin && owner !== who.id)) {
              errors.push({ index, assetId, error: errorBody('WEBMON_ERR_ASSET_NOT_FOUND', `assetIds.${index}: asset ${assetId} not found`) });
            } else targets.push({ assetId, owner });
          });
        } else {
          let cursor: number | undefined;
          for (;;) {
            const page = await assets.list({ owner: ownerScope(who), ...filter, cursor, limit: 1000 });
            const owners = await assets.owners(page.ids);
            page.ids.forEach((assetId, i) => {
              const owner = owners[i];
              if (owner) targets.push({ assetId, owner });
            });
            if (targets.length > max) {
              throw new WebmonError('WEBMON_ERR_BATCH_TOO_LARGE', `filter matches more than ${max} assets; narrow it or push in parts`);
            }
            if (page.next === null) break;
            cursor = page.next;
          }
        }
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
          summary: 'Jobs that failed for a system reason after every retry, newest first',
          querystring: FailedQuery,
          response: { 200: FailedJobs, 400: E, 401: E },
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
          summary: 'Queue a failed job again',
          params: JobId,
          response: { 202: Job, 401: E, 404: E, 409: E },
        },
      },
      async (req, reply) => {
        const job = await jobStore.get(req.params.id);
        if (!job || (!req.principal.admin && job.owner !== req.principal.id)) {
          throw new WebmonError('WEBMON_ERR_JOB_NOT_FOUND', `job ${req.params.id} not found`);
        }
        const res = await jobStore.retry(job.id);
        if (res === 'missing') throw new WebmonError('WEBMON_ERR_JOB_NOT_FOUND', `job ${req.params.id} not found`);
        if (res === 'not_failed') throw new WebmonError('WEBMON_ERR_JOB_NOT_FAILED', `job ${job.id} is ${job.status}, not failed`);
        await sink.push([job.id], job.priority);
        return reply.code(202).send(presentJob((await jobStore.get(job.id))!));
      },
    );

    app.get(
      '/jobs/:id',
      { schema: { tags: ['jobs'], summary: 'A job: status and results', params: JobId, response: { 200: Job, 401: E, 404: E } } },
      async (req) => {
        const job = await jobStore.get(req.params.id);
        if (!job || (!req.principal.admin && job.owner !== req.principal.id)) {
          throw new WebmonError('WEBMON_ERR_JOB_NOT_FOUND', `job ${req.params.id} not found`);
        }
        return presentJob(job);
      },
    );
  };
}
