/** Clients (tenants): created, listed, changed and deleted by the admin; read by themselves too. */
import { ADMIN_CLIENT_ID, ConfigError, WebmonError, effectiveLimits, validateCidrs, type ClientChange } from '@webmon/core';
import { actingFor, clientNotFound, requireAdmin } from '../access.js';
import type { ApiContext, App } from '../context.js';
import { empty, response } from '../openapi.js';
import { iso } from '../present.js';
import { ClientCreated, ClientDetail, ClientId, ClientInput, ClientList, ClientPatch, ref } from '../schemas/index.js';
import { deleteClient } from './client-removal.js';

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

const present = (c: { id: string; name: string; createdAt: number }) => ({ id: c.id, name: c.name, createdAt: iso(c.createdAt)! });

/** A client with its allowed ranges and its quotas (effective, and the admin's overrides). */
async function detail(ctx: ApiContext, id: string) {
  const c = await ctx.clients.get(id);
  if (!c) throw clientNotFound(id);
  const settings = await ctx.clients.settings(id);
  return { ...present(c), allowCidrs: settings.allowCidrs, limits: effectiveLimits(ctx.config, settings), limitOverrides: settings.limits };
}

export function clientRoutes(ctx: ApiContext) {
  const { clients } = ctx;

  return async function routes(app: App) {
    app.post(
      '/clients',
      {
        config: { snapshot: true },
        schema: {
          tags: ['clients'],
          operationId: 'createClient',
          summary: 'Create a client (tenant) with its first API key (admin)',
          body: ref(ClientInput),
          response: { 201: response(ClientCreated, 'The client was created; its API key is shown this once') },
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
      { schema: { tags: ['clients'], operationId: 'listClients', summary: 'Every client (admin)', response: { 200: response(ClientList, 'Every client') } } },
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
          operationId: 'getClient',
          summary: 'A client with its allowed ranges and quotas (admin, or the client itself)',
          params: ClientId,
          response: { 200: response(ClientDetail, 'The client') },
        },
      },
      async (req) => detail(ctx, await actingFor(ctx, req.principal, req.params.id)),
    );

    app.patch(
      '/clients/:id',
      {
        config: { snapshot: true },
        schema: {
          tags: ['clients'],
          operationId: 'updateClient',
          summary: "Change a client's name, allowed non-public ranges and quota overrides (admin)",
          params: ClientId,
          body: ref(ClientPatch),
          response: { 200: response(ClientDetail, 'The client as changed') },
        },
      },
      async (req) => {
        requireAdmin(req.principal);
        const { id } = req.params;
        if (!(await clients.update(id, clientChange(req.body)))) throw clientNotFound(id);
        return detail(ctx, id);
      },
    );

    app.delete(
      '/clients/:id',
      {
        config: { snapshot: true },
        schema: {
          tags: ['clients'],
          operationId: 'deleteClient',
          summary: 'Delete a client with its API keys, assets and their history, webhook and maintenance windows (admin)',
          params: ClientId,
          response: { 204: empty('The client and everything of it are deleted') },
        },
      },
      async (req, reply) => {
        requireAdmin(req.principal);
        const { id } = req.params;
        if (id === ADMIN_CLIENT_ID) throw new WebmonError('WEBMON_ERR_FORBIDDEN', 'the admin client cannot be deleted');
        if (!(await clients.get(id))) throw clientNotFound(id);
        await deleteClient(ctx, id);
        return reply.code(204).send(null);
      },
    );
  };
}
