/**
 * The parser and the verdict on outputs recorded from iputils ping 20221126 (`ping -n`, LC_ALL=C)
 * on Debian 12: against loopback, a host that stopped answering halfway, a host that never
 * answers, a neighbour that does not exist (IPv4 and IPv6), no route, a blackhole route, and a
 * run stopped by SIGINT.
 */
import { describe, expect, it } from 'vitest';
import { PluginRegistry } from '@webmon/plugin-sdk';
import { icmpPlugin, judgePing, lossPercent, parsePing, pingArgs, type IcmpConfig } from './index.js';

const ALL_OK = `PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.
64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.082 ms
64 bytes from 127.0.0.1: icmp_seq=2 ttl=64 time=0.044 ms

--- 127.0.0.1 ping statistics ---
2 packets transmitted, 2 received, 0% packet loss, time 206ms
rtt min/avg/max/mdev = 0.044/0.063/0.082/0.019 ms
`;

const PARTIAL_LOSS = `PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.
64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.033 ms
64 bytes from 127.0.0.1: icmp_seq=2 ttl=64 time=0.043 ms
64 bytes from 127.0.0.1: icmp_seq=3 ttl=64 time=0.045 ms
64 bytes from 127.0.0.1: icmp_seq=6 ttl=64 time=0.049 ms

--- 127.0.0.1 ping statistics ---
6 packets transmitted, 4 received, 33.3333% packet loss, time 2568ms
rtt min/avg/max/mdev = 0.033/0.042/0.049/0.005 ms
`;

const ALL_LOST = `PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.

--- 127.0.0.1 ping statistics ---
3 packets transmitted, 0 received, 100% packet loss, time 411ms

`;

const HOST_UNREACHABLE = `PING 10.98.0.7 (10.98.0.7) 56(84) bytes of data.
From 10.98.0.1 icmp_seq=1 Destination Host Unreachable
From 10.98.0.1 icmp_seq=2 Destination Host Unreachable
From 10.98.0.1 icmp_seq=3 Destination Host Unreachable

--- 10.98.0.7 ping statistics ---
3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 402ms

`;

const IPV6_OK = `PING ::1(::1) 56 data bytes
64 bytes from ::1: icmp_seq=1 ttl=64 time=0.062 ms
64 bytes from ::1: icmp_seq=2 ttl=64 time=0.035 ms

--- ::1 ping statistics ---
2 packets transmitted, 2 received, 0% packet loss, time 201ms
rtt min/avg/max/mdev = 0.035/0.048/0.062/0.013 ms
`;

const IPV6_UNREACHABLE = `PING 2001:db8:1::7(2001:db8:1::7) 56 data bytes
From 2001:db8:1::1 icmp_seq=1 Destination unreachable: Address unreachable
From 2001:db8:1::1 icmp_seq=2 Destination unreachable: Address unreachable
From 2001:db8:1::1 icmp_seq=3 Destination unreachable: Address unreachable

--- 2001:db8:1::7 ping statistics ---
3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 402ms

`;

/** No route at all: ping fails at connect(), on stderr, before sending (exit code 2). */
const NO_ROUTE_STDERR = 'ping: connect: Network is unreachable\n';
/** A blackhole route: connect() fails with EINVAL. */
const BLACKHOLE_STDERR = 'ping: connect: Invalid argument\n';
/** ping without CAP_NET_RAW where ping_group_range excludes the user. */
const NO_SOCKET_STDERR = 'ping: socket: Operation not permitted\n';

/** -c 10 -i 0.5 stopped by SIGINT after three replies. */
const INTERRUPTED = `PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.
64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.049 ms
64 bytes from 127.0.0.1: icmp_seq=2 ttl=64 time=0.045 ms
64 bytes from 127.0.0.1: icmp_seq=3 ttl=64 time=0.047 ms

--- 127.0.0.1 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss, time 1023ms
rtt min/avg/max/mdev = 0.045/0.047/0.049/0.001 ms
`;

const defaults = new PluginRegistry([icmpPlugin]).validate('icmp', {});
if (!defaults.ok) throw new Error(JSON.stringify(defaults.problems));
const DEFAULTS = defaults.value as IcmpConfig;
const cfg = (over: Partial<IcmpConfig> = {}): IcmpConfig => ({ ...DEFAULTS, ...over });

describe('parsePing', () => {
  it('reads counts, the rtt line and every reply time', () => {
    expect(parsePing(ALL_OK)).toEqual({
      transmitted: 2,
      received: 2,
      duplicates: 0,
      errors: 0,
      rtt: { min: 0.044, avg: 0.063, max: 0.082, mdev: 0.019 },
      times: [0.082, 0.044],
      problems: [],
    });
  });

  it('reads partial loss', () => {
    const r = parsePing(PARTIAL_LOSS);
    expect(r).toMatchObject({ transmitted: 6, received: 4, errors: 0, rtt: { min: 0.033, avg: 0.042, max: 0.049, mdev: 0.005 } });
    expect(lossPercent(r)).toBe(33.33);
  });

  it('reads total loss: counts, no rtt', () => {
    const r = parsePing(ALL_LOST);
    expect(r).toMatchObject({ transmitted: 3, received: 0, errors: 0, rtt: null, problems: [] });
    expect(lossPercent(r)).toBe(100);
  });

  it('reads ICMP errors and keeps each distinct text once, without the sender', () => {
    expect(parsePing(HOST_UNREACHABLE)).toMatchObject({ transmitted: 3, received: 0, errors: 3, problems: ['Destination Host Unreachable'] });
    expect(parsePing(IPV6_UNREACHABLE)).toMatchObject({ transmitted: 3, received: 0, errors: 3, problems: ['Destination unreachable: Address unreachable'] });
  });

  it('reads IPv6 replies', () => {
    expect(parsePing(IPV6_OK)).toMatchObject({ transmitted: 2, received: 2, rtt: { min: 0.035, avg: 0.048, max: 0.062, mdev: 0.013 }, times: [0.062, 0.035] });
  });

  it('reads ping\'s own errors from stderr, with no statistics', () => {
    expect(parsePing('', NO_ROUTE_STDERR)).toMatchObject({ transmitted: null, received: 0, problems: ['connect: Network is unreachable'] });
    expect(parsePing('', BLACKHOLE_STDERR).problems).toEqual(['connect: Invalid argument']);
    expect(parsePing('', NO_SOCKET_STDERR).problems).toEqual(['socket: Operation not permitted']);
  });

  it('computes the rtt from the replies when the rtt line is missing', () => {
    const cut = ALL_OK.slice(0, ALL_OK.indexOf('rtt min'));
    const r = parsePing(cut);
    expect(r.transmitted).toBe(2);
    expect(r.rtt).toMatchObject({ min: 0.044, max: 0.082 });
    expect(r.rtt!.avg).toBeCloseTo(0.063, 6);
    expect(r.rtt!.mdev).toBeCloseTo(0.019, 6);
  });

  it('ignores unknown lines and empty output', () => {
    expect(parsePing('hello\nworld\n', 'something else')).toMatchObject({ transmitted: null, received: 0, rtt: null, problems: [] });
    expect(lossPercent(parsePing(''))).toBe(0);
  });
});

describe('judgePing', () => {
  it('all replies: ok with loss 0 and the rtt metrics', () => {
    const r = judgePing(parsePing(ALL_OK), cfg(), '127.0.0.1');
    expect(r).toMatchObject({ status: 'ok', reason: null, message: '127.0.0.1: 2/2 replies, rtt min/avg/max/mdev 0.044/0.063/0.082/0.019 ms' });
    expect(r.metrics).toEqual({ sent: 2, received: 2, lossPercent: 0, rttMinMs: 0.044, rttAvgMs: 0.063, rttMaxMs: 0.082, rttMdevMs: 0.019 });
  });

  it('partial loss warns (packet_loss) over warnLossPercent, and is ok at or under it', () => {
    const report = parsePing(PARTIAL_LOSS);
    expect(judgePing(report, cfg(), '127.0.0.1')).toMatchObject({ status: 'warn', reason: 'packet_loss', message: expect.stringContaining('4/6 replies (33.33% lost)') });
    expect(judgePing(report, cfg({ warnLossPercent: 30 }), '127.0.0.1')).toMatchObject({ status: 'warn', reason: 'packet_loss', message: expect.stringMatching(/\(loss over 30%\)$/) });
    expect(judgePing(report, cfg({ warnLossPercent: 50 }), '127.0.0.1')).toMatchObject({ status: 'ok', metrics: expect.objectContaining({ lossPercent: 33.33, received: 4 }) });
  });

  it('warns (slow) when the mean round trip is over warnRttMs; loss is reported first', () => {
    expect(judgePing(parsePing(ALL_OK), cfg({ warnRttMs: 0.05 }), '127.0.0.1')).toMatchObject({ status: 'warn', reason: 'slow', message: expect.stringMatching(/\(mean over 0\.05 ms\)$/) });
    expect(judgePing(parsePing(ALL_OK), cfg({ warnRttMs: 0.07 }), '127.0.0.1')).toMatchObject({ status: 'ok' });
    expect(judgePing(parsePing(PARTIAL_LOSS), cfg({ warnRttMs: 0.01 }), '127.0.0.1')).toMatchObject({ status: 'warn', reason: 'packet_loss' });
  });

  it('everything lost without an error is timeout', () => {
    const r = judgePing(parsePing(ALL_LOST), cfg(), '127.0.0.1');
    expect(r).toMatchObject({ status: 'error', reason: 'timeout', message: '127.0.0.1: no reply to 3 echo requests' });
    expect(r.metrics).toEqual({ sent: 3, received: 0, lossPercent: 100 });
  });

  it('ICMP errors instead of replies are unreachable (IPv4 and IPv6)', () => {
    expect(judgePing(parsePing(HOST_UNREACHABLE), cfg(), '10.98.0.7')).toMatchObject({
      status: 'error',
      reason: 'unreachable',
      message: '10.98.0.7: Destination Host Unreachable (no reply to 3 echo requests)',
      metrics: { sent: 3, received: 0, lossPercent: 100, errors: 3 },
    });
    expect(judgePing(parsePing(IPV6_UNREACHABLE), cfg(), '2001:db8:1::7')).toMatchObject({ status: 'error', reason: 'unreachable', message: expect.stringContaining('Address unreachable') });
  });

  it('IPv6 replies are ok', () => {
    expect(judgePing(parsePing(IPV6_OK), cfg(), '::1')).toMatchObject({ status: 'ok', metrics: expect.objectContaining({ rttAvgMs: 0.048, lossPercent: 0 }) });
  });

  it('says when the budget stopped ping before count requests', () => {
    const r = judgePing(parsePing(INTERRUPTED), cfg({ count: 10 }), '127.0.0.1', { stopped: true });
    expect(r).toMatchObject({ status: 'ok', message: expect.stringMatching(/\(stopped at timeoutMs after 3 of 10\)$/), details: expect.objectContaining({ stoppedAtBudget: true }) });
  });

  it('hides addresses inside error texts from clients', () => {
    const redirect = parsePing(`${HOST_UNREACHABLE}From 10.98.0.1 icmp_seq=4 Redirect Host(New nexthop: 10.98.0.254)\n`);
    expect(judgePing(redirect, cfg(), '10.98.0.7', { trusted: false }).details!.problems).toEqual(['Destination Host Unreachable', 'Redirect Host(New nexthop: [address])']);
    expect(judgePing(redirect, cfg(), '10.98.0.7', { trusted: true }).details!.problems).toContain('Redirect Host(New nexthop: 10.98.0.254)');
  });
});

describe('pingArgs', () => {
  it('fixed options, seconds in C-locale decimals, the family, the numeric address last', () => {
    expect(pingArgs({ address: '192.0.2.1', family: 4, count: 3, intervalMs: 200, packetTimeoutMs: 1500 })).toEqual(['-n', '-c', '3', '-i', '0.2', '-W', '1.5', '-4', '192.0.2.1']);
    expect(pingArgs({ address: '2001:db8::1', family: 6, count: 1, intervalMs: 1000, packetTimeoutMs: 2000 })).toEqual(['-n', '-c', '1', '-i', '1', '-W', '2', '-6', '2001:db8::1']);
  });
});
