/** Secret values in the http plugin's headers: redacted in every API answer, kept when sent back redacted. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDACTED } from '@webmon/plugin-sdk';
import { ADMIN, testApi, type TestApi } from '../../test/helpers/api.js';

let api: TestApi;
let clientKey: string;
beforeAll(async () => {
  api = await testApi('secret-headers');
  clientKey = (await api.newClient('Secretive')).apiKey;
});
afterAll(() => api.close());

async function call(method: 'GET' | 'POST' | 'PATCH' | 'PUT', url: string, body?: unknown, key = clientKey) {
  const res = await api.call(method, url, body, key);
  return { ...res, text: JSON.stringify(res.body) };
}

const SECRETS = {
  Authorization: 'Bearer s3cret-auth',
  'proxy-authorization': 'Basic s3cret-proxy',
  Cookie: 'sid=s3cret-cookie',
  'X-API-Key': 's3cret-apikey',
  'X-Token': 's3cret-marked',
};

async function storedHeaders(id: string): Promise<Record<string, string>> {
  return JSON.parse((await api.t.redis.hget(api.t.keys.asset(id), 'config'))!).http.headers;
}

describe('secret headers', () => {
  it('are redacted in create, get, list and update answers, and kept when sent back redacted', async () => {
    const headers = { ...SECRETS, 'X-Plain': 'visible-value' };
    const created = await call('POST', '/assets', { url: 'https://secret.test/', config: { http: { headers, secretHeaders: ['x-token'] } } });
    expect(created.status).toBe(201);
    expect(created.text).not.toContain('s3cret');
    expect(created.body.config.http.headers).toEqual({
      Authorization: REDACTED,
      'proxy-authorization': REDACTED,
      Cookie: REDACTED,
      'X-API-Key': REDACTED,
      'X-Token': REDACTED,
      'X-Plain': 'visible-value',
    });
    expect(created.body.config.http.secretHeaders).toEqual(['x-token']);
    const id = created.body.id as string;
    expect(await storedHeaders(id)).toEqual(headers);

    for (const res of [await call('GET', `/assets/${id}`), await call('GET', '/assets'), await call('GET', `/assets/${id}`, undefined, ADMIN), await call('GET', '/assets', undefined, ADMIN)]) {
      expect(res.status).toBe(200);
      expect(res.text).not.toContain('s3cret');
      expect(res.text).toContain('visible-value');
    }

    // What the API showed, sent back with one plain change: the secrets stay as stored.
    const shown = created.body.config.http;
    const patched = await call('PATCH', `/assets/${id}`, { config: { http: { ...shown, headers: { ...shown.headers, 'X-Plain': 'changed' } } } });
    expect(patched.status).toBe(200);
    expect(patched.text).not.toContain('s3cret');
    expect(await storedHeaders(id)).toEqual({ ...SECRETS, 'X-Plain': 'changed' });

    // A new value replaces the stored one; a header no longer sent is dropped.
    const { Cookie: _cookie, ...rest } = shown.headers as Record<string, string>;
    const replaced = await call('PATCH', `/assets/${id}`, { config: { http: { ...shown, headers: { ...rest, Authorization: 'Bearer s3cret-new' } } } });
    expect(replaced.body.config.http.headers.Authorization).toBe(REDACTED);
    expect(await storedHeaders(id)).toMatchObject({ Authorization: 'Bearer s3cret-new', 'X-Token': 's3cret-marked' });
    expect(await storedHeaders(id)).not.toHaveProperty('Cookie');
  });

  it('a header only marked secret later is redacted from then on', async () => {
    const created = await call('POST', '/assets', { url: 'https://later.secret.test/', config: { http: { headers: { 'X-Session': 's3cret-session' } } } });
    expect(created.body.config.http.headers['X-Session']).toBe('s3cret-session'); // not marked: the client's own choice
    const marked = await call('PATCH', `/assets/${created.body.id}`, { config: { http: { headers: { 'X-Session': 's3cret-session' }, secretHeaders: ['X-SESSION'] } } });
    expect(marked.text).not.toContain('s3cret');
    expect(marked.body.config.http.headers['X-Session']).toBe(REDACTED);
  });

  it('are kept through a declarative sync that lists them redacted, and never in its answer', async () => {
    const me = (await call('GET', '/whoami')).body.id as string;
    const put = (assets: unknown[]) => call('PUT', `/clients/${me}/assets`, { assets });
    const first = await put([{ url: 'https://sync.secret.test/', config: { http: { headers: { Authorization: 'Bearer s3cret-sync' } } } }]);
    expect(first.body).toMatchObject({ added: 1, failed: 0 });
    expect(first.text).not.toContain('s3cret');
    const id = first.body.items[0].id as string;
    const again = await put([{ url: 'https://sync.secret.test/', config: { http: { headers: { Authorization: REDACTED } } } }]);
    expect(again.body).toMatchObject({ kept: 1, failed: 0 });
    expect(await storedHeaders(id)).toEqual({ Authorization: 'Bearer s3cret-sync' });
    const batch = await call('POST', '/assets/batch', { assets: [{ url: 'https://batch.secret.test/', config: { http: { headers: { Cookie: 's3cret-batch' } } } }] });
    expect(batch.body.created).toBe(1);
    expect(batch.text).not.toContain('s3cret');
  });

  it('the ftp password is handled the same way', async () => {
    const created = await call('POST', '/assets', { url: 'ftp://files.secret.test/', plugins: ['ftp'], config: { ftp: { user: 'bob', password: 's3cret-ftp' } } });
    expect(created.status).toBe(201);
    expect(created.body.config.ftp).toMatchObject({ user: 'bob', password: REDACTED });
    await call('PATCH', `/assets/${created.body.id}`, { config: { ftp: { ...created.body.config.ftp, user: 'alice' } } });
    const stored = JSON.parse((await api.t.redis.hget(api.t.keys.asset(created.body.id), 'config'))!).ftp;
    expect(stored).toMatchObject({ user: 'alice', password: 's3cret-ftp' });
  });
});
