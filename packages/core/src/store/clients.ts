/**
 * Clients (tenants) and their API keys. Keys are stored only as SHA-256 digests
 * (`apikey:<digest>` → client id); the clear key is shown once, when it is created. The admin
 * key comes from configuration and maps to the reserved client id `admin`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
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

/** Quotas of a client (config `tenants.limits`, with the admin's per-client overrides applied). */
export type ClientLimits = Config['tenants']['limits'];

/** What the admin set for one client beyond the defaults (client hash fields `allowCidrs`, `limits`, JSON). */
export interface ClientSettings {
  /** Non-public ranges this client's checks and notifications may reach. */
  allowCidrs: string[];
  /** Overrides of `tenants.limits` for this client. */
  limits: Partial<ClientLimits>;
}

/** The limits that apply to a client: the configured defaults, then its overrides. */
export function effectiveLimits(config: Readonly<Config>, settings: ClientSettings | null): ClientLimits {
  return { ...config.tenants.limits, ...(settings?.limits ?? {}) };
}

function parseJson<T>(text: string | undefined, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
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

  /** The admin's settings for a client (empty for the admin itself and unknown clients). */
  async settings(id: string): Promise<ClientSettings> {
    if (id === ADMIN_CLIENT_ID) return { allowCidrs: [], limits: {} };
    const [allowCidrs, limits] = await this.redis.hmget(this.keys.client(id), 'allowCidrs', 'limits');
    return { allowCidrs: parseJson<string[]>(allowCidrs ?? undefined, []), limits: parseJson<Partial<ClientLimits>>(limits ?? undefined, {}) };
  }

  async get(id: string): Promise<ClientRecord | null> {
    const h = await this.redis.hgetall(this.keys.client(id));
    if (!h.id) return null;
    return { id: h.id, name: h.name ?? '', createdAt: Number(h.createdAt) };
  }
}
