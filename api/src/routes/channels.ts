/** Notification channels: the installed types, a client's channels (CRUD, enable), test-send. */
import Type from 'typebox';
import { sendTest, type ChannelInput as StoreInput } from '@webmon/notifier';
import { channelNotFound } from '@webmon/notifier';
import { actingFor } from '../access.js';
import type { ApiContext, App } from '../context.js';
import { empty, response } from '../openapi.js';
import { Channel, ChannelCreate, ChannelIdParam, ChannelInput, ChannelList, ChannelTypeList, ClientChannelId, ClientId, ref, TestResult, WebhookEnable } from '../schemas/index.js';

const TestQuery = Type.Object({ client: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'The admin only: the client whose channel it is (default: the admin\'s own).' })) });

export function channelRoutes(ctx: ApiContext) {
  const { channels } = ctx;
  const test = async (clientId: string, channelId: string) => {
    const rec = await channels.record(clientId, channelId);
    if (!rec) throw channelNotFound(clientId, channelId);
    return sendTest(channels, rec, { agents: ctx.channelAgents, log: ctx.log, timeoutMs: ctx.config.notifier.timeoutMs, publicUrl: ctx.config.api.publicUrl });
  };
  return async function routes(app: App) {
    app.get('/channels', { schema: { tags: ['notifications'], operationId: 'listChannelTypes', summary: 'The installed channel types with their options schemas and secret option names', response: { 200: response(ChannelTypeList, 'The channel types') } } }, async () => ({
      channels: channels.registry.describe(),
    }) as never);

    app.get('/clients/:id/channels', { schema: { tags: ['notifications'], operationId: 'listChannels', summary: 'A client\'s channels with their status (secrets redacted)', params: ClientId, response: { 200: response(ChannelList, 'The channels') } } }, async (req) => {
      const id = await actingFor(ctx, req.principal, req.params.id);
      return { channels: await channels.list(id) } as never;
    });

    app.post(
      '/clients/:id/channels',
      { config: { snapshot: true }, schema: { tags: ['notifications'], operationId: 'createChannel', summary: 'Add a channel; with "test": true, test-send a message at once', params: ClientId, body: ref(ChannelCreate), response: { 201: response(Channel, 'The channel (and the test outcome when asked)') } } },
      async (req, reply) => {
        const id = await actingFor(ctx, req.principal, req.params.id);
        const { test: wantTest, ...input } = req.body;
        const view = await channels.create(id, input as StoreInput);
        const result = wantTest ? { ...view, test: await test(id, view.id) } : view;
        return reply.code(201).send(result as never);
      },
    );

    app.get('/clients/:id/channels/:channelId', { schema: { tags: ['notifications'], operationId: 'getChannel', summary: 'One channel with its status', params: ClientChannelId, response: { 200: response(Channel, 'The channel') } } }, async (req) => {
      const id = await actingFor(ctx, req.principal, req.params.id);
      const view = await channels.get(id, req.params.channelId);
      if (!view) throw channelNotFound(id, req.params.channelId);
      return view as never;
    });

    app.put(
      '/clients/:id/channels/:channelId',
      { config: { snapshot: true }, schema: { tags: ['notifications'], operationId: 'updateChannel', summary: 'Replace a channel\'s configuration (status kept; secrets kept when "[redacted]" or left out)', params: ClientChannelId, body: ref(ChannelInput), response: { 200: response(Channel, 'The channel') } } },
      async (req) => {
        const id = await actingFor(ctx, req.principal, req.params.id);
        return (await channels.update(id, req.params.channelId, req.body as StoreInput)) as never;
      },
    );

    app.delete('/clients/:id/channels/:channelId', { config: { snapshot: true }, schema: { tags: ['notifications'], operationId: 'deleteChannel', summary: 'Remove a channel and its pending deliveries', params: ClientChannelId, response: { 204: empty('Removed') } } }, async (req, reply) => {
      const id = await actingFor(ctx, req.principal, req.params.id);
      if (!(await channels.delete(id, req.params.channelId))) throw channelNotFound(id, req.params.channelId);
      return reply.code(204).send(null);
    });

    app.post(
      '/clients/:id/channels/:channelId/enable',
      { config: { snapshot: true }, schema: { tags: ['notifications'], operationId: 'enableChannel', summary: 'Re-enable a channel disabled for failing deliveries (or retry now)', params: ClientChannelId, body: ref(WebhookEnable), response: { 200: response(Channel, 'The channel, enabled') } } },
      async (req) => {
        const id = await actingFor(ctx, req.principal, req.params.id);
        const view = await channels.enable(id, req.params.channelId, { dropPending: req.body.dropPending });
        if (!view) throw channelNotFound(id, req.params.channelId);
        return view as never;
      },
    );

    app.post(
      '/channels/:channelId/test',
      { schema: { tags: ['notifications'], operationId: 'testChannel', summary: 'Test-send one message through one of your channels now; answers the outcome', params: ChannelIdParam, querystring: TestQuery, response: { 200: response(TestResult, 'What the service answered') } } },
      async (req) => {
        const id = await actingFor(ctx, req.principal, req.query.client ?? req.principal.id);
        return { channelId: req.params.channelId, result: await test(id, req.params.channelId) } as never;
      },
    );
  };
}
