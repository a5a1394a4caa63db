/**
 * Property-based fuzzing of the whole REST API: requests over every route and method of the
 * generated OpenAPI document, with path parameters, query strings and bodies derived from its
 * schemas plus hostile mutations (wrong types, huge numbers, unicode, dates out of range, odd
 * cursors, broken JSON), sent as the admin and as a client. Every answer must be below 500,
 * listed for its route in the document, and every error must be in the catalog's format.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientStore, ERROR_CODES, ErrorCatalog, startHeartbeat, type ErrorCode } from '@webmon/core';
import { ADMIN, testApi, type TestApi } from '../../test/helpers/api.js';

interface Schema {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  nullable?: boolean;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
}

interface Operation {
  method: string;
  path: string;
  pathParams: string[];
  query: Array<{ name: string; schema: Schema; required: boolean }>;
  body: Schema | null;
  statuses: Set<number>;
}

interface FuzzRequest {
  op: Operation;
  as: 'admin' | 'client' | 'nobody';
  url: string;
  payload?: string;
  contentType?: string;
}

const RUNS = 3000;
const TIME_LIMIT_MS = 40_000;
/** Answered before any route is chosen, so possible on every path. */
const ANY_ROUTE: ReadonlySet<ErrorCode> = new Set(['WEBMON_ERR_ROUTE_NOT_FOUND', 'WEBMON_ERR_URI_TOO_LONG']);

let api: TestApi;
let heartbeat: { stop(): Promise<void> };
let spec: { paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string; required?: boolean; schema: Schema }>; requestBody?: { content: Record<string, { schema: Schema }> }; responses: Record<string, unknown> }>>; components: { schemas: Record<string, Schema> } };
let client: { id: string; apiKey: string };
let victim: { id: string; apiKey: string };
const known: Record<string, string[]> = { asset: [], job: [], window: [], key: [] };

beforeAll(async () => {
  api = await testApi('fuzz', { tenants: { limits: { requestsPerSecond: 1_000_000, jobsPerMinute: 1_000_000 } }, api: { adminKey: ADMIN, maxBatch: 50 } });
  heartbeat = startHeartbeat(api.t.redis, api.t.keys, 'dispatcher', 'fuzz-dispatcher'); // /health answers 200
  void (async () => {
    for await (const _ of api.pull); // the dispatcher's side: take job ids as they come
  })().catch(() => undefined);
  const clients = new ClientStore(api.t.redis, api.t.keys, undefined);
  const made = async (name: string) => {
    const { client: c, apiKey } = await clients.create(name);
    return { id: c.id, apiKey };
  };
  client = await made('fuzz client');
  victim = await made('fuzz victim');
  await replenish();
  const w = await api.call('POST', '/maintenance', { reason: 'fuzz', tags: ['fuzz'], recurring: { days: [1], start: '03:00', durationMinutes: 30 } }, client.apiKey);
  known.window!.push(w.body.id);
  const keys = await api.call('GET', `/clients/${victim.id}/keys`);
  for (const k of keys.body?.items ?? []) known.key!.push(k.id);
  spec = JSON.parse((await api.app.inject({ method: 'GET', url: '/docs/json' })).body);
});
afterAll(async () => {
  await heartbeat.stop();
  await api.close();
});

let generation = 0;

/**
 * Keeps a few assets (with a job and a result) of the admin, the client and the victim in the
 * pool of path ids: DELETE and sync requests remove some as the run goes on.
 */
async function replenish(): Promise<void> {
  generation++;
  const alive = await Promise.all(known.asset!.map((id) => api.t.redis.exists(api.t.keys.asset(id))));
  known.asset = known.asset!.filter((_, i) => alive[i] === 1);
  for (const [i, key] of [ADMIN, client.apiKey, victim.apiKey].entries()) {
    for (let j = 0; j < 3; j++) {
      const a = await api.call('POST', '/assets', { url: `http://o${i}-${j}-${generation}.fuzz.test/`, tags: ['fuzz'] }, key);
      if (a.status !== 201) continue; // the client may have been limited by the fuzz itself
      known.asset!.push(a.body.id);
      const j1 = await api.call('POST', '/jobs', { assetIds: [a.body.id] }, key);
      if (j1.status === 202) known.job!.push(j1.body.jobs[0].id);
    }
  }
}

function operations(): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = op.parameters ?? [];
      ops.push({
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        query: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema, required: p.required === true })),
        body: op.requestBody?.content['application/json']?.schema ?? null,
        statuses: new Set(Object.keys(op.responses).map(Number)),
      });
    }
  }
  return ops;
}

// --- values -------------------------------------------------------------------------------

const HOSTILE_DATES = ['1969-12-31T23:59:59Z', '2016-12-31T23:59:60Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z', '+275760-09-13T00:00:00Z', '2026-02-30T00:00:00Z', '2026-01-01T00:00:00+25:00', '1970-01-01T00:00:00-00:01', 'tomorrow'];
const HOSTILE_CURSORS = ['0-0', '0', '-1', '1-', '0-1', '999999999999999-0', '1-99999999999999999999', '18446744073709551615-18446744073709551615', '1e3', '0x10', ' 1', 'abc'];
const URLS = ['http://fuzz.test/', 'https://fuzz.test/a?b=c', 'ftp://fuzz.test/f', 'tcp://127.0.0.1:6379', 'http://169.254.169.254/', 'http://[::ffff:127.0.0.1]/', 'http://2130706433/', 'gopher://x.test/', 'http://0.0.0.0/', 'mailto:x@y', 'http://ünïcödé.test/ä'];

const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.integer(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, -1, 0, 1e308, -2_147_483_649, 0.5),
  fc.double(),
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
  fc.constantFrom(...HOSTILE_DATES, ...HOSTILE_CURSORS, ...URLS),
  fc.string({ minLength: 300, maxLength: 3000 }),
);

function resolve(schema: Schema): Schema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.split('/').pop()!;
  return spec.components.schemas[name] ?? {};
}

/**
 * Values that follow the schema (approximately: patterns and lengths are aimed at, not proven);
 * with `mutate`, any field may instead be hostile.
 */
function valid(input: Schema, name = '', depth = 0, mutate = false): fc.Arbitrary<unknown> {
  const s = resolve(input);
  if (s.enum) return fc.constantFrom(...s.enum);
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((a) => valid(a, name, depth, mutate)));
  const value = typed(s, name, depth, mutate);
  return s.nullable ? fc.oneof(value, fc.constant(null)) : value;
}

function typed(s: Schema, name: string, depth: number, mutate: boolean): fc.Arbitrary<unknown> {
  const named = byName(name);
  if (named) return named;
  const field = (f: Schema, n = '') => (mutate ? fc.oneof({ weight: 3, arbitrary: valid(f, n, depth + 1, true) }, { weight: 1, arbitrary: hostile }) : valid(f, n, depth + 1));
  switch (s.type) {
    case 'string':
      if (s.format === 'date-time') {
        const near = fc.integer({ min: -2 * 86_400_000, max: 2 * 86_400_000 }).map((d) => new Date(Date.now() + d));
        return fc.oneof(near, fc.date({ min: new Date(0), max: new Date(Date.UTC(2100, 0, 1)), noInvalidDate: true })).map((d) => d.toISOString());
      }
      if (name === 'url') return fc.oneof(fc.constantFrom(...URLS), fc.webUrl());
      if (s.pattern) return fc.stringMatching(new RegExp(s.pattern)).map((v) => v.slice(0, s.maxLength ?? 64));
      return fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 40, 40) });
    case 'integer':
      return fc.integer({ min: s.minimum ?? -1_000_000, max: s.maximum ?? 1_000_000 });
    case 'number':
      return fc.double({ min: s.minimum ?? -1e9, max: s.maximum ?? 1e9, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'array': {
      const items = name === 'assets' ? fc.oneof(fc.constantFrom(...URLS), assetLike()) : depth > 3 ? fc.jsonValue({ maxDepth: 1 }) : field(s.items ?? {});
      const sizes = { minLength: s.minItems ?? 0, maxLength: Math.max(s.minItems ?? 0, Math.min(s.maxItems ?? 5, 5)) };
      return s.uniqueItems ? fc.uniqueArray(items, { ...sizes, selector: (v) => JSON.stringify(v) }) : fc.array(items, sizes);
    }
    case 'object': {
      if (!s.properties || depth > 3) return fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 });
      const model = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, field(v, k)]));
      const record = fc.record(model, { requiredKeys: (s.required ?? []).filter((k) => k in model) });
      if (mutate || !('recurring' in model && 'start' in model)) return record;
      // A maintenance window is one-off (start and end) or recurring, never both.
      return record.map((r) => ({ ...r })).chain((r) => {
        const { start: _s, end: _e, recurring: _r, ...rest } = r as Record<string, unknown>;
        return fc.oneof(fc.record({ start: model.start!, end: model.end! }), fc.record({ recurring: model.recurring! })).map((when) => ({ ...rest, ...when }));
      });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Fields whose useful values a schema does not say: ids that exist, plugins that are installed. */
function byName(name: string): fc.Arbitrary<unknown> | null {
  switch (name) {
    case 'assetIds':
      return fc.subarray(known.asset!, { minLength: 1 });
    case 'plugins':
      return fc.subarray(['http', 'htmlstats', 'tcp', 'ftp']);
    case 'config':
      return fc.constantFrom({}, { http: { timeoutMs: 2000 } }, { htmlstats: { window: 10 } }, { tcp: {} });
    default:
      return null;
  }
}

function assetLike(): fc.Arbitrary<unknown> {
  return fc.record({ url: fc.constantFrom(...URLS), tags: fc.array(fc.constantFrom('fuzz', 'x', 'has space'), { maxLength: 2 }) }, { requiredKeys: ['url'] });
}

function pathValue(op: Operation, param: string, as: FuzzRequest['as'], mutate: boolean): fc.Arbitrary<string> {
  const clientIds = as === 'admin' ? [victim.id, 'admin'] : [client.id, victim.id];
  const pool = op.path.startsWith('/clients/{id}')
    ? clientIds
    : op.path.startsWith('/assets/{id}')
      ? param === 'plugin' ? ['http', 'htmlstats', 'tcp', 'nope'] : known.asset!
      : op.path.startsWith('/jobs/') ? known.job! : op.path.startsWith('/maintenance/') ? known.window! : op.path.startsWith('/keys/') ? known.key! : [];
  const text = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.string({ minLength: 60, maxLength: 400 }), fc.constantFrom(...HOSTILE_CURSORS));
  const chosen = !pool.length ? text : mutate ? fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: text }) : fc.constantFrom(...pool);
  return chosen.map((v) => encodeURIComponent(v));
}

function queryString(op: Operation, mutate: boolean): fc.Arbitrary<string> {
  const value = (q: Operation['query'][number]) => (mutate ? fc.oneof({ weight: 2, arbitrary: valid(q.schema, q.name) }, { weight: 1, arbitrary: hostile }) : valid(q.schema, q.name));
  const pairs = op.query.map((q) => fc.option(value(q).map((v) => [q.name, v] as const), { freq: q.required ? 6 : 2 }));
  const extra = mutate ? fc.option(fc.tuple(fc.constantFrom('unknown', 'limit', 'cursor', 'from', '__proto__'), hostile), { freq: 3 }) : fc.constant(null);
  return fc.tuple(fc.tuple(...pairs), extra).map(([chosen, more]) => {
    const all = [...chosen, more].filter((p): p is readonly [string, unknown] => p !== null);
    const text = all.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(typeof v === 'string' ? v : JSON.stringify(v))}`).join('&');
    return text ? `?${text}` : '';
  });
}

function body(op: Operation, mutate: boolean): fc.Arbitrary<{ payload?: string; contentType?: string }> {
  const json = (v: unknown) => ({ payload: JSON.stringify(v), contentType: 'application/json' });
  const broken = fc.constantFrom(
    { payload: '{"url": ', contentType: 'application/json' },
    { payload: '', contentType: 'application/json' },
    { payload: '{"__proto__": {"admin": true}}', contentType: 'application/json' },
    { payload: 'url=x', contentType: 'application/x-www-form-urlencoded' },
    { payload: 'hello', contentType: 'text/plain' },
    { payload: '[1,2', contentType: 'application/json; charset=utf-8' },
  );
  if (!op.body) {
    if (!mutate || !['POST', 'PUT', 'PATCH', 'DELETE'].includes(op.method)) return fc.constant({});
    return fc.oneof({ weight: 6, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }).map(json) }, { weight: 1, arbitrary: broken });
  }
  if (!mutate) return valid(op.body).map(json);
  return fc.oneof(
    { weight: 8, arbitrary: valid(op.body, '', 0, true).map(json) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map(json) },
    { weight: 1, arbitrary: broken },
  );
}

/** A request to one route: half of them well-formed, the others with hostile parts. */
function request(op: Operation): fc.Arbitrary<FuzzRequest> {
  return fc.tuple(fc.constantFrom<FuzzRequest['as']>('admin', 'admin', 'client', 'client', 'nobody'), fc.boolean()).chain(([as, mutate]) =>
    fc.tuple(fc.tuple(...op.pathParams.map((p) => pathValue(op, p, as, mutate))), queryString(op, mutate), body(op, mutate)).map(([values, qs, b]) => {
      let i = 0;
      const path = op.path.replace(/\{[^}]+\}/g, () => values[i++]!);
      return { op, as, url: `${path}${qs}`, ...b };
    }),
  );
}

// --- checks ---------------------------------------------------------------------------------

function describeRequest(r: FuzzRequest): string {
  return `${r.op.method} ${r.url.slice(0, 300)} as ${r.as}${r.payload !== undefined ? ` body ${r.contentType} ${r.payload.slice(0, 300)}` : ''}`;
}

async function send(r: FuzzRequest) {
  const key = r.as === 'admin' ? undefined : r.as === 'client' ? client.apiKey : null;
  const headers: Record<string, string> = {};
  if (key !== null) headers.authorization = `Bearer ${key ?? ADMIN}`;
  if (r.contentType) headers['content-type'] = r.contentType;
  // No executor runs here: a probe waits out its timeout, so the scraper's header keeps it short.
  if (r.op.path === '/probe') headers['x-prometheus-scrape-timeout-seconds'] = '0.6';
  return api.app.inject({ method: r.op.method as 'GET', url: r.url, headers, ...(r.payload !== undefined ? { payload: r.payload } : {}) });
}

function checkAnswer(r: FuzzRequest, status: number, text: string): void {
  const where = `${describeRequest(r)} → ${status} ${text.slice(0, 300)}`;
  expect(status, where).toBeLessThan(500);
  if (status < 400) {
    expect(r.op.statuses.has(status), `undocumented status: ${where}`).toBe(true);
    return;
  }
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(Object.keys(body).every((k) => ['statusCode', 'code', 'error', 'message', 'details'].includes(k)), where).toBe(true);
  expect(ERROR_CODES, where).toContain(body.code);
  const code = body.code as ErrorCode;
  expect(body.statusCode, where).toBe(status);
  expect(ErrorCatalog[code].status, where).toBe(status);
  expect(typeof body.error === 'string' && typeof body.message === 'string', where).toBe(true);
  expect(r.op.statuses.has(status) || ANY_ROUTE.has(code), `undocumented status: ${where}`).toBe(true);
}

/** Counts one more of `key`. With FUZZ_STATS=1 the test prints how answers spread over routes and codes. */
function tally(stats: Map<string, number>, key: string): void {
  stats.set(key, (stats.get(key) ?? 0) + 1);
}

describe('fuzzing every route of the OpenAPI document', () => {
  it('answers no 5xx and only documented statuses and error bodies', async () => {
    const ops = operations().filter((op) => !op.path.startsWith('/docs'));
    expect(ops.length).toBeGreaterThan(20);
    const hits = new Map<string, number>();
    let runs = 0;
    const stats = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ops).chain(request), async (r) => {
        if (++runs % 150 === 0) await replenish();
        tally(hits, `${r.op.method} ${r.op.path}`);
        const res = await send(r);
        if (process.env.FUZZ_STATS) tally(stats, `${r.op.method} ${r.op.path} ${res.statusCode} ${res.statusCode >= 400 ? JSON.parse(res.body).code : ''}`);
        checkAnswer(r, res.statusCode, res.body);
      }),
      { numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false },
    );
    if (process.env.FUZZ_STATS) console.log(runs, [...stats.entries()].sort().map(([k, v]) => `${k}: ${v}`).join('\n'));
    expect(runs).toBeGreaterThanOrEqual(500);
    if (runs >= RUNS) for (const op of ops) expect(hits.get(`${op.method} ${op.path}`) ?? 0, `${op.method} ${op.path}`).toBeGreaterThan(0);
  }, 60_000);
});
