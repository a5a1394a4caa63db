/**
 * The set of installed plugins: lookup by name and scheme, per-asset config validation (at the
 * edge, once, when an asset is created or changed) and redaction of secret options.
 */
import { Compile, type Validator } from 'typebox/compile';
import Value from 'typebox/value';
import { schemaProblems } from '@webmon/core';
import type { AnyPlugin } from './index.js';
import { explainRegexError } from './regex.js';

export interface ConfigProblem {
  /** Dotted path from the asset's `config`, e.g. `http.timeoutMs`. */
  field: string;
  message: string;
}

export interface PluginInfo {
  name: string;
  description: string;
  schemes: string[];
  /** Schemes it checks when an asset names it, without being a default plugin of them. */
  optInSchemes: string[];
  secretOptions: string[];
  configSchema: unknown;
  defaults: Record<string, unknown>;
}

export const REDACTED = '[redacted]';

export class PluginRegistry {
  private readonly byName = new Map<string, AnyPlugin>();
  private readonly validators = new Map<string, Validator>();

  constructor(plugins: readonly AnyPlugin[]) {
    for (const p of plugins) {
      if (this.byName.has(p.name)) throw new Error(`plugin ${p.name} registered twice`);
      this.byName.set(p.name, p);
      this.validators.set(p.name, Compile(p.configSchema));
    }
  }

  get(name: string): AnyPlugin | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** Plugins that handle a scheme by default (an asset's plugins when it names none), in registration order. */
  forScheme(scheme: string): AnyPlugin[] {
    return [...this.byName.values()].filter((p) => p.schemes.includes(scheme));
  }

  /** Whether a plugin can check assets of a scheme when they name it: a default or opt-in scheme. */
  accepts(plugin: AnyPlugin, scheme: string): boolean {
    return plugin.schemes.includes(scheme) || (plugin.optInSchemes ?? []).includes(scheme);
  }

  /**
   * Validates one plugin's options and returns them with defaults applied (what is stored and
   * what runs), or the problems, each naming its field.
   */
  validate(name: string, options: unknown): { ok: true; value: Record<string, unknown> } | { ok: false; problems: ConfigProblem[] } {
    const plugin = this.byName.get(name);
    const validator = this.validators.get(name);
    if (!plugin || !validator) return { ok: false, problems: [{ field: name, message: `unknown plugin "${name}"` }] };
    let value: unknown;
    try {
      value = Value.Default(plugin.configSchema, structuredClone(options ?? {}));
    } catch {
      value = options; // defaults could not be applied to this shape; validation reports why
    }
    if (validator.Check(value)) return { ok: true, value: value as Record<string, unknown> };
    const problems = schemaProblems(validator.Errors(value).map((e) => explainRegexError(e, value)), name);
    return { ok: false, problems };
  }

  /**
   * Where one plugin's secrets sit in these options: each of its secretOptions, then the paths
   * its secretPaths() finds (a plugin that cannot read options of an unexpected shape has none).
   */
  secretPaths(name: string, options: Record<string, unknown>): string[][] {
    const plugin = this.byName.get(name);
    if (!plugin) return [];
    const out = (plugin.secretOptions ?? []).map((s) => [s]);
    try {
      for (const path of plugin.secretPaths?.(options) ?? []) out.push([...path]);
    } catch {
      // Stored options of an older shape: only the declared secretOptions apply.
    }
    return out;
  }

  /** A copy of an asset's plugin config with every secret value replaced by REDACTED. */
  redact(config: Record<string, Record<string, unknown>>): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const [name, options] of Object.entries(config)) {
      const copy = structuredClone(options);
      for (const path of this.secretPaths(name, options)) {
        const v = getPath(copy, path);
        if (v !== undefined && v !== '') setPath(copy, path, REDACTED);
      }
      out[name] = copy;
    }
    return out;
  }

  /**
   * Options sent back by a client, with each REDACTED value that stands where the stored
   * options hold a secret (as the API showed them) replaced by the stored value.
   */
  restoreSecrets(name: string, given: Record<string, unknown>, stored: Record<string, unknown> | undefined): Record<string, unknown> {
    if (!stored) return given;
    const out = structuredClone(given);
    for (const path of this.secretPaths(name, stored)) {
      const kept = getPath(stored, path);
      if (kept !== undefined && getPath(out, path) === REDACTED) setPath(out, path, kept);
    }
    return out;
  }

  /** Lets every plugin release its resources. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.byName.values()].map((p) => p.close?.()));
  }

  describe(): PluginInfo[] {
    return [...this.byName.values()].map((p) => ({
      name: p.name,
      description: p.description,
      schemes: [...p.schemes],
      optInSchemes: [...(p.optInSchemes ?? [])],
      secretOptions: [...(p.secretOptions ?? [])],
      configSchema: p.configSchema,
      defaults: Value.Default(p.configSchema, {}) as Record<string, unknown>,
    }));
  }
}

function getPath(obj: Record<string, unknown>, path: readonly string[]): unknown {
  let cur: unknown = obj;
  for (const part of path) {
    if (typeof cur !== 'object' || cur === null || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Replaces an existing value only (never creates one, never touches a prototype). */
function setPath(obj: Record<string, unknown>, path: readonly string[], value: unknown): void {
  const parent = getPath(obj, path.slice(0, -1));
  const last = path[path.length - 1];
  if (last === undefined || typeof parent !== 'object' || parent === null || !Object.hasOwn(parent, last)) return;
  Object.defineProperty(parent, last, { value, writable: true, enumerable: true, configurable: true });
}
