/**
 * The OpenAPI document under /docs, generated from the route schemas: named components
 * (schemas/), tags, response descriptions, and the error statuses each route can answer, all
 * with the shared Error schema.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { RouteOptions } from 'fastify';
import Type, { type TSchema } from 'typebox';
import type { App } from './context.js';
import { COMPONENT_EXAMPLES } from './examples.js';
import { COMPONENTS, ref } from './schemas/index.js';

const TAGS = [
  { name: 'assets', description: 'Monitored URLs: create (one by one or in batches), list, change, delete.' },
  { name: 'jobs', description: 'Checks on demand, and jobs that failed for a system reason.' },
  { name: 'statistics', description: 'Uptime, latency, failures by reason and raw results, per asset and for the fleet.' },
  { name: 'maintenance', description: 'Windows during which checks run but assets show as maintenance and nothing is notified.' },
  { name: 'clients', description: 'Tenants: their quotas, API keys and the declarative sync of their assets (the admin manages clients; a client its own keys and assets).' },
  { name: 'notifications', description: 'The webhook that receives a client\'s state changes, signed with HMAC-SHA256.' },
  { name: 'plugins', description: 'Installed check plugins with their option schemas.' },
  { name: 'probe', description: 'blackbox_exporter-compatible probes for Prometheus: GET /probe?target=…&module=….' },
  { name: 'health', description: 'Health checks, Prometheus metrics and Redis snapshots.' },
  {
    name: 'dashboard',
    description:
      'The web dashboard: sign-in with an API key for a session cookie. Live state changes: `GET /events/stream` (key or cookie) is a Server-Sent Events stream of your assets\' changes (the admin\'s: all): `event: state`, `id: <events stream id>`, `data: {"assetId","from","to","reason","at"}` (at in ms); a `: ping` comment every 15 s; `Last-Event-ID` replays what came after that id.',
  },
  { name: 'status pages', description: 'Public status pages and badges: what an owner publishes, readable without a key.' },
];

/** What an error status means, for every route that can answer it. */
const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request: the message names the field (WEBMON_ERR_VALIDATION and other 400 codes)',
  401: 'No API key, or an unknown or expired one (WEBMON_ERR_UNAUTHORIZED)',
  403: 'This key may not do this (WEBMON_ERR_FORBIDDEN)',
  404: 'Not found, or not visible to this key',
  409: 'Conflicts with the current state',
  413: 'The body is too large (WEBMON_ERR_BODY_TOO_LARGE)',
  415: 'The body is not JSON (WEBMON_ERR_UNSUPPORTED_MEDIA_TYPE)',
  429: 'Over a request rate (with Retry-After) or a quota of this client',
  503: 'Redis is unavailable, the snapshot after a write failed, or this instance is shutting down: retry shortly',
};

/** An error response of a route, described (default: what the status means on every route). */
export function error(status: number, description = ERROR_DESCRIPTIONS[status] ?? 'Error'): TSchema {
  return { $ref: 'Error#', description } as unknown as TSchema;
}

/**
 * A response with a body: the named component, and what the response means (examples come
 * from the component).
 */
export function response<T extends TSchema>(schema: T, description: string): T {
  return { ...ref(schema), description };
}

/** A response without a body (204). */
export function empty(description: string) {
  return Type.Null({ description });
}

/**
 * Adds the error statuses a route can answer to its response schema, each described and with
 * the shared Error schema (statuses the route declares itself are kept).
 */
export function documentStatuses(route: RouteOptions, statuses: readonly number[]): void {
  const schema = (route.schema ?? {}) as { hide?: boolean; response?: Record<string, unknown> };
  if (schema.hide) return;
  schema.response ??= {};
  const response = schema.response;
  for (const status of statuses) response[status] ??= error(status);
  route.schema = schema;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The statuses any route can answer whoever calls it: 400 for routes with input, 404 for routes
 * with path parameters, 413/415 for methods that carry a body. Routes behind an API key add
 * theirs (auth.ts).
 */
function documentErrors(route: RouteOptions): void {
  const schema = (route.schema ?? {}) as { body?: unknown; querystring?: unknown; params?: unknown };
  const statuses: number[] = [];
  const withBody = [route.method].flat().some((m) => BODY_METHODS.has(m));
  if (schema.body || schema.querystring || schema.params || withBody) statuses.push(400);
  if (schema.params) statuses.push(404);
  if (withBody) statuses.push(413, 415);
  documentStatuses(route, statuses);
}

/** A component with its example (examples.ts), shown as `example` in the document. */
function withExample(schema: TSchema): TSchema {
  const id = (schema as { $id: string }).$id;
  const example = COMPONENT_EXAMPLES[id];
  if (example === undefined) throw new Error(`no example for the component ${id} (examples.ts)`);
  return { ...schema, examples: [example] };
}

/** Registers the components, the document and its UI under /docs; call before any route. */
export async function registerDocs(app: App): Promise<void> {
  for (const schema of COMPONENTS) app.addSchema(withExample(schema));
  app.addHook('onRoute', documentErrors);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'webmon API', version: '0.1.0', description: 'Asset monitoring: assets, jobs, results, statistics.' },
      tags: TAGS,
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'API key as a bearer token (or in the X-API-Key header).' },
          session: { type: 'apiKey', in: 'cookie', name: 'webmon_session', description: 'The dashboard session (POST /session); requests other than GET, HEAD, OPTIONS also need the header x-webmon-csrf.' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
    // Shared schemas keep their $id as their component name (#/components/schemas/Error).
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
}
