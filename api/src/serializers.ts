/**
 * Response serializers, built the way fastify's default builds them (fast-json-stringify), with
 * two differences that take the api's start from seconds to a fraction of one:
 * - each distinct response schema is compiled once, however many routes and statuses share it
 *   (every route answers errors with the same `Error` schema);
 * - each is compiled with only the shared schemas it references, directly or through others.
 *   fast-json-stringify validates every shared schema it is handed, so handing it all of them
 *   for every response cost (routes × shared schemas) validations.
 */
import fastJson, { type Schema as FjsSchema } from 'fast-json-stringify';

type Schema = Record<string, unknown>;
type Serializer = (data: unknown) => string;

/** The ids of the shared schemas `schema` references through `$ref` (their `#…` part dropped). */
function refIds(schema: unknown, into: Set<string>): Set<string> {
  if (Array.isArray(schema)) {
    for (const item of schema) refIds(item, into);
  } else if (schema && typeof schema === 'object') {
    for (const [key, value] of Object.entries(schema)) {
      if (key === '$ref' && typeof value === 'string') {
        const id = value.split('#')[0];
        if (id) into.add(id);
      } else refIds(value, into);
    }
  }
  return into;
}

/** The shared schemas `schema` needs, transitively, without the schema itself. */
export function referencedSchemas(schema: Schema, shared: Readonly<Record<string, Schema>>): Record<string, Schema> {
  const needed: Record<string, Schema> = {};
  const pending = [...refIds(schema, new Set())];
  for (let id = pending.pop(); id !== undefined; id = pending.pop()) {
    const found = shared[id];
    if (!found || needed[id] || id === schema.$id) continue;
    needed[id] = found;
    pending.push(...refIds(found, new Set()));
  }
  return needed;
}

/** fastify's `schemaController.compilersFactory.buildSerializer`. */
export function buildSerializer(externalSchemas: unknown, serializerOpts?: unknown) {
  const shared = (externalSchemas ?? {}) as Record<string, Schema>;
  const built = new Map<string, Serializer>();
  return ({ schema: routeSchema }: { schema?: unknown }): Serializer => {
    const schema = routeSchema as Schema;
    const key = JSON.stringify(schema);
    let serializer = built.get(key);
    if (!serializer) {
      const opts = { ...(serializerOpts as object), schema: referencedSchemas(schema, shared) };
      serializer = fastJson(schema as unknown as FjsSchema, opts as object) as Serializer;
      built.set(key, serializer);
    }
    return serializer;
  };
}
