import { aliveInstances } from '@webmon/core';
import type { ApiContext, App } from '../app.js';
import { Health } from '../schemas.js';

export function healthRoutes(ctx: ApiContext) {
  return async function routes(app: App) {
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
