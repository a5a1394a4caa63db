/**
 * Turns TypeBox validation errors into `{field, message}` problems with dotted field paths,
 * reporting an unknown property once, as "unknown option" at its own path.
 */

export interface SchemaProblem {
  field: string;
  message: string;
}

interface SchemaError {
  keyword: string;
  schemaPath: string;
  instancePath: string;
  message: string;
  params?: unknown;
}

export function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

export function schemaProblems(errors: readonly SchemaError[], base = ''): SchemaProblem[] {
  const join = (...parts: string[]) => parts.filter(Boolean).join('.');
  const out: SchemaProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    let p: SchemaProblem;
    if (e.keyword === 'boolean' && e.schemaPath.endsWith('/additionalProperties')) {
      p = { field: join(base, pointerToPath(e.instancePath)), message: 'unknown option' };
    } else if (e.keyword === 'additionalProperties') {
      const names = (e.params as { additionalProperties?: string[] } | undefined)?.additionalProperties ?? [];
      for (const n of names) {
        const field = join(base, pointerToPath(e.instancePath), n);
        if (!seen.has(field)) out.push({ field, message: 'unknown option' });
        seen.add(field);
      }
      continue;
    } else {
      p = { field: join(base, pointerToPath(e.instancePath)), message: e.message };
    }
    if (seen.has(p.field) && p.message === 'unknown option') continue;
    seen.add(p.field);
    out.push(p);
  }
  return out;
}
