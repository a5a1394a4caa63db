/** `webmon apply -f FILE`: declarative sync of one client's assets and channels through the REST API. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type Config } from '@webmon/core';
import { readChannels, syncChannels, type Call, type ChannelReport, type FileChannel } from './apply-channels.js';
import { progressLine, styleFor } from './term.js';

export interface ApplyOptions {
  file: string | undefined;
  api: string | undefined;
  key: string | undefined;
  client: string | undefined;
}

interface Spec {
  client?: unknown;
  /** Absent: the client's assets are left as they are (a file of channels only). */
  assets?: unknown[];
  /** Absent: the client's channels are left as they are. */
  channels?: FileChannel[];
}

/** The file: a list of assets, or `{client?, assets?, channels?}` with at least one of the lists. */
function readSpec(file: string | undefined): Spec {
  if (!file) throw new ConfigError('apply needs -f FILE (a YAML or JSON list of assets)');
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file}: ${(err as Error).message}`);
  }
  const spec = Array.isArray(doc) ? { assets: doc } : (doc as { client?: unknown; assets?: unknown; channels?: unknown } | null);
  const hasAssets = Array.isArray(spec?.assets);
  if (!spec || (!hasAssets && spec.channels === undefined) || (spec.assets !== undefined && !hasAssets)) {
    throw new ConfigError(`${file}: expected a list of assets, or a mapping with "assets:" and/or "channels:" (and optionally "client:")`);
  }
  const channels = spec.channels === undefined ? undefined : readChannels(file, spec.channels, process.env);
  return { client: spec.client, ...(hasAssets ? { assets: spec.assets as unknown[] } : {}), ...(channels ? { channels } : {}) };
}

/** --api, else $WEBMON_API_URL, else the configured api address (a wildcard bind → loopback). */
function apiBase(config: Readonly<Config>, flag: string | undefined): string {
  const host = ['0.0.0.0', '::'].includes(config.api.host) ? '127.0.0.1' : config.api.host;
  return (flag ?? process.env.WEBMON_API_URL ?? `http://${host.includes(':') ? `[${host}]` : host}:${config.api.port}`).replace(/\/+$/, '');
}

/** --key, else $WEBMON_API_KEY, else api.adminKey, else <dataDir>/admin.key. */
function apiKey(config: Readonly<Config>, flag: string | undefined): string {
  const keyFile = join(config.dataDir, 'admin.key');
  const key = flag ?? process.env.WEBMON_API_KEY ?? config.api.adminKey ?? (existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : undefined);
  if (!key) throw new ConfigError('apply needs an API key: --key, $WEBMON_API_KEY, api.adminKey, or <dataDir>/admin.key');
  return key;
}

/** What PUT /clients/:id/assets answers (see the api's sync route). */
interface SyncReport {
  added: number;
  updated: number;
  kept: number;
  removed: number;
  failed: number;
  pruned: boolean;
  items: Array<{ index: number; error?: { code: string; message: string } }>;
}

function caller(base: string, key: string): Call {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    const json = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${json.code ?? ''} ${json.message ?? text}`);
    return json as T;
  };
}

/** Prints the summary line, then one line per refused item; exit code 1 when any failed. */
function report(client: string, r: SyncReport): number {
  const style = styleFor(process.stdout);
  const failed = r.failed > 0 ? style.red(`${r.failed} failed`) : `${r.failed} failed`;
  process.stdout.write(`client ${client}: ${r.added} added, ${r.updated} updated, ${r.kept} kept, ${r.removed} removed, ${failed}\n`);
  for (const item of r.items) {
    if (item.error) process.stdout.write(`  item ${item.index}: ${style.red(item.error.code)}: ${item.error.message}\n`);
  }
  if (!r.pruned) process.stdout.write(`${style.yellow('nothing was removed: fix the items above and apply again')}\n`);
  return r.failed > 0 ? 1 : 0;
}

/** Prints what was done to the channels, then one line per refused channel; exit code 1 when any failed. */
function reportChannels(client: string, r: ChannelReport): number {
  const style = styleFor(process.stdout);
  const failed = r.failed.length > 0 ? style.red(`${r.failed.length} failed`) : '0 failed';
  process.stdout.write(`client ${client} channels: ${r.created} created, ${r.updated} updated, ${r.kept} kept, ${r.deleted} deleted, ${failed}\n`);
  for (const f of r.failed) process.stdout.write(`  channel ${f.name}: ${f.error}\n`);
  if (r.failed.length > 0) process.stdout.write(`${style.yellow('no channel was deleted: fix the channels above and apply again')}\n`);
  return r.failed.length > 0 ? 1 : 0;
}

async function syncAssets(call: Call, client: string, assets: unknown[]): Promise<SyncReport> {
  const progress = progressLine(process.stderr, `applying ${assets.length} assets to client ${client}`);
  try {
    return await call<SyncReport>('PUT', `/clients/${encodeURIComponent(client)}/assets`, { assets });
  } finally {
    progress.stop();
  }
}

export async function apply(config: Readonly<Config>, opts: ApplyOptions): Promise<number> {
  const spec = readSpec(opts.file);
  const call = caller(apiBase(config, opts.api), apiKey(config, opts.key));
  try {
    const client = opts.client ?? (typeof spec.client === 'string' ? spec.client : undefined) ?? String((await call('GET', '/whoami')).id);
    const assets = spec.assets ? report(client, await syncAssets(call, client, spec.assets)) : 0;
    const channels = spec.channels ? reportChannels(client, await syncChannels(call, client, spec.channels)) : 0;
    return Math.max(assets, channels);
  } catch (err) {
    process.stderr.write(`webmon: ${(err as Error).message}\n`);
    return 1;
  }
}
