/**
 * Dashboard sessions: an API key exchanged for a cookie that acts exactly as the key, CSRF on
 * cookie requests that change something, sign-out, revoked keys, the cookie's flags and the
 * sign-in rate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, testApi, type TestApi } from '../../test/helpers/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await testApi('session', { api: { adminKey: ADMIN, signInPerMinute: 1000 } });
});
afterAll(() => api.close());

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

async function signIn(key: string, headers: Record<string, string> = {}) {
  const res = await api.app.inject({ method: 'POST', url: '/session', payload: { key }, headers });
  const setCookie = String(res.headers['set-cookie'] ?? '');
  const cookie = /^webmon_session=([^;]*)/.exec(setCookie)?.[1];
  return { status: res.statusCode, body: JSON.parse(res.body), setCookie, cookie };
}

/** A request with the session cookie (and the CSRF header when given), no API key. */
async function withCookie(method: Method, url: string, cookie: string, opts: { csrf?: string; body?: unknown } = {}) {
  const res = await api.app.inject({
    method,
    url,
    headers: { cookie: `webmon_session=${cookie}`, ...(opts.csrf ? { 'x-webmon-csrf': opts.csrf } : {}) },
    ...(opts.body === undefined ? {} : { payload: opts.body as object }),
  });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, headers: res.headers };
}

describe('sessions', () => {
  it('signs in with a client key: the cookie sees exactly what the key sees, then no longer after sign-out', async () => {
    const a = await api.newClient('Session A');
    const b = await api.newClient('Session B');
    const mine = await api.call('POST', '/assets', { url: 'https://a.session.test/' }, a.apiKey);
    const theirs = await api.call('POST', '/assets', { url: 'https://b.session.test/' }, b.apiKey);
    expect([mine.status, theirs.status]).toEqual([201, 201]);

    const s = await signIn(a.apiKey);
    expect(s.status).toBe(200);
    expect(s.body).toMatchObject({ principal: { id: a.id, admin: false }, csrfToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(Date.parse(s.body.expiresAt)).toBeGreaterThan(Date.now() + 11 * 3600_000);
    expect(s.cookie).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.setCookie).toMatch(/; HttpOnly/);
    expect(s.setCookie).toMatch(/; SameSite=Strict/);
    expect(s.setCookie).toMatch(/; Path=\//);
    expect(s.setCookie).not.toMatch(/Secure/);
    expect(s.setCookie).not.toContain(a.apiKey);
    const cookie = s.cookie!;

    const list = await withCookie('GET', '/assets', cookie);
    expect(list.status).toBe(200);
    expect(list.body.items.map((i: { id: string }) => i.id)).toEqual([mine.body.id]);
    expect((await withCookie('GET', `/assets/${theirs.body.id}`, cookie)).body.code).toBe('WEBMON_ERR_ASSET_NOT_FOUND');
    expect((await withCookie('GET', '/whoami', cookie)).body).toEqual({ id: a.id, admin: false });
    expect((await withCookie('GET', '/clients', cookie)).status).toBe(403);
    expect((await withCookie('GET', '/session', cookie)).body).toMatchObject({ principal: { id: a.id }, csrfToken: s.body.csrfToken });

    // Neither the key nor the session id is stored as such.
    const stored = await api.t.redis.keys(`${api.t.prefix}:session:*`);
    expect(stored.length).toBeGreaterThanOrEqual(1);
    expect(stored.join(' ')).not.toContain(cookie);
    const fields = Object.values(await api.t.redis.hgetall(stored[0]!)).join(' ');
    expect(fields).not.toContain(a.apiKey);
    expect(await api.t.redis.pttl(stored[0]!)).toBeGreaterThan(11 * 3600_000);

    const out = await withCookie('DELETE', '/session', cookie, { csrf: s.body.csrfToken });
    expect(out.status).toBe(200);
    expect(String(out.headers['set-cookie'])).toMatch(/^webmon_session=;/);
    const after = await withCookie('GET', '/assets', cookie);
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('WEBMON_ERR_UNAUTHORIZED');
    expect((await withCookie('GET', '/session', cookie)).status).toBe(401);
  });

  it('refuses a wrong key with the API message and sets no cookie', async () => {
    const s = await signIn('wm_not-a-key-of-this-install');
    expect(s.status).toBe(401);
    expect(s.body).toMatchObject({ code: 'WEBMON_ERR_UNAUTHORIZED', message: 'unknown API key' });
    expect(s.setCookie).toBe('');
    expect((await api.app.inject({ method: 'GET', url: '/assets', headers: { cookie: 'webmon_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } })).statusCode).toBe(401);
    // The key may come as a bearer token instead of in the body.
    const bearer = await api.app.inject({ method: 'POST', url: '/session', payload: {}, headers: { authorization: `Bearer ${ADMIN}` } });
    expect(bearer.statusCode).toBe(200);
    expect(JSON.parse(bearer.body).principal).toEqual({ id: 'admin', admin: true });
    expect(JSON.parse((await api.app.inject({ method: 'POST', url: '/session', payload: {} })).body).code).toBe('WEBMON_ERR_UNAUTHORIZED');
  });

  it('needs the CSRF token on cookie requests that change something; bearer requests are unaffected', async () => {
    const s = await signIn(ADMIN);
    expect(s.body.principal).toEqual({ id: 'admin', admin: true });
    const cookie = s.cookie!;
    const body = { url: 'https://csrf.session.test/' };
    for (const csrf of [undefined, 'wrong', `${s.body.csrfToken.slice(0, -1)}x`]) {
      const res = await withCookie('POST', '/assets', cookie, { body, ...(csrf ? { csrf } : {}) });
      expect(res.status, String(csrf)).toBe(403);
      expect(res.body.code).toBe('WEBMON_ERR_CSRF');
    }
    expect((await api.call('GET', '/assets?q=csrf.session')).body.items).toEqual([]);
    const ok = await withCookie('POST', '/assets', cookie, { body, csrf: s.body.csrfToken });
    expect(ok.status).toBe(201);
    expect(ok.body.owner).toBe('admin');
    // A sign-out without the token is refused too.
    expect((await withCookie('DELETE', '/session', cookie)).body.code).toBe('WEBMON_ERR_CSRF');
    expect((await withCookie('GET', '/session', cookie)).status).toBe(200);
    // With a key, no token is asked for (a cookie sent along does not matter).
    const bearer = await api.app.inject({ method: 'POST', url: '/assets', headers: { authorization: `Bearer ${ADMIN}`, cookie: `webmon_session=${cookie}` }, payload: { url: 'https://bearer.session.test/' } });
    expect(bearer.statusCode).toBe(201);
  });

  it('ends the sessions of a revoked key', async () => {
    const c = await api.newClient('Session revoke');
    const second = await api.call('POST', `/clients/${c.id}/keys`, { name: 'dashboard' }, c.apiKey);
    expect(second.status).toBe(201);
    const s = await signIn(second.body.apiKey);
    expect((await withCookie('GET', '/whoami', s.cookie!)).status).toBe(200);
    expect((await api.call('DELETE', `/keys/${second.body.key.id}`)).status).toBe(204);
    const res = await withCookie('GET', '/whoami', s.cookie!);
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/revoked/);
  });

  it('marks the cookie Secure behind a trusted TLS proxy only', async () => {
    expect((await signIn(ADMIN, { 'x-forwarded-proto': 'https' })).setCookie).not.toMatch(/Secure/);
    const proxied = await testApi('session-proxy', { api: { adminKey: ADMIN, trustForwardedProto: true } });
    try {
      const res = await proxied.app.inject({ method: 'POST', url: '/session', payload: { key: ADMIN }, headers: { 'x-forwarded-proto': 'https' } });
      expect(String(res.headers['set-cookie'])).toMatch(/; Secure/);
      const plain = await proxied.app.inject({ method: 'POST', url: '/session', payload: { key: ADMIN }, headers: { 'x-forwarded-proto': 'http' } });
      expect(String(plain.headers['set-cookie'])).not.toMatch(/Secure/);
    } finally {
      await proxied.close();
    }
  });

  it('ends the session the browser had when it signs in again', async () => {
    const first = await signIn(ADMIN);
    expect((await withCookie('GET', '/whoami', first.cookie!)).status).toBe(200);
    const again = await signIn(ADMIN, { cookie: `webmon_session=${first.cookie}` });
    expect(again.status).toBe(200);
    expect(again.cookie).not.toBe(first.cookie);
    expect((await withCookie('GET', '/whoami', first.cookie!)).status).toBe(401);
    expect((await withCookie('GET', '/whoami', again.cookie!)).status).toBe(200);
  });

  it('ends a session at its absolute lifetime, however much it is used', async () => {
    const { SessionStore } = await import('@webmon/core');
    const store = new SessionStore(api.t.redis, api.t.keys, 60_000, 3_600_000);
    const t0 = Date.now();
    const { id } = await store.create({ id: 'admin', admin: true }, 'digest', t0);
    expect(await store.use(id, t0 + 50_000)).not.toBeNull(); // used within the idle time, again and again
    expect(await store.use(id, t0 + 100_000)).not.toBeNull();
    const late = await store.use(id, t0 + 3_590_000);
    expect(late?.expiresAt).toBe(t0 + 3_600_000); // the idle extension stops at the lifetime
    expect(await store.use(id, t0 + 3_600_001)).toBeNull();
    expect(await api.t.redis.exists(api.t.keys.session((await import('@webmon/core')).digestKey(id)))).toBe(0);
  });

  it('limits sign-in attempts per address', async () => {
    const limited = await testApi('session-rate', { api: { adminKey: ADMIN, signInPerMinute: 3 } });
    try {
      const attempt = () => limited.app.inject({ method: 'POST', url: '/session', payload: { key: 'wm_guess' } });
      for (let i = 0; i < 3; i++) expect((await attempt()).statusCode).toBe(401);
      const refused = await attempt();
      expect(refused.statusCode).toBe(429);
      expect(JSON.parse(refused.body)).toMatchObject({ code: 'WEBMON_ERR_RATE_LIMITED', message: expect.stringMatching(/sign-in attempts: at most 3 per minute/) });
      // Even the right key waits: the limit is on the address, not the key.
      expect((await limited.app.inject({ method: 'POST', url: '/session', payload: { key: ADMIN } })).statusCode).toBe(429);
    } finally {
      await limited.close();
    }
  });
});
