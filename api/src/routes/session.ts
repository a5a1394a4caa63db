/**
 * Dashboard sign-in: an API key exchanged for a session cookie (HttpOnly, SameSite=Strict,
 * Secure over TLS). Public routes: `POST /session` is rate-limited per client address
 * (api.signInPerMinute, counted in Redis across api processes).
 */
import { WebmonError, digestKey, type Session } from '@webmon/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SESSION_COOKIE, overTls, sessionIdOf, signedIn } from '../auth.js';
import type { ApiContext, App } from '../context.js';
import { error, response } from '../openapi.js';
import { iso } from '../present.js';
import { SessionInfo, SessionInput, SignedOut, ref } from '../schemas/index.js';

const present = (s: Session) => ({ principal: s.principal, csrfToken: s.csrfToken, expiresAt: iso(s.expiresAt)! });

function cookieOptions(ctx: ApiContext, req: FastifyRequest) {
  return { httpOnly: true, sameSite: 'strict' as const, path: '/', secure: overTls(ctx, req) };
}

function signInLimit(ctx: ApiContext) {
  const max = ctx.config.api.signInPerMinute;
  return {
    max,
    timeWindow: 60_000,
    keyGenerator: (req: FastifyRequest) => req.ip,
    // The global limit lets requests without a principal through; this one counts them all.
    allowList: () => false,
    errorResponseBuilder: (_req: FastifyRequest, c: { ttl: number }) => {
      const retryAfterSec = Math.ceil(c.ttl / 1000);
      return new WebmonError('WEBMON_ERR_RATE_LIMITED', `sign-in attempts: at most ${max} per minute from one address; retry in ${retryAfterSec} s`, { limit: max, retryAfterSec });
    },
  };
}

export function sessionRoutes(ctx: ApiContext) {
  return async function routes(app: App) {
    app.post(
      '/session',
      {
        config: { rateLimit: signInLimit(ctx) },
        schema: {
          tags: ['dashboard'],
          operationId: 'signIn',
          summary: 'Sign in to the dashboard with an API key: sets the session cookie (the key is not kept)',
          body: ref(SessionInput),
          response: { 200: response(SessionInfo, 'Signed in; the cookie webmon_session is set'), 401: error(401, 'Unknown, revoked or expired API key (WEBMON_ERR_UNAUTHORIZED)'), 429: error(429, 'Too many sign-in attempts from this address (WEBMON_ERR_RATE_LIMITED)') },
        },
      },
      async (req, reply) => {
        const principal = await ctx.clients.authenticate(req.body.key);
        if (!principal) throw new WebmonError('WEBMON_ERR_UNAUTHORIZED', 'unknown API key');
        const { id, session } = await ctx.sessions.create(principal, digestKey(req.body.key));
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
