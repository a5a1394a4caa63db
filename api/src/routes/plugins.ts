import type { ApiContext, App } from '../app.js';
import { PluginList } from '../schemas.js';

export function pluginRoutes(ctx: ApiContext) {
  const described = ctx.registry.describe();
  return async function routes(app: App) {
    app.get(
      '/plugins',
      { schema: { tags: ['plugins'], summary: 'Installed plugins with their option schemas and defaults', response: { 200: PluginList } } },
      async () => described,
    );
  };
}
