/**
 * Request and response schemas. Routes are defined by them: fastify validates with them and the
 * OpenAPI document under /docs is generated from them.
 */
import Type, { type Static } from 'typebox';
import { ASSET_STATES, CHECK_STATUSES, ERROR_CODES, JOB_STATUSES, MAX_PRIORITY, MAX_URL_LENGTH, REASONS } from '@webmon/core';

const NAME = '^[a-z][a-z0-9_-]{0,31}$';
export const TAG_PATTERN = '^[A-Za-z0-9_.:/-]{1,64}$';
const ID = '^[A-Za-z0-9_-]{1,64}$';

export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.Enum(ERROR_CODES),
    error: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Unknown()),
  },
  { $id: 'Error', description: 'Every error response. `code` is stable; see docs/errors.md.' },
);

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
  { additionalProperties: false, $id: 'AssetInput' },
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
  { additionalProperties: false, minProperties: 1 },
);
export type AssetPatch = Static<typeof AssetPatch>;

const Time = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

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
    stateChangedAt: Time,
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    lastCheckAt: Time,
  },
  { $id: 'Asset' },
);
export type AssetOut = Static<typeof Asset>;
/** The fields of an Asset, which `fields` of a listing may name. */
export const ASSET_FIELDS = Object.keys(Asset.properties) as Array<keyof AssetOut>;

export const AssetId = Type.Object({ id: Type.String({ pattern: ID }) });
export const PluginParams = Type.Object({ id: Type.String({ pattern: ID }), plugin: Type.String({ pattern: NAME }) });

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

export const AssetList = Type.Object({
  items: Type.Array(Type.Partial(Asset), { description: 'Assets with every field, or only those named in `fields`.' }),
  nextCursor: Type.Union([Type.String(), Type.Null()], {
    description: 'Pass as cursor for the next page; null when complete. A page may hold fewer than `limit` items while this is set (the scan per request is bounded).',
  }),
});

export const BatchInput = Type.Object(
  { assets: Type.Array(Type.Unknown(), { minItems: 1, description: 'AssetInput items; each is validated on its own.' }) },
  { additionalProperties: false },
);

export const BatchItem = Type.Object({
  index: Type.Integer(),
  id: Type.Optional(Type.String()),
  created: Type.Optional(Type.Boolean()),
  error: Type.Optional(ErrorResponse),
});

export const BatchResult = Type.Object({
  created: Type.Integer(),
  existing: Type.Integer(),
  failed: Type.Integer(),
  items: Type.Array(BatchItem),
});

export const Filter = Type.Object(
  {
    state: Type.Optional(Type.Enum(ASSET_STATES)),
    plugin: Type.Optional(Type.String({ pattern: NAME })),
    tag: Type.Optional(Type.String({ pattern: TAG_PATTERN })),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  },
  { additionalProperties: false },
);

export const JobsInput = Type.Object(
  {
    assetIds: Type.Optional(Type.Array(Type.String({ pattern: ID }), { minItems: 1, uniqueItems: true })),
    filter: Type.Optional(Filter),
    priority: Type.Integer({ minimum: 0, maximum: MAX_PRIORITY, default: 0, description: 'Higher runs first; scheduled checks use 0.' }),
  },
  { additionalProperties: false, description: 'Either assetIds or filter (an empty filter means all of your assets).' },
);
export type JobsInput = Static<typeof JobsInput>;

export const JobsCreated = Type.Object({
  jobs: Type.Array(Type.Object({ id: Type.String(), assetId: Type.String() })),
  errors: Type.Array(Type.Object({ index: Type.Integer(), assetId: Type.String(), error: ErrorResponse })),
});

export const CheckResultSchema = Type.Object({
  plugin: Type.String(),
  status: Type.Enum(CHECK_STATUSES),
  reason: Type.Union([Type.Enum(REASONS), Type.Null()]),
  message: Type.String(),
  durationMs: Type.Number(),
  metrics: Type.Record(Type.String(), Type.Number()),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

export const Job = Type.Object({
  id: Type.String(),
  assetId: Type.String(),
  status: Type.Enum(JOB_STATUSES),
  priority: Type.Integer(),
  attempts: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  startedAt: Time,
  finishedAt: Time,
  outcome: Type.Union([Type.Enum(['ok', 'warn', 'error', 'unsupported']), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  results: Type.Union([Type.Array(CheckResultSchema), Type.Null()]),
});

export const JobId = Type.Object({ id: Type.String({ pattern: ID }) });

export const FailedQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    offset: Type.Integer({ minimum: 0, maximum: 100_000, default: 0 }),
  },
  { additionalProperties: false },
);

export const FailedJobs = Type.Object({
  items: Type.Array(Job),
  more: Type.Boolean({ description: 'More failed jobs follow: ask again with offset + limit.' }),
});

export const StatsQuery = Type.Object(
  {
    window: Type.Enum(['1h', '24h', '7d', '30d', '365d'], { default: '24h', description: 'Ignored when from is given.' }),
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'Default: now.' })),
    points: Type.Integer({ minimum: 1, maximum: 1000, default: 60, description: 'Most points in the series.' }),
  },
  { additionalProperties: false },
);

const Latency = Type.Object({
  count: Type.Integer(),
  meanMs: Type.Union([Type.Number(), Type.Null()]),
  p50Ms: Type.Union([Type.Number(), Type.Null()]),
  p95Ms: Type.Union([Type.Number(), Type.Null()]),
  p99Ms: Type.Union([Type.Number(), Type.Null()]),
  maxMs: Type.Union([Type.Number(), Type.Null()]),
});

const WindowStatsSchema = Type.Object({
  from: Type.String({ format: 'date-time' }),
  to: Type.String({ format: 'date-time' }),
  resolution: Type.Enum(['minute', 'hour', 'day']),
  checks: Type.Integer(),
  outcomes: Type.Record(Type.String(), Type.Integer()),
  failuresByReason: Type.Record(Type.String(), Type.Integer()),
  uptimePercent: Type.Union([Type.Number(), Type.Null()], { description: 'Time up or degraded over time up, degraded or down.' }),
  coveragePercent: Type.Number({ description: 'Share of the window observed in a known state.' }),
  timeInStateMs: Type.Record(Type.String(), Type.Number()),
  latency: Type.Record(Type.String(), Latency, { description: 'Per plugin; percentiles from histograms (exact to their bins).' }),
  transitions: Type.Array(Type.Object({ at: Type.String({ format: 'date-time' }), from: Type.String(), to: Type.String(), reason: Type.String() })),
  series: Type.Array(
    Type.Object({
      t: Type.String({ format: 'date-time' }),
      checks: Type.Integer(),
      failures: Type.Integer(),
      uptimePercent: Type.Union([Type.Number(), Type.Null()]),
      meanMs: Type.Union([Type.Number(), Type.Null()]),
      p95Ms: Type.Union([Type.Number(), Type.Null()]),
    }),
  ),
});

export const AssetStats = Type.Object({
  window: WindowStatsSchema,
  plugins: Type.Record(Type.String(), Type.Unknown(), { description: 'What plugins learned (e.g. htmlstats: per feature mean, sd and latest z).' }),
  assetId: Type.String(),
  state: Type.Enum(ASSET_STATES),
  checks: Type.Integer(),
  successes: Type.Integer(),
  failures: Type.Integer(),
  lastCheckAt: Time,
  lastDurationMs: Type.Union([Type.Number(), Type.Null()]),
  lastOutcome: Type.Union([Type.String(), Type.Null()]),
  latest: Type.Record(Type.String(), CheckResultSchema),
});

export const Health = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  redis: Type.Object({ ok: Type.Boolean(), latencyMs: Type.Optional(Type.Number()), error: Type.Optional(Type.String()) }),
  dispatcher: Type.Object({ ok: Type.Boolean(), instances: Type.Integer() }),
  executors: Type.Object({ alive: Type.Integer() }),
});

export const PluginList = Type.Array(
  Type.Object({
    name: Type.String(),
    description: Type.String(),
    schemes: Type.Array(Type.String()),
    optInSchemes: Type.Array(Type.String()),
    secretOptions: Type.Array(Type.String()),
    configSchema: Type.Unknown(),
    defaults: Type.Record(Type.String(), Type.Unknown()),
  }),
);

export const ClientId = Type.Object({ id: Type.String({ pattern: ID }) });

export const ClientInput = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);

export const Client = Type.Object({ id: Type.String(), name: Type.String(), createdAt: Type.String({ format: 'date-time' }) });

export const ClientCreated = Type.Object({
  client: Client,
  apiKey: Type.String({ description: 'The new client\'s API key. Shown once: only its digest is stored.' }),
});

export const Whoami = Type.Object({ id: Type.String(), admin: Type.Boolean() });

export const SyncInput = Type.Object(
  {
    assets: Type.Array(Type.Unknown(), {
      description: 'The complete list: URLs as strings, or AssetInput objects. Assets of the client not listed are removed.',
    }),
  },
  { additionalProperties: false },
);

export const SyncResult = Type.Object({
  added: Type.Integer(),
  updated: Type.Integer(),
  kept: Type.Integer(),
  removed: Type.Integer(),
  failed: Type.Integer(),
  pruned: Type.Boolean({ description: 'false when bad items stopped the removal of unlisted assets (nothing is removed while the list has errors).' }),
  items: Type.Array(
    Type.Object({
      index: Type.Integer(),
      url: Type.Optional(Type.String()),
      id: Type.Optional(Type.String()),
      change: Type.Optional(Type.Enum(['added', 'updated', 'kept'])),
      state: Type.Optional(Type.Enum(ASSET_STATES)),
      lastCheckAt: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
      error: Type.Optional(ErrorResponse),
    }),
  ),
});

export const MaintenanceInput = Type.Object(
  {
    reason: Type.String({ minLength: 1, maxLength: 500 }),
    assetIds: Type.Array(Type.String({ pattern: ID }), { default: [], maxItems: 10_000 }),
    tags: Type.Array(Type.String({ pattern: TAG_PATTERN }), { default: [], maxItems: 100 }),
    start: Type.Optional(Type.String({ format: 'date-time', description: 'One-off window start.' })),
    end: Type.Optional(Type.String({ format: 'date-time', description: 'One-off window end.' })),
    recurring: Type.Optional(
      Type.Object(
        {
          days: Type.Array(Type.Integer({ minimum: 0, maximum: 6 }), { minItems: 1, maxItems: 7, uniqueItems: true, description: '0 = Sunday … 6 = Saturday (UTC).' }),
          start: Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d$', description: 'HH:MM, UTC.' }),
          durationMinutes: Type.Integer({ minimum: 1, maximum: 7 * 24 * 60 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, description: 'Covers assets by id and/or tag; either start and end, or recurring.' },
);

export const Maintenance = Type.Object({
  id: Type.String(),
  owner: Type.String(),
  reason: Type.String(),
  assetIds: Type.Array(Type.String()),
  tags: Type.Array(Type.String()),
  start: Type.Optional(Type.String({ format: 'date-time' })),
  end: Type.Optional(Type.String({ format: 'date-time' })),
  recurring: Type.Optional(Type.Object({ days: Type.Array(Type.Integer()), start: Type.String(), durationMinutes: Type.Integer() })),
  open: Type.Boolean({ description: 'The window is open now.' }),
  createdAt: Type.String({ format: 'date-time' }),
});

export const WebhookInput = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048, description: 'http(s) URL that receives POSTed JSON.' }),
    secret: Type.Optional(Type.String({ minLength: 16, maxLength: 512, description: 'HMAC-SHA256 key for x-webmon-signature. Required the first time; kept when omitted later. Never shown again.' })),
    remindEverySec: Type.Optional(Type.Union([Type.Integer({ minimum: 60, maximum: 604_800 }), Type.Null()], { description: 'Remind while an asset stays down (null: never).' })),
  },
  { additionalProperties: false },
);

export const WebhookEnable = Type.Object({ dropPending: Type.Boolean({ default: false }) }, { additionalProperties: false });

export const Webhook = Type.Object({
  clientId: Type.String(),
  url: Type.String(),
  secretSet: Type.Boolean(),
  remindEverySec: Type.Union([Type.Integer(), Type.Null()]),
  enabled: Type.Boolean(),
  failures: Type.Integer(),
  disabledReason: Type.Union([Type.String(), Type.Null()]),
  disabledAt: Type.Union([Type.String(), Type.Null()]),
  lastDeliveryAt: Type.Union([Type.String(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  lastErrorAt: Type.Union([Type.String(), Type.Null()]),
  nextAttemptAt: Type.Union([Type.String(), Type.Null()]),
  pending: Type.Integer(),
  delivered: Type.Integer(),
  dropped: Type.Integer(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

export const ResultsQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
    plugin: Type.Optional(Type.String({ pattern: NAME })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'nextCursor of the previous page.' })),
  },
  { additionalProperties: false },
);

export const ResultsPage = Type.Object({
  items: Type.Array(
    Type.Object({ at: Type.String({ format: 'date-time' }), jobId: Type.String(), outcome: Type.String(), results: Type.Array(CheckResultSchema) }),
  ),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

export const FleetStatsSchema = Type.Object({
  assetsByState: Type.Record(Type.String(), Type.Integer()),
  checksPerSecond: Type.Number({ description: 'Over the last complete minute (fleet-wide).' }),
  checksLastHour: Type.Integer(),
  queue: Type.Object({ queued: Type.Integer(), running: Type.Integer(), failed: Type.Integer() }),
  executorsAlive: Type.Integer(),
  checksSkipped: Type.Object(
    { late: Type.Integer(), pending: Type.Integer() },
    { description: 'Scheduled checks skipped since the start: late (their due time passed more than an interval ago, see webmon_check_start_lateness_seconds) or pending (the previous check was still queued or running).' },
  ),
  failingMost: Type.Array(Type.Object({ assetId: Type.String(), url: Type.Union([Type.String(), Type.Null()]), failures: Type.Integer() }), {
    description: 'The 10 assets with the most failed checks today and yesterday (UTC days), most first; url is null for an asset deleted since.',
  }),
});
