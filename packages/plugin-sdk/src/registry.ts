/**
 * The set of installed plugins: lookup by name and scheme, per-asset config validation (at the
 * edge, once, when an asset is created or changed) and redaction of secret options.
 */
import { Compile, type Validator } from 'typebox/compile';
import Value from 'typebox/value';
import { schemaProblems } from '@webmon/core';
import type { AnyPlugin } from './index.js';

export interface ConfigProblem {
  /** Dotted path from the asset's `config`, e.g. `http.timeoutMs`. */
  field: string;
  message: string;
}

export interface PluginInfo {
  name: string;
  description: string;
  schemes: string[];
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

  /** Plugins that handle a scheme, in registration order. */
  forScheme(scheme: string): AnyPlugin[] {
    return [...this.byName.values()].filter((p) => p.schemes.includes(scheme));
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
    const problems = schemaProblems(validator.Errors(value), name);
    return { ok: false, problems };
  }

  /** A copy of an asset's plugin config with secret options replaced. */
  redact(config: Record<string, Record<string, unknown>>): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const [name, options] of Object.entries(config)) {
      const secrets = this.byName.get(name)?.secretOptions ?? [];
      const copy = { ...options };
      for (const s of secrets) if (copy[s] !== undefined && copy[s] !== '') copy[s] = REDACTED;
      out[name] = copy;
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
      secretOptions: [...(p.secretOptions ?? [])],
      configSchema: p.configSchema,
      defaults: Value.Default(p.configSchema, {}) as Record<string, unknown>,
    }));
  }
}
