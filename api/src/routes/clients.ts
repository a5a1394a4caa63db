import Type from 'typebox';
import { ADMIN_CLIENT_ID, WebmonError, errorBody, type AssetRecord, type Principal } from '@webmon/core';
import type { ApiContext, App } from '../app.js';
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

export function clientRoutes(ctx: ApiContext) {
  const { clients, assets, inputs, config, webhooks } = ctx;
  const noWebhook = (id: string) => new WebmonError('WEBMON_ERR_WEBHOOK_NOT_FOUND', `client ${id} has no webhook`);
  const present = (c: { id: string; name: string; createdAt: number }) => ({ id: c.id, name: c.name, createdAt: iso(c.createdAt)! });

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
      { schema: { tags: ['clients'], summary: 'A client (admin, or the client itself)', params: ClientId, response: { 200: Client, 401: E, 403: E, 404: E } } },
      async (req) => {
        const id = await actingFor(ctx, req.principal, req.params.id);
        const c = await clients.get(id);
        if (!c) throw new WebmonError('WEBMON_ERR_CLIENT_NOT_FOUND', `client ${id} not found`);
        return present(c);
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
          response: { 200: SyncResult, 400: E, 401: E, 403: E, 404: E },
        },
      },
      async (req) => {
        const owner = await actingFor(ctx, req.principal, req.params.id);
        const items = req.body.assets;
        if (items.length > config.api.maxBatch * 10) {
          throw new WebmonError('WEBMON_ERR_BATCH_TOO_LARGE', `assets: at most ${config.api.maxBatch * 10} items per sync (got ${items.length})`);
        }
        // What the client has now, by URL.
        const current = new Map<string, AssetRecord>();
        let cursor: number | undefined;
        for (;;) {
          const page = await assets.list({ owner, cursor, limit: 1000 });
          for (const a of await assets.getMany(page.ids)) if (a) current.set(a.url, a);
          if (page.next === null) break;
          cursor = page.next;
        }
        const out: Array<Record<string, unknown> & { index: number }> = [];
        const listed = new Set<string>();
        let failed = 0;
        for (const [index, item] of items.entries()) {
          try {
            const input = inputs.parseItem(item, `assets.${index}`);
            const prepared = inputs.forCreate(input, owner);
            if (listed.has(prepared.url.url)) throw new WebmonError('WEBMON_ERR_VALIDATION', `assets.${index}.url: ${prepared.url.url} is listed twice`);
            listed.add(prepared.url.url);
            const existing = current.get(prepared.url.url);
            if (!existing) {
              const { id } = await assets.create(prepared);
              out.push({ index, url: prepared.url.url, id, change: 'added' });
              continue;
            }
            // Listed settings are the desired ones: apply them when they differ.
            const { url: _url, ...patch } = input;
            const change = Object.keys(patch).length ? inputs.forUpdate(existing, patch) : {};
            const differs = Object.entries(change).some(
              ([k, v]) => k !== 'state' && JSON.stringify(v) !== JSON.stringify((existing as unknown as Record<string, unknown>)[k]),
            );
            if (differs) await assets.update(existing.id, (cur) => inputs.forUpdate(cur, patch));
            out.push({ index, url: prepared.url.url, id: existing.id, change: differs ? 'updated' : 'kept' });
          } catch (err) {
            if (!(err instanceof WebmonError)) throw err;
            failed++;
            const message = err.message.startsWith(`assets.${index}`) ? err.message : `assets.${index}.${err.message}`;
            out.push({ index, error: errorBody(err.code, message, err.details) });
          }
        }
        // Removal only when the whole list was understood: a typo must not delete an asset's history.
        let removed = 0;
        const pruned = failed === 0;
        if (pruned) {
          for (const [url, a] of current) {
            if (!listed.has(url) && (await assets.delete(a.id))) removed++;
          }
        }
        // The current state of every listed URL.
        const ids = out.map((o) => (typeof o.id === 'string' ? o.id : null));
        const records = await assets.getMany(ids.filter((id): id is string => id !== null));
        const byId = new Map(records.filter((r): r is AssetRecord => r !== null).map((r) => [r.id, r]));
        for (const o of out) {
          const rec = typeof o.id === 'string' ? byId.get(o.id) : undefined;
          if (rec) Object.assign(o, { state: rec.state, lastCheckAt: iso(rec.lastCheckAt) });
        }
        const count = (c: string) => out.filter((o) => o.change === c).length;
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
