/**
 * Classifies a network failure into a stable reason. Works on errors from node:net, node:tls,
 * node:dns, undici and basic-ftp, looking through `cause` chains and AggregateError members.
 * A connection the egress guard refused (code EWEBMON_DENIED, anywhere in the chain) is `denied`.
 */
import type { Reason } from '@webmon/core';
import { egressDenial } from './net.js';

export interface Classified {
  reason: Reason;
  message: string;
}

const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ABORT_ERR',
  'ERR_TIMEOUT',
]);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME', 'ENODATA']);
const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'EPROTO',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

interface ErrLike {
  name?: string;
  code?: string;
  message?: string;
  cause?: unknown;
}

/** The error, then its causes and AggregateError members (happy eyeballs), breadth first, bounded. */
function chain(err: unknown): ErrLike[] {
  const out: ErrLike[] = [];
  const queue: unknown[] = [err];
  for (let i = 0; i < queue.length && out.length < 12; i++) {
    const cur = queue[i];
    if (!cur || typeof cur !== 'object') continue;
    out.push(cur as ErrLike);
    const e = cur as ErrLike & { errors?: unknown[] };
    if (e.cause !== undefined) queue.push(e.cause);
    if (Array.isArray(e.errors)) queue.push(...e.errors.slice(0, 8));
  }
  return out;
}

export function classifyError(err: unknown, signal?: AbortSignal): Classified {
  const denial = egressDenial(err);
  // Before the abort check: a refusal is the verdict even if the deadline passed meanwhile.
  if (denial) return { reason: 'denied', message: denial.message || 'connection refused by the egress policy' };
  const errs = chain(err);
  const message = errs.map((e) => e.message).find((m) => m) ?? String(err);
  if (signal?.aborted) return { reason: 'timeout', message: 'timed out' };
  for (const e of errs) {
    const code = typeof e.code === 'string' ? e.code : ''; // FTP replies carry numeric codes
    if (e.name === 'AbortError' || e.name === 'TimeoutError' || TIMEOUT_CODES.has(code)) return { reason: 'timeout', message };
    if (code === 'ECONNREFUSED') return { reason: 'refused', message };
    if (DNS_CODES.has(code)) return { reason: 'dns', message };
    if (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return { reason: 'tls', message };
    if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET') return { reason: 'reset', message };
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') return { reason: 'unreachable', message };
  }
  if (/certificate|self[- ]signed|ssl|tls/i.test(message)) return { reason: 'tls', message };
  if (/timeout|timed out/i.test(message)) return { reason: 'timeout', message };
  return { reason: 'protocol', message };
}
