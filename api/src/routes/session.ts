/**
 * Dashboard sign-in: an API key exchanged for a session cookie (HttpOnly, SameSite=Strict,
 * Secure over TLS). These routes authenticate themselves (the key given to `POST /session`, in
 * the body or as a bearer token; the cookie for the others) and are documented like routes
 * behind a key. `POST /session` is rate-limited per client address (api.signInPerMinute, counted
 * in Redis across api processes).
 */
import { WebmonError, digestKey, type Session } from '@webmon/core';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { AUTHENTICATED_STATUSES, SESSION_COOKIE, apiKeyOf, overTls, sessionIdOf, signedIn } from '../auth.js';
import type { ApiContext, App } from '../context.js';
import { perAddressLimit } from '../limits.js';
import { documentStatuses, error, response } from '../openapi.js';
import { iso } from '../present.js';
import { SessionInfo, SessionInput, SignedOut, ref } from '../schemas/index.js';

const present = (s: Session) => ({ principal: s.principal, csrfToken: s.csrfToken, expiresAt: iso(s.expiresAt)! });

function cookieOptions(ctx: ApiContext, req: FastifyRequest) {
  return { httpOnly: true, sameSite: 'strict' as const, path: '/', secure: overTls(ctx, req) };
}

function signInLimit(ctx: ApiContext) {
  return perAddressLimit(ctx.config.api.signInPerMinute, 'sign-in attempts');
}

export function signInRoutes(ctx: ApiContext) {
  return async function routes(app: App) {
    app.addHook('onRoute', (route: RouteOptions) => documentStatuses(route, AUTHENTICATED_STATUSES));
    app.post(
      '/session',
      {
        config: { rateLimit: signInLimit(ctx) },
        schema: {
          tags: ['dashboard'],
          operationId: 'signIn',
          summary: 'Sign in to the dashboard with an API key (in the body, or as a bearer token): sets the session cookie (the key is not kept)',
          security: [{ bearer: [] }],
          body: ref(SessionInput),
          response: { 200: response(SessionInfo, 'Signed in; the cookie webmon_session is set'), 401: error(401, 'Unknown, revoked or expired API key (WEBMON_ERR_UNAUTHORIZED)'), 429: error(429, 'Too many sign-in attempts from this address (WEBMON_ERR_RATE_LIMITED)') },
        },
      },
      async (req, reply) => {
        const key = req.body?.key ?? apiKeyOf(req);
        if (!key) throw new WebmonError('WEBMON_ERR_UNAUTHORIZED', 'an API key is required: {"key": "<API key>"}');
        const principal = await ctx.clients.authenticate(key);
        if (!principal) throw new WebmonError('WEBMON_ERR_UNAUTHORIZED', 'unknown API key');
        // Signing in again ends the session the browser had: one session per sign-in, none left behind.
        const previous = sessionIdOf(req);
        if (previous !== undefined) await ctx.sessions.delete(previous);
        const { id, session } = await ctx.sessions.create(principal, digestKey(key));
        reply.setCookie(SESSION_COOKIE, id, cookieOptions(ctx, req));
        return present(session);
      },
    );

    app.get(
      '/session',
      {
        schema: {
          tags: ['dashboard'],
          operationId: 'getSession',
          security: [{ session: [] }],
          summary: 'The signed-in session of the cookie, with its CSRF token',
          response: { 200: response(SessionInfo, 'Signed in'), 401: error(401, 'Not signed in, or the session ended (WEBMON_ERR_UNAUTHORIZED)') },
        },
      },
      async (req) => present(await signedIn(ctx, req, { csrf: false })),
    );

    app.delete(
      '/session',
      {
        schema: {
          tags: ['dashboard'],
          operationId: 'signOut',
          security: [{ session: [] }],
          summary: 'Sign out: ends the session (needs the x-webmon-csrf header) and clears the cookie',
          response: { 200: response(SignedOut, 'Signed out (also when the session had already ended)'), 403: error(403, 'No or a wrong CSRF token (WEBMON_ERR_CSRF)') },
        },
      },
      async (req: FastifyRequest, reply: FastifyReply) => {
        const id = sessionIdOf(req);
        if (id !== undefined) {
          const live = await signedIn(ctx, req, { csrf: true }).catch((err: unknown) => {
            if (err instanceof WebmonError && err.code === 'WEBMON_ERR_UNAUTHORIZED') return null;
            throw err;
          });
          if (live) await ctx.sessions.delete(live.id);
        }
        reply.clearCookie(SESSION_COOKIE, cookieOptions(ctx, req));
        return reply.send({ signedOut: true });
      },
    );
  };
}
