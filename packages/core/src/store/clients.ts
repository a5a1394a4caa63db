/**
 * Clients (tenants) and their API keys. Keys are stored only as SHA-256 digests
 * (`apikey:<digest>` → client id); the clear key is shown once, when it is created. The admin
 * key comes from configuration and maps to the reserved client id `admin`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.js';
import { newId } from './assets.js';

export const ADMIN_CLIENT_ID = 'admin';

export interface Principal {
  /** Client id; owns the assets this key creates. */
  id: string;
  admin: boolean;
}

export interface ClientRecord {
  id: string;
  name: string;
  createdAt: number;
}

export function digestKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export class ClientStore {
  private readonly adminDigest: Buffer | null;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    adminKey: string | undefined,
  ) {
    this.adminDigest = adminKey ? Buffer.from(digestKey(adminKey), 'hex') : null;
  }

  /** Who holds this API key, or null for an unknown key. */
  async authenticate(key: string): Promise<Principal | null> {
    if (!key) return null;
    const digest = digestKey(key);
    if (this.adminDigest && timingSafeEqual(Buffer.from(digest, 'hex'), this.adminDigest)) return { id: ADMIN_CLIENT_ID, admin: true };
    const id = await this.redis.get(this.keys.apiKey(digest));
    return id ? { id, admin: false } : null;
  }

  /** Creates a client and its first API key; the key is returned here and never again. */
  async create(name: string, now = Date.now()): Promise<{ client: ClientRecord; apiKey: string }> {
    const id = newId(6).replace(/[^A-Za-z0-9]/g, 'x');
    const apiKey = `wm_${randomBytes(24).toString('base64url')}`;
    const multi = this.redis.multi();
    multi.hset(this.keys.client(id), 'id', id, 'name', name, 'createdAt', now);
    multi.sadd(this.keys.clients, id);
    multi.set(this.keys.apiKey(digestKey(apiKey)), id);
    await multi.exec();
    return { client: { id, name, createdAt: now }, apiKey };
  }

  async list(): Promise<ClientRecord[]> {
    const ids = await this.redis.smembers(this.keys.clients);
    const out: ClientRecord[] = [];
    for (const id of ids) {
      const c = await this.get(id);
      if (c) out.push(c);
    }
    return out.sort((a, b) => a.createdAt - b.createdAt);
  }

  async get(id: string): Promise<ClientRecord | null> {
    const h = await this.redis.hgetall(this.keys.client(id));
    if (!h.id) return null;
    return { id: h.id, name: h.name ?? '', createdAt: Number(h.createdAt) };
  }
}
