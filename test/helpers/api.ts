/**
 * An api app on a real Redis (own key prefix) and a real ZeroMQ PULL socket standing in for the
 * dispatcher's frontend, driven with fastify's inject.
 */
import { Pull } from 'zeromq';
import { buildApi, JobPusher, type App } from '@webmon/api';
import { ClientStore, connectRedis, createLogger, freePort, loadConfig, type Config, type Logger, type Redis } from '@webmon/core';
import { registry as installed } from '@webmon/plugin-registry';
import type { PluginRegistry } from '@webmon/plugin-sdk';
import { testRedisOf, type TestRedis, type Topology } from './redis.js';

export const ADMIN = 'admin-key-for-tests-0123456789';

export interface TestApi {
  t: TestRedis;
  app: App;
  config: Readonly<Config>;
  /** Receives what the api pushes to the dispatcher. */
  pull: Pull;
  pusher: JobPusher;
  redis: Redis;
  call(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, body?: unknown, key?: string | null): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  newClient(name: string): Promise<{ id: string; apiKey: string }>;
  close(): Promise<void>;
}

export interface TestApiOptions {
  /** One Redis (default) or the shared Cluster. */
  topology?: Topology;
  /** Where the app logs (default: nowhere). */
  log?: Logger;
}

/** `registry`: the plugins the api knows (the installed ones by default). */
export async function testApi(name: string, overrides: Record<string, unknown> = {}, registry: PluginRegistry = installed, opts: TestApiOptions = {}): Promise<TestApi> {
  const t = await testRedisOf(opts.topology ?? 'single', name);
  const log = opts.log ?? createLogger({ level: 'silent', role: 'api' });
  const frontend = `tcp://127.0.0.1:${await freePort()}`;
  const config = loadConfig({
    env: {},
    overrides: { redis: { keyPrefix: t.prefix }, api: { adminKey: ADMIN }, zmq: { frontend }, snapshots: { afterWrites: 'off' }, ...overrides },
  });
  const pull = new Pull();
  await pull.bind(frontend);
  const pusher = new JobPusher(frontend, 1000, log);
  const redis = connectRedis({ url: t.url, failFast: true });
  await redis.connect();
  const app = await buildApi({ config, redis, log, registry, jobs: pusher });
  const clients = new ClientStore(t.redis, t.keys, undefined);
  return {
    t,
    app,
    config,
    pull,
    pusher,
    redis,
    async call(method, url, body, key = ADMIN) {
      const res = await app.inject({ method, url, headers: key ? { authorization: `Bearer ${key}` } : {}, ...(body === undefined ? {} : { payload: body as object }) });
      return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, headers: res.headers };
    },
    async newClient(clientName) {
      const { client, apiKey } = await clients.create(clientName);
      return { id: client.id, apiKey };
    },
    async close() {
      await app.close();
      await pusher.close();
      pull.close();
      redis.disconnect();
      await t.cleanup();
    },
  };
}
