/** Health (public); Prometheus metrics are in metrics.ts. */
import { aliveInstances, round } from '@webmon/core';
import type { ApiContext, App } from '../context.js';
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
