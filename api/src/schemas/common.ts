/**
 * What every schema module shares: patterns, times, the error body, and references to named
 * components. A schema with an `$id` is a named component: registered once (components.ts),
 * used elsewhere through `ref()`, and shown under #/components/schemas/<$id> in the OpenAPI
 * document.
 */
import Type, { type TSchema } from 'typebox';
import { ERROR_CODES, ID_PATTERN } from '@webmon/core';

export const NAME = '^[a-z][a-z0-9_-]{0,31}$';
export const TAG_PATTERN = '^[A-Za-z0-9_.:/-]{1,64}$';
export const ID = ID_PATTERN;

export const Time = Type.String({ format: 'date-time' });
export const MaybeTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.Enum(ERROR_CODES),
    error: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Unknown()),
  },
  { $id: 'Error', description: 'Every error response. `code` is stable; see docs/errors.md.' },
);

/**
 * A reference to a named component, typed as the component itself (so that handlers are checked
 * against it). Fastify resolves it from the schemas registered with `addSchema`.
 */
export function ref<T extends TSchema>(schema: T): T {
  const id = (schema as { $id?: unknown }).$id;
  if (typeof id !== 'string') throw new Error('ref(): the schema has no $id');
  return { $ref: `${id}#` } as unknown as T;
}
