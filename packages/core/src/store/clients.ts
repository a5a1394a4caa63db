/**
 * Clients (tenants) and their API keys. Keys are stored only as SHA-256 digests: a record per
 * key (`apikey:<digest>`: client, id, name, createdAt, expiresAt, lastUsedAt), its public id in
 * `apikeys` (id → digest) and in the client's `client:<id>:keys` (scored by expiry). The clear
 * key is shown once, when it is created. The admin key comes from configuration and maps to the
 * reserved client id `admin`.
 *
 * Keys made before key records (`apikey:<digest>` → client id) keep working as keys without
 * expiry; the first listing, revocation or client deletion in a process turns them into records.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { masterNodes } from '../redis.js';
import type { Config } from '../config.js';
import { WebmonError } from '../errors.js';
import type { Keys } from '../keys.js';
import { scriptLoader } from '../scripts.js';
import { newId } from './assets.js';

export const ADMIN_CLIENT_ID = 'admin';

/** lastUsedAt is written at most this often per key, so that authentication stays one cheap round trip. */
export const LAST_USED_EVERY_MS = 60_000;

/** How long cachedSettings() may serve a copy, ms: quota changes reach every api process within it. */
export const SETTINGS_CACHE_MS = 5000;

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

/** An API key as it may be shown: never its secret nor its digest. */
export interface ApiKeyRecord {
  id: string;
  clientId: string;
  name: string;
  createdAt: number;
  /** ms since the epoch; null for a key that does not expire. */
  expiresAt: number | null;
  /** ms since the epoch, to within LAST_USED_EVERY_MS; null while never used. */
  lastUsedAt: number | null;
}

export interface NewKeyOptions {
  name?: string | undefined;
  expiresAt?: number | null | undefined;
  /** Most keys the client may have, this one included (null: no limit). */
  maxKeys?: number | null | undefined;
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

/** A change of a client by the admin; a limit set to null drops its override. */
export interface ClientChange {
  name?: string | undefined;
  allowCidrs?: string[] | undefined;
  limits?: Partial<Record<keyof ClientLimits, number | null>> | undefined;
}

export type RevokeResult = 'revoked' | 'missing' | 'last';

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

function newSecret(): string {
  return `wm_${randomBytes(24).toString('base64url')}`;
}

function newKeyId(): string {
  return `k${newId(9)}`;
}

function optionalNumber(v: string | undefined): number | null {
  return v === undefined || v === '' ? null : Number(v);
}

function parseKey(h: Record<string, string>): ApiKeyRecord | null {
  if (!h.client || !h.id) return null;
  return {
    id: h.id,
    clientId: h.client,
    name: h.name ?? '',
    createdAt: Number(h.createdAt ?? 0),
    expiresAt: optionalNumber(h.expiresAt),
    lastUsedAt: optionalNumber(h.lastUsedAt),
  };
}

const clientScripts = scriptLoader(new URL('../../lua/', import.meta.url), [
  'client_key_auth',
  'client_key_create',
  'client_key_revoke',
  'client_key_migrate',
  'client_update',
] as const);

export class ClientStore {
  private readonly adminDigest: Buffer | null;
  private readonly scripts: ReturnType<typeof clientScripts>;
  private readonly settingsCache = new Map<string, { at: number; settings: ClientSettings }>();
  private migrated: Promise<void> | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    adminKey: string | undefined,
  ) {
    this.adminDigest = adminKey ? Buffer.from(digestKey(adminKey), 'hex') : null;
    this.scripts = clientScripts(redis);
  }

  /**
   * Who holds this API key, or null for an unknown (or revoked) key. An expired key throws
   * WEBMON_ERR_UNAUTHORIZED saying so. One round trip, which also records lastUsedAt.
   */
  async authenticate(key: string, now = Date.now()): Promise<Principal | null> {
    if (!key) return null;
    return this.authenticateDigest(digestKey(key), now);
  }

  /** As authenticate(), from the key's SHA-256 digest (hex): what a dashboard session keeps instead of the key. */
  async authenticateDigest(digest: string, now = Date.now()): Promise<Principal | null> {
    if (!/^[0-9a-f]{64}$/.test(digest)) return null;
    if (this.adminDigest && timingSafeEqual(Buffer.from(digest, 'hex'), this.adminDigest)) return { id: ADMIN_CLIENT_ID, admin: true };
    const res = await this.scripts.run<[string, string, string] | null>('client_key_auth', [this.keys.apiKey(digest)], [now, LAST_USED_EVERY_MS]);
    if (!res) return null;
    const [id, , expiredAt] = res;
    if (expiredAt) throw new WebmonError('WEBMON_ERR_UNAUTHORIZED', `this API key expired at ${new Date(Number(expiredAt)).toISOString()}`);
    return { id, admin: false };
  }

  /** Creates a client and its first API key; the key is returned here and never again. */
  async create(name: string, now = Date.now()): Promise<{ client: ClientRecord; apiKey: string; key: ApiKeyRecord }> {
    const id = newId(6).replace(/[^A-Za-z0-9]/g, 'x');
    const apiKey = newSecret();
    const digest = digestKey(apiKey);
    const key: ApiKeyRecord = { id: newKeyId(), clientId: id, name: '', createdAt: now, expiresAt: null, lastUsedAt: null };
    const multi = this.redis.multi();
    multi.hset(this.keys.client(id), 'id', id, 'name', name, 'createdAt', now);
    multi.sadd(this.keys.clients, id);
    multi.hset(this.keys.apiKey(digest), 'client', id, 'id', key.id, 'name', '', 'createdAt', now);
    multi.hset(this.keys.apiKeyIds, key.id, digest);
    multi.zadd(this.keys.clientKeys(id), '+inf', key.id);
    await multi.exec();
    return { client: { id, name, createdAt: now }, apiKey, key };
  }

  /**
   * A new API key for an existing client; the clear key is returned here and never again.
   * Throws WEBMON_ERR_CLIENT_NOT_FOUND, or WEBMON_ERR_QUOTA_EXCEEDED beyond `maxKeys`.
   */
  async createKey(clientId: string, opts: NewKeyOptions = {}, now = Date.now()): Promise<{ apiKey: string; key: ApiKeyRecord }> {
    await this.ensureMigrated();
    const apiKey = newSecret();
    const digest = digestKey(apiKey);
    const key: ApiKeyRecord = { id: newKeyId(), clientId, name: opts.name ?? '', createdAt: now, expiresAt: opts.expiresAt ?? null, lastUsedAt: null };
    const res = await this.scripts.run<[number, number?]>(
      'client_key_create',
      [this.keys.apiKey(digest), this.keys.apiKeyIds, this.keys.clientKeys(clientId), this.keys.client(clientId)],
      [key.id, digest, clientId, key.name, now, key.expiresAt ?? '', opts.maxKeys ?? ''],
    );
    if (res[0] === 0) throw new WebmonError('WEBMON_ERR_CLIENT_NOT_FOUND', `client ${clientId} not found`);
    if (res[0] === -1) {
      throw new WebmonError('WEBMON_ERR_QUOTA_EXCEEDED', `client ${clientId} has ${res[1]} API keys, the most it may have; revoke one first`, { limit: opts.maxKeys, value: res[1] });
    }
    return { apiKey, key };
  }

  /** The client's API keys, oldest first. */
  async listKeys(clientId: string): Promise<ApiKeyRecord[]> {
    await this.ensureMigrated();
    const ids = await this.redis.zrange(this.keys.clientKeys(clientId), '0', '-1');
    if (ids.length === 0) return [];
    const digests = await this.redis.hmget(this.keys.apiKeyIds, ...ids);
    const pipe = this.redis.pipeline();
    for (const d of digests) pipe.hgetall(this.keys.apiKey(d ?? '-'));
    const rows = (await pipe.exec()) ?? [];
    const out: ApiKeyRecord[] = [];
    for (const [err, h] of rows) {
      if (err) throw err;
      const rec = parseKey(h as Record<string, string>);
      if (rec) out.push(rec);
    }
    return out.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  async getKey(keyId: string): Promise<ApiKeyRecord | null> {
    return (await this.findKey(keyId))?.record ?? null;
  }

  /**
   * Deletes an API key: the next request made with it is refused. With keepLast, a client's
   * last usable (unexpired) key is kept and 'last' returned, so that a client cannot lock
   * itself out (the admin can always revoke).
   */
  async revokeKey(keyId: string, opts: { keepLast?: boolean } = {}, now = Date.now()): Promise<RevokeResult> {
    const found = await this.findKey(keyId);
    if (!found) return 'missing';
    const res = await this.scripts.run<number>(
      'client_key_revoke',
      [this.keys.apiKey(found.digest), this.keys.apiKeyIds, this.keys.clientKeys(found.record.clientId)],
      [keyId, now, opts.keepLast ? '1' : '0'],
    );
    return res === 1 ? 'revoked' : res === -1 ? 'last' : 'missing';
  }

  /** Revokes every key of a client (each is refused from its next request on). */
  async revokeAllKeys(clientId: string): Promise<number> {
    await this.ensureMigrated();
    let revoked = 0;
    for (const id of await this.redis.zrange(this.keys.clientKeys(clientId), '0', '-1')) {
      if ((await this.revokeKey(id)) === 'revoked') revoked++;
    }
    await this.redis.del(this.keys.clientKeys(clientId));
    return revoked;
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

  /** settings(), served from memory for up to SETTINGS_CACHE_MS (read on every request for quotas). */
  async cachedSettings(id: string, now = Date.now()): Promise<ClientSettings> {
    const hit = this.settingsCache.get(id);
    if (hit && now - hit.at < SETTINGS_CACHE_MS) return hit.settings;
    const settings = await this.settings(id);
    this.settingsCache.set(id, { at: now, settings });
    return settings;
  }

  /** Applies the admin's change; false when there is no such client. */
  async update(id: string, change: ClientChange): Promise<boolean> {
    const res = await this.scripts.run<number>(
      'client_update',
      [this.keys.client(id)],
      [change.name ?? '', change.allowCidrs ? JSON.stringify(change.allowCidrs) : '', change.limits ? JSON.stringify(change.limits) : ''],
    );
    this.settingsCache.delete(id);
    return res === 1;
  }

  /**
   * Removes the client's own records: its hash, its membership of the client list, its key
   * index and its webhook reminders. Its keys, assets, webhook and windows are removed by their
   * own stores first (see DELETE /clients/:id). False when there was no such client.
   */
  async remove(id: string): Promise<boolean> {
    await this.dropReminders(id);
    const res = await this.redis.multi().del(this.keys.client(id)).srem(this.keys.clients, id).del(this.keys.clientKeys(id)).exec();
    this.settingsCache.delete(id);
    return res?.[0]?.[1] === 1;
  }

  async get(id: string): Promise<ClientRecord | null> {
    const h = await this.redis.hgetall(this.keys.client(id));
    if (!h.id) return null;
    return { id: h.id, name: h.name ?? '', createdAt: Number(h.createdAt) };
  }

  /** Reminder entries are "<clientId>|<assetId>" in one sorted set shared by every client. */
  private async dropReminders(id: string): Promise<void> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.zscan(this.keys.reminders, cursor, 'MATCH', `${id}|*`, 'COUNT', 1000);
      const members = flat.filter((_, i) => i % 2 === 0);
      if (members.length) await this.redis.zrem(this.keys.reminders, ...members);
      cursor = next;
    } while (cursor !== '0');
  }

  private async findKey(keyId: string): Promise<{ record: ApiKeyRecord; digest: string } | null> {
    await this.ensureMigrated();
    const digest = await this.redis.hget(this.keys.apiKeyIds, keyId);
    if (!digest) return null;
    const record = parseKey(await this.redis.hgetall(this.keys.apiKey(digest)));
    return record && record.id === keyId ? { record, digest } : null;
  }

  /** Turns keys made before key records into records, once per install (retried after a failure). */
  private ensureMigrated(): Promise<void> {
    this.migrated ??= this.migrateLegacyKeys().catch((err: unknown) => {
      this.migrated = null;
      throw err;
    });
    return this.migrated;
  }

  private async migrateLegacyKeys(): Promise<void> {
    // Once done by any process, no process scans the keyspace again.
    if (await this.redis.exists(this.keys.apiKeysMigrated)) return;
    // Every master of a Cluster holds part of the keyspace.
    for (const node of masterNodes(this.redis)) {
      let cursor = '0';
      do {
        const [next, found] = await node.scan(cursor, 'MATCH', this.keys.apiKeyPattern, 'COUNT', 1000, 'TYPE', 'string');
        for (const key of found) await this.migrateOne(key);
        cursor = next;
      } while (cursor !== '0');
    }
    await this.redis.set(this.keys.apiKeysMigrated, String(Date.now()));
  }

  private async migrateOne(key: string): Promise<void> {
    const clientId = await this.redis.get(key);
    if (!clientId) return;
    const digest = key.slice(this.keys.apiKey('').length);
    const createdAt = Number(await this.redis.hget(this.keys.client(clientId), 'createdAt')) || Date.now();
    await this.scripts.run('client_key_migrate', [key, this.keys.apiKeyIds, this.keys.clientKeys(clientId)], [clientId, newKeyId(), digest, createdAt]);
  }
}
