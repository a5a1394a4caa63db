/**
 * The installed plugins. Adding a plugin is one folder under plugins/ and one line here.
 */
import { PluginRegistry, type AnyPlugin } from '@webmon/plugin-sdk';
import { httpPlugin } from '@webmon/plugin-http';

export const plugins: readonly AnyPlugin[] = [
  httpPlugin,
];

export const registry = new PluginRegistry(plugins);
