/**
 * Per-client quotas and request rates (tenants.limits, with the admin's per-client overrides).
 * The admin key is never limited.
 *
 * Rates are counted in Redis by @fastify/rate-limit's Redis store, so every api process shares
 * the counts: all requests per second (`requestsPerSecond`) and `POST /jobs` per minute
 * (`jobsPerMinute`). The counters are keyed by client id, so they run after authentication (a
 * preValidation hook: a malformed request counts too). Over a rate: 429 WEBMON_ERR_RATE_LIMITED
 * with Retry-After (seconds).
 */
import rateLimit, { type RateLimitOptions } from '@fastify/rate-limit';
import { WebmonError, effectiveLimits, type ClientLimits, type Keys, type Principal } from '@webmon/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiContext, App } from './context.js';

/** The limits of a client (its settings are read at most every few seconds). */
export async function limitsOf(ctx: ApiContext, clientId: string): Promise<ClientLimits> {
  return effectiveLimits(ctx.config, await ctx.clients.cachedSettings(clientId));
}

/** The limits that apply to a request: null for the admin key. */
export async function limitsFor(ctx: ApiContext, who: Principal): Promise<ClientLimits | null> {
  return who.admin ? null : limitsOf(ctx, who.id);
}

/** Requests without a key (health, docs) and the admin's are not counted. */
const unlimited = (req: FastifyRequest) => !req.principal || req.principal.admin;

function rateLimited(max: number, per: string, what: string, retryAfterSec: number): WebmonError {
  return new WebmonError('WEBMON_ERR_RATE_LIMITED', `${what}: at most ${max} per ${per} for this client; retry in ${retryAfterSec} s`, { limit: max, retryAfterSec });
}

/** Registers the per-second limit on every route defined after it (call before the routes). */
export async function registerRateLimits(app: App, ctx: ApiContext): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    hook: 'preValidation',
    redis: ctx.redis,
    nameSpace: ctx.keys.rateLimitPrefix,
    keyGenerator: (req) => req.principal?.id ?? '',
    allowList: unlimited,
    max: async (req) => (await limitsOf(ctx, req.principal.id)).requestsPerSecond,
    timeWindow: 1000,
    errorResponseBuilder: (_req, c) => rateLimited(c.max, 'second', 'requests', Math.ceil(c.ttl / 1000)),
  });
}

/**
 * Route rate limit of requests without a key (sign-in, public pages and badges): `max` per
 * minute per client address. The global limit lets requests without a principal through; this
 * one counts them all.
 */
export function perAddressLimit(max: number, what: string) {
  return {
    max,
    timeWindow: 60_000,
    keyGenerator: (req: FastifyRequest) => req.ip,
    allowList: () => false,
    errorResponseBuilder: (_req: FastifyRequest, c: { ttl: number }) => {
      const retryAfterSec = Math.ceil(c.ttl / 1000);
      return new WebmonError('WEBMON_ERR_RATE_LIMITED', `${what}: at most ${max} per minute from one address; retry in ${retryAfterSec} s`, { limit: max, retryAfterSec });
    },
  };
}

/**
 * Route options of `POST /jobs`: its own per-minute counter, plus the per-second check that a
 * route-level rate limit would otherwise replace (same counter as every other route).
 */
export function jobsRateLimit(app: App, ctx: ApiContext): { config: { rateLimit: RateLimitOptions }; preValidation: (req: FastifyRequest, reply: FastifyReply) => Promise<void> } {
  const perSecond = app.createRateLimit();
  return {
    config: {
      rateLimit: {
        max: async (req) => (await limitsOf(ctx, req.principal.id)).jobsPerMinute,
        timeWindow: 60_000,
        errorResponseBuilder: (_req, c) => rateLimited(c.max, 'minute', 'POST /jobs', Math.ceil(c.ttl / 1000)),
      },
    },
    async preValidation(req, reply) {
      const r = await perSecond(req);
      if (r.isAllowed || !r.isExceeded) return;
      reply.header('retry-after', r.ttlInSeconds);
      throw rateLimited(r.max, 'second', 'requests', r.ttlInSeconds);
    },
  };
}

/** The rate counters of one client (as @fastify/rate-limit's Redis store names them). */
export function rateLimitKeys(keys: Keys, clientId: string): string[] {
  return [`${keys.rateLimitPrefix}${clientId}`, `${keys.rateLimitPrefix}POST/jobs-${clientId}`];
}
