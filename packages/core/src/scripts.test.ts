import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedis, type TestRedis } from '../../../test/helpers/redis.js';
import { loadScript, scriptLoader } from './scripts.js';

const root = mkdtempSync(join(tmpdir(), 'webmon-lua-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let folders = 0;
/** A scripts folder holding `files` (path -> text); returns its URL (with the trailing slash). */
function folder(files: Record<string, string>): URL {
  const dir = join(root, `f${folders++}`);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return pathToFileURL(`${dir}/`);
}

describe('loadScript', () => {
  it('splices includes in place, nested ones resolved against the including file, each once', () => {
    const dir = folder({
      'main.lua': '-- main\n--- @include "includes/a"\n--- @include "includes/b.lua"\nreturn a() + b()\n',
      'includes/a.lua': '--- @include "b"\nlocal function a() return b() end\n',
      'includes/b.lua': 'local function b() return 1 end\n',
    });
    expect(loadScript(dir, 'main')).toBe('-- main\nlocal function b() return 1 end\n\nlocal function a() return b() end\n\n\nreturn a() + b()\n');
  });

  it('leaves text that only looks like an include alone', () => {
    const src = '-- --- @include "x"\nlocal s = \'--- @include "x"\'\n---@include x\nreturn s\n';
    expect(loadScript(folder({ 'main.lua': src }), 'main')).toBe(src);
  });

  it('fills in the latency edges after splicing', () => {
    const dir = folder({ 'main.lua': '--- @include "edges"\nreturn E\n', 'edges.lua': 'local E = { {{LATENCY_EDGES}} }\n' });
    expect(loadScript(dir, 'main')).toMatch(/^local E = \{ 1, 2, 3, 5, [0-9, ]+ \}\n\nreturn E\n$/);
  });

  it('refuses a missing include, naming the chain', () => {
    const dir = folder({ 'main.lua': '--- @include "includes/a"\n', 'includes/a.lua': '--- @include "gone"\n' });
    expect(() => loadScript(dir, 'main')).toThrow('Lua script main: include not found: main.lua -> includes/a.lua -> includes/gone.lua');
  });

  it('refuses an include cycle, naming it', () => {
    const dir = folder({ 'main.lua': '--- @include "a"\n', 'a.lua': '--- @include "b"\n', 'b.lua': '--- @include "a"\n' });
    expect(() => loadScript(dir, 'main')).toThrow('Lua script main: include cycle main.lua -> a.lua -> b.lua -> a.lua');
    const self = folder({ 'main.lua': '--- @include "main"\n' });
    expect(() => loadScript(self, 'main')).toThrow('Lua script main: include cycle main.lua -> main.lua');
  });

  it('splices the shared fragments into the scripts that use them', () => {
    const core = new URL('../lua/', import.meta.url);
    for (const name of ['job_fail', 'jobs_sweep']) {
      const lua = loadScript(core, name);
      expect(lua).not.toContain('@include');
      expect(lua.match(/local function retry_or_fail\(/g)).toHaveLength(1);
    }
    const notifier = new URL('../../notifier/lua/', import.meta.url);
    for (const name of ['notify_fanout', 'notify_remind']) {
      const lua = loadScript(notifier, name);
      expect(lua).not.toContain('@include');
      expect(lua.match(/local function outbox_append\(/g)).toHaveLength(1);
    }
  });
});

describe('scriptLoader', () => {
  let t: TestRedis;
  beforeAll(async () => {
    t = await testRedis('scripts');
  });
  afterAll(() => t.cleanup());

  it('fails when it is made, not at the first call, on a bad include', () => {
    const dir = folder({ 'good.lua': 'return 1\n', 'bad.lua': '--- @include "missing"\nreturn 2\n' });
    expect(() => scriptLoader(dir, ['good', 'bad'])).toThrow('Lua script bad: include not found: bad.lua -> missing.lua');
  });

  it('runs the spliced script on Redis', async () => {
    const dir = folder({
      'lt_sum.lua': '--- @include "lib/add"\nreturn add(tonumber(ARGV[1]), redis.call(\'INCRBY\', KEYS[1], 2))\n',
      'lib/add.lua': 'local function add(a, b) return a + b end\n',
    });
    const run = scriptLoader(dir, ['lt_sum'])(t.redis).run;
    const key = `${t.prefix}:sum`;
    expect(await run<number>('lt_sum', [key], [40])).toBe(42);
    expect(await run<number>('lt_sum', [key], [40])).toBe(44);
  });
});
