/**
 * One check of one asset: every plugin it lists runs concurrently (each with its own deadline)
 * and the worst result decides the outcome. Also the per-client and per-host limits a check
 * runs under (byte caps, host spacing).
 */
import {
  pluginStorage,
  type AssetRecord,
  type CheckOutcome,
  type CheckResult,
  type Config,
  type EgressGuard,
  type Keys,
  type Logger,
  type Redis,
} from '@webmon/core';
import { createSharedCache, runPlugin, type PluginRegistry } from '@webmon/plugin-sdk';

const SEVERITY: Record<CheckResult['status'], number> = { ok: 0, warn: 1, error: 2 };

/**
 * The worst result decides the outcome; no plugin at all means unsupported, and so does a
 * connection the egress guard refused (the refusal is the reason shown).
 */
export function outcomeOf(results: readonly CheckResult[]): { outcome: CheckOutcome; reason: string | null } {
  if (results.length === 0) return { outcome: 'unsupported', reason: 'unsupported' };
  const denied = results.find((r) => r.reason === 'denied');
  if (denied) return { outcome: 'unsupported', reason: `denied: ${denied.message}` };
  let worst = results[0]!;
  for (const r of results) if (SEVERITY[r.status] > SEVERITY[worst.status]) worst = r;
  return { outcome: worst.status, reason: worst.reason };
}

/** Runs every plugin of an asset and returns their results (never throws for a failed check). */
export async function checkAsset(
  asset: AssetRecord,
  deps: { registry: PluginRegistry; redis: Redis; keys: Keys; log: Logger; defaultTimeoutMs: number; egress: EgressGuard; signal?: AbortSignal },
): Promise<CheckResult[]> {
  const target = { url: new URL(asset.url), assetId: asset.id, owner: asset.owner };
  const shared = createSharedCache();
  // Registration order, whatever the asset lists: plugins that provide shared data (the http
  // page) start before the plugins that reuse it, so results do not depend on list order.
  const order = deps.registry.names();
  const names = [...asset.plugins].sort((a, b) => rank(order, a) - rank(order, b));
  return Promise.all(
    names.map((name) => {
      const plugin = deps.registry.get(name);
      if (!plugin) {
        return Promise.resolve<CheckResult>({
          plugin: name,
          status: 'error',
          reason: 'plugin_error',
          message: `plugin "${name}" is not installed on this executor`,
          durationMs: 0,
          metrics: {},
        });
      }
      const config = asset.config[name] ?? {};
      const timeoutMs = typeof config.timeoutMs === 'number' ? config.timeoutMs : deps.defaultTimeoutMs;
      // The child logger is made only if the plugin logs (most checks never do).
      let log: Logger | undefined;
      const ctx = {
        get log() {
          log ??= deps.log.child({ assetId: asset.id, plugin: name });
          return log;
        },
        storage: pluginStorage(deps.redis, deps.keys, asset.id, name),
        shared,
        egress: deps.egress,
        assetConfig: asset.config,
      };
      return runPlugin(plugin, target, config, ctx, timeoutMs, deps.signal);
    }),
  );
}

/** The option of each plugin that bounds how many bytes it reads (or parses) from the target. */
const BYTE_CAPS: Readonly<Record<string, string>> = { http: 'maxBodyBytes', ftp: 'maxBytes', tcp: 'maxBytes', htmlstats: 'maxParseBytes' };

/**
 * The asset as a client's check runs it: every plugin reads at most `maxBytes` (the client's
 * effective `maxBodyBytes`), whatever was stored. The stored asset is not changed.
 */
export function withBodyCap(asset: AssetRecord, maxBytes: number): AssetRecord {
  let config = asset.config;
  for (const [plugin, option] of Object.entries(BYTE_CAPS)) {
    const options = config[plugin];
    if (!options) continue;
    const stored = typeof options[option] === 'number' ? (options[option] as number) : Infinity;
    if (stored <= maxBytes) continue;
    config = { ...config, [plugin]: { ...options, [option]: maxBytes } };
  }
  return config === asset.config ? asset : { ...asset, config };
}

/** Spacing between check starts for a host: its own entry, else the smallest of its tags', else the default. */
export function hostSpacing(p: Readonly<Config['politeness']>, host: string, tags: readonly string[]): number {
  if (Object.hasOwn(p.hosts, host)) return p.hosts[host]!;
  let best: number | undefined;
  for (const t of tags) if (Object.hasOwn(p.tags, t)) best = Math.min(best ?? Infinity, p.tags[t]!);
  return best ?? p.hostIntervalMs;
}

function rank(order: readonly string[], name: string): number {
  const i = order.indexOf(name);
  return i < 0 ? order.length : i;
}
