/**
 * The icmp plugin running the real ping: against 127.0.0.1, and inside a network namespace the
 * test creates (root and `ip` needed) with a blackhole route, no route, a neighbour that does not
 * exist (IPv4 and IPv6) and a loopback that ignores echo requests. Without ping, or for the
 * namespace without root or `ip`, the tests are skipped and say why; in CI (which installs
 * iputils-ping and runs as root) they never are.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { PluginRegistry, clientEgress, createSharedCache, memoryStorage, operatorEgress, runPlugin, type AnyPlugin, type CheckResult, type EgressGuard } from '@webmon/plugin-sdk';
import { createIcmpPlugin, icmpPlugin } from './index.js';

const registry = new PluginRegistry([icmpPlugin]);

function works(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const hasPing = works('ping', ['-V']);
const withPing = hasPing || Boolean(process.env.CI);
const withNetns = (hasPing && works('ip', ['-V']) && process.getuid?.() === 0) || Boolean(process.env.CI);
const NO_PING = 'needs the ping program (apt-get install iputils-ping)';
const NO_NETNS = 'needs root, ip (iproute2) and ping to create a network namespace';

/** Quick runs: 3 requests 200 ms apart, 500 ms for the last reply. */
const QUICK = { count: 3, intervalMs: 200, packetTimeoutMs: 500 };

interface Run {
  egress?: EgressGuard;
  plugin?: AnyPlugin;
  /** The budget runPlugin is given (ctx.timeoutMs), else the option timeoutMs. */
  budgetMs?: number;
  parent?: AbortSignal;
}

async function check(url: string, options: Record<string, unknown> = {}, run: Run = {}): Promise<CheckResult> {
  const v = registry.validate('icmp', { ...QUICK, ...options });
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  const egress = run.egress ?? operatorEgress();
  const ctx = { log: pino({ level: 'silent' }), storage: memoryStorage(), shared: createSharedCache(), egress };
  const target = { url: new URL(url), assetId: 'a', owner: egress.trusted ? 'admin' : 'c1' };
  return runPlugin(run.plugin ?? icmpPlugin, target, v.value, ctx, run.budgetMs ?? (v.value.timeoutMs as number), run.parent);
}

function expectConsistentRtt(r: CheckResult): void {
  const { rttMinMs, rttAvgMs, rttMaxMs, rttMdevMs } = r.metrics;
  for (const v of [rttMinMs, rttAvgMs, rttMaxMs, rttMdevMs]) expect(v).toEqual(expect.any(Number));
  expect(rttMinMs!).toBeLessThanOrEqual(rttAvgMs!);
  expect(rttAvgMs!).toBeLessThanOrEqual(rttMaxMs!);
  expect(rttMdevMs!).toBeGreaterThanOrEqual(0);
}

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'webmon-icmp-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in for ping that records that it ran (its first argument is the file it writes). */
function recorder(name: string): { plugin: AnyPlugin; ran: () => boolean } {
  const marker = join(dir, name);
  return { plugin: createIcmpPlugin({ command: ['/bin/sh', '-c', 'printf "%s\\n" "$*" > "$0"; exit 2', marker] }), ran: () => existsSync(marker) };
}

describe('icmp plugin: egress and the ping program', () => {
  it('a client is refused 127.0.0.1 and localhost (denied) without ping being run', async () => {
    const { plugin, ran } = recorder('client');
    expect(await check('icmp://127.0.0.1', {}, { egress: clientEgress(), plugin })).toMatchObject({ status: 'error', reason: 'denied', message: expect.stringContaining('127.0.0.1 is loopback') });
    expect(await check('icmp://localhost', {}, { egress: clientEgress(), plugin })).toMatchObject({ status: 'error', reason: 'denied' });
    expect(ran()).toBe(false);
  });

  it('the operator may, and ping gets fixed arguments and the numeric address', async () => {
    const { plugin, ran } = recorder('operator');
    await check('icmp://127.0.0.1', { count: 2 }, { plugin });
    expect(ran()).toBe(true);
    expect(readFileSync(join(dir, 'operator'), 'utf8')).toBe('-n -c 2 -i 0.2 -W 0.5 -4 127.0.0.1\n');
  });

  it('a missing ping program is unsupported, saying what to install', async () => {
    const plugin = createIcmpPlugin({ command: [join(dir, 'no-such-ping')] });
    expect(await check('icmp://127.0.0.1', {}, { plugin })).toMatchObject({ status: 'error', reason: 'unsupported', message: expect.stringContaining('apt-get install iputils-ping') });
  });

  it('a ping that cannot open its socket is unsupported', async () => {
    const plugin = createIcmpPlugin({ command: ['/bin/sh', '-c', 'echo "ping: socket: Operation not permitted" >&2; exit 2'] });
    expect(await check('icmp://127.0.0.1', {}, { plugin })).toMatchObject({ status: 'error', reason: 'unsupported', message: expect.stringContaining('socket: Operation not permitted') });
  });

  it('an icmp URL without a host is unsupported', async () => {
    expect(await check('icmp:///nothing')).toMatchObject({ status: 'error', reason: 'unsupported', message: 'no host: write icmp://host' });
  });
});

describe.skipIf(!withPing)(`icmp plugin: ping 127.0.0.1 (${NO_PING})`, () => {
  it('every request answered: ok, loss 0, consistent rtt', async () => {
    const r = await check('icmp://127.0.0.1');
    expect(r).toMatchObject({ plugin: 'icmp', status: 'ok', reason: null, message: expect.stringMatching(/^127\.0\.0\.1: 3\/3 replies, rtt min\/avg\/max\/mdev /) });
    expect(r.metrics).toMatchObject({ sent: 3, received: 3, lossPercent: 0 });
    expectConsistentRtt(r);
    expect(r.details).toMatchObject({ address: '127.0.0.1', family: 'ipv4', problems: [] });
  });

  it('resolves a name through the egress guard and pings the address of the family asked', async () => {
    const r = await check('icmp://localhost', { family: 'ipv4', count: 1 });
    expect(r).toMatchObject({ status: 'ok', details: expect.objectContaining({ address: '127.0.0.1', family: 'ipv4' }) });
  });

  it('stops ping when the budget runs out and reports what was sent', async () => {
    const r = await check('icmp://127.0.0.1', { count: 20, intervalMs: 1000 }, { budgetMs: 1500 });
    expect(r).toMatchObject({ status: 'ok', message: expect.stringContaining('(stopped at timeoutMs after'), details: expect.objectContaining({ stoppedAtBudget: true }) });
    expect(r.metrics.sent).toBeGreaterThan(0);
    expect(r.metrics.sent).toBeLessThan(20);
    expect(r.metrics.received).toBe(r.metrics.sent);
  });

  it('an aborted check kills ping', async () => {
    const pidFile = join(dir, 'pid');
    const plugin = createIcmpPlugin({ command: ['/bin/sh', '-c', 'echo $$ > "$0"; exec ping "$@"', pidFile] });
    const stop = new AbortController();
    const running = check('icmp://127.0.0.1', { count: 20, intervalMs: 1000 }, { plugin, parent: stop.signal });
    const written = () => existsSync(pidFile) && /^\d+\n$/.test(readFileSync(pidFile, 'utf8'));
    for (let i = 0; i < 100 && !written(); i++) await new Promise((r) => setTimeout(r, 20));
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(1);
    stop.abort(new Error('executor stopping'));
    await running;
    let alive = true;
    for (let i = 0; i < 100 && alive; i++) {
      try {
        process.kill(pid, 0);
        await new Promise((r) => setTimeout(r, 20));
      } catch {
        alive = false;
      }
    }
    expect(alive).toBe(false);
  });
});

const NS = `webmon-icmp-${process.pid}`;

function inNs(...args: string[]): void {
  execFileSync('ip', ['netns', 'exec', NS, ...args], { stdio: 'pipe' });
}

/**
 * The namespace: loopback up and ignoring IPv4 echo requests; a veth pair whose far end has no
 * address (192.0.2.0/24 and 2001:db8:1::/64 on the near end: neighbours there never answer, and
 * neighbour discovery gives up after one 100 ms try); a blackhole route to 198.51.100.0/24;
 * no route at all to anything else.
 */
function createNamespace(): void {
  execFileSync('ip', ['netns', 'add', NS], { stdio: 'pipe' });
  inNs('ip', 'link', 'set', 'lo', 'up');
  inNs('ip', 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb');
  inNs('ip', 'addr', 'add', '192.0.2.1/24', 'dev', 'va');
  inNs('ip', '-6', 'addr', 'add', '2001:db8:1::1/64', 'dev', 'va', 'nodad');
  inNs('ip', 'link', 'set', 'va', 'up');
  inNs('ip', 'link', 'set', 'vb', 'up');
  inNs('ip', 'route', 'add', 'blackhole', '198.51.100.0/24');
  for (const v of ['ipv4', 'ipv6']) inNs('sysctl', '-qw', `net.${v}.neigh.va.mcast_solicit=1`, `net.${v}.neigh.va.retrans_time_ms=100`);
  inNs('sysctl', '-qw', 'net.ipv4.icmp_echo_ignore_all=1');
}

describe.skipIf(!withNetns)(`icmp plugin: in a network namespace (${NO_NETNS})`, () => {
  const plugin = createIcmpPlugin({ command: ['ip', 'netns', 'exec', NS, 'ping'] });

  beforeAll(() => createNamespace());
  afterAll(() => {
    try {
      execFileSync('ip', ['netns', 'del', NS], { stdio: 'pipe' });
    } catch {
      // never created
    }
  });

  it('a blackhole route is unreachable', async () => {
    expect(await check('icmp://198.51.100.1', {}, { plugin })).toMatchObject({ status: 'error', reason: 'unreachable', message: 'ping: connect: Invalid argument' });
  });

  it('no route is unreachable', async () => {
    expect(await check('icmp://203.0.113.1', {}, { plugin })).toMatchObject({ status: 'error', reason: 'unreachable', message: 'ping: connect: Network is unreachable' });
  });

  it('a neighbour that does not exist is unreachable (ICMP errors), IPv4 and IPv6', async () => {
    const v4 = await check('icmp://192.0.2.7', {}, { plugin });
    expect(v4).toMatchObject({ status: 'error', reason: 'unreachable', message: '192.0.2.7: Destination Host Unreachable (no reply to 3 echo requests)' });
    expect(v4.metrics).toMatchObject({ sent: 3, received: 0, lossPercent: 100, errors: 3 });
    const v6 = await check('icmp://[2001:db8:1::7]', {}, { plugin });
    expect(v6).toMatchObject({ status: 'error', reason: 'unreachable', message: expect.stringContaining('Address unreachable'), details: expect.objectContaining({ family: 'ipv6' }) });
  });

  it('a host that never answers is timeout with every request lost', async () => {
    const r = await check('icmp://127.0.0.1', {}, { plugin });
    expect(r).toMatchObject({ status: 'error', reason: 'timeout', message: '127.0.0.1: no reply to 3 echo requests' });
    expect(r.metrics).toEqual({ sent: 3, received: 0, lossPercent: 100 });
  });

  it('IPv6 loopback answers', async () => {
    const r = await check('icmp://[::1]', {}, { plugin });
    expect(r).toMatchObject({ status: 'ok', details: expect.objectContaining({ address: '::1', family: 'ipv6' }) });
    expect(r.metrics).toMatchObject({ sent: 3, received: 3, lossPercent: 0 });
    expectConsistentRtt(r);
  });
});
