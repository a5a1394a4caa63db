import type { ApiContext, App } from '../context.js';
import { response } from '../openapi.js';
import { PluginList } from '../schemas/index.js';

export function pluginRoutes(ctx: ApiContext) {
  const described = ctx.registry.describe();
  return async function routes(app: App) {
    app.get(
      '/plugins',
      {
        schema: {
          tags: ['plugins'],
          operationId: 'listPlugins',
          summary: 'Installed plugins with their option schemas and defaults',
          response: { 200: response(PluginList, 'The installed plugins') },
        },
      },
      async () => described,
    );
  };
}
