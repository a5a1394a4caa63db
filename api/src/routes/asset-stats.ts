/** Statistics and raw results of one asset. */
import { StatsStore, WebmonError, pluginStorage, resolutionFor, type AssetRecord, type CheckResult } from '@webmon/core';
import { assetNotFound, visible } from '../access.js';
import type { ApiContext, App } from '../context.js';
import { response } from '../openapi.js';
import { iso } from '../present.js';
import { AssetId, AssetStats, ResultsPage, ResultsQuery, StatsQuery } from '../schemas/index.js';

const WINDOWS: Record<string, number> = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000, '365d': 365 * 86_400_000 };

/** The [from, to) of a stats query: a named window ending now, or an explicit range. */
export function windowOf(q: { window: string; from?: string | undefined; to?: string | undefined }, now = Date.now()): { from: number; to: number } {
  const to = q.to ? Date.parse(q.to) : now;
  const from = q.from ? Date.parse(q.from) : to - (WINDOWS[q.window] ?? 86_400_000);
  if (!(from < to)) throw new WebmonError('WEBMON_ERR_VALIDATION', 'querystring.from: must be before to');
  if (to - from > 366 * 86_400_000 * 5) throw new WebmonError('WEBMON_ERR_VALIDATION', 'querystring.from: windows are at most 5 years');
  return { from, to };
}

/** What each plugin of the asset learned, with the latest z-scores (z_<feature> metrics of its latest result). */
async function learned(ctx: ApiContext, a: AssetRecord, latest: Record<string, unknown>): Promise<Record<string, unknown>> {
  const plugins: Record<string, unknown> = {};
  for (const name of a.plugins) {
    const plugin = ctx.registry.get(name);
    if (!plugin?.describe) continue;
    const state = await plugin.describe(pluginStorage(ctx.redis, ctx.keys, a.id, name));
    const metrics = (latest[name] as { metrics?: Record<string, number> } | undefined)?.metrics ?? {};
    const latestZ = Object.fromEntries(Object.entries(metrics).filter(([k]) => k.startsWith('z_')).map(([k, v]) => [k.slice(2), v]));
    plugins[name] = { ...state, latestZ };
  }
  return plugins;
}

export function assetStatsRoutes(ctx: ApiContext) {
  const { assets } = ctx;
  const stats = new StatsStore(ctx.redis, ctx.keys);

  async function assetStats(a: AssetRecord, query: { window: string; from?: string | undefined; to?: string | undefined; points: number }) {
    const { from, to } = windowOf(query);
    const [window, transitions, latest] = await Promise.all([
      stats.window(a.id, resolutionFor(to - from), from, to, query.points),
      stats.transitions(a.id, from, to),
      assets.latest(a.id),
    ]);
    return {
      window: {
        ...window,
        from: iso(window.from)!,
        to: iso(window.to)!,
        transitions: transitions.map((t) => ({ ...t, at: iso(t.at)! })),
        series: window.series.map((p) => ({ ...p, t: iso(p.t)! })),
      },
      plugins: await learned(ctx, a, latest),
      assetId: a.id,
      state: a.state,
      checks: a.checks,
      successes: a.okCount,
      failures: a.failCount,
      lastCheckAt: iso(a.lastCheckAt),
      lastDurationMs: a.lastDurationMs,
      lastOutcome: a.lastOutcome,
      latest: latest as Record<string, CheckResult>,
    };
  }

  return async function routes(app: App) {
    app.get(
      '/assets/:id/stats',
      {
        schema: {
          tags: ['statistics'],
          operationId: 'getAssetStats',
          summary: 'Uptime, checks, failures by reason, latency percentiles, time in state, transitions and a series, over a window',
          params: AssetId,
          querystring: StatsQuery,
          response: { 200: response(AssetStats, 'The asset over the window') },
        },
      },
      async (req) => assetStats(visible(await assets.get(req.params.id), req.principal, () => assetNotFound(req.params.id)), req.query),
    );

    app.get(
      '/assets/:id/results',
      {
        schema: {
          tags: ['statistics'],
          operationId: 'listAssetResults',
          summary: 'Raw results, newest first, paged with a cursor; time range and plugin filters',
          params: AssetId,
          querystring: ResultsQuery,
          response: { 200: response(ResultsPage, 'A page of results, newest first') },
        },
      },
      async (req) => {
        const { id } = req.params;
        visible(await assets.get(id), req.principal, () => assetNotFound(id));
        const q = req.query;
        const from = q.from ? Date.parse(q.from) : 0;
        const to = q.to ? Date.parse(q.to) : Date.now();
        if (from > to) throw new WebmonError('WEBMON_ERR_VALIDATION', 'querystring.from: must be before to');
        const page = await stats.results(id, { from, to, before: q.cursor, limit: q.limit, plugin: q.plugin });
        return {
          items: page.items.map((r) => ({ at: iso(r.at)!, jobId: r.jobId, outcome: r.outcome, results: r.results })),
          nextCursor: page.next,
        };
      },
    );
  };
}
