/** Assets one by one: create, get, change, delete. */
import type { AssetRecord, Principal } from '@webmon/core';
import { assetNotFound, visible } from '../access.js';
import type { ApiContext, App } from '../context.js';
import { limitsFor } from '../limits.js';
import { empty, error, response } from '../openapi.js';
import { presentAsset } from '../present.js';
import { Asset, AssetId, AssetInput, AssetPatch, ref } from '../schemas/index.js';

export function assetRoutes(ctx: ApiContext) {
  const { assets, inputs, registry, maintenance } = ctx;
  const visibleAsset = async (id: string, who: Principal) => visible(await assets.get(id), who, () => assetNotFound(id));
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
        const updated = await assets.update(id, (cur) => inputs.forUpdate(visible(cur, req.principal, () => assetNotFound(id)), req.body, limits));
        return present(visible(updated, req.principal, () => assetNotFound(id)));
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
        if (!(await assets.delete(id))) throw assetNotFound(id);
        return reply.code(204).send(null);
      },
    );
  };
}
