/**
 * The REST API: a fastify instance with schema-validated routes, API-key authentication, one
 * error shape `{statusCode, code, error, message}` from the catalog, and OpenAPI under /docs.
 */
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv, type Options as AjvOptions } from 'ajv';
import addFormatsModule from 'ajv-formats';
import {
  AssetStore,
  ClientStore,
  JobStore,
  MaintenanceStore,
  SnapshotCoalescer,
  createPolicy,
  jobPolicy,
  WebmonError,
  createKeys,
  errorBody,
  isStoreUnavailable,
  scripts,
  type Config,
  type Logger,
  type Principal,
  type Redis,
} from '@webmon/core';
import { WebhookStore } from '@webmon/notifier';
import type { PluginRegistry } from '@webmon/plugin-sdk';
import { AssetInputs } from './asset-input.js';
import { assetRoutes } from './routes/assets.js';
import { healthRoutes } from './routes/health.js';
import { clientRoutes } from './routes/clients.js';
import { jobRoutes } from './routes/jobs.js';
import { maintenanceRoutes } from './routes/maintenance.js';
import { statsRoutes } from './routes/stats.js';
import { pluginRoutes } from './routes/plugins.js';
import { ErrorResponse } from './schemas.js';

export interface JobSink {
  push(ids: readonly string[], priority: number): Promise<number>;
}

export interface ApiDeps {
  config: Readonly<Config>;
  /** A fail-fast connection (commands reject at once while Redis is away). */
  redis: Redis;
  log: Logger;
  registry: PluginRegistry;
  jobs: JobSink;
}

export interface ApiContext {
  config: Readonly<Config>;
  redis: Redis;
  registry: PluginRegistry;
  assets: AssetStore;
  jobStore: JobStore;
  clients: ClientStore;
  maintenance: MaintenanceStore;
  webhooks: WebhookStore;
  inputs: AssetInputs;
  sink: JobSink;
  keys: ReturnType<typeof createKeys>;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** false: the route needs no API key. */
    auth?: boolean;
    /** true: a successful call changes stored configuration and triggers a snapshot (snapshots.afterWrites). */
    snapshot?: boolean;
  }
}

export type App = FastifyInstance<
  import('node:http').Server,
  import('node:http').IncomingMessage,
  import('node:http').ServerResponse,
  Logger,
  TypeBoxTypeProvider
>;

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function makeAjv(opts: AjvOptions): Ajv {
  const ajv = new Ajv({ allErrors: false, strict: false, useDefaults: true, removeAdditional: false, ...opts });
  addFormats(ajv);
  return ajv;
}

export async function buildApi(deps: ApiDeps): Promise<App> {
  const { config, redis, log, registry } = deps;
  const app = Fastify({
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.api.bodyLimit,
    trustProxy: false,
    ajv: { customOptions: { removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  // Bodies are validated strictly (a string is not a number); query strings and path params
  // arrive as text and are coerced.
  const strict = makeAjv({ coerceTypes: false });
  const coercing = makeAjv({ coerceTypes: 'array' });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema));

  const keys = createKeys(config.redis.keyPrefix);
  const sc = scripts(redis);
  const ctx: ApiContext = {
    config,
    redis,
    registry,
    keys,
    assets: new AssetStore(redis, keys, sc),
    jobStore: new JobStore(redis, keys, sc, jobPolicy(config)),
    clients: new ClientStore(redis, keys, config.api.adminKey),
    maintenance: new MaintenanceStore(redis, keys),
    webhooks: new WebhookStore(redis, keys, { policy: createPolicy(config.policy) }),
    inputs: new AssetInputs(registry, config),
    sink: deps.jobs,
  };

  // JSON only: a text/plain body is refused with 415 rather than parsed as a string.
  app.removeContentTypeParser('text/plain');
  app.addSchema(ErrorResponse);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'webmon API', version: '0.1.0', description: 'Asset monitoring: assets, jobs, results, statistics.' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'API key as a bearer token (or in the X-API-Key header).' },
        },
      },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });

  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (req: FastifyRequest) => {
    if (req.routeOptions.config.auth === false || req.url.startsWith('/docs')) return;
    if (!req.routeOptions.url) return; // unknown route: the 404 handler answers
    const key = apiKeyOf(req);
    if (!key) throw new WebmonError('WEBMON_ERR_UNAUTHORIZED', 'an API key is required (Authorization: Bearer <key>, or X-API-Key)');
    const principal = await ctx.clients.authenticate(key);
    if (!principal) throw new WebmonError('WEBMON_ERR_UNAUTHORIZED', 'unknown API key');
    req.principal = principal;
  });

  // Snapshots after writes: coalesced (one running, one waiting); `sync` answers only once a
  // snapshot that started after the write has finished.
  const snapshots = new SnapshotCoalescer(redis, (err) => log.error({ err: err.message }, 'snapshot after write failed'));
  const afterWrites = config.snapshots.afterWrites;
  if (afterWrites !== 'off') {
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

  app.setErrorHandler((err: FastifyError | WebmonError | Error, req: FastifyRequest, reply: FastifyReply) => {
    const body = toErrorBody(err);
    if (body.statusCode >= 500 && body.code !== 'WEBMON_ERR_STORE_UNAVAILABLE') req.log.error({ err, url: req.url }, 'request failed');
    else if (body.code === 'WEBMON_ERR_STORE_UNAVAILABLE') req.log.warn({ url: req.url, err: err.message }, 'request failed: redis unavailable');
    if (body.code === 'WEBMON_ERR_STORE_UNAVAILABLE') reply.header('retry-after', '5');
    return reply.code(body.statusCode).send(body);
  });
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    reply.code(404).send(errorBody('WEBMON_ERR_ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
  });

  await app.register(healthRoutes(ctx));
  await app.register(pluginRoutes(ctx));
  await app.register(assetRoutes(ctx));
  await app.register(jobRoutes(ctx));
  await app.register(clientRoutes(ctx));
  await app.register(maintenanceRoutes(ctx));
  await app.register(statsRoutes(ctx));
  return app;
}

function apiKeyOf(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const header = req.headers['x-api-key'];
  return typeof header === 'string' && header ? header : undefined;
}

/** Maps any error to the catalog's shape. */
export function toErrorBody(err: unknown) {
  if (err instanceof WebmonError) return err.toJSON();
  if (isStoreUnavailable(err)) return errorBody('WEBMON_ERR_STORE_UNAVAILABLE', 'Redis is unavailable; retry shortly');
  const e = err as FastifyError & { validation?: Array<{ instancePath: string; message?: string; params?: Record<string, unknown> }>; validationContext?: string };
  if (e.validation) {
    const problems = e.validation.map((v) => {
      const path = [e.validationContext, ...v.instancePath.split('/').slice(1)].filter(Boolean).join('.');
      const extra = v.params?.additionalProperty;
      const field = extra ? `${path}.${String(extra)}` : path;
      const message = extra ? 'is not a known field' : (v.message ?? 'is invalid');
      return { field, message };
    });
    const first = problems[0]!;
    return errorBody('WEBMON_ERR_VALIDATION', `${first.field}: ${first.message}`, { problems });
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errorBody('WEBMON_ERR_BODY_TOO_LARGE', e.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errorBody('WEBMON_ERR_UNSUPPORTED_MEDIA_TYPE', e.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return errorBody('WEBMON_ERR_INVALID_JSON', e.message);
  }
  if (err instanceof SyntaxError) return errorBody('WEBMON_ERR_INVALID_JSON', err.message);
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    if (e.statusCode === 413) return errorBody('WEBMON_ERR_BODY_TOO_LARGE', e.message);
    if (e.statusCode === 415) return errorBody('WEBMON_ERR_UNSUPPORTED_MEDIA_TYPE', e.message);
    return errorBody('WEBMON_ERR_VALIDATION', e.message);
  }
  return errorBody('WEBMON_ERR_INTERNAL', 'internal error');
}
