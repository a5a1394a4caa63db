import { describe, expect, it } from 'vitest';
import { buildSerializer, referencedSchemas } from './serializers.js';

const shared = {
  Error: { $id: 'Error', type: 'object', properties: { code: { type: 'string' }, detail: { $ref: 'Detail#' } } },
  Detail: { $id: 'Detail', type: 'object', properties: { field: { type: 'string' }, inner: { $ref: 'Error' } } },
  Unused: { $id: 'Unused', type: 'object', properties: { x: { type: 'number' } } },
};

describe('response serializers', () => {
  it('hand each schema only the shared schemas it references, transitively and through cycles', () => {
    expect(Object.keys(referencedSchemas({ type: 'array', items: { $ref: 'Error' } }, shared)).sort()).toEqual(['Detail', 'Error']);
    expect(Object.keys(referencedSchemas({ type: 'object', properties: { n: { type: 'number' } } }, shared))).toEqual([]);
    // A shared schema compiled as a response does not reference itself as an external one.
    expect(Object.keys(referencedSchemas(shared.Error, shared))).toEqual(['Detail']);
  });

  it('compile a schema once and serialize like fast-json-stringify: declared properties only', () => {
    const compile = buildSerializer(shared);
    const schema = { type: 'object', properties: { error: { $ref: 'Error' } } };
    const a = compile({ schema });
    expect(compile({ schema: structuredClone(schema) })).toBe(a);
    const out = JSON.parse(a({ error: { code: 'E', secret: 's', detail: { field: 'url', inner: { code: 'F' } } } }));
    expect(out).toEqual({ error: { code: 'E', detail: { field: 'url', inner: { code: 'F' } } } });
  });
});
