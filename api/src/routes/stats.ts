import { StatsStore, aliveInstances } from '@webmon/core';
import type { ApiContext, App } from '../app.js';
import { FleetStatsSchema } from '../schemas.js';
import { ownerScope } from './assets.js';

const E = { $ref: 'Error#' };

export function statsRoutes(ctx: ApiContext) {
  const stats = new StatsStore(ctx.redis, ctx.keys);
  return async function routes(app: App) {
    app.get(
      '/stats',
      {
        schema: {
          tags: ['statistics'],
          summary: 'The fleet: assets by state, checks per second, queue depth, failed jobs, executors alive, scheduled checks skipped, the assets failing most',
          response: { 200: FleetStatsSchema, 401: E },
        },
      },
      async (req) => {
        const owner = ownerScope(req.principal);
        const [fleet, queue, executors, checksSkipped] = await Promise.all([
          stats.fleet(owner),
          ctx.jobStore.counts(),
          aliveInstances(ctx.redis, ctx.keys, 'executor'),
          ctx.jobStore.skippedChecks(owner),
        ]);
        const urls = await ctx.assets.getMany(fleet.failingMost.map((f) => f.assetId));
        return {
          ...fleet,
          failingMost: fleet.failingMost.map((f, i) => ({ ...f, url: urls[i]?.url ?? null })),
          queue,
          executorsAlive: executors.length,
          checksSkipped,
        };
      },
    );
  };
}
