import Type, { type TSchema } from 'typebox';
import {
  ADMIN_CLIENT_ID,
  ConfigError,
  ConfigSchema,
  WebmonError,
  effectiveLimits,
  errorBody,
  validateCidrs,
  type ApiKeyRecord,
  type AssetRecord,
  type ClientChange,
  type ClientLimits,
  type NewAsset,
  type Principal,
} from '@webmon/core';
import type { ApiContext, App } from '../app.js';
import type { AssetPatch } from '../schemas.js';
import { limitsFor, rateLimitKeys } from '../limits.js';
import { iso } from '../present.js';
import { Client, ClientCreated, ClientId, ClientInput, SyncInput, SyncResult, Webhook, WebhookEnable, WebhookInput, Whoami } from '../schemas.js';

const E = { $ref: 'Error#' };

export function requireAdmin(who: Principal): void {
  if (!who.admin) throw new WebmonError('WEBMON_ERR_FORBIDDEN', 'this needs the admin key');
}

/** A client id the principal may act for: itself, or any (existing) client for the admin. */
async function actingFor(ctx: ApiContext, who: Principal, id: string): Promise<string> {
  if (id === who.id) return id;
  if (!who.admin) throw new WebmonError('WEBMON_ERR_FORBIDDEN', `this key may act only for client ${who.id}`);
  if (id !== ADMIN_CLIENT_ID && !(await ctx.clients.get(id))) throw new WebmonError('WEBMON_ERR_CLIENT_NOT_FOUND', `client ${id} not found`);
  return id;
}

/** A real client (not the admin, whose key comes from configuration) the principal may act for. */
async function keysOwner(ctx: ApiContext, who: Principal, id: string): Promise<string> {
  if (id === ADMIN_CLIENT_ID) throw new WebmonError('WEBMON_ERR_FORBIDDEN', 'the admin key is set in configuration (api.adminKey), not through the API');
  const owner = await actingFor(ctx, who, id);
  if (!(await ctx.clients.get(owner))) throw new WebmonError('WEBMON_ERR_CLIENT_NOT_FOUND', `client ${id} not found`);
  return owner;
}

// --- schemas of these routes ----------------------------------------------------------------

const ID = '^[A-Za-z0-9_-]{1,64}$';
const Time = Type.String({ format: 'date-time' });
const MaybeTime = Type.Union([Time, Type.Null()]);

const limitSchemas = ConfigSchema.properties.tenants.properties.limits.properties as unknown as Record<keyof ClientLimits, { minimum: number; maximum: number; description: string }>;
const LIMIT_NAMES = Object.keys(limitSchemas) as Array<keyof ClientLimits>;

function limitsObject(item: (name: keyof ClientLimits) => TSchema, options: Record<string, unknown>) {
  return Type.Object(Object.fromEntries(LIMIT_NAMES.map((n) => [n, item(n)])), options);
}

/** Effective limits (every field). */
const Limits = limitsObject((n) => Type.Integer({ description: limitSchemas[n].description }), { description: 'The quotas that apply: tenants.limits with this client\'s overrides.' });
/** The admin's overrides (only those set). */
const LimitOverrides = limitsObject((n) => Type.Optional(Type.Integer()), { description: 'Overrides the admin set for this client.' });
/** A change of overrides: the same bounds as the configuration; null drops an override. */
const LimitsPatch = limitsObject(
  (n) => Type.Optional(Type.Union([Type.Integer({ minimum: limitSchemas[n].minimum, maximum: limitSchemas[n].maximum, description: limitSchemas[n].description }), Type.Null()])),
  { additionalProperties: false, description: 'Quota overrides to set (null: back to the configured default); others are kept.' },
);

const ClientDetail = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Time,
  allowCidrs: Type.Array(Type.String(), { description: 'Non-public ranges this client\'s checks and notifications may reach (beyond tenants.allowCidrs).' }),
  limits: Limits,
  limitOverrides: LimitOverrides,
});

const ClientPatch = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    allowCidrs: Type.Optional(Type.Array(Type.String({ minLength: 3, maxLength: 64 }), { maxItems: 256, description: 'Replaces the list; e.g. ["10.1.0.0/16"].' })),
    limits: Type.Optional(LimitsPatch),
  },
  { additionalProperties: false },
);

const ApiKey = Type.Object({
  id: Type.String({ description: 'Public id of the key (not the secret): DELETE /keys/:id revokes it.' }),
  clientId: Type.String(),
  name: Type.String(),
  createdAt: Time,
  expiresAt: MaybeTime,
  lastUsedAt: Type.Union([Time, Type.Null()], { description: 'Recorded to within a minute.' }),
  expired: Type.Boolean(),
});

const KeyInput = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 200 })),
    expiresAt: Type.Optional(Type.String({ format: 'date-time', description: 'When the key stops working.' })),
    expiresInSec: Type.Optional(Type.Integer({ minimum: 60, maximum: 315_360_000, description: 'Or: seconds from now until the key stops working.' })),
  },
  { additionalProperties: false },
);

const KeyCreated = Type.Object({
  apiKey: Type.String({ description: 'The new API key. Shown once: only its digest is stored.' }),
  key: ApiKey,
});

const KeyId = Type.Object({ id: Type.String({ pattern: ID }) });

// --- helpers ----------------------------------------------------------------------------------

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

/** The change asked for, with every range checked (a bad one is WEBMON_ERR_VALIDATION naming it). */
function clientChange(body: { name?: string | undefined; allowCidrs?: string[] | undefined; limits?: Record<string, unknown> | undefined }): ClientChange {
  const change: ClientChange = { name: body.name, limits: body.limits as ClientChange['limits'] };
  if (body.allowCidrs) {
    const cidrs = [...new Set(body.allowCidrs.map((c) => c.trim()))];
    cidrs.forEach((c, i) => {
      try {
        validateCidrs([c], `body.allowCidrs.${i}`);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        throw new WebmonError('WEBMON_ERR_VALIDATION', err.message.replace(/^invalid configuration: /, ''));
      }
    });
    change.allowCidrs = cidrs;
  }
  return change;
}

/**
 * Deletes every asset of an owner through the asset store (each with its history). A second
 * pass catches assets created by requests that were already past authentication.
 */
async function deleteAssetsOf(ctx: ApiContext, owner: string): Promise<void> {
  for (let pass = 0; pass < 3; pass++) {
    let deleted = 0;
    let cursor: number | undefined;
    for (;;) {
      const page = await ctx.assets.list({ owner, cursor, limit: 200 });
      const done = await Promise.all(page.ids.map((id) => ctx.assets.delete(id)));
      deleted += done.filter(Boolean).length;
      if (page.next === null) break;
      cursor = page.next;
    }
    if (deleted === 0) return;
  }
}

/**
 * Removes a client and everything of it: keys first (refused from the next request on), then
 * assets with their history, webhook with pending deliveries and reminders, maintenance
 * windows, rate counters, and the client record last, so that an interrupted delete can be
 * repeated.
 */
async function deleteClient(ctx: ApiContext, id: string): Promise<void> {
  await ctx.clients.revokeAllKeys(id);
  await deleteAssetsOf(ctx, id);
  await ctx.webhooks.delete(id);
  for (const w of await ctx.maintenance.list(id)) await ctx.maintenance.delete(w.id);
  await ctx.redis.del(...rateLimitKeys(ctx.keys, id));
  await ctx.clients.remove(id);
}

type SyncItem = { index: number; url: string; create?: NewAsset; existing?: AssetRecord; patch?: AssetPatch; differs?: boolean };
type SyncOut = Record<string, unknown> & { index: number };

/** Every asset of an owner, by URL. */
async function assetsByUrl(ctx: ApiContext, owner: string): Promise<Map<string, AssetRecord>> {
  const current = new Map<string, AssetRecord>();
  let cursor: number | undefined;
  for (;;) {
    const page = await ctx.assets.list({ owner, cursor, limit: 1000 });
    for (const a of await ctx.assets.getMany(page.ids)) if (a) current.set(a.url, a);
    if (page.next === null) return current;
    cursor = page.next;
  }
}

/** Understands every listed item without writing anything: what to create, what to update, and the bad items. */
function planSync(ctx: ApiContext, owner: string, items: readonly unknown[], current: Map<string, AssetRecord>, caps: ClientLimits | null) {
  const plan: SyncItem[] = [];
  const errors: SyncOut[] = [];
  const listed = new Set<string>();
  for (const [index, item] of items.entries()) {
    try {
      const input = ctx.inputs.parseItem(item, `assets.${index}`);
      const prepared = ctx.inputs.forCreate(input, owner, caps);
      const url = prepared.url.url;
      if (listed.has(url)) throw new WebmonError('WEBMON_ERR_VALIDATION', `assets.${index}.url: ${url} is listed twice`);
      listed.add(url);
      const existing = current.get(url);
      if (!existing) {
        plan.push({ index, url, create: prepared });
        continue;
      }
      // Listed settings are the desired ones: apply them when they differ.
      const { url: _url, ...patch } = input;
      const change = Object.keys(patch).length ? ctx.inputs.forUpdate(existing, patch, caps) : {};
      const differs = Object.entries(change).some(([k, v]) => k !== 'state' && JSON.stringify(v) !== JSON.stringify((existing as unknown as Record<string, unknown>)[k]));
      plan.push({ index, url, existing, patch, differs });
    } catch (err) {
      errors.push(itemError(err, index));
    }
  }
  return { plan, errors, listed };
}

function itemError(err: unknown, index: number): SyncOut {
  if (!(err instanceof WebmonError)) throw err;
  const message = err.message.startsWith(`assets.${index}`) ? err.message : `assets.${index}.${err.message}`;
  return { index, error: errorBody(err.code, message, err.details) };
}

export function clientRoutes(ctx: ApiContext) {
  const { clients, assets, inputs, webhooks } = ctx;
  const noWebhook = (id: string) => new WebmonError('WEBMON_ERR_WEBHOOK_NOT_FOUND', `client ${id} has no webhook`);
  const present = (c: { id: string; name: string; createdAt: number }) => ({ id: c.id, name: c.name, createdAt: iso(c.createdAt)! });
  const notFound = (id: string) => new WebmonError('WEBMON_ERR_CLIENT_NOT_FOUND', `client ${id} not found`);
  const detail = async (id: string) => {
    const c = await clients.get(id);
    if (!c) throw notFound(id);
    const settings = await clients.settings(id);
    return { ...present(c), allowCidrs: settings.allowCidrs, limits: effectiveLimits(ctx.config, settings), limitOverrides: settings.limits };
  };

  return async function routes(app: App) {
    app.get('/whoami', { schema: { tags: ['clients'], summary: 'The client this API key acts for', response: { 200: Whoami } } }, async (req) => ({
      id: req.principal.id,
      admin: req.principal.admin,
    }));

    app.post(
      '/clients',
      {
        config: { snapshot: true },
        schema: {
          tags: ['clients'],
          summary: 'Create a client (tenant) with its first API key (admin)',
          body: ClientInput,
          response: { 201: ClientCreated, 400: E, 401: E, 403: E },
        },
      },
      async (req, reply) => {
        requireAdmin(req.principal);
        const { client, apiKey } = await clients.create(req.body.name);
        return reply.code(201).send({ client: present(client), apiKey });
      },
    );

    app.get(
      '/clients',
      { schema: { tags: ['clients'], summary: 'Every client (admin)', response: { 200: Type.Object({ items: Type.Array(Client) }), 401: E, 403: E } } },
      async (req) => {
        requireAdmin(req.principal);
        return { items: (await clients.list()).map(present) };
      },
    );

    app.get(
      '/clients/:id',
      {
        schema: {
          tags: ['clients'],
          summary: 'A client with its allowed ranges and quotas (admin, or the client itself)',
          params: ClientId,
          response: { 200: ClientDetail, 401: E, 403: E, 404: E },
        },
      },
      async (req) => detail(await actingFor(ctx, req.principal, req.params.id)),
    );

    app.patch(
      '/clients/:id',
      {
        config: { snapshot: true },
        schema: {
          tags: ['clients'],
          summary: "Change a client's name, allowed non-public ranges and quota overrides (admin)",
          params: ClientId,
          body: ClientPatch,
          response: { 200: ClientDetail, 400: E, 401: E, 403: E, 404: E },
        },
      },
      async (req) => {
        requireAdmin(req.principal);
        const { id } = req.params;
        if (!(await clients.update(id, clientChange(req.body)))) throw notFound(id);
        return detail(id);
      },
    );

    app.delete(
      '/clients/:id',
      {
        config: { snapshot: true },
        schema: {
          tags: ['clients'],
          summary: 'Delete a client with its API keys, assets and their history, webhook and maintenance windows (admin)',
          params: ClientId,
          response: { 204: Type.Null(), 401: E, 403: E, 404: E },
        },
      },
      async (req, reply) => {
        requireAdmin(req.principal);
        const { id } = req.params;
        if (id === ADMIN_CLIENT_ID) throw new WebmonError('WEBMON_ERR_FORBIDDEN', 'the admin client cannot be deleted');
        if (!(await clients.get(id))) throw notFound(id);
        await deleteClient(ctx, id);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/clients/:id/keys',
      {
        config: { snapshot: true },
        schema: {
          tags: ['clients'],
          summary: 'Create an API key for a client, optionally expiring (admin, or the client itself); the key is shown once',
          params: ClientId,
          body: KeyInput,
          response: { 201: KeyCreated, 400: E, 401: E, 403: E, 404: E, 429: E },
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
          summary: "A client's API keys (never their secrets), oldest first (admin, or the client itself)",
          params: ClientId,
          response: { 200: Type.Object({ items: Type.Array(ApiKey) }), 401: E, 403: E, 404: E },
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
          summary: 'Revoke an API key at once (the admin any key; a client its own, except its last usable one)',
          params: KeyId,
          response: { 204: Type.Null(), 401: E, 404: E, 409: E },
        },
      },
      async (req, reply) => {
        const who = req.principal;
        const { id } = req.params;
        const missing = () => new WebmonError('WEBMON_ERR_KEY_NOT_FOUND', `API key ${id} not found`);
        const key = await clients.getKey(id);
        if (!key || (!who.admin && key.clientId !== who.id)) throw missing();
        const res = await clients.revokeKey(id, { keepLast: !who.admin });
        if (res === 'missing') throw missing();
        if (res === 'last') throw new WebmonError('WEBMON_ERR_LAST_KEY', `API key ${id} is the last usable key of client ${key.clientId}: create another first`);
        return reply.code(204).send(null);
      },
    );

    app.put(
      '/clients/:id/assets',
      {
        config: { snapshot: true },
        schema: {
          tags: ['clients'],
          summary: "Declarative sync: the client's complete list of assets. New URLs are added, unlisted assets removed, the rest kept (with history) or updated",
          params: ClientId,
          body: SyncInput,
          response: { 200: SyncResult, 400: E, 401: E, 403: E, 404: E, 429: E },
        },
      },
      async (req) => {
        const owner = await actingFor(ctx, req.principal, req.params.id);
        const limits = await limitsFor(ctx, req.principal);
        const items = req.body.assets;
        if (limits && items.length > limits.maxSyncItems) {
          throw new WebmonError('WEBMON_ERR_QUOTA_EXCEEDED', `assets: at most ${limits.maxSyncItems} items per sync for this client (got ${items.length})`, {
            limit: limits.maxSyncItems,
            value: items.length,
          });
        }
        const current = await assetsByUrl(ctx, owner);
        const { plan, errors, listed } = planSync(ctx, owner, items, current, limits);
        // Removal only when the whole list was understood: a typo must not delete an asset's history.
        const pruned = errors.length === 0;
        if (pruned && limits && listed.size > limits.maxAssets) {
          throw new WebmonError('WEBMON_ERR_QUOTA_EXCEEDED', `assets: the list has ${listed.size} assets, more than the ${limits.maxAssets} this client may have`, {
            limit: limits.maxAssets,
            value: listed.size,
          });
        }
        // Removed first, so that a list replacing assets fits the quota.
        let removed = 0;
        if (pruned) {
          for (const [url, a] of current) {
            if (!listed.has(url) && (await assets.delete(a.id))) removed++;
          }
        }
        const out: SyncOut[] = [...errors];
        for (const p of plan) {
          try {
            if (p.create) {
              const { id } = await assets.create(p.create, undefined, { maxAssets: limits?.maxAssets });
              out.push({ index: p.index, url: p.url, id, change: 'added' });
            } else if (p.existing) {
              if (p.differs) await assets.update(p.existing.id, (cur) => inputs.forUpdate(cur, p.patch ?? {}, limits));
              out.push({ index: p.index, url: p.url, id: p.existing.id, change: p.differs ? 'updated' : 'kept' });
            }
          } catch (err) {
            out.push(itemError(err, p.index));
          }
        }
        out.sort((a, b) => a.index - b.index);
        // The current state of every listed URL.
        const ids = out.map((o) => (typeof o.id === 'string' ? o.id : null));
        const records = await assets.getMany(ids.filter((id): id is string => id !== null));
        const byId = new Map(records.filter((r): r is AssetRecord => r !== null).map((r) => [r.id, r]));
        for (const o of out) {
          const rec = typeof o.id === 'string' ? byId.get(o.id) : undefined;
          if (rec) Object.assign(o, { state: rec.state, lastCheckAt: iso(rec.lastCheckAt) });
        }
        const count = (c: string) => out.filter((o) => o.change === c).length;
        const failed = out.filter((o) => o.error).length;
        return { added: count('added'), updated: count('updated'), kept: count('kept'), removed, failed, pruned, items: out as never };
      },
    );

    app.put(
      '/clients/:id/webhook',
      {
        config: { snapshot: true },
        schema: {
          tags: ['notifications'],
          summary: 'Set the webhook that receives state changes (signed with HMAC-SHA256 of the body)',
          params: ClientId,
          body: WebhookInput,
          response: { 200: Webhook, 201: Webhook, 400: E, 401: E, 403: E, 404: E },
        },
      },
      async (req, reply) => {
        const id = await actingFor(ctx, req.principal, req.params.id);
        const { webhook, created } = await webhooks.set(id, req.body);
        return reply.code(created ? 201 : 200).send(webhook as never);
      },
    );

    app.get(
      '/clients/:id/webhook',
      { schema: { tags: ['notifications'], summary: 'The webhook and its delivery status (the secret is never shown)', params: ClientId, response: { 200: Webhook, 401: E, 403: E, 404: E } } },
      async (req) => {
        const id = await actingFor(ctx, req.principal, req.params.id);
        const w = await webhooks.get(id);
        if (!w) throw noWebhook(id);
        return w as never;
      },
    );

    app.delete(
      '/clients/:id/webhook',
      {
        config: { snapshot: true },
        schema: { tags: ['notifications'], summary: 'Remove the webhook (and its pending deliveries)', params: ClientId, response: { 204: Type.Null(), 401: E, 403: E, 404: E } },
      },
      async (req, reply) => {
        const id = await actingFor(ctx, req.principal, req.params.id);
        if (!(await webhooks.delete(id))) throw noWebhook(id);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/clients/:id/webhook/enable',
      {
        config: { snapshot: true },
        schema: {
          tags: ['notifications'],
          summary: 'Re-enable notifications after they were disabled for failing deliveries',
          params: ClientId,
          body: WebhookEnable,
          response: { 200: Webhook, 400: E, 401: E, 403: E, 404: E },
        },
      },
      async (req) => {
        const id = await actingFor(ctx, req.principal, req.params.id);
        const w = await webhooks.enable(id, { dropPending: req.body.dropPending });
        if (!w) throw noWebhook(id);
        return w as never;
      },
    );
  };
}
