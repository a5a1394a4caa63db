/**
 * Test harness for the notifier: a real Redis (shared test server, own key prefix), a real HTTP
 * receiver on 127.0.0.1 that verifies signatures, captured structured logs, and events written
 * exactly the way job_complete.lua writes them.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { AssetStore, ClientStore, MaintenanceStore, OwnerEgress, createLogger, normalizeUrl, type Logger, type Redis, type Keys } from '@webmon/core';
import { testRedis, type TestRedis } from '../../../test/helpers/redis.js';
import { startNotifier, verifySignature, WebhookStore, type NotificationPayload, type NotifierOptions, type RunningNotifier } from '../src/index.js';

export interface Received {
  at: number;
  headers: IncomingHttpHeaders;
  raw: string;
  body: NotificationPayload;
  /** Whether x-webmon-signature verified with the receiver's secret. */
  verified: boolean;
  /** Status the receiver answered. */
  status: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Decides the status of the n-th request (0-based); default 200. */
  respond: (n: number, body: NotificationPayload) => number | Promise<number>;
  close(): Promise<void>;
}

export async function startReceiver(secret: string, path = '/hook?token=abc'): Promise<Receiver> {
  const rec: Receiver = { url: '', received: [], respond: () => 200, close: async () => undefined };
  let n = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks);
      const body = JSON.parse(raw.toString('utf8')) as NotificationPayload;
      const status = await rec.respond(n++, body);
      rec.received.push({ at: Date.now(), headers: req.headers, raw: raw.toString('utf8'), body, verified: verifySignature(secret, raw, req.headers['x-webmon-signature']), status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  rec.url = `http://127.0.0.1:${port}${path}`;
  rec.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return rec;
}

/**
 * Guards for the harness's owners: clients may reach loopback (the receivers listen on
 * 127.0.0.1), as a deployment with tenants.allowCidrs 127.0.0.0/8 would let them.
 */
export function loopbackEgress(redis: Redis, keys: Keys): OwnerEgress {
  const policy = { denyHosts: [], allowHosts: [], denyCidrs: [], allowCidrs: [] };
  return new OwnerEgress({ policy, tenants: { allowCidrs: ['127.0.0.0/8'] } }, new ClientStore(redis, keys, undefined));
}

/** Small delays so that backoff, reminders and take-overs happen within a test's budget. */
export const FAST: Partial<NotifierOptions> = {
  blockMs: 2000,
  claimIdleMs: 150,
  claimIntervalMs: 100,
  maxSleepMs: 50,
  backoffBaseMs: 50,
  backoffMaxMs: 2000,
  timeoutMs: 2000,
  leaseMs: 5000,
  maintenanceCacheMs: 0,
};

export interface Harness {
  t: TestRedis;
  assets: AssetStore;
  webhooks: WebhookStore;
  maintenance: MaintenanceStore;
  log: Logger;
  logs: Record<string, unknown>[];
  /** Creates an asset of `owner` (url/tags as the API would store them). */
  asset(owner: string, url: string, tags?: string[]): Promise<string>;
  /** Appends a state change to the events stream exactly like job_complete.lua; returns its id. */
  emit(assetId: string, owner: string, from: string, to: string, at?: number): Promise<string>;
  start(opts?: Partial<NotifierOptions>, consumer?: string): Promise<RunningNotifier>;
  receiver(secret: string): Promise<Receiver>;
  close(): Promise<void>;
}

let jobSeq = 0;

export async function harness(name: string): Promise<Harness> {
  const t = await testRedis(name);
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const log = createLogger({ level: 'debug', role: 'test', destination: sink });
  const running: RunningNotifier[] = [];
  const receivers: Receiver[] = [];
  const assets = new AssetStore(t.redis, t.keys, t.scripts);
  return {
    t,
    assets,
    webhooks: new WebhookStore(t.redis, t.keys, { minRemindEverySec: 0.1, egress: loopbackEgress(t.redis, t.keys) }),
    maintenance: new MaintenanceStore(t.redis, t.keys, 0),
    log,
    logs,
    async asset(owner, url, tags = []) {
      const res = await assets.create({ owner, url: normalizeUrl(url), plugins: ['http'], config: {}, interval: 60, tags });
      return res.id;
    },
    async emit(assetId, owner, from, to, at = Date.now()) {
      // Like job_complete.lua: the asset's state first, then the event (same fields, same order).
      await t.redis.hset(t.keys.asset(assetId), 'state', to, 'stateChangedAt', at, 'stateReason', 'http_status');
      return (await t.redis.xadd(t.keys.events, 'MAXLEN', '~', 10_000, '*', 'asset', assetId, 'owner', owner, 'from', from, 'to', to, 'reason', 'http_status', 'at', at, 'job', `s${++jobSeq}`)) as string;
    },
    async start(opts = {}, consumer) {
      const n = await startNotifier({ redis: t.redis, keys: t.keys, log, consumer: consumer ?? `test-${running.length}`, options: { ...FAST, ...opts }, egress: loopbackEgress(t.redis, t.keys) });
      running.push(n);
      return n;
    },
    async receiver(secret) {
      const r = await startReceiver(secret);
      receivers.push(r);
      return r;
    },
    async close() {
      await Promise.all(running.map((n) => n.stop()));
      await Promise.all(receivers.map((r) => r.close()));
      await t.cleanup();
    },
  };
}

/** Waits until `check` returns true (polling every 10 ms), or fails after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(10);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const SECRET = 'test-secret-0123456789abcdef';
