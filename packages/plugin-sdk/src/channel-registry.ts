/**
 * The set of installed notification channels: lookup by type, options validation with defaults
 * (once, when a client saves a channel), redaction of secret options for API output and logs, and
 * the restoring of secrets a client sends back as REDACTED.
 */
import { Compile, type Validator } from 'typebox/compile';
import Value from 'typebox/value';
import { schemaProblems } from '@webmon/core';
import type { AnyChannel } from './channel.js';
import { REDACTED, type ConfigProblem } from './registry.js';

export interface ChannelInfo {
  /** The type a client names (`webhook`, `email`, …). */
  name: string;
  description: string;
  /** Top-level options that are secrets (names only, never values). */
  secretOptions: string[];
  /** Whether the channel accepts a digest (several messages in one send). */
  digest: boolean;
  optionsSchema: unknown;
  defaults: Record<string, unknown>;
}

export class ChannelRegistry {
  private readonly byName = new Map<string, AnyChannel>();
  private readonly validators = new Map<string, Validator>();

  constructor(channels: readonly AnyChannel[]) {
    for (const c of channels) {
      if (this.byName.has(c.name)) throw new Error(`channel ${c.name} registered twice`);
      this.byName.set(c.name, c);
      this.validators.set(c.name, Compile(c.optionsSchema));
    }
  }

  get(type: string): AnyChannel | undefined {
    return this.byName.get(type);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** Validates a channel's options and returns them with defaults applied, or the problems (fields under `options.`). */
  validate(type: string, options: unknown): { ok: true; value: Record<string, unknown> } | { ok: false; problems: ConfigProblem[] } {
    const channel = this.byName.get(type);
    const validator = this.validators.get(type);
    if (!channel || !validator) return { ok: false, problems: [{ field: 'type', message: `unknown channel type "${type}"; installed: ${this.names().join(', ')}` }] };
    let value: unknown;
    try {
      value = Value.Default(channel.optionsSchema, structuredClone(options ?? {}));
    } catch {
      value = options; // defaults could not be applied to this shape; validation reports why
    }
    if (validator.Check(value)) return { ok: true, value: value as Record<string, unknown> };
    return { ok: false, problems: schemaProblems(validator.Errors(value), 'options') };
  }

  /**
   * A copy of the options with every set secret replaced by REDACTED. For a type that is not
   * installed (its plugin folder was removed) nothing tells which options are secrets, so every
   * set option is redacted.
   */
  redact(type: string, options: Record<string, unknown>): Record<string, unknown> {
    const out = { ...options };
    const channel = this.byName.get(type);
    for (const name of channel ? channel.secretOptions : Object.keys(out)) {
      if (out[name] !== undefined && out[name] !== '' && out[name] !== null) out[name] = REDACTED;
    }
    return out;
  }

  /**
   * Options sent by a client for a stored channel: a secret given as REDACTED, or left out,
   * keeps the stored value (secrets are write-only, so a client edits a channel without them).
   * When an endpoint option changed, a stored secret is not kept: it reads REDACTED, which
   * redactedSecrets reports, so the client must send it again.
   */
  restoreSecrets(type: string, given: Record<string, unknown>, stored: Record<string, unknown> | undefined): Record<string, unknown> {
    if (!stored) return given;
    const out = { ...given };
    const keep = !this.endpointChanged(type, given, stored);
    for (const name of this.byName.get(type)?.secretOptions ?? []) {
      if ((out[name] === REDACTED || out[name] === undefined) && stored[name] !== undefined) out[name] = keep ? stored[name] : REDACTED;
    }
    return out;
  }

  /** Whether `given` (defaults applied) names another endpoint than `stored` (see Channel.endpointOptions). */
  private endpointChanged(type: string, given: Record<string, unknown>, stored: Record<string, unknown>): boolean {
    const channel = this.byName.get(type);
    if (!channel?.endpointOptions?.length) return false;
    let withDefaults: Record<string, unknown>;
    try {
      withDefaults = Value.Default(channel.optionsSchema, structuredClone(given)) as Record<string, unknown>;
    } catch {
      return true;
    }
    return channel.endpointOptions.some((name) => JSON.stringify(withDefaults[name]) !== JSON.stringify(stored[name]));
  }

  /** Whether a value is REDACTED where a secret of this type stands (a new channel cannot be saved with it). */
  redactedSecrets(type: string, given: Record<string, unknown>): string[] {
    return (this.byName.get(type)?.secretOptions ?? []).filter((name) => given[name] === REDACTED);
  }

  /** Lets every channel release its resources. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.byName.values()].map((c) => c.close?.()));
  }

  describe(): ChannelInfo[] {
    return [...this.byName.values()].map((c) => ({
      name: c.name,
      description: c.description,
      secretOptions: [...c.secretOptions],
      digest: c.digest === true,
      optionsSchema: c.optionsSchema,
      defaults: Value.Default(c.optionsSchema, {}) as Record<string, unknown>,
    }));
  }
}
