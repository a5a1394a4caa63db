import Type from 'typebox';
import { ALL_OWNERS, StatsStore, WebmonError, errorBody, pluginStorage, resolutionFor, type AssetRecord, type Principal } from '@webmon/core';
import type { ApiContext, App } from '../app.js';
import { limitsFor } from '../limits.js';
import { iso, presentAsset } from '../present.js';
import {
  ASSET_FIELDS,
  Asset,
  AssetId,
  AssetInput,
  AssetList,
  AssetPatch,
  AssetStats,
  BatchInput,
  BatchResult,
  ListQuery,
  PluginParams,
  ResultsPage,
  ResultsQuery,
  StatsQuery,
  type AssetOut,
} from '../schemas.js';

const WINDOWS: Record<string, number> = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000, '365d': 365 * 86_400_000 };

/** The [from, to) of a stats query: a named window ending now, or an explicit range. */
export function windowOf(q: { window: string; from?: string | undefined; to?: string | undefined }, now = Date.now()): { from: number; to: number } {
  const to = q.to ? Date.parse(q.to) : now;
  const from = q.from ? Date.parse(q.from) : to - (WINDOWS[q.window] ?? 86_400_000);
  if (!(from < to)) throw new WebmonError('WEBMON_ERR_VALIDATION', 'querystring.from: must be before to');
  if (to - from > 366 * 86_400_000 * 5) throw new WebmonError('WEBMON_ERR_VALIDATION', 'querystring.from: windows are at most 5 years');
  return { from, to };
}

const E = { $ref: 'Error#' };

/** The asset if it exists and the principal may see it; 404 otherwise (never 403: ids do not leak). */
export function visible(a: AssetRecord | null, who: Principal, id: string): AssetRecord {
  if (!a || (!who.admin && a.owner !== who.id)) throw new WebmonError('WEBMON_ERR_ASSET_NOT_FOUND', `asset ${id} not found`);
  return a;
}

/** The stored fields each API field of an asset is made from (see presentAsset). */
const FIELD_SOURCES: Record<keyof AssetOut, Array<keyof AssetRecord>> = {
  id: ['id'],
  url: ['url'],
  owner: ['owner'],
  plugins: ['plugins'],
  config: ['config'],
  interval: ['interval'],
  tags: ['tags'],
  paused: ['paused'],
  state: ['state', 'maintenance'],
  stateReason: ['stateReason', 'maintenance'],
  stateChangedAt: ['stateChangedAt'],
  createdAt: ['createdAt'],
  updatedAt: ['updatedAt'],
  lastCheckAt: ['lastCheckAt'],
};

/** The fields a listing asks for (null: all), or WEBMON_ERR_VALIDATION naming an unknown one. */
export function selectedFields(spec: string | undefined): Array<keyof AssetOut> | null {
  if (spec === undefined) return null;
  const names = [...new Set(spec.split(','))];
  const unknown = names.find((n) => !(ASSET_FIELDS as string[]).includes(n));
  if (unknown !== undefined) {
    throw new WebmonError('WEBMON_ERR_VALIDATION', `querystring.fields: unknown field "${unknown}" (fields: ${ASSET_FIELDS.join(', ')})`, { field: unknown });
  }
  return names as Array<keyof AssetOut>;
}

function recordFields(fields: readonly (keyof AssetOut)[]): Array<keyof AssetRecord> {
  return [...new Set(fields.flatMap((f) => FIELD_SOURCES[f]))];
}

function pick(a: AssetOut, fields: readonly (keyof AssetOut)[]): Partial<AssetOut> {
  return Object.fromEntries(fields.map((f) => [f, a[f]]));
}

export function ownerScope(who: Principal): string {
  return who.admin ? ALL_OWNERS : who.id;
}

export function assetRoutes(ctx: ApiContext) {
  const { assets, inputs, registry, config, maintenance } = ctx;
  const stats = new StatsStore(ctx.redis, ctx.keys);

  return async function routes(app: App) {
    app.post(
      '/assets',
      {
        config: { snapshot: true },
        schema: {
          tags: ['assets'],
          summary: 'Create an asset (or return the existing one with the same URL)',
          body: AssetInput,
          response: { 200: Asset, 201: Asset, 400: E, 401: E, 409: E, 429: E },
        },
      },
      async (req, reply) => {
        const limits = await limitsFor(ctx, req.principal);
        const input = inputs.forCreate(req.body, req.principal.id, limits);
        const { id, created } = await assets.create(input, undefined, { maxAssets: limits?.maxAssets });
        const rec = visible(await assets.get(id), req.principal, id);
        return reply.code(created ? 201 : 200).send(presentAsset(rec, registry, await maintenance.summaries()));
      },
    );

    app.post(
      '/assets/batch',
      {
        config: { snapshot: true },
        schema: {
          tags: ['assets'],
          summary: 'Create many assets; each malformed item is reported by index, the valid ones are created',
          body: BatchInput,
          response: { 200: BatchResult, 400: E, 401: E, 413: E },
        },
      },
      async (req) => {
        const items = req.body.assets;
        if (items.length > config.api.maxBatch) {
          throw new WebmonError('WEBMON_ERR_BATCH_TOO_LARGE', `assets: at most ${config.api.maxBatch} items per request (got ${items.length})`);
        }
        const limits = await limitsFor(ctx, req.principal);
        const out: Array<{ index: number; id?: string; created?: boolean; error?: ReturnType<typeof errorBody> }> = [];
        const pending: Array<Promise<void>> = [];
        items.forEach((item, index) => {
          let prepared;
          try {
            prepared = inputs.forCreate(inputs.parseItem(typeof item === 'string' ? {} : item, `assets.${index}`), req.principal.id, limits);
          } catch (err) {
            if (!(err instanceof WebmonError)) throw err;
            const message = err.code === 'WEBMON_ERR_VALIDATION' ? err.message : `assets.${index}.${err.message}`;
            out[index] = { index, error: errorBody(err.code, message, err.details) };
            return;
          }
          pending.push(
            assets.create(prepared, undefined, { maxAssets: limits?.maxAssets }).then(
              ({ id, created }) => {
                out[index] = { index, id, created };
              },
              (err: unknown) => {
                if (!(err instanceof WebmonError)) throw err;
                out[index] = { index, error: errorBody(err.code, `assets.${index}: ${err.message}`, err.details) };
              },
            ),
          );
        });
        await Promise.all(pending);
        let created = 0;
        let existing = 0;
        let failed = 0;
        for (const it of out) {
          if (it.error) failed++;
          else if (it.created) created++;
          else existing++;
        }
        return { created, existing, failed, items: out };
      },
    );

    app.get(
      '/assets',
      {
        schema: {
          tags: ['assets'],
          summary: 'List assets, in creation order, with filters and cursor pagination',
          querystring: ListQuery,
          response: { 200: AssetList, 400: E, 401: E },
        },
      },
      async (req) => {
        const q = req.query;
        let cursor: number | undefined;
        if (q.cursor !== undefined) {
          if (!/^\d{1,15}$/.test(q.cursor)) throw new WebmonError('WEBMON_ERR_INVALID_CURSOR', 'cursor: not a cursor returned by this API');
          cursor = Number(q.cursor);
        }
        const fields = selectedFields(q.fields);
        const page = await assets.list({ owner: ownerScope(req.principal), state: q.state, plugin: q.plugin, tag: q.tag, q: q.q, cursor, limit: q.limit });
        const [records, windows] = await Promise.all([assets.getMany(page.ids, fields ? recordFields(fields) : undefined), maintenance.summaries()]);
        const present = (r: AssetRecord) => presentAsset(r, registry, windows);
        return {
          items: records.filter((r): r is AssetRecord => r !== null).map((r) => (fields ? pick(present(r), fields) : present(r))),
          nextCursor: page.next === null ? null : String(page.next),
        };
      },
    );

    app.get(
      '/assets/:id',
      { schema: { tags: ['assets'], summary: 'Get an asset', params: AssetId, response: { 200: Asset, 401: E, 404: E } } },
      async (req) => presentAsset(visible(await assets.get(req.params.id), req.principal, req.params.id), registry, await maintenance.summaries()),
    );

    app.patch(
      '/assets/:id',
      {
        config: { snapshot: true },
        schema: {
          tags: ['assets'],
          summary: 'Change an asset (URL, plugins, options, interval, tags, paused)',
          params: AssetId,
          body: AssetPatch,
          response: { 200: Asset, 400: E, 401: E, 404: E, 409: E },
        },
      },
      async (req) => {
        const { id } = req.params;
        const limits = await limitsFor(ctx, req.principal);
        const updated = await assets.update(id, (cur) => inputs.forUpdate(visible(cur, req.principal, id), req.body, limits));
        return presentAsset(visible(updated, req.principal, id), registry, await maintenance.summaries());
      },
    );

    app.delete(
      '/assets/:id',
      {
        config: { snapshot: true },
        schema: {
          tags: ['assets'],
          summary: 'Delete an asset with its results',
          params: AssetId,
          response: { 204: Type.Null(), 401: E, 404: E },
        },
      },
      async (req, reply) => {
        const { id } = req.params;
        visible(await assets.get(id), req.principal, id);
        if (!(await assets.delete(id))) throw new WebmonError('WEBMON_ERR_ASSET_NOT_FOUND', `asset ${id} not found`);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/assets/:id/plugins/:plugin/reset',
      {
        schema: {
          tags: ['assets'],
          summary: "Forget what a plugin learned about the asset (e.g. htmlstats' baseline); it learns again",
          params: PluginParams,
          response: { 204: Type.Null(), 400: E, 401: E, 404: E },
        },
      },
      async (req, reply) => {
        const { id, plugin: name } = req.params;
        const a = visible(await assets.get(id), req.principal, id);
        const plugin = registry.get(name);
        if (!plugin) throw new WebmonError('WEBMON_ERR_UNKNOWN_PLUGIN', `plugin: unknown plugin "${name}"`);
        if (!a.plugins.includes(name)) throw new WebmonError('WEBMON_ERR_PLUGIN_CONFIG', `plugin: "${name}" is not enabled on asset ${id}`);
        if (!plugin.reset) throw new WebmonError('WEBMON_ERR_PLUGIN_CONFIG', `plugin: "${name}" keeps nothing to reset`);
        await plugin.reset(pluginStorage(ctx.redis, ctx.keys, id, name));
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/assets/:id/stats',
      {
        schema: {
          tags: ['statistics'],
          summary: 'Uptime, checks, failures by reason, latency percentiles, time in state, transitions and a series, over a window',
          params: AssetId,
          querystring: StatsQuery,
          response: { 200: AssetStats, 400: E, 401: E, 404: E },
        },
      },
      async (req) => {
        const { id } = req.params;
        const a = visible(await assets.get(id), req.principal, id);
        const { from, to } = windowOf(req.query);
        const resolution = resolutionFor(to - from);
        const [window, transitions, latest] = await Promise.all([
          stats.window(id, resolution, from, to, req.query.points),
          stats.transitions(id, from, to),
          assets.latest(id),
        ]);
        const plugins: Record<string, unknown> = {};
        for (const name of a.plugins) {
          const plugin = registry.get(name);
          if (!plugin?.describe) continue;
          const learned = await plugin.describe(pluginStorage(ctx.redis, ctx.keys, id, name));
          // The latest z-scores sit in the latest result's metrics (z_<feature>).
          const metrics = (latest[name] as { metrics?: Record<string, number> } | undefined)?.metrics ?? {};
          const latestZ = Object.fromEntries(Object.entries(metrics).filter(([k]) => k.startsWith('z_')).map(([k, v]) => [k.slice(2), v]));
          plugins[name] = { ...learned, latestZ };
        }
        return {
          window: {
            ...window,
            from: iso(window.from)!,
            to: iso(window.to)!,
            transitions: transitions.map((t) => ({ ...t, at: iso(t.at)! })),
            series: window.series.map((p) => ({ ...p, t: iso(p.t)! })),
          },
          plugins,
          assetId: a.id,
          state: a.state,
          checks: a.checks,
          successes: a.okCount,
          failures: a.failCount,
          lastCheckAt: iso(a.lastCheckAt),
          lastDurationMs: a.lastDurationMs,
          lastOutcome: a.lastOutcome,
          latest: latest as never,
        };
      },
    );

    app.get(
      '/assets/:id/results',
      {
        schema: {
          tags: ['statistics'],
          summary: 'Raw results, newest first, paged with a cursor; time range and plugin filters',
          params: AssetId,
          querystring: ResultsQuery,
          response: { 200: ResultsPage, 400: E, 401: E, 404: E },
        },
      },
      async (req) => {
        const { id } = req.params;
        visible(await assets.get(id), req.principal, id);
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
