/**
 * GET /probe across real processes (api, dispatcher, executor on a real Redis) against local
 * targets: HTTP, a TCP service with a banner, a DNS server on a loopback port and ICMP to
 * 127.0.0.1 (when `ping` exists). The answers are parsed as Prometheus text and compared, metric
 * by metric, with Debian's prometheus-blackbox-exporter probing the same targets with the same
 * modules file: same names, HELP texts and label sets, equal values for the non-timing metrics.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import packet from 'dns-packet';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@webmon/core';
import { client, startRoles, startTarget, type Proc, type Target } from './helpers/processes.js';
import { testRedis, type TestRedis } from './helpers/redis.js';

const KEY = 'e2e-probe-admin-key-0123456789';
const BLACKBOX = '/usr/bin/prometheus-blackbox-exporter';
const hasBlackbox = spawnSync(BLACKBOX, ['--version']).status === 0;
const hasPing = spawnSync('ping', ['-V']).status === 0;

const MODULES = `modules:
  http_2xx:
    prober: http
    timeout: 5s
  http_404:
    prober: http
    timeout: 5s
    http:
      valid_status_codes: [404]
  http_body:
    prober: http
    timeout: 5s
    http:
      fail_if_body_not_matches_regexp: ["goodbye"]
  http_no_redirect:
    prober: http
    timeout: 5s
    http:
      no_follow_redirects: true
      valid_status_codes: [302]
  http_post_2xx:
    prober: http
    timeout: 5s
    http:
      method: POST
      headers:
        Content-Type: application/json
      body: '{}'
  tcp_connect:
    prober: tcp
    timeout: 5s
  tcp_banner:
    prober: tcp
    timeout: 5s
    tcp:
      query_response:
        - expect: "^SSH-2.0-"
  tcp_wrong_banner:
    prober: tcp
    timeout: 2s
    tcp:
      query_response:
        - expect: "^220 "
  dns_a:
    prober: dns
    timeout: 5s
    dns:
      query_name: probe.test
      query_type: A
  dns_soa:
    prober: dns
    timeout: 5s
    dns:
      query_name: probe.test
      query_type: SOA
  dns_nxdomain:
    prober: dns
    timeout: 5s
    dns:
      query_name: missing.test
      query_type: A
      valid_rcodes: [NXDOMAIN]
  dns_tcp:
    prober: dns
    timeout: 5s
    dns:
      transport_protocol: tcp
      query_name: probe.test
      query_type: A
  icmp:
    prober: icmp
    timeout: 5s
`;

/** Families only blackbox_exporter writes, and why. */
const ONLY_BLACKBOX: Record<string, string> = {
  probe_icmp_reply_hop_limit: "webmon's icmp plugin (the system ping) does not report the reply's TTL",
};
/** Timings: compared by name and labels only. */
const TIMINGS = new Set(['probe_duration_seconds', 'probe_dns_lookup_time_seconds', 'probe_http_duration_seconds', 'probe_icmp_duration_seconds', 'probe_dns_duration_seconds']);

type Samples = Map<string, { help: string; samples: Map<string, number> }>;

function parse(text: string): Samples {
  const out: Samples = new Map();
  for (const f of parsePrometheusTextFormat(text)) {
    const samples = new Map<string, number>();
    for (const m of f.metrics as Array<{ value: string; labels?: Record<string, string> }>) {
      const labels = Object.entries(m.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
      samples.set(JSON.stringify(labels), Number(m.value));
    }
    out.set(f.name, { help: f.help, samples });
  }
  return out;
}

const value = (s: Samples, name: string, labels = '[]') => s.get(name)?.samples.get(labels);

let t: TestRedis;
let http: Target;
let tcp: TcpServer;
let dnsUdp: UdpSocket;
let dnsTcp: TcpServer;
let dnsPort: number;
let tcpPort: number;
let procs: Proc[] = [];
let blackbox: ChildProcess | undefined;
let blackboxUrl = '';
let api: ReturnType<typeof client>;
let apiUrl = '';
let dir = '';

/** Canned zone: probe.test A and SOA; anything else NXDOMAIN with the zone's SOA as authority. */
function answer(query: packet.DecodedPacket): Buffer {
  const q = query.questions![0]!;
  const soa = { type: 'SOA' as const, name: 'probe.test', ttl: 300, data: { mname: 'ns1.probe.test', rname: 'hostmaster.probe.test', serial: 2026120601, refresh: 7200, retry: 3600, expire: 1_209_600, minimum: 300 } };
  const known = q.name.toLowerCase() === 'probe.test';
  const answers: packet.Answer[] = !known ? [] : q.type === 'A' ? [{ type: 'A', name: q.name, ttl: 60, data: '192.0.2.7' }, { type: 'A', name: q.name, ttl: 60, data: '192.0.2.8' }] : q.type === 'SOA' ? [soa] : [];
  return packet.encode({
    type: 'response',
    id: query.id,
    flags: packet.RECURSION_AVAILABLE | (known ? 0 : 3),
    questions: query.questions,
    answers,
    authorities: known ? [] : [soa],
  });
}

async function startDns(): Promise<void> {
  dnsTcp = createTcpServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const out = answer(packet.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))));
      const len = Buffer.alloc(2);
      len.writeUInt16BE(out.length);
      s.end(Buffer.concat([len, out]));
    });
  });
  await new Promise<void>((r) => dnsTcp.listen(0, '127.0.0.1', r));
  dnsPort = (dnsTcp.address() as { port: number }).port;
  dnsUdp = createSocket('udp4');
  dnsUdp.on('message', (msg, from) => dnsUdp.send(answer(packet.decode(msg)), from.port, from.address));
  await new Promise<void>((r) => dnsUdp.bind(dnsPort, '127.0.0.1', r));
}

async function startBlackbox(file: string): Promise<void> {
  const port = await freePort();
  blackboxUrl = `http://127.0.0.1:${port}`;
  blackbox = spawn(BLACKBOX, [`--config.file=${file}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await fetch(`${blackboxUrl}/-/healthy`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('prometheus-blackbox-exporter did not start');
}

beforeAll(async () => {
  t = await testRedis('probe');
  http = await startTarget();
  tcp = createTcpServer((s) => {
    s.on('error', () => undefined); // a prober may reset the connection once it has what it needs
    s.end('SSH-2.0-OpenSSH_9.6 test\r\n');
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  tcpPort = (tcp.address() as { port: number }).port;
  await startDns();
  dir = mkdtempSync(join(tmpdir(), 'webmon-probe-'));
  const modulesFile = join(dir, 'blackbox.yml');
  writeFileSync(modulesFile, MODULES);
  const deployment = await startRoles(['dispatcher', 'executor', 'api'], { redisUrl: t.url, prefix: t.prefix, adminKey: KEY, extraEnv: { WEBMON_PROBE_MODULES_FILE: modulesFile } });
  apiUrl = deployment.apiUrl;
  procs = deployment.procs;
  api = client(apiUrl, KEY);
  if (hasBlackbox) await startBlackbox(modulesFile);
}, 60_000);

afterAll(async () => {
  blackbox?.kill('SIGTERM');
  await Promise.all(procs.map((p) => p.stop('SIGTERM')));
  await http?.close();
  tcp?.close();
  dnsTcp?.close();
  dnsUdp?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  await t?.cleanup();
});

async function probeWebmon(query: string, headers: Record<string, string> = {}, key = KEY): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(`${apiUrl}/probe?${query}`, { headers: { authorization: `Bearer ${key}`, ...headers } });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

const CASES: Array<{ module: string; target: () => string; success: 0 | 1; only?: () => boolean }> = [
  { module: 'http_2xx', target: () => `${http.url}/ok`, success: 1 },
  { module: 'http_2xx', target: () => `${http.url}/missing`, success: 0 },
  { module: 'http_2xx', target: () => `${http.url}/redirect`, success: 1 },
  { module: 'http_404', target: () => `${http.url}/missing`, success: 1 },
  { module: 'http_body', target: () => `${http.url}/ok`, success: 0 },
  { module: 'http_no_redirect', target: () => `${http.url}/redirect`, success: 1 },
  { module: 'http_post_2xx', target: () => `${http.url}/ok`, success: 1 },
  { module: 'tcp_connect', target: () => `127.0.0.1:${tcpPort}`, success: 1 },
  { module: 'tcp_banner', target: () => `127.0.0.1:${tcpPort}`, success: 1 },
  { module: 'tcp_wrong_banner', target: () => `127.0.0.1:${tcpPort}`, success: 0 },
  { module: 'dns_a', target: () => `127.0.0.1:${dnsPort}`, success: 1 },
  { module: 'dns_soa', target: () => `127.0.0.1:${dnsPort}`, success: 1 },
  { module: 'dns_nxdomain', target: () => `127.0.0.1:${dnsPort}`, success: 1 },
  { module: 'dns_tcp', target: () => `127.0.0.1:${dnsPort}`, success: 1 },
  { module: 'icmp', target: () => '127.0.0.1', success: 1, only: () => hasPing },
];

describe('GET /probe', () => {
  it.each(CASES)('$module on its target answers Prometheus text with probe_success $success', async ({ module, target, success, only }) => {
    if (only && !only()) return;
    const query = `target=${encodeURIComponent(target())}&module=${module}`;
    const res = await probeWebmon(query);
    expect(res.status, res.text).toBe(200);
    expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const ours = parse(res.text);
    expect(value(ours, 'probe_success')).toBe(success);
    expect(ours.has('probe_duration_seconds')).toBe(true);

    if (!hasBlackbox) {
      if (process.env.CI) throw new Error(`${BLACKBOX} is missing (CI installs prometheus-blackbox-exporter)`);
      console.warn(`skipping the comparison with blackbox_exporter: ${BLACKBOX} is not installed`);
      return;
    }
    const theirs = parse(await (await fetch(`${blackboxUrl}/probe?${query}`)).text());
    const names = (s: Samples) => [...s.keys()].filter((n) => !(n in ONLY_BLACKBOX)).sort();
    expect(names(ours)).toEqual(names(theirs));
    for (const [name, family] of theirs) {
      if (name in ONLY_BLACKBOX) continue;
      const mine = ours.get(name)!;
      expect(mine.help, name).toBe(family.help);
      expect([...mine.samples.keys()].sort(), name).toEqual([...family.samples.keys()].sort());
      if (TIMINGS.has(name)) continue;
      for (const [labels, v] of family.samples) expect(mine.samples.get(labels), `${name}${labels}`).toBe(v);
    }
  });

  it('applies the client\'s egress policy: a client may not probe a loopback target', async () => {
    const created = await api.call('POST', '/clients', { name: 'prober' });
    expect(created.status).toBe(201);
    const res = await probeWebmon(`target=${encodeURIComponent(`${http.url}/ok`)}&module=http_2xx&debug=true`, {}, created.body.apiKey);
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/outcome unsupported \(the egress policy refused the target/);
    expect(res.text).toMatch(/^probe_success 0$/m);
  });

  it('deletes the temporary asset, and keeps it with record=true', async () => {
    const url = `${http.url}/ok?kept=1`;
    await probeWebmon(`target=${encodeURIComponent(url)}&module=http_2xx`);
    const before = await api.call('GET', `/assets?tag=probe&q=${encodeURIComponent('kept=1')}`);
    expect(before.body.items).toEqual([]);
    const res = await probeWebmon(`target=${encodeURIComponent(url)}&module=http_2xx&record=true`);
    expect(value(parse(res.text), 'probe_success')).toBe(1);
    const after = await api.call('GET', `/assets?tag=probe&q=${encodeURIComponent('kept=1')}`);
    expect(after.body.items.map((a: { url: string; paused: boolean }) => [a.url, a.paused])).toEqual([[url, false]]);
    const stats = await api.call('GET', `/assets/${after.body.items[0].id}/results`);
    expect(stats.status).toBe(200);
    expect(stats.body.items.length).toBe(1);
  });

  it('refuses to probe a URL an asset of the caller watches with other options', async () => {
    const url = `${http.url}/ok?mine=1`;
    const own = await api.call('POST', '/assets', { url, plugins: ['http'], config: { http: { expectedStatus: '200' } } });
    expect(own.status).toBe(201);
    const res = await probeWebmon(`target=${encodeURIComponent(url)}&module=http_2xx`);
    expect(res.status).toBe(409);
    expect(JSON.parse(res.text)).toMatchObject({ code: 'WEBMON_ERR_PROBE_CONFLICT', details: { assetId: own.body.id } });
  });

  it('ends the probe within the scrape timeout the scraper sends', async () => {
    const res = await probeWebmon(`target=${encodeURIComponent(`${http.url}/slow`)}&module=http_2xx`, { 'x-prometheus-scrape-timeout-seconds': '1.5' });
    expect(res.status).toBe(200);
    expect(value(parse(res.text), 'probe_success')).toBe(0);
  });

  it('answers 400 for an unknown module or a missing target, 401 without a key', async () => {
    const unknown = await probeWebmon(`target=${encodeURIComponent(http.url)}&module=nope`);
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.text)).toMatchObject({ code: 'WEBMON_ERR_PROBE_MODULE' });
    expect(JSON.parse(unknown.text).message).toMatch(/unknown module "nope" \(known: http_2xx, /);
    const missing = await probeWebmon('module=http_2xx');
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.text)).toMatchObject({ code: 'WEBMON_ERR_VALIDATION' });
    expect(JSON.parse(missing.text).message).toMatch(/target/);
    const anonymous = await fetch(`${apiUrl}/probe?target=x&module=http_2xx`);
    expect(anonymous.status).toBe(401);
  });
});
