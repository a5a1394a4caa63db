/** Maintenance windows. */
import Type from 'typebox';
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
          days: Type.Array(Type.Integer({ minimum: 0, maximum: 6 }), { minItems: 1, maxItems: 7, uniqueItems: true, description: '0 = Sunday … 6 = Saturday (UTC).' }),
          start: Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d$', description: 'HH:MM, UTC.' }),
          durationMinutes: Type.Integer({ minimum: 1, maximum: 7 * 24 * 60 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, $id: 'MaintenanceInput', description: 'Covers assets by id and/or tag; either start and end, or recurring.' },
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
    open: Type.Boolean({ description: 'The window is open now.' }),
    createdAt: Time,
  },
  { $id: 'Maintenance', description: 'A maintenance window: checks run, no notifications, covered assets show as maintenance.' },
);

export const MaintenanceList = Type.Object({ items: Type.Array(ref(Maintenance)) }, { $id: 'MaintenanceList' });
