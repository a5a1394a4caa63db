/**
 * The generated OpenAPI document: valid for an OpenAPI validator, every operation named,
 * summarised, tagged and exemplified, every response described, shared models referenced as
 * components instead of copied, and every example valid for its schema.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApi, type TestApi } from '../../test/helpers/api.js';
import { COMPONENT_EXAMPLES } from './examples.js';
import { COMPONENTS } from './schemas/index.js';

type Json = Record<string, unknown>;
interface Media {
  schema?: { $ref?: string };
  example?: unknown;
}
interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  parameters?: Array<{ in: string; name: string; example?: unknown; schema: Json }>;
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { description?: string; content?: Record<string, Media> }>;
}
interface Document {
  openapi: string;
  tags?: Array<{ name: string; description?: string }>;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json> };
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

let api: TestApi;
let doc: Document;

beforeAll(async () => {
  api = await testApi('openapi');
  const res = await api.app.inject({ method: 'GET', url: '/docs/json' });
  expect(res.statusCode).toBe(200);
  doc = JSON.parse(res.body) as Document;
});
afterAll(async () => {
  await api.close();
});

function operations(): Array<{ where: string; op: Operation }> {
  return Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ where: `${method.toUpperCase()} ${path}`, op })));
}

/** The component a media type's schema references, if it references one. */
function component(media: Media | undefined): Json | undefined {
  const ref = media?.schema?.$ref;
  return ref?.startsWith('#/components/schemas/') ? doc.components.schemas[ref.slice('#/components/schemas/'.length)] : undefined;
}

function hasExample(media: Media | undefined): boolean {
  return media?.example !== undefined || component(media)?.example !== undefined;
}

/** Every object-valued subtree of `value`, with the path to it. */
function* subtrees(value: unknown, path: string): Generator<[string, unknown]> {
  if (typeof value !== 'object' || value === null) return;
  yield [path, value];
  for (const [k, v] of Object.entries(value)) yield* subtrees(v, `${path}/${k}`);
}

describe('the OpenAPI document', () => {
  it('is valid for an OpenAPI validator, with every reference resolvable', async () => {
    const validator = new Validator();
    const res = await validator.validate(structuredClone(doc) as unknown as Json);
    expect(res.errors ?? [], JSON.stringify(res.errors, null, 1)?.slice(0, 3000)).toEqual([]);
    expect(res.valid).toBe(true);
    expect(validator.version).toBe('3.0');
    expect(() => validator.resolveRefs()).not.toThrow();
    // A reference to a schema that is not there is caught by the check itself.
    const broken = structuredClone(doc);
    broken.paths['/assets']!.post!.responses['201']!.content!['application/json']!.schema = { $ref: '#/components/schemas/Nowhere' };
    expect((await new Validator().validate(broken as unknown as Json)).valid).toBe(false);
  });

  it('names, summarises and tags every operation, with the tags described', () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThan(30);
    const ids = new Set<string>();
    const tags = new Map((doc.tags ?? []).map((t) => [t.name, t.description]));
    for (const { where, op } of ops) {
      expect(op.operationId, where).toMatch(/^[a-z][A-Za-z]+$/);
      expect(ids.has(op.operationId!), `${where}: operationId ${op.operationId} used twice`).toBe(false);
      ids.add(op.operationId!);
      expect(op.summary?.length ?? 0, where).toBeGreaterThan(5);
      expect(op.tags?.length ?? 0, where).toBeGreaterThan(0);
      for (const tag of op.tags ?? []) expect(tags.get(tag)?.length ?? 0, `${where}: tag ${tag} has no description`).toBeGreaterThan(5);
    }
  });

  it('describes every response, errors with the shared Error schema', () => {
    for (const { where, op } of operations()) {
      for (const [status, res] of Object.entries(op.responses)) {
        expect(res.description, `${where} ${status}`).toBeTruthy();
        expect(res.description, `${where} ${status}`).not.toBe('Default Response');
        if (Number(status) >= 400 && !(where === 'GET /health' && status === '503')) {
          expect(res.content?.['application/json']?.schema, `${where} ${status}`).toEqual({ $ref: '#/components/schemas/Error' });
        }
      }
    }
  });

  it('gives every operation an example: of its body, of its answer, or of its path parameters', () => {
    for (const { where, op } of operations()) {
      const body = op.requestBody?.content['application/json'];
      if (body) expect(hasExample(body), `${where}: request body`).toBe(true);
      const answers = Object.entries(op.responses).filter(([status, res]) => status.startsWith('2') && res.content);
      for (const [status, res] of answers) expect(Object.values(res.content!).every(hasExample), `${where} ${status}`).toBe(true);
      const params = (op.parameters ?? []).filter((p) => p.in === 'path');
      if (!body && answers.length === 0) {
        expect(params.length, `${where}: nothing to show an example of`).toBeGreaterThan(0);
        for (const p of params) expect(p.example, `${where}: parameter ${p.name}`).toBeDefined();
      }
    }
  });

  it('has an example valid for its schema for every named component, and valid path parameter examples', () => {
    // As the API validates: defaults applied (an omitted field with a default is not missing).
    const ajv = addFormats(new Ajv({ strict: false, allErrors: true, useDefaults: true }));
    for (const schema of COMPONENTS) ajv.addSchema(schema);
    expect(COMPONENTS.length).toBeGreaterThan(30);
    for (const schema of COMPONENTS) {
      const id = String((schema as { $id?: string }).$id);
      const validate = ajv.getSchema(id)!;
      expect(validate(structuredClone(COMPONENT_EXAMPLES[id])), `${id}: ${JSON.stringify(validate.errors)}`).toBe(true);
      expect(doc.components.schemas[id]?.example, id).toEqual(COMPONENT_EXAMPLES[id]);
    }
    // The check can fail: an example missing a required field is refused.
    const { url: _url, ...noUrl } = COMPONENT_EXAMPLES.AssetInput as Json;
    expect(ajv.getSchema('AssetInput')!(noUrl)).toBe(false);
    for (const { where, op } of operations()) {
      for (const p of op.parameters ?? []) {
        if (p.example !== undefined) expect(ajv.validate(p.schema, p.example), `${where} ${p.name}`).toBe(true);
      }
    }
  });

  it('has the shared models as named components, referenced and never copied inline', () => {
    for (const name of ['Asset', 'Job', 'CheckResult', 'Result', 'Error', 'AssetStats', 'FleetStats', 'Webhook', 'Maintenance', 'ApiKey', 'Client']) {
      expect(doc.components.schemas, name).toHaveProperty([name]);
    }
    const objects = Object.entries(doc.components.schemas).filter(([, s]) => s.properties !== undefined);
    const shape = (s: unknown) => JSON.stringify([(s as Json).properties, (s as Json).required]);
    const shapes = new Map(objects.map(([name, s]) => [shape(s), name]));
    for (const [path, node] of subtrees(doc, '#')) {
      const copied = (node as Json).properties !== undefined ? shapes.get(shape(node)) : undefined;
      if (copied !== undefined) expect(path, `a copy of ${copied}`).toBe(`#/components/schemas/${copied}`);
    }
    // Every JSON body and answer is a named component.
    for (const { where, op } of operations()) {
      const media = [op.requestBody?.content['application/json'], ...Object.values(op.responses).map((r) => r.content?.['application/json'])];
      for (const m of media.filter((x): x is Media => x !== undefined)) expect(component(m), `${where}: ${JSON.stringify(m.schema)}`).toBeDefined();
    }
    expect(doc.paths['/assets/{id}']!.get!.responses['200']!.content!['application/json']!.schema).toEqual({ $ref: '#/components/schemas/Asset' });
  });
});
