/**
 * A probe's result in the Prometheus text format, with the metric names, HELP texts and labels
 * blackbox_exporter gives for the same prober (its prober/*.go), so that dashboards and alerts
 * written for it keep working. Families are sorted by name, as blackbox_exporter's registry
 * writes them.
 *
 * Values come from the plugin's result; a phase the plugin does not measure is 0 (the
 * family and its labels are there, as blackbox_exporter always writes them).
 */
import { isIP } from 'node:net';
import type { CheckResult, JobRecord } from '@webmon/core';
import type { ProbeModule } from './modules.js';

interface Sample {
  labels?: Record<string, string>;
  value: number;
}

interface Family {
  name: string;
  help: string;
  samples: Sample[];
}

type Families = Family[];

const HELP: Record<string, string> = {
  probe_success: 'Displays whether or not the probe was a success',
  probe_duration_seconds: 'Returns how long the probe took to complete in seconds',
  probe_dns_lookup_time_seconds: 'Returns the time taken for probe dns lookup in seconds',
  probe_ip_protocol: 'Specifies whether probe ip protocol is IP4 or IP6',
  probe_ip_addr_hash: "Specifies the hash of IP address. It's useful to detect if the IP address changes.",
  probe_failed_due_to_regex: 'Indicates if probe failed due to regex',
  probe_http_duration_seconds: 'Duration of http request by phase, summed over all redirects',
  probe_http_content_length: 'Length of http content response',
  probe_http_uncompressed_body_length: 'Length of uncompressed response body',
  probe_http_redirects: 'The number of redirects',
  probe_http_ssl: 'Indicates if SSL was used for the final redirect',
  probe_http_status_code: 'Response HTTP status code',
  probe_http_version: 'Returns the version of HTTP of the probe response',
  probe_http_last_modified_timestamp_seconds: 'Returns the Last-Modified HTTP response header in unixtime',
  probe_ssl_earliest_cert_expiry: 'Returns last SSL chain expiry in unixtime',
  probe_tls_version_info: 'Returns the TLS version used or NaN when unknown',
  probe_icmp_duration_seconds: 'Duration of icmp request by phase',
  probe_dns_duration_seconds: 'Duration of DNS request by phase',
  probe_dns_answer_rrs: 'Returns number of entries in the answer resource record list',
  probe_dns_authority_rrs: 'Returns number of entries in the authority resource record list',
  probe_dns_additional_rrs: 'Returns number of entries in the additional resource record list',
  probe_dns_query_succeeded: 'Displays whether or not the query was executed successfully',
  probe_dns_serial: 'Returns the serial number of the zone',
};

const sec = (ms: number | undefined) => (ms ?? 0) / 1000;

function gauge(families: Families, name: string, value: number, labels?: Record<string, string>): void {
  let family = families.find((f) => f.name === name);
  if (!family) {
    family = { name, help: HELP[name] ?? name, samples: [] };
    families.push(family);
  }
  family.samples.push(labels ? { labels, value } : { value });
}

function phases(families: Families, name: string, values: Record<string, number>): void {
  for (const [phase, value] of Object.entries(values)) gauge(families, name, value, { phase });
}

/** FNV-1a (32 bits) of the address's bytes, as blackbox_exporter's probe_ip_addr_hash. */
export function ipHash(address: string): number {
  let bytes: number[];
  if (isIP(address) === 4) bytes = address.split('.').map(Number);
  else if (isIP(address) === 6) bytes = ipv6Bytes(address);
  else return 0;
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** The 16 bytes of an IPv6 address; the 4 of an IPv4-mapped one (Go's To4(), which blackbox_exporter hashes). */
function ipv6Bytes(address: string): number[] {
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  const text = dotted ? `${address.slice(0, -dotted[1]!.length)}0:0` : address;
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  const out = groups.flatMap((g) => {
    const n = Number.parseInt(g || '0', 16);
    return [n >> 8, n & 0xff];
  });
  if (dotted) out.splice(12, 4, ...dotted[1]!.split('.').map(Number));
  const mapped = out.slice(0, 10).every((b) => b === 0) && out[10] === 0xff && out[11] === 0xff;
  return mapped ? out.slice(12) : out;
}

/** The address a result connected to: the plugin's, else the target's IP literal, else the resolver's. */
function addressOf(r: CheckResult | undefined, target: URL): string | undefined {
  if (typeof r?.details?.address === 'string') return r.details.address;
  const host = target.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return host;
  const resolver = typeof r?.details?.resolver === 'string' ? r.details.resolver.replace(/:\d+$/, '') : '';
  return isIP(resolver) ? resolver : undefined;
}

function ipFacts(families: Families, r: CheckResult | undefined, target: URL, lookupMs: number | undefined): void {
  const address = addressOf(r, target);
  const family = r?.metrics.ipFamily ?? (!address ? 0 : isIP(address) === 6 && ipv6Bytes(address).length === 16 ? 6 : 4);
  gauge(families, 'probe_dns_lookup_time_seconds', sec(lookupMs));
  gauge(families, 'probe_ip_protocol', family);
  gauge(families, 'probe_ip_addr_hash', address ? ipHash(address) : 0);
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function httpFamilies(families: Families, r: CheckResult | undefined, target: URL, m: ProbeModule): void {
  const x = r?.metrics ?? {};
  const answered = x.statusCode !== undefined;
  const finalUrl = typeof r?.details?.finalUrl === 'string' ? r.details.finalUrl : target.href;
  const ssl = answered && finalUrl.startsWith('https:');
  ipFacts(families, r, target, x.dnsMs);
  const ttfb = x.ttfbMs ?? 0;
  const before = (x.dnsMs ?? 0) + (x.connectMs ?? 0) + (x.tlsMs ?? 0);
  phases(families, 'probe_http_duration_seconds', {
    resolve: sec(x.dnsMs),
    connect: sec(x.connectMs),
    tls: sec(x.tlsMs),
    processing: answered ? sec(Math.max(0, ttfb - before)) : 0,
    transfer: answered ? sec(Math.max(0, (x.totalMs ?? 0) - ttfb)) : 0,
  });
  gauge(families, 'probe_http_content_length', x.contentLength ?? 0);
  gauge(families, 'probe_http_uncompressed_body_length', x.bytes ?? 0);
  // A redirect not followed counts as one, as blackbox_exporter counts the redirect it declined.
  const declined = m.options.followRedirects === false && REDIRECTS.has(x.statusCode ?? 0) ? 1 : 0;
  gauge(families, 'probe_http_redirects', (x.redirects ?? 0) + declined);
  gauge(families, 'probe_http_ssl', ssl ? 1 : 0);
  gauge(families, 'probe_http_status_code', x.statusCode ?? 0);
  // undici speaks HTTP/1.1 (no HTTP/2 is negotiated).
  gauge(families, 'probe_http_version', answered ? 1.1 : 0);
  gauge(families, 'probe_failed_due_to_regex', r?.reason === 'body_mismatch' ? 1 : 0);
  if (x.lastModifiedSec !== undefined) gauge(families, 'probe_http_last_modified_timestamp_seconds', x.lastModifiedSec);
  const cert = r?.details?.certificate as { validTo?: string } | undefined;
  if (ssl && cert?.validTo) {
    gauge(families, 'probe_ssl_earliest_cert_expiry', Math.floor(Date.parse(cert.validTo) / 1000));
    const version = typeof r?.details?.tlsVersion === 'string' ? r.details.tlsVersion.replace(/^TLSv/, 'TLS ') : 'unknown';
    gauge(families, 'probe_tls_version_info', 1, { version });
  }
}

function tcpFamilies(families: Families, r: CheckResult | undefined, target: URL, m: ProbeModule): void {
  ipFacts(families, r, target, undefined);
  gauge(families, 'probe_failed_due_to_regex', m.options.expect !== undefined && r?.reason === 'mismatch' ? 1 : 0);
}

function icmpFamilies(families: Families, r: CheckResult | undefined, target: URL): void {
  ipFacts(families, r, target, undefined);
  phases(families, 'probe_icmp_duration_seconds', { resolve: 0, setup: 0, rtt: sec(r?.metrics.rttAvgMs) });
}

function dnsFamilies(families: Families, r: CheckResult | undefined, target: URL, m: ProbeModule): void {
  const x = r?.metrics ?? {};
  const answered = x.answerRrs !== undefined;
  ipFacts(families, r, target, undefined);
  phases(families, 'probe_dns_duration_seconds', { resolve: 0, connect: 0, request: sec(x.queryMs) });
  gauge(families, 'probe_dns_answer_rrs', x.answerRrs ?? 0);
  gauge(families, 'probe_dns_authority_rrs', x.authorityRrs ?? 0);
  gauge(families, 'probe_dns_additional_rrs', x.additionalRrs ?? 0);
  gauge(families, 'probe_dns_query_succeeded', answered ? 1 : 0);
  if (m.query?.type === 'SOA') {
    const answers = r?.details?.answers;
    const serial = Array.isArray(answers) && typeof answers[0] === 'string' ? Number(answers[0].split(' ')[2]) : 0;
    gauge(families, 'probe_dns_serial', Number.isFinite(serial) ? serial : 0);
  }
}

/** Whether the probe succeeded: the check ran and passed (a warning passes), and the module's own rules hold. */
export function succeeded(job: JobRecord | null, m: ProbeModule): boolean {
  const r = job?.results?.[0];
  if (job?.status !== 'done' || !r || r.status === 'error') return false;
  const finalUrl = typeof r.details?.finalUrl === 'string' ? r.details.finalUrl : '';
  if (m.failIfSsl && finalUrl.startsWith('https:')) return false;
  if (m.failIfNotSsl && !finalUrl.startsWith('https:')) return false;
  return true;
}

export function probeFamilies(job: JobRecord | null, m: ProbeModule, target: URL, wallMs: number): Families {
  const families: Families = [];
  const r = job?.results?.[0];
  gauge(families, 'probe_success', succeeded(job, m) ? 1 : 0);
  gauge(families, 'probe_duration_seconds', sec(r?.durationMs ?? wallMs));
  if (m.prober === 'http') httpFamilies(families, r, target, m);
  else if (m.prober === 'tcp') tcpFamilies(families, r, target, m);
  else if (m.prober === 'icmp') icmpFamilies(families, r, target);
  else dnsFamilies(families, r, target, m);
  return families.sort((a, b) => (a.name < b.name ? -1 : 1));
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

/** The families in the Prometheus text exposition format (0.0.4), every one a gauge. */
export function exposition(families: Families): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} gauge`);
    for (const s of f.samples) {
      const labels = s.labels ? `{${Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
      lines.push(`${f.name}${labels} ${Number.isFinite(s.value) ? String(s.value) : 'NaN'}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
