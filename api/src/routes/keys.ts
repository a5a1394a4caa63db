/** API keys: whom a key acts for, and a client's keys: create (shown once), list (never the secrets), revoke. */
import { WebmonError, type ApiKeyRecord } from '@webmon/core';
import { keyNotFound, keysOwner, mayAccess } from '../access.js';
import type { ApiContext, App } from '../context.js';
import { limitsFor } from '../limits.js';
import { empty, error, response } from '../openapi.js';
import { iso } from '../present.js';
import { ApiKeyList, ClientId, KeyCreated, KeyId, KeyInput, ref, Whoami } from '../schemas/index.js';

function presentKey(k: ApiKeyRecord, now = Date.now()) {
  return {
    id: k.id,
    clientId: k.clientId,
    name: k.name,
    createdAt: iso(k.createdAt)!,
    expiresAt: iso(k.expiresAt),
    lastUsedAt: iso(k.lastUsedAt),
    expired: k.expiresAt !== null && k.expiresAt <= now,
  };
}

/** The expiry asked for, ms, or null; refuses two ways of saying it and a time not in the future. */
function expiryOf(body: { expiresAt?: string | undefined; expiresInSec?: number | undefined }, now = Date.now()): number | null {
  if (body.expiresAt !== undefined && body.expiresInSec !== undefined) throw new WebmonError('WEBMON_ERR_VALIDATION', 'body: give expiresAt or expiresInSec, not both');
  if (body.expiresInSec !== undefined) return now + body.expiresInSec * 1000;
  if (body.expiresAt === undefined) return null;
  const at = Date.parse(body.expiresAt);
  if (!Number.isFinite(at)) throw new WebmonError('WEBMON_ERR_VALIDATION', 'body.expiresAt: is not a valid time');
  if (at <= now) throw new WebmonError('WEBMON_ERR_VALIDATION', 'body.expiresAt: must be in the future');
  return at;
}

export function keyRoutes(ctx: ApiContext) {
  const { clients } = ctx;
  return async function routes(app: App) {
    app.get(
      '/whoami',
      { schema: { tags: ['clients'], operationId: 'whoami', summary: 'The client this API key acts for', response: { 200: response(Whoami, 'The client of this key') } } },
      async (req) => ({ id: req.principal.id, admin: req.principal.admin }),
    );

    app.post(
      '/clients/:id/keys',
      {
        config: { snapshot: true },
        schema: {
          tags: ['clients'],
          operationId: 'createApiKey',
          summary: 'Create an API key for a client, optionally expiring (admin, or the client itself); the key is shown once',
          params: ClientId,
          body: ref(KeyInput),
          response: { 201: response(KeyCreated, 'The key was created; its secret is shown this once') },
        },
      },
      async (req, reply) => {
        const owner = await keysOwner(ctx, req.principal, req.params.id);
        const limits = await limitsFor(ctx, req.principal);
        const { apiKey, key } = await clients.createKey(owner, { name: req.body.name, expiresAt: expiryOf(req.body), maxKeys: limits?.maxApiKeys });
        return reply.code(201).send({ apiKey, key: presentKey(key) });
      },
    );

    app.get(
      '/clients/:id/keys',
      {
        schema: {
          tags: ['clients'],
          operationId: 'listApiKeys',
          summary: "A client's API keys (never their secrets), oldest first (admin, or the client itself)",
          params: ClientId,
          response: { 200: response(ApiKeyList, 'The keys, oldest first') },
        },
      },
      async (req) => {
        const owner = await keysOwner(ctx, req.principal, req.params.id);
        const now = Date.now();
        return { items: (await clients.listKeys(owner)).map((k) => presentKey(k, now)) };
      },
    );

    app.delete(
      '/keys/:id',
      {
        config: { snapshot: true },
        schema: {
          tags: ['clients'],
          operationId: 'revokeApiKey',
          summary: 'Revoke an API key at once (the admin any key; a client its own, except its last usable one)',
          params: KeyId,
          response: { 204: empty('The key is revoked'), 409: error(409, 'The last usable key of its client (WEBMON_ERR_LAST_KEY): create another first') },
        },
      },
      async (req, reply) => {
        const who = req.principal;
        const { id } = req.params;
        const key = await clients.getKey(id);
        if (!key || !mayAccess(who, key.clientId)) throw keyNotFound(id);
        const res = await clients.revokeKey(id, { keepLast: !who.admin });
        if (res === 'missing') throw keyNotFound(id);
        if (res === 'last') throw new WebmonError('WEBMON_ERR_LAST_KEY', `API key ${id} is the last usable key of client ${key.clientId}: create another first`);
        return reply.code(204).send(null);
      },
    );
  };
}
