import Type from 'typebox';
import { ALL_OWNERS, WebmonError, errorBody, pluginStorage, type AssetRecord, type Principal } from '@webmon/core';
import type { ApiContext, App } from '../app.js';
import { presentAsset } from '../present.js';
import {
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
} from '../schemas.js';

const E = { $ref: 'Error#' };

/** The asset if it exists and the principal may see it; 404 otherwise (never 403: ids do not leak). */
export function visible(a: AssetRecord | null, who: Principal, id: string): AssetRecord {
  if (!a || (!who.admin && a.owner !== who.id)) throw new WebmonError('WEBMON_ERR_ASSET_NOT_FOUND', `asset ${id} not found`);
  return a;
}

export function ownerScope(who: Principal): string {
  return who.admin ? ALL_OWNERS : who.id;
}

export function assetRoutes(ctx: ApiContext) {
  const { assets, inputs, registry, config, maintenance } = ctx;

  return async function routes(app: App) {
    app.post(
      '/assets',
      {
        config: { snapshot: true },
        schema: {
          tags: ['assets'],
          summary: 'Create an asset (or return the existing one with the same URL)',
          body: AssetInput,
          response: { 200: Asset, 201: Asset, 400: E, 401: E, 409: E },
        },
      },
      async (req, reply) => {
        const input = inputs.forCreate(req.body, req.principal.id);
        const { id, created } = await assets.create(input);
        const rec = visible(await assets.get(id), req.principal, id);
        return reply.code(created ? 201 : 200).send(presentAsset(rec, registry, await maintenance.all()));
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
        const out: Array<{ index: number; id?: string; created?: boolean; error?: ReturnType<typeof errorBody> }> = [];
        const pending: Array<Promise<void>> = [];
        items.forEach((item, index) => {
          let prepared;
          try {
            prepared = inputs.forCreate(inputs.parseItem(typeof item === 'string' ? {} : item, `assets.${index}`), req.principal.id);
          } catch (err) {
            if (!(err instanceof WebmonError)) throw err;
            const message = err.code === 'WEBMON_ERR_VALIDATION' ? err.message : `assets.${index}.${err.message}`;
            out[index] = { index, error: errorBody(err.code, message, err.details) };
            return;
          }
          pending.push(
            assets.create(prepared).then(({ id, created }) => {
              out[index] = { index, id, created };
            }),
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
        const page = await assets.list({ owner: ownerScope(req.principal), state: q.state, plugin: q.plugin, tag: q.tag, q: q.q, cursor, limit: q.limit });
        const [records, windows] = await Promise.all([assets.getMany(page.ids), maintenance.all()]);
        return {
          items: records.filter((r): r is AssetRecord => r !== null).map((r) => presentAsset(r, registry, windows)),
          nextCursor: page.next === null ? null : String(page.next),
        };
      },
    );

    app.get(
      '/assets/:id',
      { schema: { tags: ['assets'], summary: 'Get an asset', params: AssetId, response: { 200: Asset, 401: E, 404: E } } },
      async (req) => presentAsset(visible(await assets.get(req.params.id), req.principal, req.params.id), registry, await maintenance.all()),
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
        const updated = await assets.update(id, (cur) => inputs.forUpdate(visible(cur, req.principal, id), req.body));
        return presentAsset(visible(updated, req.principal, id), registry, await maintenance.all());
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
          summary: 'Latest result per plugin and simple counts',
          params: AssetId,
          response: { 200: AssetStats, 401: E, 404: E },
        },
      },
      async (req) => {
        const { id } = req.params;
        const a = visible(await assets.get(id), req.principal, id);
        const latest = await assets.latest(id);
        return {
          assetId: a.id,
          state: a.state,
          checks: a.checks,
          successes: a.okCount,
          failures: a.failCount,
          lastCheckAt: a.lastCheckAt === null ? null : new Date(a.lastCheckAt).toISOString(),
          lastDurationMs: a.lastDurationMs,
          lastOutcome: a.lastOutcome,
          latest: latest as never,
        };
      },
    );
  };
}
