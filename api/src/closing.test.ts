/** An api that is closing answers new requests with the catalog's 503, not fastify's own body. */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis, createLogger, loadConfig } from '@webmon/core';
import { registry } from '@webmon/plugin-registry';
import { testRedis, type TestRedis } from '../../test/helpers/redis.js';
import { buildApi, type App } from './app.js';

let t: TestRedis;
let app: App;

beforeAll(async () => {
  t = await testRedis('closing');
  const config = loadConfig({ env: {}, overrides: { redis: { keyPrefix: t.prefix }, api: { adminKey: 'closing-admin-key-0123456789' }, snapshots: { afterWrites: 'off' } } });
  const redis = connectRedis({ url: t.url, failFast: true });
  await redis.connect();
  app = await buildApi({ config, redis, log: createLogger({ level: 'silent', role: 'api' }), registry, jobs: { push: async (ids) => ids.length } });
  app.get('/test/slow', { config: { auth: false } }, async () => {
    await new Promise((r) => setTimeout(r, 300));
    return { ok: true };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => t.cleanup());

describe('closing', () => {
  it('answers a request that arrives during close with WEBMON_ERR_SHUTTING_DOWN', async () => {
    const port = (app.server.address() as { port: number }).port;
    // A second request on a connection busy with a slow one, sent once close has begun.
    const socket = connect({ host: '127.0.0.1', port });
    let raw = '';
    socket.on('data', (d) => (raw += d.toString()));
    const ended = new Promise((r) => socket.on('close', r));
    await new Promise((r) => socket.once('connect', r));
    socket.write('GET /test/slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 100));
    const closed = app.close();
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await closed;
    await ended;
    const responses = raw.split(/(?=HTTP\/1\.1 )/);
    expect(responses[0]).toMatch(/^HTTP\/1\.1 200/);
    expect(responses[1]).toMatch(/^HTTP\/1\.1 503/);
    expect(responses[1]).toMatch(/retry-after: 5/i);
    const body = JSON.parse(responses[1]!.slice(responses[1]!.indexOf('\r\n\r\n') + 4));
    expect(body).toMatchObject({ statusCode: 503, code: 'WEBMON_ERR_SHUTTING_DOWN', error: expect.any(String), message: expect.any(String) });
  });
});
