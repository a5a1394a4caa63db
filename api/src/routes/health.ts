/** Health (public) and Prometheus metrics (public or admin-only, per api.publicMetrics). */
import { Registry } from 'prom-client';
import { CONTENT_TYPE, WebmonError, aliveInstances, processMetrics, registerFleetGauges, round } from '@webmon/core';
import type { ApiContext, App } from '../context.js';
import { METRICS_EXAMPLE } from '../examples.js';
import { response } from '../openapi.js';
import { Health } from '../schemas/index.js';

type RedisHealth = { ok: boolean; latencyMs?: number; error?: string };

/** Redis's round trip, and how many dispatchers and executors are alive. */
async function probe(ctx: ApiContext): Promise<{ redis: RedisHealth; dispatchers: number; executors: number }> {
  const started = performance.now();
  try {
    await ctx.redis.ping();
    const redis = { ok: true, latencyMs: round(performance.now() - started) };
    const [dispatchers, executors] = (
      await Promise.all([aliveInstances(ctx.redis, ctx.keys, 'dispatcher'), aliveInstances(ctx.redis, ctx.keys, 'executor')])
    ).map((l) => l.length) as [number, number];
    return { redis, dispatchers, executors };
  } catch (err) {
    return { redis: { ok: false, error: (err as Error).message }, dispatchers: 0, executors: 0 };
  }
}

export function healthRoutes(ctx: ApiContext) {
  return async function routes(app: App) {
    app.get(
      '/health',
      {
        schema: {
          tags: ['health'],
          operationId: 'getHealth',
          summary: 'Reachability of Redis and of the dispatcher (200 when both are fine, else 503)',
          response: {
            200: response(Health, 'Redis and a dispatcher are reachable'),
            503: response(Health, 'Redis or every dispatcher is unreachable'),
          },
        },
      },
      async (_req, reply) => {
        const { redis, dispatchers, executors } = await probe(ctx);
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

export function metricsRoutes(ctx: ApiContext) {
  // This process's metrics (an executor's too, in `webmon up`) plus fleet gauges from this api's Redis.
  const fleet = new Registry();
  registerFleetGauges(fleet, ctx.redis, ctx.keys);
  const registry = Registry.merge([processMetrics().registry, fleet]);
  const open = ctx.config.api.publicMetrics;
  return async function routes(app: App) {
    app.get(
      '/metrics',
      {
        schema: {
          tags: ['health'],
          operationId: 'getMetrics',
          summary: 'Prometheus metrics: checks by plugin and outcome, durations, assets by state, queue, executors, snapshot age',
          response: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' }, example: METRICS_EXAMPLE } } } },
        },
      },
      async (req, reply) => {
        if (!open && !req.principal.admin) throw new WebmonError('WEBMON_ERR_FORBIDDEN', 'metrics need the admin key');
        reply.header('content-type', CONTENT_TYPE);
        return registry.metrics();
      },
    );
  };
}
