/**
 * One TLS session for a check: TCP connect through the egress guard, the optional STARTTLS
 * dialogue, then the handshake on that same socket. Any certificate is accepted
 * (`rejectUnauthorized: false`, no identity check) so that a bad one can still be inspected: the
 * chain's verdict is `authorizationError`, the host name is the caller's to check. Nothing is
 * sent after the handshake; the socket is closed at once.
 */
import { createHash } from 'node:crypto';
import { connect as connectTcp, type Socket } from 'node:net';
import {
  connect as connectTls,
  createSecureContext,
  rootCertificates,
  type CipherNameAndProtocol,
  type ConnectionOptions,
  type DetailedPeerCertificate,
  type SecureContext,
  type SecureVersion,
} from 'node:tls';
import { guardedTarget, type EgressGuard } from '@webmon/plugin-sdk';
import { startTls, timeoutError, type StartTlsProtocol } from './starttls.js';

export interface SessionOptions {
  host: string;
  port: number;
  /** SNI; none for an IP literal. */
  servername?: string;
  starttls?: StartTlsProtocol;
  connectTimeoutMs: number;
  /** For each reply of the STARTTLS dialogue, and for the handshake. */
  replyTimeoutMs: number;
  minVersion: SecureVersion;
  /** PEM certificates trusted besides the bundled roots. */
  ca?: string;
}

export interface Session {
  connectMs: number;
  starttlsMs?: number;
  /** The server's yes to the request for TLS. */
  starttlsReply?: string;
  handshakeMs: number;
  protocol: string;
  cipher: CipherNameAndProtocol;
  /** Why the chain does not verify (an OpenSSL code such as DEPTH_ZERO_SELF_SIGNED_CERT), or null. */
  authorizationError: string | null;
  ocspStapled: boolean;
  /** Leaf first, then each issuer, at most MAX_CHAIN. */
  chain: DetailedPeerCertificate[];
}

export const MAX_CHAIN = 10;
const LEGACY_VERSIONS: ReadonlySet<SecureVersion> = new Set(['TLSv1', 'TLSv1.1']);
/** OpenSSL's default security level refuses TLS 1.0/1.1 whatever minVersion says. */
const LEGACY_CIPHERS = 'DEFAULT:@SECLEVEL=0';

export async function openSession(o: SessionOptions, egress: EgressGuard, signal: AbortSignal): Promise<Session> {
  const started = performance.now();
  const raw = connectTcp({ ...guardedTarget(egress, o.host), port: o.port, noDelay: true });
  // Errors are taken where they are awaited; one that comes between two waits must not go uncaught.
  raw.on('error', () => undefined);
  let secure: ReturnType<typeof connectTls> | undefined;
  let established = false;
  try {
    await settle(raw, 'connect', o.connectTimeoutMs, `no connection within ${o.connectTimeoutMs} ms`, signal);
    const connectMs = performance.now() - started;
    let starttlsMs: number | undefined;
    let starttlsReply: string | undefined;
    if (o.starttls) {
      const from = performance.now();
      starttlsReply = await startTls(raw, o.starttls, o.replyTimeoutMs, signal);
      starttlsMs = performance.now() - from;
    }
    const from = performance.now();
    let ocspStapled = false;
    secure = connectTls(tlsOptions(o, raw));
    secure.on('error', () => undefined);
    secure.on('OCSPResponse', (response: Buffer | null) => (ocspStapled = !!response && response.length > 0));
    await settle(secure, 'secureConnect', o.replyTimeoutMs, `no TLS handshake within ${o.replyTimeoutMs} ms`, signal);
    const session: Session = {
      connectMs,
      handshakeMs: performance.now() - from,
      protocol: secure.getProtocol() ?? 'unknown',
      cipher: secure.getCipher(),
      authorizationError: secure.authorized ? null : String(secure.authorizationError ?? 'unknown'),
      ocspStapled,
      chain: chainOf(secure.getPeerCertificate(true)),
    };
    if (starttlsMs !== undefined) session.starttlsMs = starttlsMs;
    if (starttlsReply !== undefined) session.starttlsReply = starttlsReply;
    established = true;
    return session;
  } finally {
    if (secure && established) closeGracefully(secure, raw);
    else {
      secure?.destroy();
      raw.destroy();
    }
  }
}

/** Time a closing session gets to flush what the handshake still has to send. */
const CLOSE_GRACE_MS = 1_000;

/**
 * Ends an established session after what is queued has been written: the client's last
 * handshake message (TLS 1.3 Finished) and close_notify, so that the server sees a completed
 * handshake and an orderly close rather than a reset. Destroyed regardless after CLOSE_GRACE_MS.
 */
function closeGracefully(secure: Socket, raw: Socket): void {
  const destroy = () => {
    secure.destroy();
    raw.destroy();
  };
  secure.once('close', destroy);
  secure.destroySoon();
  setTimeout(destroy, CLOSE_GRACE_MS).unref();
}

/** tls.connect passes `requestOCSP` on to the TLSSocket; its type leaves it out. */
type ClientOptions = ConnectionOptions & { requestOCSP: boolean };

function tlsOptions(o: SessionOptions, socket: Socket): ClientOptions {
  const ciphers = LEGACY_VERSIONS.has(o.minVersion) ? LEGACY_CIPHERS : undefined;
  const options: ClientOptions = {
    socket,
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
    requestOCSP: true,
    minVersion: o.minVersion,
  };
  if (ciphers) options.ciphers = ciphers;
  if (o.servername !== undefined) options.servername = o.servername;
  if (o.ca !== undefined) options.secureContext = contextWithCa(o.ca, o.minVersion, ciphers);
  return options;
}

const contexts = new Map<string, SecureContext>();
/** Secure contexts kept for private CAs (building one parses every bundled root). */
const MAX_CONTEXTS = 32;

/** A context trusting the bundled roots and `ca`, reused across checks (least recently used dropped). */
function contextWithCa(ca: string, minVersion: SecureVersion, ciphers: string | undefined): SecureContext {
  const key = createHash('sha256').update(`${minVersion}\n${ciphers ?? ''}\n${ca}`).digest('base64');
  let context = contexts.get(key);
  if (context) contexts.delete(key);
  else context = createSecureContext({ ca: [...rootCertificates, ca], minVersion, ...(ciphers ? { ciphers } : {}) });
  contexts.set(key, context);
  if (contexts.size > MAX_CONTEXTS) contexts.delete(contexts.keys().next().value!);
  return context;
}

/** The certificates node:tls links from the leaf through `issuerCertificate` (a root links to itself). */
function chainOf(leaf: DetailedPeerCertificate): DetailedPeerCertificate[] {
  const chain: DetailedPeerCertificate[] = [];
  for (let cert: DetailedPeerCertificate | undefined = leaf; cert?.raw && chain.length < MAX_CHAIN; cert = cert.issuerCertificate) {
    if (chain.includes(cert)) break;
    chain.push(cert);
  }
  return chain;
}

/**
 * Resolves on `event`; rejects with the socket's error, when it closes first, after `ms`
 * (ETIMEDOUT with the message `late`) or when `signal` aborts.
 */
function settle(socket: Socket, event: string, ms: number, late: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off(event, onEvent).off('error', done).off('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onEvent = () => done(null);
    const onClose = () => done(Object.assign(new Error('connection closed by the server'), { code: 'ECONNRESET' }));
    const onAbort = () => done(timeoutError('timed out'));
    const timer = setTimeout(() => done(timeoutError(late)), ms);
    socket.once(event, onEvent).once('error', done).once('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    else if (socket.destroyed) onClose();
  });
}
