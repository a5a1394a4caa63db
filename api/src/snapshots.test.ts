/**
 * /snapshots (admin): the last RDB save from Redis, and SNAPSHOT NOW sent over the dispatcher's
 * control channel with CURVE, as `webmon snapshot` does; here a ROUTER socket with a CURVE server
 * key stands in for the dispatcher and makes Redis save for real. Without a dispatcher, the api
 * has Redis save itself.
 */
import { Router, curveKeyPair } from 'zeromq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, snapshot } from '@webmon/core';
import { testApi, type TestApi } from '../../test/helpers/api.js';

const server = curveKeyPair();
const client = curveKeyPair();
let api: TestApi;
let router: Router;
let received: string[] = [];

beforeAll(async () => {
  const control = `tcp://127.0.0.1:${await freePort()}`;
  router = new Router({ linger: 0, curveServer: true, curveSecretKey: server.secretKey });
  await router.bind(control);
  void (async () => {
    for await (const [identity, delimiter, body] of router) {
      const command = body!.toString();
      received.push(command);
      const reply = command === 'PING' ? 'PONG' : command === 'SNAPSHOT NOW' ? `OK ${(await snapshot(api.t.redis)).lastSave}` : 'ERR unknown command';
      await router.send([identity!, delimiter!, reply]);
    }
  })();
  api = await testApi('snapshots', {
    zmq: { control, curve: { serverPublicKey: server.publicKey, clientPublicKey: client.publicKey, clientSecretKey: client.secretKey } },
  });
});
afterAll(async () => {
  router.close();
  await api.close();
});

describe('/snapshots', () => {
  it('reports the last save and snapshots now through the control channel (admin only)', async () => {
    const before = await api.call('GET', '/snapshots');
    expect(before.status).toBe(200);
    expect(before.body).toEqual({ lastSaveAt: expect.any(String), lastOk: expect.any(Boolean), inProgress: expect.any(Boolean) });

    received = [];
    const res = await api.call('POST', '/snapshots');
    expect(res.status).toBe(200);
    expect(received).toEqual(['SNAPSHOT NOW']);
    expect(res.body.via).toBe('dispatcher');
    expect(res.body.lastOk).toBe(true);
    expect(Date.parse(res.body.lastSaveAt)).toBeGreaterThanOrEqual(Date.parse(before.body.lastSaveAt));

    const c = await api.newClient('Not admin');
    for (const method of ['GET', 'POST'] as const) {
      const refused = await api.call(method, '/snapshots', undefined, c.apiKey);
      expect(refused.status, method).toBe(403);
      expect(refused.body.code).toBe('WEBMON_ERR_FORBIDDEN');
    }
    expect(received).toEqual(['SNAPSHOT NOW']);
  });

  it('has Redis save from the api when no dispatcher is there', async () => {
    const lonely = await testApi('snapshots-lonely', { zmq: { control: `tcp://127.0.0.1:${await freePort()}` } });
    try {
      const before = await lonely.t.redis.lastsave();
      const saves = Number(/rdb_saves:(\d+)/.exec(await lonely.t.redis.info('persistence'))![1]);
      const res = await lonely.call('POST', '/snapshots');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ via: 'api', lastOk: true });
      expect(Number(/rdb_saves:(\d+)/.exec(await lonely.t.redis.info('persistence'))![1])).toBeGreaterThan(saves);
      expect(await lonely.t.redis.lastsave()).toBeGreaterThanOrEqual(before);
    } finally {
      await lonely.close();
    }
  });
});
