import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configEnvVars } from './config.js';

const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');

describe('docs/configuration.md', () => {
  it('lists every option with its environment variable and default', () => {
    const missing = configEnvVars().filter((v) => {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${v.path}\` |`));
      const shown = v.default === undefined ? 'unset' : `\`${JSON.stringify(v.default)}\``;
      return !row?.includes(`\`${v.env}\``) || !row.includes(` ${shown} `);
    });
    expect(missing.map((v) => v.path)).toEqual([]);
  });
});
