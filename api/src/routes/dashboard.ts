/**
 * The dashboard's static files (packages/dashboard/dist, built by `npm run build`, or
 * api.dashboardDir): index.html at `/` and `/status/:slug` (the page routes itself by hash),
 * never cached; hashed files under /static/ cached as immutable. The files present at start-up
 * are served (one route each, so that no wildcard shadows the API's 404s). Without a build,
 * `/` answers 404 saying how to build it.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { WebmonError } from '@webmon/core';
import type { FastifyReply } from 'fastify';
import type { ApiContext, App } from '../context.js';

/**
 * Headers of the dashboard's page: scripts only from this origin, no framing (clickjacking), no
 * plugins, no base or form target elsewhere. Styles may be inline (the charts set them).
 */
export const PAGE_SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
} as const;

/** packages/dashboard/dist of this install (same depth from api/src/routes and api/dist/routes). */
const DEFAULT_DIR = fileURLToPath(new URL('../../../packages/dashboard/dist/', import.meta.url));

export function dashboardDir(ctx: ApiContext): string {
  return resolve(ctx.config.api.dashboardDir ?? DEFAULT_DIR);
}

export function dashboardRoutes(ctx: ApiContext) {
  const root = dashboardDir(ctx);
  const built = existsSync(join(root, 'index.html'));
  return async function routes(app: App) {
    if (built) {
      await app.register(fastifyStatic, {
        root,
        prefix: '/',
        wildcard: false,
        index: false,
        setHeaders: (res, path) => {
          const hashed = path.startsWith(join(root, 'static/'));
          res.header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
          res.header('x-content-type-options', 'nosniff');
        },
      });
    }
    const index = async (_req: unknown, reply: FastifyReply) => {
      if (!built) throw new WebmonError('WEBMON_ERR_ROUTE_NOT_FOUND', `the dashboard is not built (no ${join(root, 'index.html')}): run npm run build`);
      return reply.header('cache-control', 'no-cache').headers(PAGE_SECURITY_HEADERS).sendFile('index.html', root);
    };
    app.get('/', { schema: { hide: true } }, index);
    app.get('/status/:slug', { schema: { hide: true } }, index);
  };
}
