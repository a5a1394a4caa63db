/** Clients (tenants): who they are, their quotas, their API keys and the declarative sync of their assets. */
import Type, { type TSchema } from 'typebox';
import { ASSET_STATES, ConfigSchema, type ClientLimits } from '@webmon/core';
import { ErrorResponse, ID, MaybeTime, Time, ref } from './common.js';
import { ids } from '../examples.js';

export const ClientId = Type.Object({ id: Type.String({ pattern: ID, examples: [ids.client] }) });

export const ClientInput = Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false, $id: 'ClientInput' });

export const Client = Type.Object({ id: Type.String(), name: Type.String(), createdAt: Time }, { $id: 'Client', description: 'A tenant: its assets, keys and webhook are its own.' });

export const ClientList = Type.Object({ items: Type.Array(ref(Client)) }, { $id: 'ClientList' });

export const ClientCreated = Type.Object(
  {
    client: ref(Client),
    apiKey: Type.String({ description: 'The new client\'s API key. Shown once: only its digest is stored.' }),
  },
  { $id: 'ClientCreated' },
);

export const Whoami = Type.Object({ id: Type.String(), admin: Type.Boolean() }, { $id: 'Whoami', description: 'The client an API key acts for.' });

const limitSchemas = ConfigSchema.properties.tenants.properties.limits.properties as unknown as Record<keyof ClientLimits, { minimum: number; maximum: number; description: string }>;
const LIMIT_NAMES = Object.keys(limitSchemas) as Array<keyof ClientLimits>;

function limitsObject(item: (name: keyof ClientLimits) => TSchema, options: Record<string, unknown>) {
  return Type.Object(Object.fromEntries(LIMIT_NAMES.map((n) => [n, item(n)])), options);
}

/** Effective limits (every field). */
export const Limits = limitsObject((n) => Type.Integer({ description: limitSchemas[n].description }), {
  $id: 'Limits',
  description: 'The quotas that apply: tenants.limits with this client\'s overrides.',
});
/** The admin's overrides (only those set). */
export const LimitOverrides = limitsObject((_n) => Type.Optional(Type.Integer()), { $id: 'LimitOverrides', description: 'Overrides the admin set for this client.' });
/** A change of overrides: the same bounds as the configuration; null drops an override. */
const LimitsPatch = limitsObject(
  (n) => Type.Optional(Type.Union([Type.Integer({ minimum: limitSchemas[n].minimum, maximum: limitSchemas[n].maximum, description: limitSchemas[n].description }), Type.Null()])),
  { additionalProperties: false, description: 'Quota overrides to set (null: back to the configured default); others are kept.' },
);

export const ClientDetail = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    createdAt: Time,
    allowCidrs: Type.Array(Type.String(), { description: 'Non-public ranges this client\'s checks and notifications may reach (beyond tenants.allowCidrs).' }),
    limits: ref(Limits),
    limitOverrides: ref(LimitOverrides),
  },
  { $id: 'ClientDetail', description: 'A client with its allowed ranges and quotas.' },
);

export const ClientPatch = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    allowCidrs: Type.Optional(Type.Array(Type.String({ minLength: 3, maxLength: 64 }), { maxItems: 256, description: 'Replaces the list; e.g. ["10.1.0.0/16"].' })),
    limits: Type.Optional(LimitsPatch),
  },
  { additionalProperties: false, $id: 'ClientPatch' },
);

export const ApiKey = Type.Object(
  {
    id: Type.String({ description: 'Public id of the key (not the secret): DELETE /keys/:id revokes it.' }),
    clientId: Type.String(),
    name: Type.String(),
    createdAt: Time,
    expiresAt: MaybeTime,
    lastUsedAt: Type.Union([Time, Type.Null()], { description: 'Recorded to within a minute.' }),
    expired: Type.Boolean(),
  },
  { $id: 'ApiKey', description: 'An API key as stored: its public id and dates, never its secret.' },
);

export const ApiKeyList = Type.Object({ items: Type.Array(ref(ApiKey)) }, { $id: 'ApiKeyList' });

export const KeyInput = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 200 })),
    expiresAt: Type.Optional(Type.String({ format: 'date-time', description: 'When the key stops working.' })),
    expiresInSec: Type.Optional(Type.Integer({ minimum: 60, maximum: 315_360_000, description: 'Or: seconds from now until the key stops working.' })),
  },
  { additionalProperties: false, $id: 'KeyInput' },
);

export const KeyCreated = Type.Object(
  {
    apiKey: Type.String({ description: 'The new API key. Shown once: only its digest is stored.' }),
    key: ref(ApiKey),
  },
  { $id: 'KeyCreated' },
);

export const KeyId = Type.Object({ id: Type.String({ pattern: ID, examples: [ids.key] }) });

export const SyncInput = Type.Object(
  {
    assets: Type.Array(Type.Unknown(), {
      description: 'The complete list: URLs as strings, or AssetInput objects. Assets of the client not listed are removed.',
    }),
  },
  { additionalProperties: false, $id: 'SyncInput' },
);

export const SyncResult = Type.Object(
  {
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
        lastCheckAt: Type.Optional(MaybeTime),
        error: Type.Optional(ref(ErrorResponse)),
      }),
    ),
  },
  { $id: 'SyncResult', description: 'What the sync did, with the current state of every listed URL.' },
);
