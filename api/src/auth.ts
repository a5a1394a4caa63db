/**
 * Who may call what, as encapsulated fastify contexts: routes registered through
 * `authenticated(...)` need an API key (Authorization: Bearer <key>, or X-API-Key) or the
 * dashboard's session cookie (same principal as the key signed in with), and see
 * `req.principal`; routes registered through `publicRoutes(...)` need none and are documented
 * without security. Whatever else the root registers (the OpenAPI document and its UI) is public
 * too. A route outside both has no principal. The dashboard's sign-in routes (`signInRoutes`)
 * authenticate themselves: with the key they are given, or with the session cookie.
 */
import type { TLSSocket } from 'node:tls';
import { WebmonError, sameToken, type Principal, type Session } from '@webmon/core';
import type { FastifyRequest, RouteOptions } from 'fastify';
import type { ApiContext, App, Routes } from './context.js';
import { documentStatuses } from './openapi.js';

/** Statuses every authenticated route can answer: no or unknown key, not allowed, over a rate, Redis away. */
export const AUTHENTICATED_STATUSES = [401, 403, 429, 503];

export function authenticated(ctx: ApiContext, ...routes: Routes[]): Routes {
  return async function authenticatedContext(app: App) {
    app.decorateRequest('principal', null as unknown as Principal);
    app.addHook('onRoute', (route: RouteOptions) => documentStatuses(route, AUTHENTICATED_STATUSES));
    app.addHook('onRequest', async (req: FastifyRequest) => {
      const key = apiKeyOf(req);
      if (!key) {
        if (sessionIdOf(req) === undefined) throw new WebmonError('WEBMON_ERR_UNAUTHORIZED', 'an API key is required (Authorization: Bearer <key>, or X-API-Key)');
        req.principal = (await signedIn(ctx, req, { csrf: true })).principal;
        return;
      }
      const principal = await ctx.clients.authenticate(key);
      if (!principal) throw new WebmonError('WEBMON_ERR_UNAUTHORIZED', 'unknown API key');
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

export function apiKeyOf(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const header = req.headers['x-api-key'];
  return typeof header === 'string' && header ? header : undefined;
}

/** The cookie holding the dashboard's session id. */
export const SESSION_COOKIE = 'webmon_session';
/** The header a cookie-authenticated request that changes something carries its session's CSRF token in. */
export const CSRF_HEADER = 'x-webmon-csrf';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function sessionIdOf(req: FastifyRequest): string | undefined {
  const id = req.cookies?.[SESSION_COOKIE];
  return id ? id : undefined;
}

/**
 * The session of the request's cookie, with the principal of the key it was opened with (checked
 * again: a revoked key ends its sessions). `csrf`: a method other than GET/HEAD/OPTIONS must carry
 * the session's CSRF token, else 403 WEBMON_ERR_CSRF. 401 without a live session.
 */
export async function signedIn(ctx: ApiContext, req: FastifyRequest, opts: { csrf: boolean }): Promise<Session & { id: string }> {
  const id = sessionIdOf(req);
  const session = id === undefined ? null : await ctx.sessions.use(id);
  if (!id || !session) throw new WebmonError('WEBMON_ERR_UNAUTHORIZED', 'not signed in, or the session has ended: sign in again');
  const principal = await ctx.clients.authenticateDigest(session.keyDigest);
  if (!principal || principal.id !== session.principal.id) {
    await ctx.sessions.delete(id);
    throw new WebmonError('WEBMON_ERR_UNAUTHORIZED', 'the API key of this session was revoked: sign in again');
  }
  if (opts.csrf && !SAFE_METHODS.has(req.method)) {
    const token = req.headers[CSRF_HEADER];
    if (typeof token !== 'string' || !sameToken(token, session.csrfToken)) {
      throw new WebmonError('WEBMON_ERR_CSRF', `a signed-in request that changes something needs the header ${CSRF_HEADER} with the session's csrfToken`);
    }
  }
  return { ...session, principal, id };
}

/** Whether the client reached this api over TLS (itself, or a trusted proxy saying so): the session cookie is then Secure. */
export function overTls(ctx: ApiContext, req: FastifyRequest): boolean {
  if ((req.raw.socket as Partial<TLSSocket>).encrypted === true) return true;
  if (!ctx.config.api.trustForwardedProto) return false;
  const proto = req.headers['x-forwarded-proto'];
  return typeof proto === 'string' && proto.split(',')[0]!.trim().toLowerCase() === 'https';
}
