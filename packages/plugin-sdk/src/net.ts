/**
 * Connecting through the egress guard. A plugin never resolves a name itself: it hands the
 * guard's `lookup` to net/tls/undici (names are resolved once and every address judged), and
 * judges IP literals before connecting (net.connect skips the lookup for them).
 */
import type { LookupFunction } from 'node:net';
import { EGRESS_DENIED, createEgressGuard, type EgressGuard, type PolicyConfig } from '@webmon/core';

const OPEN_POLICY: PolicyConfig = Object.freeze({ denyHosts: [], allowHosts: [], denyCidrs: [], allowCidrs: [] });

/**
 * The host and lookup options for net.connect / tls.connect. Throws EgressDeniedError at once
 * when the host is refused by its name or, for an IP literal, by its address.
 */
export function guardedTarget(egress: EgressGuard, host: string): { host: string; lookup: LookupFunction } {
  egress.assertHost(host);
  return { host, lookup: egress.lookup };
}

/** The guard's refusal somewhere in an error's `cause`/`errors` chain, or null. */
export function egressDenial(err: unknown): Error | null {
  const seen: unknown[] = [err];
  for (let i = 0; i < seen.length && i < 32; i++) {
    const e = seen[i] as { code?: unknown; cause?: unknown; errors?: unknown } | null;
    if (!e || typeof e !== 'object') continue;
    if (e.code === EGRESS_DENIED) return e as Error;
    if (e.cause !== undefined) seen.push(e.cause);
    if (Array.isArray(e.errors)) seen.push(...e.errors);
  }
  return null;
}

/** A guard for the operator's own checks (trusted, no policy): plugin tests and tools. */
export function operatorEgress(policy: PolicyConfig = OPEN_POLICY): EgressGuard {
  return createEgressGuard({ policy, trusted: true });
}

/** A guard for a client's checks (untrusted) with the given extra ranges: plugin tests and tools. */
export function clientEgress(allowCidrs: readonly string[] = [], policy: PolicyConfig = OPEN_POLICY): EgressGuard {
  return createEgressGuard({ policy, trusted: false, allowCidrs });
}
