import { describe, expect, it } from 'vitest';
import { OwnerEgress, ownerGuard } from './owner-egress.js';
import type { ClientSettings } from './store/clients.js';

const config = { policy: { denyHosts: [], allowHosts: [], denyCidrs: ['192.0.2.0/24'], allowCidrs: [] }, tenants: { allowCidrs: ['10.9.0.0/16'] } };

function store(ranges: Record<string, string[]>) {
  const reads: string[] = [];
  return {
    reads,
    async settings(id: string): Promise<ClientSettings> {
      reads.push(id);
      return { allowCidrs: ranges[id] ?? [], limits: {} };
    },
  };
}

describe('owner egress', () => {
  it('trusts the admin (policy only) and limits a client to public addresses plus config and own ranges', () => {
    const admin = ownerGuard(config, 'admin', null);
    expect(admin.trusted).toBe(true);
    expect(admin.judgeHost('127.0.0.1')).toBeNull();
    expect(admin.judgeHost('192.0.2.7')).toMatch(/policy\.denyCidrs/);
    const client = ownerGuard(config, 'c1', { allowCidrs: ['10.1.0.0/16', 'not a range'], limits: {} });
    expect(client.trusted).toBe(false);
    expect(client.judgeHost('10.1.2.3')).toBeNull();
    expect(client.judgeHost('10.9.2.3')).toBeNull();
    expect(client.judgeHost('10.2.0.1')).not.toBeNull();
    expect(client.judgeHost('127.0.0.1')).not.toBeNull();
  });

  it('reads settings once per owner within the ttl, again after it, and keeps a bounded number of owners', async () => {
    const clients = store({ c1: ['10.1.0.0/16'] });
    const owners = new OwnerEgress(config, clients, { ttlMs: 1000, max: 2 });
    const first = await owners.forOwner('c1', 0);
    expect(first.guard.judgeHost('10.1.0.1')).toBeNull();
    await owners.forOwner('c1', 999);
    expect(clients.reads).toEqual(['c1']);
    await owners.forOwner('c1', 1000);
    expect(clients.reads).toEqual(['c1', 'c1']);
    await owners.forOwner('admin', 1000);
    expect(clients.reads).toEqual(['c1', 'c1']); // the admin has no client hash
    await owners.forOwner('c2', 1000);
    await owners.forOwner('c3', 1000);
    await owners.forOwner('c1', 1001); // evicted by c2 and c3: read again
    expect(clients.reads.filter((id) => id === 'c1')).toHaveLength(3);
  });

  it('does not cache a failed read', async () => {
    let fail = true;
    const owners = new OwnerEgress(config, {
      async settings() {
        if (fail) throw new Error('redis away');
        return { allowCidrs: [], limits: {} };
      },
    });
    await expect(owners.forOwner('c1', 0)).rejects.toThrow('redis away');
    fail = false;
    await expect(owners.forOwner('c1', 1)).resolves.toMatchObject({ guard: { trusted: false } });
  });
});
