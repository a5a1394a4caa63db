/**
 * GET /metrics: this process's metrics and fleet gauges (public, or for the admin key, per
 * api.publicMetrics) and, with metrics.perAsset, series per asset scoped to the caller
 * (per-asset-metrics.ts; docs/metrics.md).
 */
import { Registry } from 'prom-client';
import { CONTENT_TYPE, WebmonError, processMetrics, registerFleetGauges, type Principal } from '@webmon/core';
import type { FastifyRequest } from 'fastify';
import { principalOf } from '../auth.js';
import type { ApiContext, App } from '../context.js';
import { METRICS_EXAMPLE } from '../examples.js';
import { error } from '../openapi.js';
import { PerAssetMetrics } from '../per-asset-metrics.js';

export function metricsRoutes(ctx: ApiContext) {
  // This process's metrics (an executor's too, in `webmon up`) plus fleet gauges from this api's Redis.
  const fleet = new Registry();
  registerFleetGauges(fleet, ctx.redis, ctx.keys);
  const registry = Registry.merge([processMetrics().registry, fleet]);
  const open = ctx.config.api.publicMetrics;
  const perAsset = ctx.config.metrics.perAsset ? new PerAssetMetrics(ctx) : null;
  // On the public route a key is optional: read (an unknown one refused) only when it changes which assets are shown.
  const caller = async (req: FastifyRequest): Promise<Principal | undefined> => {
    if (!open) return req.principal;
    return perAsset ? principalOf(ctx, req) : undefined;
  };
  return async function routes(app: App) {
    app.get(
      '/metrics',
      {
        schema: {
          tags: ['health'],
          operationId: 'getMetrics',
          summary: 'Prometheus metrics: checks by plugin and outcome, durations, assets by state, queue, executors, snapshot age; per asset with metrics.perAsset',
          description:
            'Fleet and process metrics for anyone when api.publicMetrics is set, else for the admin key. With metrics.perAsset, also webmon_asset_up, webmon_asset_state and webmon_asset_check_duration_seconds for the assets the key owns (the admin key: every asset); without a key, per metrics.perAssetPublic. A client key on a private /metrics sees its own per-asset series only.',
          response: {
            200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' }, example: METRICS_EXAMPLE } } },
            ...(open && perAsset ? { 401: error(401, 'The API key given is unknown or expired (a key is optional here)') } : {}),
          },
        },
      },
      async (req, reply) => {
        const who = await caller(req);
        const fleetShown = open || who?.admin === true;
        if (!fleetShown && !perAsset) throw new WebmonError('WEBMON_ERR_FORBIDDEN', 'metrics need the admin key');
        const scope = perAsset?.scope(who) ?? null;
        const parts = await Promise.all([fleetShown ? registry.metrics() : '', scope === null ? '' : perAsset!.render(scope, req.log)]);
        reply.header('content-type', CONTENT_TYPE);
        return parts.filter(Boolean).join('\n');
      },
    );
  };
}
