import { Registry } from 'prom-client';
import { CONTENT_TYPE, WebmonError, aliveInstances, processMetrics, registerFleetGauges } from '@webmon/core';
import type { ApiContext, App } from '../app.js';
import { Health } from '../schemas.js';

export function healthRoutes(ctx: ApiContext) {
  // This process's metrics (an executor's too, in `webmon up`) plus fleet gauges from this api's Redis.
  const fleet = new Registry();
  registerFleetGauges(fleet, ctx.redis, ctx.keys);
  const metrics = { registry: Registry.merge([processMetrics().registry, fleet]) };
  return async function routes(app: App) {
    app.get(
      '/metrics',
      {
        config: { auth: !ctx.config.api.publicMetrics },
        schema: {
          tags: ['health'],
          summary: 'Prometheus metrics: checks by plugin and outcome, durations, assets by state, queue, executors, snapshot age',
          ...(ctx.config.api.publicMetrics ? { security: [] } : {}),
          response: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } },
        },
      },
      async (req, reply) => {
        if (!ctx.config.api.publicMetrics && !req.principal?.admin) throw new WebmonError('WEBMON_ERR_FORBIDDEN', 'metrics need the admin key');
        reply.header('content-type', CONTENT_TYPE);
        return metrics.registry.metrics();
      },
    );

    app.get(
      '/health',
      {
        config: { auth: false },
        schema: {
          tags: ['health'],
          summary: 'Reachability of Redis and of the dispatcher (200 when both are fine, else 503)',
          security: [],
          response: { 200: Health, 503: Health },
        },
      },
      async (_req, reply) => {
        const started = performance.now();
        let redis: { ok: boolean; latencyMs?: number; error?: string };
        let dispatchers = 0;
        let executors = 0;
        try {
          await ctx.redis.ping();
          redis = { ok: true, latencyMs: Math.round((performance.now() - started) * 100) / 100 };
          [dispatchers, executors] = (
            await Promise.all([aliveInstances(ctx.redis, ctx.keys, 'dispatcher'), aliveInstances(ctx.redis, ctx.keys, 'executor')])
          ).map((l) => l.length) as [number, number];
        } catch (err) {
          redis = { ok: false, error: (err as Error).message };
        }
        const ok = redis.ok && dispatchers > 0;
        return reply.code(ok ? 200 : 503).send({
          status: ok ? 'ok' : 'degraded',
          redis,
          dispatcher: { ok: dispatchers > 0, instances: dispatchers },
          executors: { alive: executors },
        });
      },
    );
  };
}
