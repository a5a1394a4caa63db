/**
 * DNS answers as text, the form expectations are written in:
 *
 *   A, AAAA       the address                       192.0.2.1, 2001:db8::1
 *   CNAME, NS     the name, lower case, no final dot www.example.net
 *   MX            preference and exchange           10 mail.example.com
 *   TXT           the strings of the record, joined  v=spf1 -all
 *   SOA           mname rname serial refresh retry expire minimum
 *   CAA           flags tag "value"                  0 issue "letsencrypt.org"
 *
 * Only records of the type asked for and (for A/AAAA/MX/TXT/…) at the end of a CNAME chain are
 * answers; the CNAMEs leading there are reported apart.
 */
import type * as packet from 'dns-packet';

export const RECORD_TYPES = ['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'NS', 'SOA', 'CAA'] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

const name = (n: string) => n.toLowerCase().replace(/\.$/, '');

function text(a: packet.Answer): string {
  switch (a.type) {
    case 'A':
    case 'AAAA':
      return a.data;
    case 'CNAME':
    case 'NS':
      return name(a.data);
    case 'MX':
      return `${a.data.preference} ${name(a.data.exchange)}`;
    case 'TXT': {
      const parts = Array.isArray(a.data) ? a.data : [a.data];
      return parts.map((p) => (Buffer.isBuffer(p) ? p.toString('utf8') : p)).join('');
    }
    case 'SOA': {
      const s = a.data;
      return `${name(s.mname)} ${name(s.rname)} ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
    }
    case 'CAA':
      return `${a.data.flags ?? 0} ${a.data.tag} "${a.data.value}"`;
    default:
      return '';
  }
}

export interface Answers {
  /** Records of the type asked for, as text, in the order received. */
  values: string[];
  /** Lowest TTL among them, s (null without any). */
  minTtl: number | null;
}

export function answersOf(response: packet.DecodedPacket, type: RecordType): Answers {
  const records = (response.answers ?? []).filter((a) => a.type === type);
  const values = records.map(text);
  const ttls = records.map((a) => ('ttl' in a && typeof a.ttl === 'number' ? a.ttl : null)).filter((t): t is number => t !== null);
  return { values, minTtl: ttls.length ? Math.min(...ttls) : null };
}

/** How one answer is compared: names and addresses case-insensitively, TXT and CAA as written. */
export function comparable(type: RecordType, value: string): string {
  return type === 'TXT' || type === 'CAA' ? value : value.toLowerCase().replace(/\.$/, '');
}

export interface Expectations {
  exact?: readonly string[];
  contains?: readonly string[];
}

/** What is wrong with the answers against exact / contains expectations, or null. */
export function mismatch(type: RecordType, values: readonly string[], expect: Expectations): string | null {
  const got = new Set(values.map((v) => comparable(type, v)));
  if (expect.exact) {
    const want = new Set(expect.exact.map((v) => comparable(type, v)));
    const missing = [...want].filter((v) => !got.has(v));
    const extra = [...got].filter((v) => !want.has(v));
    if (missing.length || extra.length) {
      return `answers ${show(values)} are not exactly ${show(expect.exact)}${missing.length ? ` (missing ${show(missing)})` : ''}${extra.length ? ` (unexpected ${show(extra)})` : ''}`;
    }
  }
  if (expect.contains) {
    const missing = expect.contains.filter((v) => !got.has(comparable(type, v)));
    if (missing.length) return `answers ${show(values)} do not contain ${show(missing)}`;
  }
  return null;
}

const SHOWN = 10;

/** A list of answers for a message: JSON strings, at most SHOWN of them. */
export function show(values: readonly string[]): string {
  const head = values.slice(0, SHOWN).map((v) => JSON.stringify(v.length > 120 ? `${v.slice(0, 117)}...` : v));
  return `[${head.join(', ')}${values.length > SHOWN ? `, … ${values.length - SHOWN} more` : ''}]`;
}
