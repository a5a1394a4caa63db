/**
 * A client cannot hold more than probe.maxConcurrentPerClient probes open at once in one api
 * process (each holds a job and waits up to its timeout); the admin is not limited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, testApi, type TestApi } from '../../../test/helpers/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await testApi('probe-limits', { probe: { maxConcurrentPerClient: 2 } });
});
afterAll(() => api.close());

const probe = (key: string) =>
  api.app.inject({
    method: 'GET',
    url: '/probe?target=https://probe-limits.example.com/&module=http_2xx',
    // No executor runs here: each probe waits out this timeout (minus the 0.5 s offset).
    headers: { authorization: `Bearer ${key}`, 'x-prometheus-scrape-timeout-seconds': '1.5' },
  });

describe('concurrent probes', () => {
  it('answers 429 to a client past its concurrent probes, and lets it probe again once one has answered', async () => {
    const c = await api.newClient('Prober');
    const [a, b, over] = await Promise.all([probe(c.apiKey), probe(c.apiKey), new Promise((r) => setTimeout(r, 100)).then(() => probe(c.apiKey))]);
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    expect(a.body).toMatch(/^probe_success 0$/m);
    expect(over.statusCode).toBe(429);
    expect(over.json()).toMatchObject({ code: 'WEBMON_ERR_RATE_LIMITED' });
    expect((await probe(c.apiKey)).statusCode).toBe(200);
  });

  it('does not limit the admin', async () => {
    const codes = (await Promise.all([probe(ADMIN), probe(ADMIN), probe(ADMIN)])).map((r) => r.statusCode);
    expect(codes).toEqual([200, 200, 200]);
  });
});
