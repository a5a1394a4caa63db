import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { createPolicy } from './policy.js';

const policy = (p: Partial<Record<'denyHosts' | 'allowHosts' | 'denyCidrs' | 'allowCidrs', string[]>>) =>
  createPolicy({ denyHosts: [], allowHosts: [], denyCidrs: [], allowCidrs: [], ...p });

describe('host policy', () => {
  it('admits everything by default', async () => {
    const p = policy({});
    expect(p.denyHost('example.com')).toBeNull();
    expect(p.denyHost('10.1.2.3')).toBeNull();
    expect(p.resolves).toBe(false);
    expect(await p.denyResolved('localhost')).toBeNull();
  });

  it('denies host names exactly or by domain', () => {
    const p = policy({ denyHosts: ['internal.example.com', '*.corp.test'] });
    expect(p.denyHost('INTERNAL.example.com')).toMatch(/denied \(policy\.denyHosts\)/);
    expect(p.denyHost('www.example.com')).toBeNull();
    expect(p.denyHost('corp.test')).toMatch(/denied/);
    expect(p.denyHost('a.b.corp.test')).toMatch(/denied/);
    expect(p.denyHost('notcorp.test')).toBeNull();
  });

  it('admits only allowed hosts when an allow list is set, deny winning', () => {
    const p = policy({ allowHosts: ['*.example.com'], denyHosts: ['secret.example.com'] });
    expect(p.denyHost('www.example.com')).toBeNull();
    expect(p.denyHost('example.org')).toMatch(/not allowed/);
    expect(p.denyHost('secret.example.com')).toMatch(/denied/);
  });

  it('judges IPv4 and IPv6 literals against CIDR ranges', () => {
    const p = policy({ denyCidrs: ['169.254.0.0/16', '10.0.0.0/8', 'fd00::/8'] });
    expect(p.denyHost('169.254.169.254')).toMatch(/169\.254\.169\.254 is in a denied range/);
    expect(p.denyHost('10.200.0.1')).toMatch(/denied range/);
    expect(p.denyHost('[fd12::1]')).toMatch(/denied range/);
    expect(p.denyHost('192.168.1.1')).toBeNull();
    expect(p.denyHost('2001:db8::1')).toBeNull();
    const only = policy({ allowCidrs: ['192.0.2.0/24'] });
    expect(only.denyHost('192.0.2.7')).toBeNull();
    expect(only.denyHost('198.51.100.1')).toMatch(/not in an allowed range/);
  });

  it('judges the addresses a name resolves to', async () => {
    const p = policy({ denyCidrs: ['127.0.0.0/8', '::1/128'] });
    expect(p.resolves).toBe(true);
    expect(await p.denyResolved('localhost')).toMatch(/^localhost: address (127\.0\.0\.1|::1) is in a denied range/);
    expect(await p.denyResolved('no-such-host.invalid')).toBeNull(); // left to the plugin (dns)
  });

  it('refuses a malformed range at start-up, naming the field', () => {
    expect(() => loadConfig({ env: { WEBMON_POLICY_DENY_CIDRS: '10.0.0.0/8, nonsense' } })).toThrow(/policy\.denyCidrs: "nonsense" is not a CIDR/);
    expect(() => loadConfig({ env: { WEBMON_POLICY_ALLOW_CIDRS: '10.0.0.0/33' } })).toThrow(/policy\.allowCidrs/);
    expect(loadConfig({ env: { WEBMON_POLICY_DENY_HOSTS: 'a.test, *.b.test' } }).policy.denyHosts).toEqual(['a.test', '*.b.test']);
  });
});
