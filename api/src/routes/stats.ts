import { StatsStore, aliveInstances } from '@webmon/core';
import { ownerScope } from '../access.js';
import type { ApiContext, App } from '../context.js';
import { response } from '../openapi.js';
import { FleetStats } from '../schemas/index.js';

export function statsRoutes(ctx: ApiContext) {
  const stats = new StatsStore(ctx.redis, ctx.keys);
  return async function routes(app: App) {
    app.get(
      '/stats',
      {
        schema: {
          tags: ['statistics'],
          operationId: 'getFleetStats',
          summary: 'The fleet: assets by state, checks per second, queue depth, failed jobs, executors alive, scheduled checks skipped, the assets failing most',
          response: { 200: response(FleetStats, 'The fleet (your assets; the admin sees all)') },
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
