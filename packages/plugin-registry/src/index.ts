/**
 * The installed plugins: every folder under plugins/ whose package.json says
 * `"webmon": {"plugin": true}`, listed in src/installed.ts by generate.mjs (run by npm install and
 * npm run build). Adding a plugin is adding its folder.
 */
import { PluginRegistry, type AnyPlugin } from '@webmon/plugin-sdk';
import { installed } from './installed.js';

export const plugins: readonly AnyPlugin[] = installed;

export const registry = new PluginRegistry(plugins);
