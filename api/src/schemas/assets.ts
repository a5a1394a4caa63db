/** Assets: what a client sends, what it gets back, listings and batches. */
import Type, { type Static } from 'typebox';
import { ASSET_STATES, MAX_URL_LENGTH } from '@webmon/core';
import { ErrorResponse, ID, MaybeTime, NAME, TAG_PATTERN, Time, ref } from './common.js';
import { Stats24h } from './dashboard.js';
import { ids } from '../examples.js';

const PluginConfigs = Type.Record(Type.String({ pattern: NAME }), Type.Record(Type.String(), Type.Unknown()), {
  description: 'Options per plugin, validated against that plugin\'s schema (GET /plugins); defaults are applied and stored.',
});

export const AssetInput = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: MAX_URL_LENGTH, description: 'http(s)://…, ftp://…, tcp://host:port, …' }),
    plugins: Type.Optional(
      Type.Array(Type.String({ pattern: NAME }), { maxItems: 32, uniqueItems: true, description: 'Default: every plugin that handles the scheme.' }),
    ),
    config: Type.Optional(PluginConfigs),
    interval: Type.Optional(Type.Integer({ minimum: 1, maximum: 31_536_000, description: 'Seconds between checks.' })),
    tags: Type.Optional(Type.Array(Type.String({ pattern: TAG_PATTERN }), { maxItems: 32 })),
    paused: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, $id: 'AssetInput', description: 'A new asset: its URL, and optionally which plugins check it and how.' },
);
export type AssetInput = Static<typeof AssetInput>;

export const AssetPatch = Type.Object(
  {
    url: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_URL_LENGTH })),
    plugins: Type.Optional(Type.Array(Type.String({ pattern: NAME }), { maxItems: 32, uniqueItems: true })),
    config: Type.Optional(PluginConfigs),
    interval: Type.Optional(Type.Integer({ minimum: 1, maximum: 31_536_000 })),
    tags: Type.Optional(Type.Array(Type.String({ pattern: TAG_PATTERN }), { maxItems: 32 })),
    paused: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1, $id: 'AssetPatch', description: 'The fields to change; the others are kept.' },
);
export type AssetPatch = Static<typeof AssetPatch>;

export const Asset = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    owner: Type.String(),
    plugins: Type.Array(Type.String()),
    config: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown())),
    interval: Type.Integer(),
    tags: Type.Array(Type.String()),
    paused: Type.Boolean(),
    state: Type.Enum(ASSET_STATES),
    stateReason: Type.Union([Type.String(), Type.Null()]),
    stateChangedAt: MaybeTime,
    createdAt: Time,
    updatedAt: Time,
    lastCheckAt: MaybeTime,
  },
  { $id: 'Asset', description: 'A monitored URL with its plugins, options and current state (secret options read "[redacted]").' },
);
export type AssetOut = Static<typeof Asset>;
/** The fields of an Asset, which `fields` of a listing may name. */
export const ASSET_FIELDS = Object.keys(Asset.properties) as Array<keyof AssetOut>;

export const AssetFields = Type.Partial(Type.Object({ ...Asset.properties, stats24h: ref(Stats24h) }), {
  $id: 'AssetFields',
  description: 'An Asset with every field, or only those named in `fields`; with `include=stats24h`, also its last 24 hours.',
});

export const AssetId = Type.Object({ id: Type.String({ pattern: ID, examples: [ids.asset] }) });
export const PluginParams = Type.Object({ id: Type.String({ pattern: ID, examples: [ids.asset] }), plugin: Type.String({ pattern: NAME, examples: ['htmlstats'] }) });

export const ListQuery = Type.Object(
  {
    state: Type.Optional(Type.Enum(ASSET_STATES)),
    plugin: Type.Optional(Type.String({ pattern: NAME })),
    tag: Type.Optional(Type.String({ pattern: TAG_PATTERN })),
    q: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        description: 'Case-insensitive text the URL contains, anywhere in it (host, path, query). Answered from a trigram index for 3 characters or more.',
      }),
    ),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    include: Type.Optional(Type.Enum(['stats24h'], { description: '`stats24h`: each item also has `stats24h` (uptime and p95 latency over 24 h), computed for this page only.' })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'nextCursor of the previous page.' })),
    fields: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 512,
        pattern: '^[A-Za-z]+(,[A-Za-z]+)*$',
        description: `Comma-separated Asset fields to return, e.g. \`id,url,state\` (default: all). One of: ${ASSET_FIELDS.join(', ')}.`,
      }),
    ),
  },
  { additionalProperties: false },
);
export type ListQuery = Static<typeof ListQuery>;

export const AssetList = Type.Object(
  {
    items: Type.Array(ref(AssetFields), { description: 'Assets with every field, or only those named in `fields`.' }),
    nextCursor: Type.Union([Type.String(), Type.Null()], {
      description: 'Pass as cursor for the next page; null when complete. A page may hold fewer than `limit` items while this is set (the scan per request is bounded).',
    }),
  },
  { $id: 'AssetList' },
);

export const BatchInput = Type.Object(
  { assets: Type.Array(Type.Unknown(), { minItems: 1, description: 'AssetInput items; each is validated on its own.' }) },
  { additionalProperties: false, $id: 'BatchInput' },
);

const BatchItem = Type.Object({
  index: Type.Integer(),
  id: Type.Optional(Type.String()),
  created: Type.Optional(Type.Boolean()),
  error: Type.Optional(ref(ErrorResponse)),
});

export const BatchResult = Type.Object(
  {
    created: Type.Integer(),
    existing: Type.Integer(),
    failed: Type.Integer(),
    items: Type.Array(BatchItem),
  },
  { $id: 'BatchResult', description: 'What became of each item, by its index in the request.' },
);
