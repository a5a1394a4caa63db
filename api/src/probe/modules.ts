/**
 * Probe modules in blackbox_exporter's format (`modules: {name: {prober, timeout, http|tcp|icmp|dns}}`),
 * translated once, at start-up, into a webmon plugin and its options. A setting webmon cannot
 * honour is refused with the module and the setting's path (`modules.x.http.basic_auth: …`),
 * never ignored: a probe that silently checked less than its module says would lie.
 *
 * What each prober's settings become is listed in docs/probe-modules.md.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, isPlainObject } from '@webmon/core';
import type { PluginRegistry } from '@webmon/plugin-sdk';
import { parse as parseYaml } from 'yaml';

export type Prober = 'http' | 'tcp' | 'icmp' | 'dns';

export interface ProbeModule {
  name: string;
  prober: Prober;
  /** The module's `timeout`, seconds (undefined: the scrape's). */
  timeoutSec: number | undefined;
  /** webmon extension: keep the probe's asset and its history (as `&record=true`). */
  record: boolean;
  /** Plugin options as the module sets them (an asset is created with these). */
  given: Record<string, unknown>;
  /** The same, validated and with defaults: what the check runs with. */
  options: Record<string, unknown>;
  /** http: judged on the result (the plugin has no such option). */
  failIfSsl: boolean;
  failIfNotSsl: boolean;
  /** dns: the question, from query_name and query_type. */
  query?: { name: string; type: string };
}

/** The modules used when probe.modulesFile is unset, after blackbox_exporter's own default file. */
export const BUILTIN_MODULES_YAML = `modules:
  http_2xx:
    prober: http
  http_post_2xx:
    prober: http
    http:
      method: POST
  tcp_connect:
    prober: tcp
  icmp:
    prober: icmp
  dns_udp:
    prober: dns
    dns:
      query_name: example.com
      query_type: A
  dns_tcp:
    prober: dns
    dns:
      transport_protocol: tcp
      query_name: example.com
      query_type: A
`;

type Settings = Record<string, unknown>;

/** Collects translation problems with the path of the setting, the first one is thrown. */
class Reader {
  constructor(
    readonly path: string,
    private readonly settings: Settings,
  ) {}

  private readonly used = new Set<string>();

  fail(key: string, why: string): never {
    throw new ConfigError(`probe modules: ${this.path}.${key}: ${why}`);
  }

  keys(): string[] {
    return Object.keys(this.settings);
  }

  raw(key: string): unknown {
    this.used.add(key);
    return this.settings[key];
  }

  str(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') this.fail(key, `must be a string (got ${JSON.stringify(v)})`);
    return v;
  }

  bool(key: string): boolean | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') this.fail(key, `must be true or false (got ${JSON.stringify(v)})`);
    return v;
  }

  list(key: string): unknown[] {
    const v = this.raw(key);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(key, 'must be a list');
    return v;
  }

  map(key: string): Reader | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return undefined;
    if (!isPlainObject(v)) this.fail(key, 'must be a mapping');
    return new Reader(`${this.path}.${key}`, v);
  }

  /** Refuses what was not read: a setting unknown to blackbox_exporter or not mapped onto webmon. */
  done(known: Record<string, string> = {}): void {
    for (const key of Object.keys(this.settings)) {
      if (this.used.has(key)) continue;
      this.fail(key, known[key] ?? 'unknown setting (webmon maps the settings listed in docs/probe-modules.md)');
    }
  }
}

const NOT_MAPPED = 'a blackbox_exporter setting webmon cannot honour';

/** preferred_ip_protocol is a preference: honoured by icmp, accepted elsewhere only with the fallback on. */
function ipProtocol(r: Reader, strict: boolean): 'ipv4' | 'ipv6' | undefined {
  const p = r.str('preferred_ip_protocol');
  const fallback = r.bool('ip_protocol_fallback') ?? true;
  if (p !== undefined && p !== 'ip4' && p !== 'ip6') r.fail('preferred_ip_protocol', `must be ip4 or ip6 (got ${JSON.stringify(p)})`);
  if (strict && !fallback && p !== undefined) {
    r.fail('ip_protocol_fallback', `false is ${NOT_MAPPED} for this prober: webmon connects to the first address the name resolves to`);
  }
  return p === 'ip4' ? 'ipv4' : p === 'ip6' ? 'ipv6' : undefined;
}

function regexList(r: Reader, key: string): string[] {
  return r.list(key).map((v, i) => {
    if (typeof v !== 'string' || !v) r.fail(`${key}.${i}`, 'must be a regular expression');
    return v;
  });
}

function tlsConfig(r: Reader): { verifyTls: boolean } | undefined {
  const tls = r.map('tls_config');
  if (!tls) return undefined;
  const insecure = tls.bool('insecure_skip_verify') ?? false;
  tls.done({ ca_file: NOT_MAPPED, cert_file: NOT_MAPPED, key_file: NOT_MAPPED, server_name: NOT_MAPPED, min_version: NOT_MAPPED });
  return { verifyTls: !insecure };
}

function httpOptions(r: Reader, m: ProbeModule): Settings {
  const o: Settings = {};
  const codes = r.list('valid_status_codes');
  if (codes.some((c) => !Number.isInteger(c))) r.fail('valid_status_codes', 'must be a list of status codes');
  o.expectedStatus = codes.length ? codes.join(',') : '200-299';
  const versions = r.list('valid_http_versions');
  if (versions.length && !versions.includes('HTTP/1.1')) r.fail('valid_http_versions', 'webmon speaks HTTP/1.1 only: the list must include "HTTP/1.1"');
  const method = r.str('method');
  if (method) o.method = method.toUpperCase();
  const headers = r.map('headers');
  if (headers) {
    o.headers = Object.fromEntries(headers.keys().map((k) => [k, headers.str(k) ?? '']));
    headers.done();
  }
  const body = r.str('body');
  if (body) o.body = body;
  const noFollow = r.bool('no_follow_redirects');
  const follow = r.bool('follow_redirects');
  o.followRedirects = follow ?? !(noFollow ?? false);
  m.failIfSsl = r.bool('fail_if_ssl') ?? false;
  m.failIfNotSsl = r.bool('fail_if_not_ssl') ?? false;
  const bad = regexList(r, 'fail_if_body_matches_regexp');
  if (bad.length) o.bodyNotMatches = bad.length === 1 ? bad[0] : bad.map((b) => `(?:${b})`).join('|');
  const good = regexList(r, 'fail_if_body_not_matches_regexp');
  if (good.length > 1) r.fail('fail_if_body_not_matches_regexp', 'webmon takes one expression here (join them into one)');
  if (good.length) o.bodyMatches = good[0];
  const tls = tlsConfig(r);
  if (tls) o.verifyTls = tls.verifyTls;
  ipProtocol(r, true);
  r.done(
    Object.fromEntries(
      ['fail_if_header_matches', 'fail_if_header_not_matches', 'compression', 'body_size_limit', 'skip_resolve_phase_with_proxy', 'basic_auth', 'authorization', 'bearer_token', 'bearer_token_file', 'oauth2', 'proxy_url', 'enable_http2', 'follow_redirect'].map((k) => [k, NOT_MAPPED]),
    ),
  );
  return o;
}

/** query_response as the tcp plugin can run it: an optional send, then an optional expect. */
function tcpOptions(r: Reader): Settings {
  const o: Settings = {};
  const steps = r.list('query_response');
  let expected = false;
  steps.forEach((step, i) => {
    if (!isPlainObject(step)) r.fail(`query_response.${i}`, 'must be a mapping');
    const s = new Reader(`${r.path}.query_response.${i}`, step);
    const expect = s.str('expect');
    const send = s.str('send');
    if (s.bool('starttls')) s.fail('starttls', NOT_MAPPED);
    s.done();
    if (send !== undefined && (expected || o.send !== undefined)) {
      s.fail('send', 'webmon sends once, before reading: a send after an expect (or a second send) cannot be mapped');
    }
    if (expect !== undefined && expected) s.fail('expect', 'webmon matches one reply: only one expect can be mapped');
    if (send !== undefined) o.send = `${send}\n`;
    if (expect !== undefined) {
      // blackbox reads lines until one matches: read until the expression matches a line.
      o.expect = `(?m)${expect}`;
      o.until = `(?m)${expect}`;
      expected = true;
    }
  });
  if (r.bool('tls')) r.fail('tls', NOT_MAPPED);
  ipProtocol(r, true);
  r.done({ tls_config: NOT_MAPPED, source_ip_address: NOT_MAPPED });
  return o;
}

function icmpOptions(r: Reader): Settings {
  const family = ipProtocol(r, false);
  const ttl = r.raw('ttl');
  if (ttl !== undefined && ttl !== 64) r.fail('ttl', 'webmon sends with the system default TTL (64)');
  r.done({ source_ip_address: NOT_MAPPED, payload_size: NOT_MAPPED, dont_fragment: NOT_MAPPED });
  // blackbox sends one echo request.
  return { count: 1, ...(family ? { family } : {}) };
}

const RCODES = ['NOERROR', 'NXDOMAIN', 'SERVFAIL', 'REFUSED'];

function dnsOptions(r: Reader, m: ProbeModule): Settings {
  const o: Settings = {};
  const name = r.str('query_name');
  if (!name) r.fail('query_name', 'is required (webmon asks one named question)');
  const type = (r.str('query_type') ?? '').toUpperCase();
  if (!type) r.fail('query_type', 'is required (blackbox_exporter\'s default, ANY, is not a type webmon asks)');
  o.name = name;
  o.type = type;
  m.query = { name, type };
  const cls = r.str('query_class');
  if (cls !== undefined && cls.toUpperCase() !== 'IN') r.fail('query_class', 'webmon asks class IN only');
  const transport = r.str('transport_protocol');
  if (transport !== undefined && transport !== 'udp' && transport !== 'tcp') r.fail('transport_protocol', 'must be udp or tcp');
  if (transport) o.transport = transport;
  const recursion = r.bool('recursion_desired');
  if (recursion !== undefined) o.recursion = recursion;
  const rcodes = r.list('valid_rcodes');
  if (rcodes.length > 1) r.fail('valid_rcodes', 'webmon expects one response code');
  if (rcodes.length) {
    const rc = String(rcodes[0]).toUpperCase();
    if (!RCODES.includes(rc)) r.fail('valid_rcodes.0', `must be one of ${RCODES.join(', ')}`);
    o.rcode = rc;
  }
  const answers = r.map('validate_answer_rrs');
  if (answers) {
    const none = regexList(answers, 'fail_if_none_matches_regexp');
    if (none.length > 1) answers.fail('fail_if_none_matches_regexp', 'webmon takes one expression here');
    if (none.length) o.expectRegex = none[0];
    answers.done({ fail_if_matches_regexp: NOT_MAPPED, fail_if_not_matches_regexp: NOT_MAPPED, fail_if_all_match_regexp: NOT_MAPPED });
  }
  ipProtocol(r, true);
  r.done({ validate_authority_rrs: NOT_MAPPED, validate_additional_rrs: NOT_MAPPED, dns_over_tls: NOT_MAPPED, tls_config: NOT_MAPPED, source_ip_address: NOT_MAPPED });
  return o;
}

const PROBERS: Record<Prober, (r: Reader, m: ProbeModule) => Settings> = { http: httpOptions, tcp: tcpOptions, icmp: icmpOptions, dns: dnsOptions };

/** A Go duration as blackbox writes timeouts ("5s", "1m30s", "500ms"), in seconds. */
export function durationSec(text: string): number | null {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    if (m.index !== consumed) return null;
    consumed += m[0].length;
    total += Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  }
  return consumed === text.length && consumed > 0 ? total : null;
}

function translate(name: string, raw: unknown, registry: PluginRegistry): ProbeModule {
  if (!isPlainObject(raw)) throw new ConfigError(`probe modules: modules.${name}: must be a mapping`);
  const r = new Reader(`modules.${name}`, raw);
  const prober = r.str('prober') ?? '';
  if (!(prober in PROBERS)) r.fail('prober', `${JSON.stringify(prober)} is not a prober webmon maps (http, tcp, icmp, dns)`);
  const timeout = r.str('timeout');
  const timeoutSec = timeout === undefined ? undefined : (durationSec(timeout) ?? r.fail('timeout', `${JSON.stringify(timeout)} is not a duration like 5s`));
  const m: ProbeModule = { name, prober: prober as Prober, timeoutSec, record: r.bool('record') ?? false, given: {}, options: {}, failIfSsl: false, failIfNotSsl: false };
  const section = r.map(prober) ?? new Reader(`modules.${name}.${prober}`, {});
  const options = PROBERS[m.prober](section, m);
  if (timeoutSec !== undefined) options.timeoutMs = Math.round(timeoutSec * 1000);
  r.done(Object.fromEntries(Object.keys(PROBERS).filter((p) => p !== prober).map((p) => [p, `settings for the ${p} prober in a ${prober} module`])));
  const checked = registry.validate(prober, options);
  if (!checked.ok) {
    const p = checked.problems[0]!;
    throw new ConfigError(`probe modules: modules.${name}.${prober}: as the ${prober} plugin's option ${p.field.replace(`${prober}.`, '')}: ${p.message}`);
  }
  m.given = options;
  m.options = checked.value;
  return m;
}

/** Parses a modules document; throws ConfigError naming the module and setting. */
export function parseModules(text: string, registry: PluginRegistry, source = 'modules file'): ReadonlyMap<string, ProbeModule> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`probe modules: ${source}: ${(err as Error).message}`);
  }
  if (!isPlainObject(doc) || !isPlainObject(doc.modules)) throw new ConfigError(`probe modules: ${source}: expected a mapping with "modules:"`);
  const extra = Object.keys(doc).find((k) => k !== 'modules');
  if (extra) throw new ConfigError(`probe modules: ${source}: ${extra}: unknown setting (only "modules:")`);
  const out = new Map<string, ProbeModule>();
  for (const [name, raw] of Object.entries(doc.modules)) out.set(name, translate(name, raw, registry));
  return out;
}

/** The modules of probe.modulesFile, or the built-in ones. */
export function loadModules(file: string | undefined, registry: PluginRegistry): ReadonlyMap<string, ProbeModule> {
  if (!file) return parseModules(BUILTIN_MODULES_YAML, registry, 'built-in modules');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`probe.modulesFile ${file}: ${(err as Error).message}`);
  }
  return parseModules(text, registry, file);
}
