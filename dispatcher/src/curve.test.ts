import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Push, curveKeyPair } from 'zeromq';
import { ConfigError, createLogger, encode, freePort, loadConfig, type Config } from '@webmon/core';
import { testRedis, type TestRedis } from '../../test/helpers/redis.js';
import { askControl } from '../../test/helpers/sockets.js';
import { startDispatcher, type RunningDispatcher } from './index.js';

const log = createLogger({ level: 'silent', role: 'dispatcher' });
const server = curveKeyPair();
const allowed = curveKeyPair();
const stranger = curveKeyPair();
let t: TestRedis;
let d: RunningDispatcher;
let config: Readonly<Config>;

beforeAll(async () => {
  t = await testRedis('curve');
  config = loadConfig({
    env: {},
    overrides: {
      redis: { keyPrefix: t.prefix },
      scheduler: { enabled: false },
      zmq: {
        frontend: `tcp://127.0.0.1:${await freePort()}`,
        backend: `tcp://127.0.0.1:${await freePort()}`,
        control: `tcp://127.0.0.1:${await freePort()}`,
        curve: { serverPublicKey: server.publicKey, serverSecretKey: server.secretKey, allowedClientKeys: [allowed.publicKey] },
      },
    },
  });
  d = await startDispatcher(config, log, t.url);
});
afterAll(async () => {
  await d?.stop();
  await t.cleanup();
});

const ping = (options: object) => askControl(config.zmq.control, 'PING', 1500, options);

const as = (pair: { publicKey: string; secretKey: string }) => ({ curveServerKey: server.publicKey, curvePublicKey: pair.publicKey, curveSecretKey: pair.secretKey });

describe('CURVE on the dispatcher', () => {
  it('answers a client whose key is allowed', async () => {
    expect(await ping(as(allowed))).toBe('PONG');
    expect(await ping(as(server))).toBe('PONG'); // the dispatcher's own pair (webmon up)
  });

  it('refuses a client whose key is not allowed, and a client without CURVE', async () => {
    expect(await ping(as(stranger))).toMatch(/^no answer/);
    expect(await ping({})).toMatch(/^no answer/);
    expect(await ping(as(allowed))).toBe('PONG'); // and carries on
  });

  it('secures the job frontend the same way', async () => {
    const send = async (options: object) => {
      const push = new Push({ linger: 500, sendTimeout: 500, ...options });
      push.connect(config.zmq.frontend);
      await push.send(encode({ type: 'JOBS', priority: 0, ids: ['a1'] })).catch(() => undefined);
      push.close();
      await new Promise((r) => setTimeout(r, 400));
    };
    await send(as(stranger));
    expect(d.stats().received).toBe(0);
    await send(as(allowed));
    for (let i = 0; i < 50 && d.stats().received === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(d.stats().received).toBe(1);
  });

  it('refuses to expose the control channel to other hosts without CURVE', async () => {
    const open = loadConfig({ env: {}, overrides: { redis: { keyPrefix: t.prefix }, zmq: { control: `tcp://0.0.0.0:${await freePort()}` } } });
    await expect(startDispatcher(open, log, t.url)).rejects.toThrow(ConfigError);
    await expect(startDispatcher(open, log, t.url)).rejects.toThrow(/zmq\.control: tcp:\/\/0\.0\.0\.0:\d+ is reachable from other hosts/);
  });

  it('validates key material at start-up', () => {
    expect(() => loadConfig({ env: { WEBMON_ZMQ_CURVE_SERVER_PUBLIC_KEY: 'short' } })).toThrow(/zmq\.curve\.serverPublicKey/);
    expect(() => loadConfig({ env: { WEBMON_ZMQ_CURVE_SERVER_SECRET_KEY: server.secretKey } })).toThrow(/serverPublicKey: needed/);
    expect(() => loadConfig({ env: { WEBMON_ZMQ_CURVE_SERVER_PUBLIC_KEY: server.publicKey } })).toThrow(/clientSecretKey/);
  });
});
