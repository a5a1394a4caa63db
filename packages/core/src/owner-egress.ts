/**
 * The egress guard of whoever owns an asset or a webhook. Owner `admin` is the operator:
 * trusted, bound by config `policy` only. Any other owner is a client: untrusted, bound by
 * `policy` and reaching non-public ranges only through config `tenants.allowCidrs` and the
 * ranges the admin set for it (client hash field `allowCidrs`).
 */
import { createEgressGuard, validateCidrs, type EgressGuard } from './egress.js';
import type { PolicyConfig } from './policy.js';
import { ADMIN_CLIENT_ID, type ClientSettings } from './store/clients.js';

/** The parts of the configuration that decide egress (a Config is one). */
export interface EgressConfig {
  policy: PolicyConfig;
  tenants: { allowCidrs: readonly string[] };
}

export interface OwnerEgressEntry {
  guard: EgressGuard;
  /** The owner's settings (empty for the admin), read with the guard. */
  settings: ClientSettings;
}

/** Ranges that parse; a malformed stored range is dropped, so a bad entry narrows access, never widens it. */
function parsableCidrs(cidrs: readonly unknown[]): string[] {
  return cidrs.filter((c): c is string => {
    if (typeof c !== 'string') return false;
    try {
      validateCidrs([c], 'allowCidrs');
      return true;
    } catch {
      return false;
    }
  });
}

/** The guard for `owner` with these settings (no caching, no I/O). */
export function ownerGuard(config: EgressConfig, owner: string, settings: ClientSettings | null): EgressGuard {
  if (owner === ADMIN_CLIENT_ID) return createEgressGuard({ policy: config.policy, trusted: true });
  const own = Array.isArray(settings?.allowCidrs) ? parsableCidrs(settings.allowCidrs) : [];
  return createEgressGuard({ policy: config.policy, trusted: false, allowCidrs: [...config.tenants.allowCidrs, ...own] });
}

export interface OwnerEgressOptions {
  /** How long an owner's settings are reused before being read again, ms (default 5000). */
  ttlMs?: number;
  /** Owners kept; the least recently loaded beyond it are forgotten (default 1000). */
  max?: number;
}

/**
 * Guards per owner, with the owner's settings cached for a few seconds (an admin's change to a
 * client's ranges applies within `ttlMs`). Bounded; a failed read is not cached.
 */
export class OwnerEgress {
  private readonly entries = new Map<string, { at: number; entry: Promise<OwnerEgressEntry> }>();
  private readonly ttlMs: number;
  private readonly max: number;

  constructor(
    private readonly config: EgressConfig,
    private readonly clients: { settings(id: string): Promise<ClientSettings> },
    opts: OwnerEgressOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 5000;
    this.max = Math.max(1, opts.max ?? 1000);
  }

  forOwner(owner: string, now = Date.now()): Promise<OwnerEgressEntry> {
    const hit = this.entries.get(owner);
    if (hit && now - hit.at < this.ttlMs) return hit.entry;
    this.entries.delete(owner);
    const entry = this.load(owner);
    this.entries.set(owner, { at: now, entry });
    entry.catch(() => {
      if (this.entries.get(owner)?.entry === entry) this.entries.delete(owner);
    });
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
    return entry;
  }

  private async load(owner: string): Promise<OwnerEgressEntry> {
    const settings: ClientSettings = owner === ADMIN_CLIENT_ID ? { allowCidrs: [], limits: {} } : await this.clients.settings(owner);
    return { guard: ownerGuard(this.config, owner, settings), settings };
  }
}
