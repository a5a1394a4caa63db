/**
 * TLS check for any TLS port, `tls://host:port`, directly or after STARTTLS (smtp, imap, pop3,
 * ftp): handshake, then judge the certificate chain, its expiry, the host name, the protocol
 * and report the cipher and whether an OCSP response was stapled. No application data is sent.
 *
 * Reasons, worst first: the network's (classifyError: `refused`, `timeout`, `dns`, `denied`,
 * …), `tls` (handshake failed, no version at or above `minVersion` in common, STARTTLS
 * declined), `protocol` (the plaintext dialogue went wrong), `cert_expired`, `untrusted` (chain
 * does not verify), `hostname_mismatch`, `cert_expiring` (error within `errorDays`, warning
 * within `warnDays`).
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { checkServerIdentity, type DetailedPeerCertificate, type PeerCertificate as X509Fields } from 'node:tls';
import Type from 'typebox';
import { Format } from 'typebox/format';
import { certificateSummary, classifyError, daysLeft, definePlugin, fail, ok, warn, type PluginOutput } from '@webmon/plugin-sdk';
import { openSession, type Session } from './session.js';
import { DialogueError, STARTTLS_PROTOCOLS } from './starttls.js';

/** Schema format of the `ca` option: one or more PEM certificates that parse. */
export const PEM_CERTIFICATES_FORMAT = 'pem-certificates';
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const MAX_CA_CERTIFICATES = 32;

/** True when `text` holds 1 to MAX_CA_CERTIFICATES PEM certificates and each of them parses. */
export function isPemCertificates(text: string): boolean {
  const blocks = text.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0 || blocks.length > MAX_CA_CERTIFICATES) return false;
  try {
    for (const block of blocks) new X509Certificate(block);
    return true;
  } catch {
    return false;
  }
}
Format.Set(PEM_CERTIFICATES_FORMAT, isPemCertificates);

const VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;

export const tlsConfigSchema = Type.Object(
  {
    timeoutMs: Type.Integer({ default: 10_000, minimum: 100, maximum: 300_000, description: 'Overall time for the check.' }),
    connectTimeoutMs: Type.Integer({ default: 5_000, minimum: 100, maximum: 300_000, description: 'Time to establish the TCP connection.' }),
    replyTimeoutMs: Type.Integer({ default: 5_000, minimum: 100, maximum: 300_000, description: 'Time for each reply of the STARTTLS dialogue and for the TLS handshake.' }),
    starttls: Type.Optional(Type.Union(STARTTLS_PROTOCOLS.map((p) => Type.Literal(p)), { description: 'Speak this protocol in plain text first and upgrade with STARTTLS (smtp, imap, pop3) or AUTH TLS (ftp).' })),
    serverName: Type.Optional(
      Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9._:-]+$', description: "Name sent as SNI and checked against the certificate, instead of the URL's host." }),
    ),
    ca: Type.Optional(Type.String({ format: PEM_CERTIFICATES_FORMAT, maxLength: 65_536, description: 'PEM certificates trusted besides the bundled roots (a private CA).' })),
    minVersion: Type.Union(VERSIONS.map((v) => Type.Literal(v)), { default: 'TLSv1.2', description: 'Lowest protocol version accepted; below it the handshake fails (tls).' }),
    verify: Type.Boolean({ default: true, description: 'Judge the chain and the host name; false still reports them, and judges expiry.' }),
    warnDays: Type.Integer({ default: 14, minimum: 0, maximum: 3650, description: 'Warn (cert_expiring) when a certificate of the chain expires within this many days.' }),
    errorDays: Type.Integer({ default: 0, minimum: 0, maximum: 3650, description: 'Fail (cert_expiring) when a certificate of the chain expires within this many days; an expired one always fails (cert_expired).' }),
  },
  { additionalProperties: false },
);

export type TlsConfig = Type.Static<typeof tlsConfigSchema>;

const MAX_SANS = 50;
const MAX_MESSAGE = 300;
/** OpenSSL verification codes in words; others are shown as they are. */
const CHAIN_ERRORS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in the chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'issuer unknown (no trusted certificate signs it)',
  UNABLE_TO_GET_ISSUER_CERT: 'issuer certificate not found',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'issuer unknown (not a trusted root, intermediate missing?)',
  CERT_NOT_YET_VALID: 'certificate not yet valid',
  CERT_REVOKED: 'certificate revoked',
  CERT_SIGNATURE_FAILURE: 'bad certificate signature',
};
const VERSION_ERROR = /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|NO_PROTOCOLS_AVAILABLE|WRONG_SSL_VERSION|VERSION_TOO_LOW/;

interface Expiry {
  /** Days left on the certificate of the chain that expires first. */
  days: number;
  subject: string;
  leaf: boolean;
  validTo: number;
}

/** The host the certificate must name, the SNI sent (none for an IP literal). */
function namesOf(host: string, cfg: TlsConfig): { checked: string; sni?: string } {
  const checked = (cfg.serverName ?? host).replace(/\.$/, '');
  return isIP(checked) ? { checked } : { checked, sni: checked };
}

/** The chain as reported: a summary of each certificate, leaf first. */
function chainSummary(chain: DetailedPeerCertificate[]): Array<{ subject: string; issuer: string; validTo: string }> {
  return chain.flatMap((cert) => {
    const s = certificateSummary(cert);
    return s ? [{ subject: s.subject, issuer: s.issuer, validTo: new Date(s.validTo).toISOString() }] : [];
  });
}

function earliestExpiry(chain: DetailedPeerCertificate[], now: number): Expiry | undefined {
  let first: Expiry | undefined;
  chain.forEach((cert, i) => {
    const s = certificateSummary(cert);
    if (!s) return;
    const days = daysLeft(s.validTo, now);
    if (!first || days < first.days) first = { days, subject: s.subject, leaf: i === 0, validTo: s.validTo };
  });
  return first;
}

function sansOf(cert: X509Fields): string[] {
  return (cert.subjectaltname ?? '').split(', ').filter(Boolean).slice(0, MAX_SANS);
}

/** What the session showed, as metrics and details. */
function report(s: Session, names: { checked: string; sni?: string }, hostnameError: Error | undefined, now: number) {
  const leaf = s.chain[0]!;
  const summary = certificateSummary(leaf);
  const metrics: Record<string, number> = { connectMs: round(s.connectMs), handshakeMs: round(s.handshakeMs), ocspStapled: s.ocspStapled ? 1 : 0 };
  if (s.starttlsMs !== undefined) metrics.starttlsMs = round(s.starttlsMs);
  if (summary) metrics.certDaysLeft = daysLeft(summary.validTo, now);
  const earliest = earliestExpiry(s.chain, now);
  if (earliest) metrics.chainEarliestDaysLeft = earliest.days;
  const details: Record<string, unknown> = {
    protocol: s.protocol,
    cipher: s.cipher.standardName ?? s.cipher.name,
    serverName: names.checked,
    hostnameMatch: !hostnameError,
    chainVerified: s.authorizationError === null,
    subject: summary?.subject ?? '',
    issuer: summary?.issuer ?? '',
    sans: sansOf(leaf),
    validFrom: isoDate(leaf.valid_from),
    validTo: isoDate(leaf.valid_to),
    serialNumber: leaf.serialNumber,
    fingerprint256: leaf.fingerprint256,
    chain: chainSummary(s.chain),
    ocspStapled: s.ocspStapled,
  };
  if (names.sni !== undefined) details.sni = names.sni;
  if (s.authorizationError !== null) details.authorizationError = s.authorizationError;
  if (s.starttlsReply !== undefined) details.starttlsReply = s.starttlsReply.slice(0, 512);
  return { metrics, details, earliest };
}

/** The verdict on a completed handshake, worst first. */
export function judge(s: Session, cfg: TlsConfig, names: { checked: string; sni?: string }, now = Date.now()): PluginOutput {
  const leaf = s.chain[0];
  if (!leaf) return fail('tls', 'the server sent no certificate');
  const hostnameError = checkServerIdentity(names.checked, leaf);
  const { metrics, details, earliest } = report(s, names, hostnameError, now);
  const whose = (e: Expiry) => (e.leaf ? 'certificate' : `chain certificate "${e.subject}"`);
  if (earliest && earliest.days < 0) return fail('cert_expired', `${whose(earliest)} ${expiredAgo(earliest)}`, metrics, details);
  if (s.authorizationError === 'CERT_HAS_EXPIRED') return fail('cert_expired', 'a certificate of the chain has expired (CERT_HAS_EXPIRED)', metrics, details);
  if (cfg.verify && s.authorizationError !== null) {
    const words = CHAIN_ERRORS[s.authorizationError] ?? s.authorizationError;
    return fail('untrusted', `certificate not trusted: ${words} (${s.authorizationError})`, metrics, details);
  }
  if (cfg.verify && hostnameError) return fail('hostname_mismatch', bounded(hostnameError.message), metrics, details);
  const summary = `${s.protocol} ${s.cipher.standardName ?? s.cipher.name}`;
  if (earliest && earliest.days < cfg.errorDays) {
    return fail('cert_expiring', `${whose(earliest)} expires in ${Math.floor(earliest.days)} days (error below ${cfg.errorDays})`, metrics, details);
  }
  if (earliest && earliest.days < cfg.warnDays) {
    return warn('cert_expiring', `${whose(earliest)} expires in ${Math.floor(earliest.days)} days (warning below ${cfg.warnDays})`, metrics, details);
  }
  const left = earliest ? `, certificate valid ${Math.floor(earliest.days)} more days` : '';
  return ok(`${summary}${left}`, metrics, details);
}

/** A failed connection, dialogue or handshake as a result. */
function failure(err: unknown, cfg: TlsConfig, signal: AbortSignal): PluginOutput {
  if (err instanceof DialogueError) return fail(err.reason, err.message);
  const c = classifyError(err, signal);
  const code = err && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  if (c.reason === 'tls' && typeof code === 'string' && VERSION_ERROR.test(code)) {
    return fail('tls', `no protocol version at or above ${cfg.minVersion} in common with the server (${c.message})`);
  }
  return fail(c.reason, c.message);
}

export const tlsPlugin = definePlugin({
  name: 'tls',
  description: 'TLS handshake on tls://host:port (or after STARTTLS): certificate chain, days left, host name, protocol and cipher, OCSP stapling.',
  schemes: ['tls'],
  configSchema: tlsConfigSchema,
  async run(target, cfg, ctx): Promise<PluginOutput> {
    const host = target.url.hostname.replace(/^\[|\]$/g, '');
    const names = namesOf(host, cfg);
    let session: Session;
    try {
      session = await openSession(
        {
          host,
          port: Number(target.url.port),
          ...(names.sni !== undefined ? { servername: names.sni } : {}),
          ...(cfg.starttls !== undefined ? { starttls: cfg.starttls } : {}),
          ...(cfg.ca !== undefined ? { ca: cfg.ca } : {}),
          connectTimeoutMs: cfg.connectTimeoutMs,
          replyTimeoutMs: cfg.replyTimeoutMs,
          minVersion: cfg.minVersion,
        },
        ctx.egress,
        ctx.signal,
      );
    } catch (err) {
      return failure(err, cfg, ctx.signal);
    }
    return judge(session, cfg, names);
  },
});

/** Node's host name error lists every name of the certificate: shown up to MAX_MESSAGE characters. */
function bounded(text: string): string {
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text;
}

function expiredAgo(e: Expiry): string {
  const days = Math.floor(-e.days);
  const ago = days === 0 ? 'less than a day ago' : `${days} day${days === 1 ? '' : 's'} ago`;
  return `expired ${ago} (${new Date(e.validTo).toISOString()})`;
}

function isoDate(text: string | undefined): string {
  const ms = text ? Date.parse(text) : NaN;
  return Number.isNaN(ms) ? '' : new Date(ms).toISOString();
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
