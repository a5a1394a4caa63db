/**
 * The REST API: a fastify instance with schema-validated routes, API-key authentication, one
 * error shape `{statusCode, code, error, message}` from the catalog, and OpenAPI under /docs.
 */
import cookie from '@fastify/cookie';
import Fastify, { LogController, type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AssetStore, ClientStore, JobStore, MaintenanceStore, OwnerEgress, SessionStore, SnapshotCoalescer, StatusPageStore, WebmonError, deploymentKeys, errorBody, jobPolicy, scripts, type Logger } from '@webmon/core';
import { ChannelStore, WebhookStore } from '@webmon/notifier';
import { channelRegistry } from '@webmon/plugin-registry';
import { ChannelAgents } from '@webmon/plugin-sdk';
import { AssetInputs } from './asset-input.js';
import { authenticated, publicRoutes } from './auth.js';
import type { ApiContext, ApiDeps, App } from './context.js';
import { MAX_PARAM_LENGTH, MAX_URL_LENGTH_BYTES, answerClientError, sendError, toErrorBody } from './http-errors.js';
import { registerRateLimits } from './limits.js';
import { EventHub } from './events-hub.js';
import { registerDocs } from './openapi.js';
import { buildSerializer } from './serializers.js';
import { Publishing } from './publishing.js';
import { assetBatchRoutes } from './routes/asset-batch.js';
import { assetListRoutes } from './routes/asset-list.js';
import { assetPluginRoutes } from './routes/asset-plugins.js';
import { assetStatsRoutes } from './routes/asset-stats.js';
import { assetRoutes } from './routes/assets.js';
import { clientRoutes } from './routes/clients.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { eventStreamRoutes } from './routes/events-stream.js';
import { healthRoutes } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';
import { keyRoutes } from './routes/keys.js';
import { maintenanceRoutes } from './routes/maintenance.js';
import { metricsRoutes } from './routes/metrics.js';
import { pluginRoutes } from './routes/plugins.js';
import { probeRoutes } from './routes/probe.js';
import { publicRoutesOf } from './routes/public.js';
import { signInRoutes } from './routes/session.js';
import { snapshotRoutes } from './routes/snapshots.js';
import { statusPageRoutes } from './routes/status-pages.js';
import { statsRoutes } from './routes/stats.js';
import { syncRoutes } from './routes/sync.js';
import { webhookRoutes } from './routes/webhook.js';
import { channelRoutes } from './routes/channels.js';
import { setValidators } from './validation.js';

export type { ApiContext, ApiDeps, App, JobSink } from './context.js';
export { toErrorBody } from './http-errors.js';

export async function buildApi(deps: ApiDeps): Promise<App> {
  const { config, redis, log } = deps;
  const app = createServer(deps);
  setValidators(app);
  rejectWhileClosing(app);
  const ctx = createContext(deps);

  // JSON only: a text/plain body is refused with 415 rather than parsed as a string.
  app.removeContentTypeParser('text/plain');
  await registerDocs(app);
  // Paced unless a write's answer waits for its snapshot (sync).
  const keyDelayUs = config.snapshots.afterWrites === 'async' ? config.snapshots.keyDelayUs : 0;
  const snapshots = new SnapshotCoalescer(redis, (err) => log.error({ err: err.message }, 'snapshot failed'), { keyDelayUs });
  snapshotAfterWrites(app, snapshots, config.snapshots.afterWrites);
  setErrorHandlers(app);
  await keepMaintenanceCurrent(app, ctx, log);

  await registerRateLimits(app, ctx);
  await app.register(cookie);
  const hub = new EventHub(redis, ctx.keys, log);
  app.addHook('onClose', async () => hub.close());
  app.addHook('onClose', async () => void (await ctx.channelAgents.close()));
  const publishing = new Publishing(ctx);
  const metrics = metricsRoutes(ctx);
  await app.register(publicRoutes(healthRoutes(ctx), ...(config.api.publicMetrics ? [metrics] : []), publicRoutesOf(ctx, publishing), dashboardRoutes(ctx)));
  await app.register(signInRoutes(ctx));
  await app.register(
    authenticated(
      ctx,
      eventStreamRoutes(ctx, hub),
      snapshotRoutes(ctx, snapshots),
      statusPageRoutes(ctx, publishing),
      ...(config.api.publicMetrics ? [] : [metrics]),
      pluginRoutes(ctx),
      assetRoutes(ctx),
      assetListRoutes(ctx),
      assetBatchRoutes(ctx),
      assetPluginRoutes(ctx),
      assetStatsRoutes(ctx),
      jobRoutes(ctx),
      clientRoutes(ctx),
      keyRoutes(ctx),
      syncRoutes(ctx),
      webhookRoutes(ctx),
      channelRoutes(ctx),
      maintenanceRoutes(ctx),
      statsRoutes(ctx),
      probeRoutes(ctx),
    ),
  );
  return app;
}

function createServer(deps: ApiDeps): App {
  return Fastify({
    loggerInstance: deps.log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.config.api.bodyLimit,
    trustProxy: false,
    ajv: { customOptions: { removeAdditional: false } },
    schemaController: { compilersFactory: { buildSerializer } },
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Router errors (bad percent-encoding, too long a parameter) in the catalog's format.
    frameworkErrors: (err, _req, reply) => {
      sendError(reply, toErrorBody(err));
    },
    clientErrorHandler: answerClientError,
    // Requests arriving while the server closes get the catalog's 503 (the hook below).
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;
}

function createContext(deps: ApiDeps): ApiContext {
  const { config, redis, registry } = deps;
  const keys = deploymentKeys(redis, config);
  const sc = scripts(redis);
  return {
    config,
    redis,
    registry,
    keys,
    assets: new AssetStore(redis, keys, sc),
    jobStore: new JobStore(redis, keys, sc, jobPolicy(config)),
    clients: new ClientStore(redis, keys, config.api.adminKey),
    maintenance: new MaintenanceStore(redis, keys),
    webhooks: new WebhookStore(redis, keys, { egress: new OwnerEgress(config, new ClientStore(redis, keys, undefined), { ttlMs: 0 }) }),
    channels: new ChannelStore(redis, keys, deps.channels ?? channelRegistry, { egress: new OwnerEgress(config, new ClientStore(redis, keys, undefined), { ttlMs: 0 }) }),
    channelAgents: new ChannelAgents(config.notifier.timeoutMs),
    log: deps.log,
    inputs: new AssetInputs(registry, config),
    sink: deps.jobs,
    sessions: new SessionStore(redis, keys, config.api.sessionTtlSec * 1000, config.api.sessionMaxSec * 1000),
    statusPages: new StatusPageStore(redis, keys),
  };
}

/** Every request: 503 once the server is closing, 414 past the longest URL answered. */
function rejectWhileClosing(app: App): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (closing) {
      reply.header('connection', 'close').header('retry-after', '5');
      throw new WebmonError('WEBMON_ERR_SHUTTING_DOWN', 'this api instance is shutting down; retry shortly');
    }
    if (req.url.length > MAX_URL_LENGTH_BYTES) throw new WebmonError('WEBMON_ERR_URI_TOO_LONG', `the URL is ${req.url.length} bytes, more than ${MAX_URL_LENGTH_BYTES}`);
  });
}

/**
 * Snapshots after writes (routes with `config.snapshot`): coalesced (one running, one waiting);
 * `sync` answers only once a snapshot that started after the write has finished.
 */
function snapshotAfterWrites(app: App, snapshots: SnapshotCoalescer, afterWrites: ApiDeps['config']['snapshots']['afterWrites']): void {
  if (afterWrites === 'off') return;
  app.addHook('onSend', async (req, reply, payload) => {
    if (!req.routeOptions.config.snapshot || reply.statusCode >= 400) return payload;
    if (afterWrites === 'async') {
      snapshots.request().catch(() => undefined);
      return payload;
    }
    try {
      await snapshots.request();
    } catch (err) {
      reply.code(503);
      return JSON.stringify(errorBody('WEBMON_ERR_SNAPSHOT_FAILED', `the change was applied but could not be snapshotted: ${(err as Error).message}`));
    }
    return payload;
  });
  app.addHook('onClose', async () => snapshots.idle());
}

function setErrorHandlers(app: App): void {
  app.setErrorHandler((err: FastifyError | WebmonError | Error, req: FastifyRequest, reply: FastifyReply) => {
    const body = toErrorBody(err);
    if (body.statusCode >= 500 && body.code !== 'WEBMON_ERR_STORE_UNAVAILABLE') req.log.error({ err, url: req.url }, 'request failed');
    else if (body.code === 'WEBMON_ERR_STORE_UNAVAILABLE') req.log.warn({ url: req.url, err: err.message }, 'request failed: redis unavailable');
    return sendError(reply, body);
  });
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0] ?? '';
    if (path.split('/').some((segment) => segment.length > MAX_PARAM_LENGTH)) {
      return sendError(reply, errorBody('WEBMON_ERR_URI_TOO_LONG', `a path segment is longer than ${MAX_PARAM_LENGTH} characters`));
    }
    return sendError(reply, errorBody('WEBMON_ERR_ROUTE_NOT_FOUND', `no route ${req.method} ${path.slice(0, 200)}`));
  });
}

const MAINTENANCE_SYNC_MS = 1000;
const STATE_READERS = /^\/(assets|stats|metrics|maintenance|public|badge|jobs$)/;

/**
 * Maintenance windows open and close with the clock: readers of asset states sync first when a
 * window may have changed since the last sync (cheap otherwise), and a timer keeps the indexes
 * (and the removal of ended one-off windows) current between reads.
 */
async function keepMaintenanceCurrent(app: App, ctx: ApiContext, log: Logger): Promise<void> {
  app.addHook('preHandler', async (req: FastifyRequest) => {
    if (STATE_READERS.test(req.routeOptions.url ?? '')) await ctx.maintenance.syncIfDue();
  });
  const timer = setInterval(() => {
    ctx.maintenance.sync().catch((err: Error) => log.debug({ err: err.message }, 'maintenance sync failed'));
  }, MAINTENANCE_SYNC_MS);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
  await ctx.maintenance.migrate().catch((err: Error) => log.warn({ err: err.message }, 'maintenance windows not indexed yet'));
}
