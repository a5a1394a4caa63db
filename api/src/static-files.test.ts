/**
 * The built dashboard at `/` and `/status/:slug` (index.html, not cached), hashed files under
 * /static/ (cached as immutable), the API's own 404s untouched, and a hint when nothing is built.
 * Also `include=stats24h` on the asset list, which the dashboard's list shows.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobStore, jobPolicy } from '@webmon/core';
import { testApi, type TestApi } from '../../test/helpers/api.js';

let api: TestApi;
let dir: string;
const INDEX = '<!doctype html><html><head><title>webmon</title></head><body><div id="app"></div></body></html>';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'webmon-dist-'));
  mkdirSync(join(dir, 'static'));
  writeFileSync(join(dir, 'index.html'), INDEX);
  writeFileSync(join(dir, 'static', 'index-Abc123.js'), 'console.log(1);\n');
  writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  api = await testApi('static-files', { api: { adminKey: 'admin-key-for-tests-0123456789', dashboardDir: dir } });
});
afterAll(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the dashboard files', () => {
  it('serve index.html at / and /status/:slug, hashed files immutable, and leave API 404s alone', async () => {
    for (const url of ['/', '/status/acme']) {
      const res = await api.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.body).toBe(INDEX);
      // No framing (clickjacking), scripts from this origin only, no MIME sniffing.
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
      expect(res.headers['content-security-policy']).toMatch(/script-src 'self'(;|$)/);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
    const js = await api.app.inject({ method: 'GET', url: '/static/index-Abc123.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await api.app.inject({ method: 'GET', url: '/favicon.svg' })).headers['cache-control']).toBe('no-cache');
    const missing = await api.app.inject({ method: 'GET', url: '/static/nope.js' });
    expect(missing.statusCode).toBe(404);
    expect(JSON.parse(missing.body).code).toBe('WEBMON_ERR_ROUTE_NOT_FOUND');
    // The API still answers for itself: no key, 401; the documents are still there.
    expect((await api.app.inject({ method: 'GET', url: '/assets' })).statusCode).toBe(401);
    expect((await api.app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
  });

  it('answers 404 with how to build them when they are not built', async () => {
    const bare = await testApi('static-missing', { api: { adminKey: 'admin-key-for-tests-0123456789', dashboardDir: join(dir, 'nowhere') } });
    try {
      const res = await bare.app.inject({ method: 'GET', url: '/' });
      expect(res.statusCode).toBe(404);
      expect(JSON.parse(res.body)).toMatchObject({ code: 'WEBMON_ERR_ROUTE_NOT_FOUND', message: expect.stringMatching(/not built .*run npm run build/) });
    } finally {
      await bare.close();
    }
  });
});

describe('GET /assets?include=stats24h', () => {
  it('adds the uptime and p95 latency of the last 24 hours to each item of the page', async () => {
    const jobs = new JobStore(api.t.redis, api.t.keys, api.t.scripts, jobPolicy(api.config));
    const checked = await api.call('POST', '/assets', { url: 'https://checked.stats24h.test/', plugins: ['http'], interval: 3600 });
    const idle = await api.call('POST', '/assets', { url: 'https://idle.stats24h.test/', plugins: ['http'] });
    const now = Date.now();
    // Four good checks an hour apart (100, 120, 140, 160 ms): up all along.
    for (const [i, ms] of [100, 120, 140, 160].entries()) {
      const at = now - (4 - i) * 3_600_000;
      const [id] = await jobs.enqueue([{ assetId: checked.body.id, owner: 'admin' }], 0, at);
      await jobs.claim(id!, 'tok', 60_000, at);
      const result = { plugin: 'http', status: 'ok' as const, reason: null, message: 'ok', durationMs: ms, metrics: {} };
      await jobs.complete({ jobId: id!, token: 'tok', outcome: 'ok', reason: null, results: [result], durationMs: ms, owner: 'admin', assetId: checked.body.id }, at);
    }
    const res = await api.call('GET', '/assets?q=stats24h.test&include=stats24h&fields=id,state');
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.body.items.map((i: { id: string }) => [i.id, i]));
    expect(byId[checked.body.id]).toMatchObject({ state: 'up', stats24h: { uptimePercent: 100, p95Ms: expect.any(Number) } });
    expect(byId[checked.body.id].stats24h.p95Ms).toBeGreaterThan(100);
    expect(byId[checked.body.id].stats24h.p95Ms).toBeLessThanOrEqual(160);
    expect(byId[idle.body.id]).toEqual({ id: idle.body.id, state: 'unknown', stats24h: { uptimePercent: null, p95Ms: null } });
    // Without include, no stats.
    const plain = await api.call('GET', '/assets?q=stats24h.test&fields=id');
    expect(plain.body.items.every((i: object) => !('stats24h' in i))).toBe(true);
  });
});
