/**
 * Connecting through the egress guard. A plugin never resolves a name itself: it hands the
 * guard's `lookup` to net/tls/undici (names are resolved once and every address judged), and
 * judges IP literals before connecting (net.connect skips the lookup for them).
 */
import type { LookupFunction } from 'node:net';
import { createEgressGuard, type EgressGuard, type PolicyConfig } from '@webmon/core';

export { egressDenial } from '@webmon/core';

const OPEN_POLICY: PolicyConfig = Object.freeze({ denyHosts: [], allowHosts: [], denyCidrs: [], allowCidrs: [] });

/**
 * The host and lookup options for net.connect / tls.connect. Throws EgressDeniedError at once
 * when the host is refused by its name or, for an IP literal, by its address.
 */
export function guardedTarget(egress: EgressGuard, host: string): { host: string; lookup: LookupFunction } {
  egress.assertHost(host);
  return { host, lookup: egress.lookup };
}


/** A guard for the operator's own checks (trusted, no policy): plugin tests and tools. */
export function operatorEgress(policy: PolicyConfig = OPEN_POLICY): EgressGuard {
  return createEgressGuard({ policy, trusted: true });
}

/** A guard for a client's checks (untrusted) with the given extra ranges: plugin tests and tools. */
export function clientEgress(allowCidrs: readonly string[] = [], policy: PolicyConfig = OPEN_POLICY): EgressGuard {
  return createEgressGuard({ policy, trusted: false, allowCidrs });
}
