/** A client's webhook: set, read, remove, re-enable. */
import { WebmonError } from '@webmon/core';
import { actingFor } from '../access.js';
import type { ApiContext, App } from '../context.js';
import { empty, response } from '../openapi.js';
import { ClientId, ref, Webhook, WebhookEnable, WebhookInput } from '../schemas/index.js';

const noWebhook = (id: string) => new WebmonError('WEBMON_ERR_WEBHOOK_NOT_FOUND', `client ${id} has no webhook`);

export function webhookRoutes(ctx: ApiContext) {
  const { webhooks } = ctx;
  return async function routes(app: App) {
    app.put(
      '/clients/:id/webhook',
      {
        config: { snapshot: true },
        schema: {
          tags: ['notifications'],
          operationId: 'setWebhook',
          summary: 'Set the webhook that receives state changes (signed with HMAC-SHA256 of the body)',
          params: ClientId,
          body: ref(WebhookInput),
          response: {
            200: response(Webhook, 'The webhook was changed'),
            201: response(Webhook, 'The webhook was set'),
          },
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
      {
        schema: {
          tags: ['notifications'],
          operationId: 'getWebhook',
          summary: 'The webhook and its delivery status (the secret is never shown)',
          params: ClientId,
          response: { 200: response(Webhook, 'The webhook') },
        },
      },
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
        schema: {
          tags: ['notifications'],
          operationId: 'deleteWebhook',
          summary: 'Remove the webhook (and its pending deliveries)',
          params: ClientId,
          response: { 204: empty('The webhook and its pending deliveries are removed') },
        },
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
          operationId: 'enableWebhook',
          summary: 'Re-enable notifications after they were disabled for failing deliveries',
          params: ClientId,
          body: ref(WebhookEnable),
          response: { 200: response(Webhook, 'The webhook, enabled again') },
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
