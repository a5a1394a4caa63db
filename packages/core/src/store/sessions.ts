/**
 * Dashboard sessions: an API key exchanged for a random session id held in an HttpOnly cookie.
 * Redis keeps, under the SHA-256 of the id (a leaked key dump yields no usable cookie), the
 * principal, the CSRF token and the digest of the key signed in with: every use checks the key
 * again, so revoking it (or changing the admin key) ends its sessions. The key itself is never
 * stored. Sessions expire after `ttlMs` without use (each use extends them), and `maxMs` after
 * sign-in whatever the use.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.js';
import { digestKey, type Principal } from './clients.js';

export interface Session {
  principal: Principal;
  csrfToken: string;
  /** SHA-256 (hex) of the API key signed in with. */
  keyDigest: string;
  /** When the session ends unless used again (ms). */
  expiresAt: number;
}

/** 32 random bytes, base64url (43 characters). */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** Whether two tokens are equal, in time independent of where they differ. */
export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly ttlMs: number,
    private readonly maxMs = Number.POSITIVE_INFINITY,
  ) {}

  /** How long a session may still live: the idle time, within its absolute lifetime. */
  private lifeLeft(createdAt: number, now: number): number {
    return Math.min(this.ttlMs, createdAt + this.maxMs - now);
  }

  /** A new session for a principal authenticated by the key with this digest; its id is returned here only. */
  async create(principal: Principal, keyDigest: string, now = Date.now()): Promise<{ id: string; session: Session }> {
    const id = randomToken();
    const life = this.lifeLeft(now, now);
    const session: Session = { principal, csrfToken: randomToken(), keyDigest, expiresAt: now + life };
    const key = this.keys.session(digestKey(id));
    await this.redis
      .multi()
      .hset(key, 'client', principal.id, 'admin', principal.admin ? '1' : '0', 'csrf', session.csrfToken, 'keyDigest', keyDigest, 'createdAt', now)
      .pexpire(key, Math.max(1, Math.round(life)))
      .exec();
    return { id, session };
  }

  /** The session with this id, its expiry extended; null when there is none (ended, expired, or not an id). */
  async use(id: string, now = Date.now()): Promise<Session | null> {
    if (!TOKEN.test(id)) return null;
    const key = this.keys.session(digestKey(id));
    const f = await this.redis.hgetall(key);
    if (!f.client || !f.csrf || !f.keyDigest) return null;
    // Sessions made before createdAt was stored count from their first use after it.
    const createdAt = Number(f.createdAt) || now;
    const life = this.lifeLeft(createdAt, now);
    if (life <= 0) {
      await this.redis.del(key);
      return null;
    }
    await this.redis.pexpire(key, Math.max(1, Math.round(life)));
    if (!f.createdAt) await this.redis.hset(key, 'createdAt', createdAt);
    return { principal: { id: f.client, admin: f.admin === '1' }, csrfToken: f.csrf, keyDigest: f.keyDigest, expiresAt: now + life };
  }

  async delete(id: string): Promise<void> {
    if (TOKEN.test(id)) await this.redis.del(this.keys.session(digestKey(id)));
  }
}
