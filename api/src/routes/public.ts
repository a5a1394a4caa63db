/**
 * Routes without a key: the public answer of a status page, and badges. Neither shows anything
 * but what the owner published (see publishing.ts).
 */
import { WebmonError, type AssetRecord } from '@webmon/core';
import { STATE_COLOURS, badgeSvg, latencyColour, uptimeColour } from '../badge-svg.js';
import type { ApiContext, App } from '../context.js';
import { perAddressLimit } from '../limits.js';
import { response } from '../openapi.js';
import { presentAsset } from '../present.js';
import { BADGE_WINDOWS, type Publishing, type WindowNumbers } from '../publishing.js';
import { BadgeParams, BadgeQuery, PublicStatus, StatusSlug } from '../schemas/index.js';
import { statusPageNotFound } from './status-pages.js';

const BADGE_EXAMPLE =
  '<svg xmlns="http://www.w3.org/2000/svg" width="84" height="20" role="img" aria-label="status: up"><title>status: up</title>…</svg>';

/** Worst first: a page's state badge shows the worst state among its assets. */
const SEVERITY = ['down', 'degraded', 'unknown', 'unsupported', 'maintenance', 'paused', 'up'];

const badgeNotFound = (id: string) => new WebmonError('WEBMON_ERR_BADGE_NOT_FOUND', `no public badge for ${id}: put the asset on a status page, or pass its badge token (POST /assets/{id}/badge-token)`);

function mean(values: readonly (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length ? Math.round((known.reduce((s, v) => s + v, 0) / known.length) * 100) / 100 : null;
}

function formatPercent(p: number | null): string {
  if (p === null) return 'no data';
  return `${p >= 99.995 ? '100' : p.toFixed(2)}%`;
}

interface Subject {
  states: string[];
  numbers: () => Promise<WindowNumbers>;
}

function svg(file: string, window: string, s: { state: string; numbers: WindowNumbers | null }): string {
  if (file === 'state.svg') return badgeSvg('status', s.state, STATE_COLOURS[s.state] ?? '#616161');
  const n = s.numbers!;
  if (file === 'uptime.svg') return badgeSvg(`uptime ${window}`, formatPercent(n.uptimePercent), uptimeColour(n.uptimePercent));
  return badgeSvg(`p95 ${window}`, n.p95Ms === null ? 'no data' : `${Math.round(n.p95Ms)} ms`, latencyColour(n.p95Ms));
}

export function publicRoutesOf(ctx: ApiContext, publishing: Publishing) {
  /** The asset or page a badge is of, if it is public (an asset: on a page, or with a valid token). */
  async function subject(id: string, tokenValid: boolean, spanMs: number): Promise<Subject> {
    const [asset, windows] = await Promise.all([ctx.assets.get(id), ctx.maintenance.summaries()]);
    const state = (a: AssetRecord) => presentAsset(a, ctx.registry, windows).state;
    if (asset && (tokenValid || (await publishing.onPublicPage(asset)))) {
      return { states: [state(asset)], numbers: () => publishing.numbers(asset.id, spanMs) };
    }
    const page = /^[a-z0-9][a-z0-9-]{1,62}$/.test(id) ? await ctx.statusPages.get(id) : null;
    if (!page) throw badgeNotFound(id);
    const assets = await publishing.pageAssets(page);
    return {
      states: assets.map(state),
      numbers: async () => {
        const all = await Promise.all(assets.map((a) => publishing.numbers(a.id, spanMs)));
        return { uptimePercent: mean(all.map((n) => n.uptimePercent)), p95Ms: mean(all.map((n) => n.p95Ms)) };
      },
    };
  }

  return async function routes(app: App) {
    app.get(
      '/public/status/:slug',
      {
        config: { rateLimit: perAddressLimit(ctx.config.api.publicPerMinute, 'public requests') },
        schema: {
          tags: ['status pages'],
          operationId: 'getPublicStatus',
          summary: 'A published status page (no key): current state, 90 days of uptime and maintenance of its assets',
          params: StatusSlug,
          response: { 200: response(PublicStatus, 'The page') },
        },
      },
      async (req, reply) => {
        const status = await publishing.publicStatus(req.params.slug);
        if (!status) throw statusPageNotFound(req.params.slug);
        reply.header('cache-control', 'public, max-age=30');
        return status;
      },
    );

    app.get(
      '/badge/:id/:file',
      {
        config: { rateLimit: perAddressLimit(ctx.config.api.publicPerMinute, 'public requests') },
        schema: {
          tags: ['status pages'],
          operationId: 'getBadge',
          summary: 'A badge (SVG) of an asset or a status page: state, uptime or p95 latency over a window',
          params: BadgeParams,
          querystring: BadgeQuery,
          response: { 200: { description: 'An SVG image, cacheable for 60 s', content: { 'image/svg+xml': { schema: { type: 'string' }, example: BADGE_EXAMPLE } } } },
        },
      },
      async (req, reply) => {
        const { id, file } = req.params;
        const { window, token } = req.query;
        // The token is checked before the cache (one read): a made-up token is no token, so it
        // cannot make a request miss the cache.
        const tokenValid = token !== undefined && (await ctx.statusPages.badgeTokenValid(id, token));
        const body = await publishing.cached(`${id}/${file}/${window}/${tokenValid ? 'token' : 'public'}`, async () => {
          const s = await subject(id, tokenValid, BADGE_WINDOWS[window]!);
          const state = [...s.states].sort((a, b) => SEVERITY.indexOf(a) - SEVERITY.indexOf(b))[0] ?? 'unknown';
          return svg(file, window, { state, numbers: file === 'state.svg' ? null : await s.numbers() });
        });
        return reply
          .header('cache-control', 'public, max-age=60')
          .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
          .header('x-content-type-options', 'nosniff')
          .type('image/svg+xml; charset=utf-8')
          .send(body);
      },
    );
  };
}
