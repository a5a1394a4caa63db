/** Maintenance windows. */
import Type from 'typebox';
import { TIME_ZONE_PATTERN } from '@webmon/core';
import { ID, TAG_PATTERN, Time, ref } from './common.js';
import { ids } from '../examples.js';

export const WindowId = Type.Object({ id: Type.String({ pattern: ID, examples: [ids.window] }) });

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
          days: Type.Array(Type.Integer({ minimum: 0, maximum: 6 }), { minItems: 1, maxItems: 7, uniqueItems: true, description: '0 = Sunday … 6 = Saturday (UTC, or timeZone).' }),
          start: Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d$', description: 'HH:MM, UTC (or timeZone).' }),
          durationMinutes: Type.Integer({ minimum: 1, maximum: 7 * 24 * 60 }),
        },
        { additionalProperties: false, description: 'Weekly: on these days at start, for durationMinutes.' },
      ),
    ),
    cron: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 120,
        examples: ['0 2 * * 0', '30 1 * * 1#1', '@daily'],
        description: 'Instead of recurring: a 5-field cron expression (minute hour day-of-month month day-of-week; L, W, # and nicknames such as @daily allowed; `1#1` is the first Monday). As in Vixie cron, a day-of-month and a day-of-week both given match either (`1-7 * 1` is days 1 to 7 and every Monday). The window opens at each occurrence, for durationSec.',
      }),
    ),
    durationSec: Type.Optional(Type.Integer({ minimum: 60, maximum: 7 * 86_400, examples: [3600], description: 'How long a cron window stays open (required with cron).' })),
    timeZone: Type.Optional(
      Type.String({
        maxLength: 64,
        pattern: TIME_ZONE_PATTERN,
        examples: ['Europe/Berlin'],
        description: 'IANA time zone of recurring or cron (default UTC). Local times follow DST: a start time skipped by the spring-forward gap starts at the end of the gap, one that occurs twice starts at its first occurrence; a window lasts its duration in real time.',
      }),
    ),
  },
  { additionalProperties: false, $id: 'MaintenanceInput', description: 'Covers assets by id and/or tag; either start and end, or recurring, or cron and durationSec (recurring and cron optionally in timeZone).' },
);

export const Maintenance = Type.Object(
  {
    id: Type.String(),
    owner: Type.String(),
    reason: Type.String(),
    assetIds: Type.Array(Type.String()),
    tags: Type.Array(Type.String()),
    start: Type.Optional(Time),
    end: Type.Optional(Time),
    recurring: Type.Optional(Type.Object({ days: Type.Array(Type.Integer()), start: Type.String(), durationMinutes: Type.Integer() })),
    cron: Type.Optional(Type.String()),
    durationSec: Type.Optional(Type.Integer()),
    timeZone: Type.Optional(Type.String({ description: 'IANA zone of recurring or cron; absent: UTC.' })),
    open: Type.Boolean({ description: 'The window is open now.' }),
    nextChangeAt: Type.Optional(Type.String({ format: 'date-time', description: 'When the window next opens or closes; absent: never again.' })),
    createdAt: Time,
  },
  { $id: 'Maintenance', description: 'A maintenance window: checks run, no notifications, covered assets show as maintenance.' },
);

export const MaintenanceList = Type.Object({ items: Type.Array(ref(Maintenance)) }, { $id: 'MaintenanceList' });
