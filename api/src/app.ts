/**
 * The REST API: a fastify instance with schema-validated routes, API-key authentication, one
 * error shape `{statusCode, code, error, message}` from the catalog, and OpenAPI under /docs.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify';
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
  OwnerEgress,
  jobPolicy,
  WebmonError,
  createKeys,
  errorBody,
  isStoreUnavailable,
  scripts,
  type Config,
  type ErrorBody,
  type ErrorCode,
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
import { registerRateLimits } from './limits.js';
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
  ajv.addFormat('date-time', { type: 'string', validate: isDateTime });
  return ajv;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;
const LAST_INSTANT = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * An RFC 3339 date-time that names an instant between 1970-01-01 and 9999-12-31 (UTC). Leap
 * seconds (`:60`) are refused (Date cannot represent them), and so are instants before 1970
 * (times become Redis stream ids, which cannot be negative).
 */
export function isDateTime(text: string): boolean {
  const m = RFC3339.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return false;
  if (hour > 23 || minute > 59 || second > 59 || Number(m[9] ?? 0) > 23 || Number(m[10] ?? 0) > 59) return false;
  const at = Date.parse(text);
  return Number.isFinite(at) && at >= 0 && at <= LAST_INSTANT;
}

/** Longest path parameter the router accepts (ids are at most 64): longer answers 414. */
const MAX_PARAM_LENGTH = 200;
/** Longest request URL answered (Node refuses request lines past its header limit, 16 KiB, itself). */
const MAX_URL_LENGTH_BYTES = 8192;

export async function buildApi(deps: ApiDeps): Promise<App> {
  const { config, redis, log, registry } = deps;
  const app = Fastify({
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.api.bodyLimit,
    trustProxy: false,
    ajv: { customOptions: { removeAdditional: false } },
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Router errors (bad percent-encoding, too long a parameter) in the catalog's format.
    frameworkErrors: (err, _req, reply) => {
      sendError(reply, toErrorBody(err));
    },
    clientErrorHandler: answerClientError,
    // Requests arriving while the server closes get the catalog's 503 (the hook below).
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  // Bodies are validated strictly (a string is not a number); query strings and path params
  // arrive as text and are coerced.
  const strict = makeAjv({ coerceTypes: false });
  const coercing = makeAjv({ coerceTypes: 'array' });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema));
  app.addHook('onRoute', documentErrors);
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
    webhooks: new WebhookStore(redis, keys, { egress: new OwnerEgress(config, new ClientStore(redis, keys, undefined), { ttlMs: 0 }) }),
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
    // Shared schemas keep their $id as their component name (#/components/schemas/Error).
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
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
    return sendError(reply, body);
  });
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0] ?? '';
    if (path.split('/').some((segment) => segment.length > MAX_PARAM_LENGTH)) {
      return sendError(reply, errorBody('WEBMON_ERR_URI_TOO_LONG', `a path segment is longer than ${MAX_PARAM_LENGTH} characters`));
    }
    return sendError(reply, errorBody('WEBMON_ERR_ROUTE_NOT_FOUND', `no route ${req.method} ${path.slice(0, 200)}`));
  });

  // Maintenance windows open and close with the clock: readers of asset states sync first when a
  // window may have changed since the last sync (cheap otherwise), and a timer keeps the indexes
  // (and the removal of ended one-off windows) current between reads.
  app.addHook('preHandler', async (req: FastifyRequest) => {
    if (readsStates(req)) await ctx.maintenance.syncIfDue();
  });
  const maintenanceTimer = setInterval(() => {
    ctx.maintenance.sync().catch((err: Error) => log.debug({ err: err.message }, 'maintenance sync failed'));
  }, MAINTENANCE_SYNC_MS);
  maintenanceTimer.unref();
  app.addHook('onClose', async () => clearInterval(maintenanceTimer));
  await ctx.maintenance.migrate().catch((err: Error) => log.warn({ err: err.message }, 'maintenance windows not indexed yet'));

  await registerRateLimits(app, ctx);
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
  const framework = typeof e.code === 'string' ? FRAMEWORK_CODES[e.code] : undefined;
  // Fastify's messages may quote the request (a whole over-long path): keep them short.
  if (framework) return errorBody(framework, e.message.length > 300 ? `${e.message.slice(0, 300)}…` : e.message);
  if (err instanceof SyntaxError) return errorBody('WEBMON_ERR_INVALID_JSON', err.message);
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const byStatus = CODES_BY_STATUS[e.statusCode];
    // Any other fastify error (FST_ERR_*) is a malformed request; its code is not ours to show.
    if (byStatus) return errorBody(byStatus, e.message);
    return errorBody(String(e.code).startsWith('FST_') ? 'WEBMON_ERR_BAD_REQUEST' : 'WEBMON_ERR_VALIDATION', e.message);
  }
  return errorBody('WEBMON_ERR_INTERNAL', 'internal error');
}

/** Fastify's own errors that reach clients, by their code. */
const FRAMEWORK_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'WEBMON_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'WEBMON_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'WEBMON_ERR_INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'WEBMON_ERR_INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'WEBMON_ERR_BAD_REQUEST',
  FST_ERR_BAD_URL: 'WEBMON_ERR_BAD_REQUEST',
  FST_ERR_MAX_PARAM_LENGTH: 'WEBMON_ERR_URI_TOO_LONG',
  FST_ERR_NOT_FOUND: 'WEBMON_ERR_ROUTE_NOT_FOUND',
};

/** Statuses of errors from elsewhere (plugins, Node) that have one catalog code; 400 stays VALIDATION. */
const CODES_BY_STATUS: Record<number, ErrorCode> = {
  401: 'WEBMON_ERR_UNAUTHORIZED',
  403: 'WEBMON_ERR_FORBIDDEN',
  404: 'WEBMON_ERR_ROUTE_NOT_FOUND',
  408: 'WEBMON_ERR_REQUEST_TIMEOUT',
  413: 'WEBMON_ERR_BODY_TOO_LARGE',
  414: 'WEBMON_ERR_URI_TOO_LONG',
  415: 'WEBMON_ERR_UNSUPPORTED_MEDIA_TYPE',
  429: 'WEBMON_ERR_RATE_LIMITED',
  431: 'WEBMON_ERR_HEADERS_TOO_LARGE',
};

/**
 * Sends an error body. It is serialised here, not by the route's response schema: a route may
 * document its own body for the same status (GET /health's 503), which an error must not meet.
 */
function sendError(reply: FastifyReply, body: ErrorBody): FastifyReply {
  if (body.code === 'WEBMON_ERR_STORE_UNAVAILABLE') reply.header('retry-after', '5');
  return reply.code(body.statusCode).type('application/json; charset=utf-8').serializer(JSON.stringify).send(body);
}

/**
 * Requests Node's HTTP parser refused (headers too large, malformed request line, timeout):
 * answered in the catalog's format, then the connection is closed (the parser cannot resume).
 */
function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const raw = (err as { rawPacket?: unknown }).rawPacket;
  const body = clientErrorBody({ code: err.code, rawPacket: Buffer.isBuffer(raw) ? raw : undefined });
  const json = JSON.stringify(body);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const head = [
    `HTTP/1.1 ${body.statusCode} ${STATUS_CODES[body.statusCode] ?? 'Error'}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(json)}`,
    'Connection: close',
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${json}`);
  // A peer that keeps sending is not read any more: close for good shortly after answering.
  setTimeout(() => socket.destroy(), 1000).unref();
}

export function clientErrorBody(err: { code?: string | undefined; rawPacket?: Buffer | undefined }): ErrorBody {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return requestLineOverflowed(err.rawPacket)
        ? errorBody('WEBMON_ERR_URI_TOO_LONG', 'the request line is longer than the server accepts')
        : errorBody('WEBMON_ERR_HEADERS_TOO_LARGE', 'the request headers are larger than the server accepts');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return errorBody('WEBMON_ERR_REQUEST_TIMEOUT', 'the request was not received in time');
    default:
      return errorBody('WEBMON_ERR_BAD_REQUEST', `malformed HTTP request${err.code ? ` (${err.code})` : ''}`);
  }
}

/** Whether the request line is what overflowed: the packet starts one longer than any URL answered. */
function requestLineOverflowed(packet: Buffer | undefined): boolean {
  if (!packet || !/^[A-Z]+ /.test(packet.subarray(0, 16).toString('latin1'))) return false;
  const end = packet.indexOf('\n');
  return end === -1 || end > MAX_URL_LENGTH_BYTES;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const ERROR_REF = { $ref: 'Error#' };

/**
 * Adds the error statuses a route can answer besides its own to its response schema, so that
 * the OpenAPI document lists every one with the shared Error schema: 400 for routes with input,
 * 401/403/429/503 for routes behind an API key, 404 for routes with path parameters, 413/415
 * for methods that carry a body. Statuses a route declares itself are kept.
 */
function documentErrors(route: RouteOptions): void {
  const schema = (route.schema ?? {}) as { hide?: boolean; body?: unknown; querystring?: unknown; params?: unknown; response?: Record<string, unknown> };
  if (schema.hide || route.url.startsWith('/docs')) return;
  const statuses: number[] = [];
  const withBody = [route.method].flat().some((m) => BODY_METHODS.has(m));
  if (schema.body || schema.querystring || schema.params || withBody) statuses.push(400);
  if (route.config?.auth !== false) statuses.push(401, 403, 429, 503);
  if (schema.params) statuses.push(404);
  if (withBody) statuses.push(413, 415);
  const response = (schema.response ??= {});
  for (const status of statuses) response[status] ??= ERROR_REF;
  route.schema = schema;
}

const MAINTENANCE_SYNC_MS = 1000;
const STATE_READERS = /^\/(assets|stats|metrics|maintenance|jobs$)/;

/** Routes whose answers depend on which assets are in maintenance now. */
function readsStates(req: FastifyRequest): boolean {
  return STATE_READERS.test(req.routeOptions.url ?? '');
}
