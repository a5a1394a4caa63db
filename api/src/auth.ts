/**
 * Who may call what, as encapsulated fastify contexts: routes registered through
 * `authenticated(...)` need an API key (Authorization: Bearer <key>, or X-API-Key) and see
 * `req.principal`; routes registered through `publicRoutes(...)` need none and are documented
 * without security. Whatever else the root registers (the OpenAPI document and its UI) is public
 * too. A route outside both has no principal.
 */
import { WebmonError, type Principal } from '@webmon/core';
import type { FastifyRequest, RouteOptions } from 'fastify';
import type { ApiContext, App, Routes } from './context.js';
import { documentStatuses } from './openapi.js';

/** Statuses every authenticated route can answer: no or unknown key, not allowed, over a rate, Redis away. */
const AUTHENTICATED_STATUSES = [401, 403, 429, 503];

export function authenticated(ctx: ApiContext, ...routes: Routes[]): Routes {
  return async function authenticatedContext(app: App) {
    app.decorateRequest('principal', null as unknown as Principal);
    app.addHook('onRoute', (route: RouteOptions) => documentStatuses(route, AUTHENTICATED_STATUSES));
    app.addHook('onRequest', async (req: FastifyRequest) => {
      const principal = await principalOf(ctx, req);
      if (!principal) throw new WebmonError('WEBMON_ERR_UNAUTHORIZED', 'an API key is required (Authorization: Bearer <key>, or X-API-Key)');
      req.principal = principal;
    });
    for (const r of routes) await app.register(r);
  };
}

export function publicRoutes(...routes: Routes[]): Routes {
  return async function publicContext(app: App) {
    app.addHook('onRoute', (route: RouteOptions) => {
      route.schema = { ...route.schema, security: [] };
    });
    for (const r of routes) await app.register(r);
  };
}

/**
 * Who holds the request's API key; undefined when it carries none. An unknown key is refused
 * (401), also where a key is optional (a public route that shows more to a key).
 */
export async function principalOf(ctx: Pick<ApiContext, 'clients'>, req: FastifyRequest): Promise<Principal | undefined> {
  const key = apiKeyOf(req);
  if (!key) return undefined;
  const principal = await ctx.clients.authenticate(key);
  if (!principal) throw new WebmonError('WEBMON_ERR_UNAUTHORIZED', 'unknown API key');
  return principal;
}

function apiKeyOf(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const header = req.headers['x-api-key'];
  return typeof header === 'string' && header ? header : undefined;
}
