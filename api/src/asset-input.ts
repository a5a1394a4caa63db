/**
 * Turns client input into what is stored: URL normalised, plugins resolved (default: every
 * plugin for the scheme; a plugin named in `plugins` may also be one of its opt-in schemes),
 * each plugin's options validated with defaults applied, interval and tags checked. Throws
 * WebmonError naming the field. Shared by single create, batch create and update so that all
 * three accept and reject exactly the same things.
 */
import {
  WebmonError,
  createPolicy,
  normalizeUrl,
  type HostPolicy,
  type AssetChange,
  type AssetRecord,
  type Config,
  type NewAsset,
  type NormalizedUrl,
  type PluginConfigs,
} from '@webmon/core';
import type { PluginRegistry } from '@webmon/plugin-sdk';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { AssetInput as AssetInputSchema, type AssetInput, type AssetPatch } from './schemas/index.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** Limits on what a client (not the admin) may configure: see tenants.limits. */
export interface ClientCaps {
  /** Most response body bytes a check may read: the http plugin's maxBodyBytes may not exceed it. */
  maxBodyBytes: number;
}

export class AssetInputs {
  private readonly policy: HostPolicy;
  private readonly itemValidator: ValidateFunction = addFormats(new Ajv({ strict: false, coerceTypes: false })).compile(AssetInputSchema);

  /**
   * Validates one item of a list (batch create, sync) against the AssetInput schema; a bare
   * string is a URL. Throws WEBMON_ERR_VALIDATION naming the field under `path`.
   */
  parseItem(item: unknown, path: string): AssetInput {
    const value = typeof item === 'string' ? { url: item } : item;
    if (this.itemValidator(value)) return value as AssetInput;
    const v = this.itemValidator.errors?.[0];
    const at = [path, ...(v?.instancePath.split('/').slice(1) ?? [])].join('.');
    const extra = v?.params && 'additionalProperty' in v.params ? `.${String(v.params.additionalProperty)}` : '';
    throw new WebmonError('WEBMON_ERR_VALIDATION', `${at}${extra}: ${extra ? 'is not a known field' : (v?.message ?? 'is invalid')}`);
  }

  constructor(
    private readonly registry: PluginRegistry,
    private readonly cfg: Readonly<Config>,
  ) {
    this.policy = createPolicy(cfg.policy);
  }

  /** Why the asset cannot be checked (no plugin for its scheme, or a host policy), or null. */
  private unsupported(url: NormalizedUrl, plugins: readonly string[]): string | null {
    if (plugins.length === 0) return `no plugin handles ${url.scheme}: URLs`;
    return this.policy.denyHost(url.host);
  }

  /** `caps`: the client's limits (null for the admin, who may set up to the schemas' maxima). */
  forCreate(input: AssetInput, owner: string, caps: ClientCaps | null = null): NewAsset {
    const url = normalizeUrl(input.url);
    const plugins = this.resolvePlugins(url, input.plugins);
    const config = this.validateConfigs(plugins, input.config ?? {}, {}, caps);
    const asset: NewAsset = {
      owner,
      url,
      plugins,
      config,
      interval: this.interval(input.interval),
      tags: normalizeTags(input.tags),
      paused: input.paused ?? false,
    };
    const why = this.unsupported(url, plugins);
    if (why) {
      asset.state = 'unsupported';
      asset.stateReason = why;
    }
    return asset;
  }

  forUpdate(cur: AssetRecord, patch: AssetPatch, caps: ClientCaps | null = null): AssetChange {
    const change: AssetChange = {};
    const url = patch.url !== undefined ? normalizeUrl(patch.url) : undefined;
    if (url && url.url !== cur.url) change.url = url;
    const schemeChanged = url !== undefined && url.scheme !== cur.scheme;
    let plugins = cur.plugins;
    if (patch.plugins !== undefined || schemeChanged) {
      plugins = this.resolvePlugins(url ?? { url: cur.url, scheme: cur.scheme, host: cur.host }, patch.plugins);
      change.plugins = plugins;
    }
    if (patch.config !== undefined || change.plugins) {
      // Options of plugins that stay are kept unless replaced; removed plugins lose theirs.
      const kept: PluginConfigs = {};
      for (const p of plugins) if (cur.config[p] && !patch.config?.[p]) kept[p] = cur.config[p];
      change.config = { ...this.validateConfigs(plugins, patch.config ?? {}, cur.config, caps), ...kept };
    }
    if (patch.interval !== undefined) change.interval = this.interval(patch.interval);
    if (patch.tags !== undefined) change.tags = normalizeTags(patch.tags);
    if (patch.paused !== undefined) change.paused = patch.paused;
    if (change.plugins || change.url) {
      const why = this.unsupported(url ?? { url: cur.url, scheme: cur.scheme, host: cur.host }, plugins);
      if (why) change.state = { state: 'unsupported', reason: why };
      else if (cur.state === 'unsupported') change.state = { state: 'unknown', reason: change.url ? 'url changed' : 'plugins changed' };
    }
    return change;
  }

  private resolvePlugins(url: NormalizedUrl, requested: readonly string[] | undefined): string[] {
    if (requested === undefined) return this.registry.forScheme(url.scheme).map((p) => p.name);
    for (const name of requested) {
      const plugin = this.registry.get(name);
      if (!plugin) throw new WebmonError('WEBMON_ERR_UNKNOWN_PLUGIN', `plugins: unknown plugin "${name}" (installed: ${this.registry.names().join(', ')})`);
      if (!this.registry.accepts(plugin, url.scheme)) {
        const handled = [...plugin.schemes, ...(plugin.optInSchemes ?? [])].join(', ');
        throw new WebmonError('WEBMON_ERR_PLUGIN_SCHEME', `plugins: plugin "${name}" does not handle ${url.scheme}: URLs (it handles ${handled})`);
      }
    }
    return [...requested];
  }

  /**
   * Validates the options given for each plugin and fills in defaults for the others. A secret
   * sent back as "[redacted]" (as the API shows it) keeps the stored value.
   */
  private validateConfigs(plugins: readonly string[], given: Record<string, Record<string, unknown>>, stored: PluginConfigs, caps: ClientCaps | null): PluginConfigs {
    for (const name of Object.keys(given)) {
      if (!this.registry.get(name)) throw new WebmonError('WEBMON_ERR_UNKNOWN_PLUGIN', `config.${name}: unknown plugin "${name}"`);
      if (!plugins.includes(name)) throw new WebmonError('WEBMON_ERR_PLUGIN_CONFIG', `config.${name}: plugin "${name}" is not enabled on this asset`);
    }
    const out: PluginConfigs = {};
    for (const name of plugins) {
      const options = this.registry.restoreSecrets(name, given[name] ?? {}, stored[name]);
      const res = this.registry.validate(name, options);
      if (!res.ok) {
        const first = res.problems[0]!;
        throw new WebmonError('WEBMON_ERR_PLUGIN_CONFIG', `config.${first.field}: ${first.message}`, {
          problems: res.problems.map((p) => ({ field: `config.${p.field}`, message: p.message })),
        });
      }
      if (caps) checkCaps(name, given[name] ?? {}, caps);
      out[name] = res.value;
    }
    return out;
  }

  private interval(value: number | undefined): number {
    const v = value ?? this.cfg.checks.defaultIntervalSec;
    if (v < this.cfg.checks.minIntervalSec) {
      throw new WebmonError('WEBMON_ERR_VALIDATION', `interval: must be at least ${this.cfg.checks.minIntervalSec} seconds (got ${v})`);
    }
    return v;
  }
}

/**
 * A client may not raise its checks' body cap above its limit. Only a value it gives is
 * refused: a default above the limit is capped where the check runs.
 */
function checkCaps(plugin: string, given: Record<string, unknown>, caps: ClientCaps): void {
  const bytes = given.maxBodyBytes;
  if (plugin !== 'http' || typeof bytes !== 'number' || bytes <= caps.maxBodyBytes) return;
  const field = 'config.http.maxBodyBytes';
  throw new WebmonError('WEBMON_ERR_PLUGIN_CONFIG', `${field}: at most ${caps.maxBodyBytes} for this client (got ${bytes})`, {
    problems: [{ field, message: `must be <= ${caps.maxBodyBytes} for this client` }],
  });
}

function normalizeTags(tags: readonly string[] | undefined): string[] {
  return [...new Set(tags ?? [])].sort();
}
