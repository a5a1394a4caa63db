/**
 * The installed plugins: every folder under plugins/ whose package.json says
 * `"webmon": {"plugin": true}` (checks) or `"webmon": {"channel": true}` (notification channels),
 * listed in src/installed.ts by generate.mjs (run by npm install and npm run build). Adding a
 * plugin or a channel is adding its folder.
 */
import { ChannelRegistry, PluginRegistry, type AnyChannel, type AnyPlugin } from '@webmon/plugin-sdk';
import { channels as installedChannels, installed } from './installed.js';

export const plugins: readonly AnyPlugin[] = installed;

export const registry = new PluginRegistry(plugins);

export const channels: readonly AnyChannel[] = installedChannels;

export const channelRegistry = new ChannelRegistry(channels);
