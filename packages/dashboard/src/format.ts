/** Pure helpers: state colours, number and time formatting, pasted-URL parsing, routes. */
import type { AssetState } from './types.js';

/**
 * The colours people expect from status pages (unsupported is blue, as in the seed system).
 * Each one keeps white text above a 4.5:1 contrast ratio (WCAG AA).
 */
export const STATE_COLOURS: Record<AssetState, string> = {
  unknown: '#6b7280',
  up: '#15803d',
  degraded: '#b45309',
  down: '#b91c1c',
  unsupported: '#1d4ed8',
  paused: '#475569',
  maintenance: '#6d28d9',
};

export function stateColour(state: string): string {
  return STATE_COLOURS[state as AssetState] ?? STATE_COLOURS.unknown;
}

export function percent(v: number | null | undefined, digits = 2): string {
  return v === null || v === undefined ? '–' : `${v.toFixed(digits)} %`;
}

export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined) return '–';
  return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`;
}

/** "5 s ago", "3 min ago", "2 h ago", "4 d ago" relative to `now`. */
export function ago(at: string | number | null | undefined, now = Date.now()): string {
  if (at === null || at === undefined) return 'never';
  const t = typeof at === 'number' ? at : Date.parse(at);
  if (!Number.isFinite(t)) return '–';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

export function dateTime(at: string | number): string {
  return `${new Date(at).toISOString().replace('T', ' ').slice(0, 19)} UTC`;
}

/**
 * The URLs of a pasted block, one per line: blank lines and `#` comments are skipped, and each
 * kept line remembers its line number so that the API's per-index errors land on the right line.
 */
export function pastedUrls(text: string): Array<{ line: number; url: string }> {
  const out: Array<{ line: number; url: string }> = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const url = raw.trim();
    if (url && !url.startsWith('#')) out.push({ line: i + 1, url });
  });
  return out;
}

export type Route =
  | { page: 'overview' }
  | { page: 'assets'; state: string; tag: string; q: string }
  | { page: 'asset'; id: string }
  | { page: 'ops' }
  | { page: 'pages' }
  | { page: 'status'; slug: string };

/**
 * Hash routes (`#/assets?state=down`, `#/assets/<id>`, `#/ops`, `#/pages`) so no page collides
 * with an API path; `/status/<slug>` is the only path route (the public status page).
 */
export function parseRoute(pathname: string, hash: string): Route {
  const status = /^\/status\/([a-z0-9][a-z0-9-]{1,62})\/?$/.exec(pathname);
  if (status) return { page: 'status', slug: status[1]! };
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  const parts = path.split('/').filter(Boolean);
  if (parts[0] === 'assets' && parts[1]) return { page: 'asset', id: decodeURIComponent(parts[1]) };
  if (parts[0] === 'assets') return { page: 'assets', state: params.get('state') ?? '', tag: params.get('tag') ?? '', q: params.get('q') ?? '' };
  if (parts[0] === 'ops') return { page: 'ops' };
  if (parts[0] === 'pages') return { page: 'pages' };
  return { page: 'overview' };
}

export function assetsHash(f: { state?: string; tag?: string; q?: string }): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v) p.set(k, v);
  const s = p.toString();
  return `#/assets${s ? `?${s}` : ''}`;
}

/** A latency tick: whole ms once ticks are a ms or more apart, else as many decimals as they need. */
export function msTick(x: number, ticks: readonly number[]): string {
  const step = ticks.length > 1 ? Math.abs(ticks[1]! - ticks[0]!) : 1;
  const decimals = step >= 1 || step <= 0 ? 0 : Math.min(3, Math.ceil(-Math.log10(step)));
  return x.toFixed(decimals);
}
