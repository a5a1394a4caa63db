/** Assets one by one: create, list, get, change, delete. */
import { WebmonError, type AssetRecord, type Principal } from '@webmon/core';
import { assetNotFound, ownerScope, visible } from '../access.js';
import type { ApiContext, App } from '../context.js';
import { limitsFor } from '../limits.js';
import { empty, error, response } from '../openapi.js';
import { presentAsset } from '../present.js';
import { Asset, AssetId, AssetInput, AssetList, AssetPatch, ListQuery, ref } from '../schemas/index.js';
import { pick, recordFields, selectedFields } from './asset-fields.js';

/** A listing's cursor: digits only (it is a position in the creation index). */
function cursorOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,15}$/.test(text)) throw new WebmonError('WEBMON_ERR_INVALID_CURSOR', 'cursor: not a cursor returned by this API');
  return Number(text);
}

export function assetRoutes(ctx: ApiContext) {
  const { assets, inputs, registry, maintenance } = ctx;
  const visibleAsset = async (id: string, who: Principal) => visible(await assets.get(id), who, assetNotFound(id));
  const present = async (a: AssetRecord) => presentAsset(a, registry, await maintenance.summaries());

  return async function routes(app: App) {
    app.post(
      '/assets',
      {
        config: { snapshot: true },
        schema: {
          tags: ['assets'],
          operationId: 'createAsset',
          summary: 'Create an asset (or return the existing one with the same URL)',
          body: ref(AssetInput),
          response: {
            200: response(Asset, 'An asset of yours already has this URL: that asset, unchanged'),
            201: response(Asset, 'The asset was created'),
            409: error(409),
          },
        },
      },
      async (req, reply) => {
        const limits = await limitsFor(ctx, req.principal);
        const input = inputs.forCreate(req.body, req.principal.id, limits);
        const { id, created } = await assets.create(input, undefined, { maxAssets: limits?.maxAssets });
        return reply.code(created ? 201 : 200).send(await present(await visibleAsset(id, req.principal)));
      },
    );

    app.get(
      '/assets',
      {
        schema: {
          tags: ['assets'],
          operationId: 'listAssets',
          summary: 'List assets, in creation order, with filters and cursor pagination',
          querystring: ListQuery,
          response: { 200: response(AssetList, 'A page of assets') },
        },
      },
      async (req) => {
        const q = req.query;
        const cursor = cursorOf(q.cursor);
        const fields = selectedFields(q.fields);
        const page = await assets.list({ owner: ownerScope(req.principal), state: q.state, plugin: q.plugin, tag: q.tag, q: q.q, cursor, limit: q.limit });
        const [records, windows] = await Promise.all([assets.getMany(page.ids, fields ? recordFields(fields) : undefined), maintenance.summaries()]);
        const view = (r: AssetRecord) => presentAsset(r, registry, windows);
        return {
          items: records.filter((r): r is AssetRecord => r !== null).map((r) => (fields ? pick(view(r), fields) : view(r))),
          nextCursor: page.next === null ? null : String(page.next),
        };
      },
    );

    app.get(
      '/assets/:id',
      {
        schema: {
          tags: ['assets'],
          operationId: 'getAsset',
          summary: 'Get an asset',
          params: AssetId,
          response: { 200: response(Asset, 'The asset') },
        },
      },
      async (req) => present(await visibleAsset(req.params.id, req.principal)),
    );

    app.patch(
      '/assets/:id',
      {
        config: { snapshot: true },
        schema: {
          tags: ['assets'],
          operationId: 'updateAsset',
          summary: 'Change an asset (URL, plugins, options, interval, tags, paused)',
          params: AssetId,
          body: ref(AssetPatch),
          response: { 200: response(Asset, 'The asset as changed'), 409: error(409, 'Another asset of yours has this URL, or the asset kept changing meanwhile') },
        },
      },
      async (req) => {
        const { id } = req.params;
        const limits = await limitsFor(ctx, req.principal);
        const updated = await assets.update(id, (cur) => inputs.forUpdate(visible(cur, req.principal, assetNotFound(id)), req.body, limits));
        return present(visible(updated, req.principal, assetNotFound(id)));
      },
    );

    app.delete(
      '/assets/:id',
      {
        config: { snapshot: true },
        schema: {
          tags: ['assets'],
          operationId: 'deleteAsset',
          summary: 'Delete an asset with its results',
          params: AssetId,
          response: { 204: empty('The asset and its results are deleted') },
        },
      },
      async (req, reply) => {
        const { id } = req.params;
        await visibleAsset(id, req.principal);
        if (!(await assets.delete(id))) throw assetNotFound(id)();
        return reply.code(204).send(null);
      },
    );
  };
}
