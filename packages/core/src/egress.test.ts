import { describe, expect, it } from 'vitest';
import { EGRESS_DENIED, createEgressGuard } from './egress.js';

const open = { denyHosts: [], allowHosts: [], denyCidrs: [], allowCidrs: [] };
const client = createEgressGuard({ policy: open, trusted: false });
const operator = createEgressGuard({ policy: open, trusted: true });

describe('egress guard', () => {
  it('refuses every non-public address to a client, in every spelling', () => {
    const refused = [
      '127.0.0.1', '127.1', '2130706433', '0x7f.1', '0x7f000001', '017700000001', '0.0.0.0', '0', '0.1.2.3',
      '[::ffff:0.0.0.0]', '[::ffff:127.0.0.1]', '::ffff:7f00:1', '[::127.0.0.1]', '[::1]', '[::]',
      '169.254.169.254', '10.0.0.1', '172.16.5.4', '192.168.1.1', '100.64.0.1', '224.0.0.1', '255.255.255.255',
      '192.0.2.1', '198.51.100.7', '203.0.113.9', '198.18.0.1', '240.0.0.1', '[fd00::1]', '[fe80::1%25eth0]', '[fe80::1%eth0]',
      '[ff02::1]', '[2001:db8::1]', '[64:ff9b::7f00:1]', '[2002:7f00:1::]', '[2001::1]', '127.0.0.1.', 'localhost', 'LOCALHOST.', 'a.localhost',
    ];
    for (const h of refused) expect(client.judgeHost(h), h).not.toBeNull();
  });

  it('admits public unicast addresses and names', () => {
    for (const h of ['8.8.8.8', '[2606:4700::1]', '[::ffff:8.8.8.8]', 'example.com', 'example.com.']) expect(client.judgeHost(h), h).toBeNull();
  });

  it('lets the operator reach loopback and private ranges unless the policy denies them', () => {
    expect(operator.judgeHost('127.0.0.1')).toBeNull();
    expect(operator.judgeHost('10.1.2.3')).toBeNull();
    const strict = createEgressGuard({ policy: { ...open, denyCidrs: ['169.254.0.0/16'] }, trusted: true });
    expect(strict.judgeHost('169.254.169.254')).toMatch(/denied range/);
    expect(strict.judgeHost('[::ffff:169.254.169.254]')).toMatch(/denied range/);
  });

  it('admits a range the admin allowed for a client, and only that range', () => {
    const g = createEgressGuard({ policy: open, trusted: false, allowCidrs: ['10.20.0.0/16'] });
    expect(g.judgeHost('10.20.3.4')).toBeNull();
    expect(g.judgeHost('10.21.0.1')).not.toBeNull();
    expect(g.key).not.toBe(client.key);
  });

  it('keeps the verdicts of each guard apart when they are remembered, and judges the same text the same every time', () => {
    // Judged by the client first: the operator must not be handed the client's refusal, nor the reverse.
    for (let i = 0; i < 3; i++) {
      expect(client.judgeHost('127.0.0.2')).not.toBeNull();
      expect(operator.judgeHost('127.0.0.2')).toBeNull();
      expect(client.judgeAddress('10.9.8.7')).not.toBeNull();
      expect(operator.judgeAddress('10.9.8.7')).toBeNull();
    }
    // More texts than are remembered: verdicts stay right after the memory is cleared.
    for (let i = 0; i < 5000; i++) expect(client.judgeHost(`h${i}.example.com`)).toBeNull();
    expect(client.judgeHost('127.0.0.2')).not.toBeNull();
  });

  it('applies host name rules to trailing-dot spellings', () => {
    const g = createEgressGuard({ policy: { ...open, denyHosts: ['internal.example.com'] }, trusted: true });
    expect(g.judgeHost('internal.example.com.')).toMatch(/denied/);
    expect(g.judgeHost('INTERNAL.example.com')).toMatch(/denied/);
  });

  it('judges resolved addresses in its lookup hook, so a name that resolves to loopback is refused', async () => {
    await expect(client.resolve('localhost')).rejects.toMatchObject({ code: EGRESS_DENIED });
    const viaHook = await new Promise<NodeJS.ErrnoException | null>((resolve) => client.lookup('localhost', { family: 4 }, (err) => resolve(err)));
    expect(viaHook?.code).toBe(EGRESS_DENIED);
    const single = await new Promise<string>((resolve, reject) => operator.lookup('localhost', { family: 4 }, (err, address) => (err ? reject(err) : resolve(address as string))));
    expect(single).toBe('127.0.0.1');
    const addrs = await operator.resolve('localhost');
    expect(addrs.some((a) => a.address === '127.0.0.1' || a.address === '::1')).toBe(true);
    await expect(client.resolve('2130706433')).rejects.toMatchObject({ code: EGRESS_DENIED });
  });
});
