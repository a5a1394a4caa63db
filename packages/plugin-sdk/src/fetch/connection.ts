/**
 * Pooled undici dispatchers with per-connection timing and certificate capture, each bound to
 * one egress guard: every connection it opens, redirect hops included, has its host judged
 * before connecting (IP literals never reach a lookup) and its name resolved by the guard's
 * `lookup` (undici's buildConnector spreads its options into net.connect/tls.connect), so the
 * address judged is the address connected to.
 *
 * Each Agent's connector records, on the socket it opens, when DNS resolved, when TCP connected
 * and when TLS finished, plus the peer certificate. A request is tied to its socket through
 * undici's diagnostics channels: `undici:request:create` fires synchronously inside `request()`
 * (so the probe that is "current" while we call it is the right one), and
 * `undici:client:sendHeaders` names the socket the request was written to.
 */
import dc from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import { EgressDeniedError, type EgressGuard } from '@webmon/core';
import { certificateSummary, type PeerCertificate } from '../cert.js';

export interface ConnectionTiming {
  /** The socket had already served a request (keep-alive): no connect phase was measured. */
  reused: boolean;
  dnsMs?: number;
  connectMs?: number;
  tlsMs?: number;
  cert?: PeerCertificate;
  /** The address connected to, and its family. */
  address?: string;
  family?: 4 | 6;
  /** The negotiated TLS protocol, e.g. "TLSv1.3". */
  tlsVersion?: string;
}

interface SocketInfo {
  start: number;
  lookupAt?: number;
  connectAt?: number;
  secureAt?: number;
  cert?: PeerCertificate;
  address?: string;
  family?: 4 | 6;
  tlsVersion?: string;
  requests: number;
}

const kInfo = Symbol('webmon.socket');

/** Collects the connection facts of the request made while it was current. */
export class Probe {
  timing: ConnectionTiming | undefined;
}

let current: Probe | null = null;
const probes = new WeakMap<object, Probe>();

dc.subscribe('undici:request:create', (message) => {
  if (current) probes.set((message as { request: object }).request, current);
});
dc.subscribe('undici:client:sendHeaders', (message) => {
  const { request, socket } = message as { request: object; socket: Socket & { [kInfo]?: SocketInfo } };
  const probe = probes.get(request);
  const info = socket[kInfo];
  if (!probe || !info) return;
  info.requests++;
  if (info.requests > 1) {
    probe.timing = { reused: true };
    return;
  }
  const connectFrom = info.lookupAt ?? info.start;
  const timing: ConnectionTiming = { reused: false };
  if (info.lookupAt !== undefined) timing.dnsMs = info.lookupAt - info.start;
  if (info.connectAt !== undefined) timing.connectMs = info.connectAt - connectFrom;
  if (info.secureAt !== undefined && info.connectAt !== undefined) timing.tlsMs = info.secureAt - info.connectAt;
  if (info.cert) timing.cert = info.cert;
  if (info.address) timing.address = info.address;
  if (info.family) timing.family = info.family;
  if (info.tlsVersion) timing.tlsVersion = info.tlsVersion;
  probe.timing = timing;
});

/** Runs `start` (which must call undici's request() synchronously) with `probe` current. */
export function withProbe<T>(probe: Probe, start: () => T): T {
  current = probe;
  try {
    return start();
  } finally {
    current = null;
  }
}

/** What a connected socket tells about its connection: address, family, TLS protocol, certificate. */
export function socketFacts(sock: Socket, tls: boolean): Pick<ConnectionTiming, 'address' | 'family' | 'tlsVersion' | 'cert'> {
  const out: Pick<ConnectionTiming, 'address' | 'family' | 'tlsVersion' | 'cert'> = {};
  if (sock.remoteAddress) out.address = sock.remoteAddress;
  if (sock.remoteFamily) out.family = sock.remoteFamily === 'IPv6' ? 6 : 4;
  if (tls) {
    out.tlsVersion = (sock as TLSSocket).getProtocol?.() ?? undefined;
    const cert = certificateSummary((sock as TLSSocket).getPeerCertificate?.());
    if (cert) out.cert = cert;
  }
  return out;
}

function timedConnector(options: buildConnector.BuildOptions, egress: EgressGuard): buildConnector.connector {
  const base = buildConnector({ ...options, lookup: egress.lookup });
  return (opts, callback) => {
    const refused = egress.judgeHost(opts.hostname);
    if (refused) {
      // undici turns a connector error into the request's error (classified as `denied`).
      process.nextTick(callback, new EgressDeniedError(refused), null);
      return;
    }
    const info: SocketInfo = { start: performance.now(), requests: 0 };
    // undici writes the first request from inside this callback, so the phases are stamped
    // here, before it runs (a 'connect' listener of ours would fire too late).
    const socket = base(opts, (err, sock) => {
      if (!err && sock) {
        const now = performance.now();
        info.connectAt ??= now;
        if (opts.protocol === 'https:') info.secureAt = now;
        Object.assign(info, socketFacts(sock as Socket, opts.protocol === 'https:'));
      }
      callback(err as never, sock as never);
    }) as (Socket & { [kInfo]?: SocketInfo }) | undefined;
    if (!socket) return socket as never;
    socket[kInfo] = info;
    socket.once('lookup', () => (info.lookupAt ??= performance.now()));
    // For TLS, TCP connects before the handshake: this fires first and marks the TCP phase.
    socket.once('connect', () => (info.connectAt ??= performance.now()));
    return socket;
  };
}

const agents = new Map<string, Agent>();
/** Pools kept; beyond it the least recently used one is closed (its requests in flight finish). */
export const MAX_AGENTS = 64;

/**
 * The pooled dispatcher for these connection options and this guard. Guards with the same
 * `key` judge alike (one policy per process), so clients with the same allowed ranges share pools.
 */
export function agentFor(connectTimeoutMs: number, verifyTls: boolean, egress: EgressGuard): Agent {
  const key = `${connectTimeoutMs}|${verifyTls}|${egress.key}`;
  let agent = agents.get(key);
  if (agent) {
    agents.delete(key); // re-inserted below: the map's order is least recently used first
  } else {
    agent = new Agent({
      connect: timedConnector({ timeout: connectTimeoutMs, rejectUnauthorized: verifyTls }, egress),
      keepAliveTimeout: 4_000,
      connections: null,
    });
  }
  agents.set(key, agent);
  while (agents.size > MAX_AGENTS) {
    const [oldest, pool] = agents.entries().next().value as [string, Agent];
    agents.delete(oldest);
    pool.close().catch(() => undefined);
  }
  return agent;
}

/** Pools currently kept (tests). */
export function agentCount(): number {
  return agents.size;
}

/** Closes the pooled connections (executor shutdown). */
export async function closeAgents(): Promise<void> {
  const all = [...agents.values()];
  agents.clear();
  await Promise.all(all.map((a) => a.close()));
}
