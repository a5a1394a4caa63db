import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ErrorCatalog, WebmonError, errorBody } from './errors.js';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

describe('error catalog', () => {
  it.each(ERROR_CODES)('%s is documented in docs/errors.md with its status', (code) => {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
    expect(row, `docs/errors.md has no row for ${code}`).toBeDefined();
    expect(row).toContain(`| ${ErrorCatalog[code].status} |`);
  });

  it('documents no code that does not exist', () => {
    const documented = [...doc.matchAll(/^\| `(WEBMON_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...ERROR_CODES].sort());
  });

  it('builds the client shape', () => {
    expect(new WebmonError('WEBMON_ERR_ASSET_NOT_FOUND', 'asset x not found').toJSON()).toEqual({
      statusCode: 404,
      code: 'WEBMON_ERR_ASSET_NOT_FOUND',
      error: 'Asset not found',
      message: 'asset x not found',
    });
    expect(errorBody('WEBMON_ERR_VALIDATION', 'm', { problems: [] })).toMatchObject({ statusCode: 400, details: { problems: [] } });
  });
});
