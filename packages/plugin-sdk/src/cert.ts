/**
 * A certificate as webmon reports it, wherever one is shown (the http plugin's page fetch, the
 * tls plugin): the subject's common name, the issuer as "O / CN", and the expiry.
 */
import type { PeerCertificate as X509Fields } from 'node:tls';

export interface PeerCertificate {
  subject: string;
  issuer: string;
  /** Expiry, ms since the epoch. */
  validTo: number;
}

/** The summary of a certificate as node:tls describes it; undefined when there is none (no expiry). */
export function certificateSummary(peer: X509Fields | undefined): PeerCertificate | undefined {
  if (!peer?.valid_to) return undefined;
  return {
    subject: String(peer.subject?.CN ?? ''),
    issuer: [peer.issuer?.O, peer.issuer?.CN].filter(Boolean).map(String).join(' / '),
    validTo: Date.parse(peer.valid_to),
  };
}

/** Days from `now` until `validTo`, rounded down to hundredths; negative once it has passed. */
export function daysLeft(validTo: number, now = Date.now()): number {
  return Math.floor(((validTo - now) / 86_400_000) * 100) / 100;
}
