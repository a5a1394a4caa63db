/**
 * Adding a plugin is adding its folder. In a temporary directory laid out as the workspace (the
 * repository's plugin folders, packages, base tsconfig and node_modules linked into it), a new
 * plugin folder is found by the registry generator and served by GET /plugins of a real api. The
 * repository itself is never written to, and the directory is removed whatever happens.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginRegistry, type AnyPlugin } from '@webmon/plugin-sdk';
import { generateRegistry } from '../packages/plugin-registry/generate.mjs';
import { plugins as installedPlugins } from '@webmon/plugin-registry';
import { testApi, type TestApi } from './helpers/api.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));

let work: string;
let api: TestApi | undefined;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'webmon-plugin-folder-'));
  mkdirSync(join(work, 'plugins'));
  symlinkSync(join(REPO, 'tsconfig.base.json'), join(work, 'tsconfig.base.json'));
  // The shared packages (a plugin's tsconfig references the SDK); the registry is generated here.
  mkdirSync(join(work, 'packages'));
  for (const name of readdirSync(join(REPO, 'packages'))) {
    if (name !== 'plugin-registry') symlinkSync(join(REPO, 'packages', name), join(work, 'packages', name), 'dir');
  }
  for (const name of readdirSync(join(REPO, 'plugins'))) symlinkSync(join(REPO, 'plugins', name), join(work, 'plugins', name), 'dir');
});

afterAll(async () => {
  await api?.close();
  rmSync(work, { recursive: true, force: true });
});

/** The new folder: a package.json with the "webmon" field, a tsconfig.json and the source. */
function addHelloFolder(): void {
  const dir = join(work, 'plugins', 'hello');
  mkdirSync(join(dir, 'src'), { recursive: true });
  const manifest = {
    name: '@webmon/plugin-hello',
    version: '0.1.0',
    private: true,
    type: 'module',
    webmon: { plugin: true, export: 'helloPlugin' },
    exports: { '.': { types: './dist/index.d.ts', 'webmon-source': './src/index.ts', default: './dist/index.js' } },
    dependencies: { '@webmon/plugin-sdk': '0.1.0', typebox: '^1.4.3' },
  };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  writeFileSync(join(dir, 'tsconfig.json'), readFileSync(join(REPO, 'plugins', 'tcp', 'tsconfig.json')));
  writeFileSync(
    join(dir, 'src', 'index.ts'),
    `import Type from 'typebox';
import { definePlugin, ok } from '@webmon/plugin-sdk';

export const helloPlugin = definePlugin({
  name: 'hello',
  description: 'Answers with a greeting (a throwaway plugin of a test).',
  schemes: ['hello'],
  configSchema: Type.Object({ greeting: Type.String({ default: 'hi' }) }, { additionalProperties: false }),
  async run(_target, cfg) {
    return ok(cfg.greeting);
  },
});
`,
  );
}

/** node_modules as npm install left it before the new folder: the repository's packages. */
function linkNodeModules(): void {
  const modules = join(work, 'node_modules');
  mkdirSync(join(modules, '@webmon'), { recursive: true });
  for (const entry of readdirSync(join(REPO, 'node_modules'))) {
    if (entry !== '@webmon' && !entry.startsWith('.')) symlinkSync(join(REPO, 'node_modules', entry), join(modules, entry));
  }
  for (const entry of readdirSync(join(REPO, 'node_modules', '@webmon'))) {
    symlinkSync(join(REPO, 'node_modules', '@webmon', entry), join(modules, '@webmon', entry));
  }
}

describe('a plugin is one folder', () => {
  it('is found by the registry generator and listed by GET /plugins', async () => {
    linkNodeModules();
    addHelloFolder();
    const outDir = join(work, 'packages', 'plugin-registry');
    // Before npm install has linked the new workspace, the generator says what to do.
    expect(() => generateRegistry({ root: work, outDir })).toThrow('not installed: @webmon/plugin-hello (plugins/hello); run npm install');

    // What npm install does for a new folder under a workspace glob (plugins/*): link it.
    symlinkSync(join(work, 'plugins', 'hello'), join(work, 'node_modules', '@webmon', 'plugin-hello'), 'dir');
    const found = generateRegistry({ root: work, outDir });
    expect(found.map((p) => p.folder)).toEqual([...installedPlugins.map((p) => p.name), 'hello']);
    const references = JSON.parse(readFileSync(join(outDir, 'tsconfig.plugins.json'), 'utf8').replace(/^\/\/.*\n/, '')).references;
    expect(references).toContainEqual({ path: '../../plugins/hello' });

    const { installed } = (await import(join(outDir, 'src', 'installed.ts'))) as { installed: AnyPlugin[] };
    api = await testApi('plugin-folder', {}, new PluginRegistry(installed));
    const res = await api.call('GET', '/plugins');
    expect(res.status).toBe(200);
    expect(res.body.map((p: { name: string }) => p.name)).toEqual([...installedPlugins.map((p) => p.name), 'hello']);
    expect(res.body.at(-1)).toMatchObject({
      name: 'hello',
      description: 'Answers with a greeting (a throwaway plugin of a test).',
      schemes: ['hello'],
      defaults: { greeting: 'hi' },
    });
  });
});
