/**
 * Which routes need an API key: everything but /health, the OpenAPI document and, when
 * api.publicMetrics is set, /metrics. Unknown routes answer 404 whoever asks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, testApi, type TestApi } from '../../test/helpers/api.js';

describe.each([false, true])('with api.publicMetrics %s', (publicMetrics) => {
  let api: TestApi;
  let client: { apiKey: string };
  beforeAll(async () => {
    api = await testApi(`auth-${publicMetrics}`, { api: { adminKey: ADMIN, publicMetrics } });
    client = await api.newClient('auth client');
  });
  afterAll(async () => {
    await api.close();
  });

  it('answers /metrics without a key only when public, and to the admin only otherwise', async () => {
    const anonymous = await api.app.inject({ method: 'GET', url: '/metrics' });
    const asClient = await api.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${client.apiKey}` } });
    const asAdmin = await api.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${ADMIN}` } });
    expect(asAdmin.statusCode).toBe(200);
    if (publicMetrics) {
      expect([anonymous.statusCode, asClient.statusCode]).toEqual([200, 200]);
      expect(anonymous.body.startsWith('#')).toBe(true);
    } else {
      expect([anonymous.statusCode, JSON.parse(anonymous.body).code]).toEqual([401, 'WEBMON_ERR_UNAUTHORIZED']);
      expect([asClient.statusCode, JSON.parse(asClient.body).code]).toEqual([403, 'WEBMON_ERR_FORBIDDEN']);
    }
    const spec = JSON.parse((await api.app.inject({ method: 'GET', url: '/docs/json' })).body);
    const op = spec.paths['/metrics'].get;
    expect(op.security).toEqual(publicMetrics ? [] : undefined);
    expect(Object.keys(op.responses).includes('401')).toBe(!publicMetrics);
  });

  it('serves /health and the document without a key, and refuses the rest without one', async () => {
    expect((await api.app.inject({ method: 'GET', url: '/health' })).statusCode).toBeOneOf([200, 503]);
    expect((await api.app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
    for (const url of ['/whoami', '/plugins', '/stats', '/maintenance', '/jobs/failed']) {
      const res = await api.app.inject({ method: 'GET', url });
      expect([res.statusCode, JSON.parse(res.body).code], url).toEqual([401, 'WEBMON_ERR_UNAUTHORIZED']);
    }
    const whoami = await api.app.inject({ method: 'GET', url: '/whoami', headers: { 'x-api-key': client.apiKey } });
    expect(JSON.parse(whoami.body)).toMatchObject({ admin: false });
  });

  it('answers an unknown route 404 with or without a key', async () => {
    for (const headers of [{}, { authorization: `Bearer ${ADMIN}` }]) {
      const res = await api.app.inject({ method: 'GET', url: '/no/such/route', headers });
      expect([res.statusCode, JSON.parse(res.body).code]).toEqual([404, 'WEBMON_ERR_ROUTE_NOT_FOUND']);
    }
  });
});
