/** `GET /assets`: listings with filters, cursor pagination and a choice of fields (`fields=`). */
import { StatsStore, WebmonError, type AssetRecord } from '@webmon/core';
import { ownerScope } from '../access.js';
import type { ApiContext, App } from '../context.js';
import { response } from '../openapi.js';
import { presentAsset } from '../present.js';
import { windowNumbers } from '../publishing.js';
import { ASSET_FIELDS, AssetList, ListQuery, type AssetOut } from '../schemas/index.js';

const DAY_MS = 86_400_000;

/** The stored fields each API field of an asset is made from (see presentAsset). */
const FIELD_SOURCES: Record<keyof AssetOut, Array<keyof AssetRecord>> = {
  id: ['id'],
  url: ['url'],
  owner: ['owner'],
  plugins: ['plugins'],
  config: ['config'],
  interval: ['interval'],
  tags: ['tags'],
  paused: ['paused'],
  state: ['state', 'maintenance'],
  stateReason: ['stateReason', 'maintenance'],
  stateChangedAt: ['stateChangedAt'],
  createdAt: ['createdAt'],
  updatedAt: ['updatedAt'],
  lastCheckAt: ['lastCheckAt'],
};

/** The fields a listing asks for (null: all), or WEBMON_ERR_VALIDATION naming an unknown one. */
export function selectedFields(spec: string | undefined): Array<keyof AssetOut> | null {
  if (spec === undefined) return null;
  const names = [...new Set(spec.split(','))];
  const unknown = names.find((n) => !(ASSET_FIELDS as string[]).includes(n));
  if (unknown !== undefined) {
    throw new WebmonError('WEBMON_ERR_VALIDATION', `querystring.fields: unknown field "${unknown}" (fields: ${ASSET_FIELDS.join(', ')})`, { field: unknown });
  }
  return names as Array<keyof AssetOut>;
}

/** The stored fields to read for these API fields. */
function recordFields(fields: readonly (keyof AssetOut)[]): Array<keyof AssetRecord> {
  return [...new Set(fields.flatMap((f) => FIELD_SOURCES[f]))];
}

function pick(a: AssetOut, fields: readonly (keyof AssetOut)[]): Partial<AssetOut> {
  return Object.fromEntries(fields.map((f) => [f, a[f]]));
}

/** A listing's cursor: digits only (it is a position in the creation index). */
function cursorOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,15}$/.test(text)) throw new WebmonError('WEBMON_ERR_INVALID_CURSOR', 'cursor: not a cursor returned by this API');
  return Number(text);
}

export function assetListRoutes(ctx: ApiContext) {
  const { assets, registry, maintenance } = ctx;
  const stats = new StatsStore(ctx.redis, ctx.keys);
  return async function routes(app: App) {
    app.get(
      '/assets',
      {
        schema: {
          tags: ['assets'],
          operationId: 'listAssets',
          summary: 'List assets, in creation order, with filters and cursor pagination',
          querystring: ListQuery,
          response: { 200: response(AssetList, 'A page of assets') },
        },
      },
      async (req) => {
        const q = req.query;
        const cursor = cursorOf(q.cursor);
        const fields = selectedFields(q.fields);
        const page = await assets.list({ owner: ownerScope(req.principal), state: q.state, plugin: q.plugin, tag: q.tag, q: q.q, cursor, limit: q.limit });
        const [records, windows] = await Promise.all([assets.getMany(page.ids, fields ? recordFields(fields) : undefined), maintenance.summaries()]);
        const view = (r: AssetRecord) => presentAsset(r, registry, windows);
        const found = records.filter((r): r is AssetRecord => r !== null);
        const items = found.map((r) => (fields ? pick(view(r), fields) : view(r)));
        if (q.include === 'stats24h') {
          const numbers = await Promise.all(found.map((r) => windowNumbers(stats, r.id, DAY_MS)));
          for (const [i, item] of items.entries()) Object.assign(item, { stats24h: numbers[i] });
        }
        return { items, nextCursor: page.next === null ? null : String(page.next) };
      },
    );
  };
}
