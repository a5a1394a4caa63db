/** Jobs (one check of one asset, queued), the results they record, and asking for them. */
import Type, { type Static } from 'typebox';
import { ASSET_STATES, CHECK_STATUSES, JOB_STATUSES, MAX_PRIORITY, REASONS } from '@webmon/core';
import { ErrorResponse, ID, MaybeTime, NAME, TAG_PATTERN, Time, ref } from './common.js';
import { ids } from '../examples.js';

export const CheckResult = Type.Object(
  {
    plugin: Type.String(),
    status: Type.Enum(CHECK_STATUSES),
    reason: Type.Union([Type.Enum(REASONS), Type.Null()]),
    message: Type.String(),
    durationMs: Type.Number(),
    metrics: Type.Record(Type.String(), Type.Number()),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { $id: 'CheckResult', description: 'What one plugin found: a failed check is a result with a classified reason, not an error.' },
);

export const Job = Type.Object(
  {
    id: Type.String(),
    assetId: Type.String(),
    status: Type.Enum(JOB_STATUSES),
    priority: Type.Integer(),
    attempts: Type.Integer(),
    createdAt: Time,
    startedAt: MaybeTime,
    finishedAt: MaybeTime,
    outcome: Type.Union([Type.Enum(['ok', 'warn', 'error', 'unsupported']), Type.Null()]),
    error: Type.Union([Type.String(), Type.Null()]),
    results: Type.Union([Type.Array(ref(CheckResult)), Type.Null()]),
  },
  { $id: 'Job', description: 'One check of one asset: queued, running, done or failed (a system fault after every retry).' },
);

export const JobId = Type.Object({ id: Type.String({ pattern: ID, examples: [ids.job] }) });

const Filter = Type.Object(
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
  { additionalProperties: false, $id: 'JobsInput', description: 'Either assetIds or filter (an empty filter means all of your assets).' },
);
export type JobsInput = Static<typeof JobsInput>;
export type JobsFilter = Static<typeof Filter>;

export const JobsCreated = Type.Object(
  {
    jobs: Type.Array(Type.Object({ id: Type.String(), assetId: Type.String() })),
    errors: Type.Array(Type.Object({ index: Type.Integer(), assetId: Type.String(), error: ref(ErrorResponse) })),
  },
  { $id: 'JobsCreated', description: 'The jobs queued, and the asset ids that were not (by their index in assetIds).' },
);

export const FailedQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    offset: Type.Integer({ minimum: 0, maximum: 100_000, default: 0 }),
  },
  { additionalProperties: false },
);

export const FailedJobs = Type.Object(
  {
    items: Type.Array(ref(Job)),
    more: Type.Boolean({ description: 'More failed jobs follow: ask again with offset + limit.' }),
  },
  { $id: 'FailedJobs' },
);

export const Result = Type.Object(
  { at: Time, jobId: Type.String(), outcome: Type.String(), results: Type.Array(ref(CheckResult)) },
  { $id: 'Result', description: 'One recorded check of an asset: the results of its plugins.' },
);

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

export const ResultsPage = Type.Object(
  {
    items: Type.Array(ref(Result)),
    nextCursor: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'ResultsPage' },
);
