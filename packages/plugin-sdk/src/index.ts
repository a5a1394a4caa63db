/**
 * The plugin contract. A plugin declares its name, the URL schemes it handles, a config schema
 * with defaults, and `run(target, config, context)`, which returns a result. A failed check is a
 * result with a reason (`fail('refused', …)`); throwing is for faults of the plugin itself, which
 * the executor records as `plugin_error`.
 *
 * Adding a plugin is adding its folder under plugins/ (see packages/plugin-registry).
 */
import type { Static, TObject } from 'typebox';
import type { CheckStatus, EgressGuard, Logger, PluginStorage, Reason } from '@webmon/core';

export type { CheckResult, CheckStatus, EgressGuard, PluginStorage, Reason } from '@webmon/core';
export { EGRESS_DENIED, EgressDeniedError, retryAfterMs, round } from '@webmon/core';

export interface Target {
  /** Parsed, normalised asset URL. */
  url: URL;
  assetId: string;
  /** The asset's owner (client id, or `admin`): shared resources are served fairly per owner. */
  owner?: string;
}

/** A response fetched once per check and shared by every plugin of the asset that needs it. */
export interface SharedCache {
  /** Returns the cached value for `key`, computing it once with `load` when missing. */
  once<T>(key: string, load: () => Promise<T>): Promise<T>;
}

export interface PluginContext {
  /** Aborts when the check's time is up or the executor is stopping. */
  signal: AbortSignal;
  /** The check's overall budget, ms (the signal fires when it runs out). */
  timeoutMs: number;
  log: Logger;
  storage: PluginStorage;
  shared: SharedCache;
  /**
   * The only way out: every connection the plugin opens goes through it (see net.ts). Names are
   * resolved by `egress.lookup` (given as `lookup` to net/tls/undici), IP literals judged with
   * `egress.assertHost` first; a refused address is the reason `denied` (classifyError).
   */
  egress: EgressGuard;
  /**
   * Options of every plugin enabled on this asset, by plugin name, so that plugins sharing one
   * fetch (see SharedCache) agree on its options whatever order they run in.
   */
  assetConfig?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

export interface PluginOutput {
  status: CheckStatus;
  reason: Reason | null;
  message: string;
  metrics: Record<string, number>;
  details?: Record<string, unknown>;
}

export interface Plugin<S extends TObject = TObject> {
  name: string;
  description: string;
  /** URL schemes handled, lower case without ':' (e.g. ['http', 'https']): a default plugin of such assets. */
  schemes: readonly string[];
  /**
   * Further schemes the plugin checks only when an asset names it in `plugins` (opt-in): never a
   * default plugin of these (e.g. domain expiry on http assets).
   */
  optInSchemes?: readonly string[];
  /** Options with defaults; `additionalProperties: false` so typos are rejected. */
  configSchema: S;
  /** Options that are secrets: never logged, never returned by the API. */
  secretOptions?: readonly string[];
  /** Paths of further secret values within the options (e.g. credential headers), treated like secretOptions. */
  secretPaths?(config: Static<S>): ReadonlyArray<readonly string[]>;
  run(target: Target, config: Static<S>, ctx: PluginContext): Promise<PluginOutput>;
  /** What the plugin has learned about one asset (a baseline), for statistics. */
  describe?(storage: PluginStorage): Promise<Record<string, unknown>>;
  /** Forgets what the plugin learned about one asset (a baseline), on request through the API. */
  reset?(storage: PluginStorage): Promise<void>;
  /** Releases process-wide resources (connection pools) when the executor stops. */
  close?(): Promise<void>;
}

/** Any plugin, whatever its config type (for registries and lists of plugins). */
// biome-ignore lint/suspicious/noExplicitAny: a registry holds plugins of every config type
export type AnyPlugin = Plugin<any>;

/** Identity helper that makes TypeScript infer the config type from the schema. */
export function definePlugin<S extends TObject>(plugin: Plugin<S>): Plugin<S> {
  return plugin;
}

export { classifyError, type Classified } from './classify.js';
export { PluginRegistry, REDACTED, type ConfigProblem, type PluginInfo } from './registry.js';
export { runPlugin } from './run.js';
export { createSharedCache, memoryStorage } from './context.js';
export { clientEgress, egressDenial, guardedTarget, operatorEgress } from './net.js';
export {
  USER_REGEX_FORMAT,
  USER_REGEX_MAX_PROGRAM,
  UserRegexError,
  closeRegexPool,
  userRegex,
  userRegexProblem,
  validateUserRegex,
  type MatchOptions,
  type UserRegex,
  type UserRegexOptions,
} from './regex.js';
export { INLINE_BYTES, MATCH_BUDGET_MS, RegexPool, RegexTimeoutError } from './regex-pool.js';
export { fail, ok, warn } from './output.js';
export { MAX_AGENTS, agentCount, agentFor, closeAgents as closePageAgents, type ConnectionTiming } from './fetch/connection.js';
export { certificateSummary, daysLeft, type PeerCertificate } from './cert.js';
export { PAGE_KEY, PAGE_OPTIONS_PLUGIN, RedirectError, fetchFailure, fetchPage, fetchUrl, headerValue, type FetchOutcome } from './fetch/fetch.js';
export { PAGE_REQUEST_DEFAULTS, pageRequestSchema, secretHeaderPaths, type PageRequest } from './fetch/options.js';
export {
  defineChannel,
  delivered,
  outcomeOfStatus,
  rejected,
  retryLater,
  type AnyChannel,
  type Channel,
  type ChannelContext,
  type ChannelMessage,
  type ChannelMessageType,
  type ChannelRequest,
  type ChannelResponse,
  type SendOutcome,
} from './channel.js';
export { ChannelAgents, createChannelContext, type ChannelContextOptions } from './channel-context.js';
export { cutText, escapeHtml } from './channel-text.js';
export { incidentAction } from './channel-incident.js';
export { ChannelRegistry, type ChannelInfo } from './channel-registry.js';
