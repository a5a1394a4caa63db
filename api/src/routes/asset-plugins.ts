/** What plugins keep per asset (e.g. htmlstats' baseline). */
import { WebmonError, pluginStorage } from '@webmon/core';
import { assetNotFound, visible } from '../access.js';
import type { ApiContext, App } from '../context.js';
import { empty } from '../openapi.js';
import { PluginParams } from '../schemas/index.js';

export function assetPluginRoutes(ctx: ApiContext) {
  const { assets, registry } = ctx;
  return async function routes(app: App) {
    app.post(
      '/assets/:id/plugins/:plugin/reset',
      {
        schema: {
          tags: ['assets'],
          operationId: 'resetAssetPlugin',
          summary: "Forget what a plugin learned about the asset (e.g. htmlstats' baseline); it learns again",
          params: PluginParams,
          response: { 204: empty('Forgotten: the plugin learns again from the next check') },
        },
      },
      async (req, reply) => {
        const { id, plugin: name } = req.params;
        const a = visible(await assets.get(id), req.principal, () => assetNotFound(id));
        const plugin = registry.get(name);
        if (!plugin) throw new WebmonError('WEBMON_ERR_UNKNOWN_PLUGIN', `plugin: unknown plugin "${name}"`);
        if (!a.plugins.includes(name)) throw new WebmonError('WEBMON_ERR_PLUGIN_CONFIG', `plugin: "${name}" is not enabled on asset ${id}`);
        if (!plugin.reset) throw new WebmonError('WEBMON_ERR_PLUGIN_CONFIG', `plugin: "${name}" keeps nothing to reset`);
        await plugin.reset(pluginStorage(ctx.redis, ctx.keys, id, name));
        return reply.code(204).send(null);
      },
    );
  };
}
