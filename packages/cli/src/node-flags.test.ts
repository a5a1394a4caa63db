import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS, withNodeFlags } from './node-flags.js';

const root = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

describe('Node.js options', () => {
  it('are added to an executor child only where neither its arguments nor NODE_OPTIONS set them', () => {
    expect(withNodeFlags([], '')).toEqual([...NODE_FLAGS]);
    expect(withNodeFlags(['--enable-source-maps'], '')).toEqual(['--enable-source-maps', ...NODE_FLAGS]);
    // The operator's own value wins, however it is spelled or passed.
    expect(withNodeFlags(['--max-semi-space-size=64'], '')).toEqual(['--max-semi-space-size=64']);
    expect(withNodeFlags(['--max_semi_space_size=8'], '')).toEqual(['--max_semi_space_size=8']);
    expect(withNodeFlags([], '--max-old-space-size=512 --max-semi-space-size=4')).toEqual([]);
  });

  it('are what the launchers pass: npm start and the container image', () => {
    const flags = NODE_FLAGS.join(' ');
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toContain(`&& node ${flags} packages/cli/dist/main.js up`);
    // The webmon command stays a plain `env node` line (BusyBox's env has no -S).
    expect(read('packages/cli/bin/webmon.js').split('\n')[0]).toBe('#!/usr/bin/env node');
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(read('docker/Dockerfile'))?.[1];
    expect(JSON.parse(entrypoint ?? 'null')).toEqual(['node', ...NODE_FLAGS, '/app/packages/cli/dist/main.js']);
  });
});
