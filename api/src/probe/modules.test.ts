import { ConfigError } from '@webmon/core';
import { registry } from '@webmon/plugin-registry';
import { describe, expect, it } from 'vitest';
import { probeTimeoutSec, probeUrl } from '../routes/probe.js';
import { durationSec, loadModules, parseModules } from './modules.js';
import { ipHash } from './render.js';

const one = (yaml: string) => [...parseModules(`modules:\n${yaml}`, registry).values()][0]!;
const refused = (yaml: string) => () => parseModules(`modules:\n${yaml}`, registry);

describe('probe modules', () => {
  it('has built-in modules after blackbox_exporter\'s default file', () => {
    expect([...loadModules(undefined, registry).keys()]).toEqual(['http_2xx', 'http_post_2xx', 'tcp_connect', 'icmp', 'dns_udp', 'dns_tcp']);
  });

  it('maps http settings onto the http plugin', () => {
    const m = one(`  m:\n    prober: http\n    timeout: 2500ms\n    http:\n      valid_status_codes: [200, 204]\n      method: post\n      headers: {X-A: b}\n      no_follow_redirects: true\n      fail_if_not_ssl: true\n      fail_if_body_matches_regexp: [oops, down]\n      tls_config: {insecure_skip_verify: true}\n      preferred_ip_protocol: ip4\n`);
    expect(m.given).toEqual({ expectedStatus: '200,204', method: 'POST', headers: { 'X-A': 'b' }, followRedirects: false, bodyNotMatches: '(?:oops)|(?:down)', verifyTls: false, timeoutMs: 2500 });
    expect(m).toMatchObject({ prober: 'http', timeoutSec: 2.5, failIfNotSsl: true, failIfSsl: false });
  });

  it('maps a tcp send and expect, and dns questions', () => {
    expect(one(`  m:\n    prober: tcp\n    tcp:\n      query_response:\n        - send: HELO\n        - expect: "^250"\n`).given).toEqual({ send: 'HELO\n', expect: '(?m)^250', until: '(?m)^250' });
    const dns = one(`  m:\n    prober: dns\n    dns: {query_name: example.com, query_type: mx, valid_rcodes: [NXDOMAIN], transport_protocol: tcp}\n`);
    expect(dns.given).toEqual({ name: 'example.com', type: 'MX', rcode: 'NXDOMAIN', transport: 'tcp' });
    expect(probeUrl(dns, '192.0.2.53:5353')).toBe('dns://192.0.2.53:5353/example.com?type=MX');
    expect(probeUrl(one('  m: {prober: icmp}\n'), '2001:db8::1')).toBe('icmp://[2001:db8::1]');
    expect(probeUrl(one('  m: {prober: http}\n'), 'example.com/x')).toBe('http://example.com/x');
  });

  it.each([
    ['  web:\n    prober: http\n    http:\n      basic_auth: {username: a}\n', 'modules.web.http.basic_auth: a blackbox_exporter setting webmon cannot honour'],
    ['  web:\n    prober: http\n    http:\n      tls_config: {ca_file: /x}\n', 'modules.web.http.tls_config.ca_file: a blackbox_exporter setting'],
    ['  web:\n    prober: http\n    http:\n      colour: blue\n', 'modules.web.http.colour: unknown setting'],
    ['  web:\n    prober: http\n    tcp: {}\n', 'modules.web.tcp: settings for the tcp prober in a http module'],
    ['  ssh:\n    prober: tcp\n    tcp:\n      query_response:\n        - expect: "^SSH"\n        - send: hi\n', 'modules.ssh.tcp.query_response.1.send: webmon sends once'],
    ['  g:\n    prober: grpc\n', 'modules.g.prober: "grpc" is not a prober webmon maps'],
    ['  d:\n    prober: dns\n    dns: {query_name: a.test}\n', 'modules.d.dns.query_type: is required'],
    ['  i:\n    prober: icmp\n    icmp: {ttl: 5}\n', 'modules.i.icmp.ttl: webmon sends with the system default TTL'],
    ['  t:\n    prober: http\n    timeout: soon\n', 'modules.t.timeout: "soon" is not a duration'],
    ['  t:\n    prober: http\n    http: {fail_if_body_matches_regexp: ["(a"]}\n', "modules.t.http: as the http plugin's option bodyNotMatches: not a supported regular expression"],
  ])('refuses %j naming the module and the setting', (yaml, message) => {
    expect(refused(yaml)).toThrow(ConfigError);
    expect(refused(yaml)).toThrow(message);
  });

  it('reads Go durations', () => {
    expect([durationSec('5s'), durationSec('1m30s'), durationSec('250ms'), durationSec('5'), durationSec('s5')]).toEqual([5, 90, 0.25, null, null]);
  });

  it('takes the timeout as blackbox_exporter does', () => {
    const probe = { maxTimeoutSec: 120, timeoutOffsetSec: 0.5 };
    const m = one('  m: {prober: http, timeout: 5s}\n');
    const open = one('  m: {prober: http}\n');
    expect(probeTimeoutSec(undefined, m, probe)).toBe(5);
    expect(probeTimeoutSec('3', m, probe)).toBe(2.5);
    expect(probeTimeoutSec('10', open, probe)).toBe(9.5);
    expect(probeTimeoutSec(undefined, open, probe)).toBe(119.5);
    expect(() => probeTimeoutSec('ten', m, probe)).toThrow(/X-Prometheus-Scrape-Timeout-Seconds/);
  });

  it('hashes addresses as blackbox_exporter (FNV-1a over the address bytes)', () => {
    // Reference values: Go's fnv.New32a over net.ParseIP(...).To4() / To16().
    expect(ipHash('127.0.0.1')).toBe(3668918509);
    expect(ipHash('::ffff:127.0.0.1')).toBe(3668918509);
    expect(ipHash('::1')).not.toBe(ipHash('::2'));
    expect(ipHash('not an address')).toBe(0);
  });
});
