/**
 * The installed plugins. Adding a plugin is one folder under plugins/ and one line here.
 */
import { PluginRegistry, type AnyPlugin } from '@webmon/plugin-sdk';
import { httpPlugin } from '@webmon/plugin-http';
import { htmlStatsPlugin } from '@webmon/plugin-htmlstats';
import { tcpPlugin } from '@webmon/plugin-tcp';
import { ftpPlugin } from '@webmon/plugin-ftp';

export const plugins: readonly AnyPlugin[] = [
  httpPlugin,
  htmlStatsPlugin, // after http: it reuses the page http fetched
  tcpPlugin,
  ftpPlugin,
];

export const registry = new PluginRegistry(plugins);
