import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pull, Push, Request } from 'zeromq';
import { JobStore, createLogger, decode, encode, freePort, loadConfig, normalizeUrl, AssetStore, type Config } from '@webmon/core';
import { testRedis, type TestRedis } from '../../test/helpers/redis.js';
import { startDispatcher, type RunningDispatcher } from './index.js';
import { SEND_BATCH } from './relay.js';

const log = createLogger({ level: 'silent', role: 'dispatcher' });
let t: TestRedis;
let config: Readonly<Config>;
let jobs: JobStore;
let assets: AssetStore;

async function endpoints() {
  return {
    frontend: `tcp://127.0.0.1:${await freePort()}`,
    backend: `tcp://127.0.0.1:${await freePort()}`,
    control: `tcp://127.0.0.1:${await freePort()}`,
  };
}

async function receiveIds(pull: Pull, count: number, timeoutMs = 5000, sizes: number[] = []): Promise<string[]> {
  const ids: string[] = [];
  const deadline = Date.now() + timeoutMs;
  while (ids.length < count && Date.now() < deadline) {
    pull.receiveTimeout = Math.max(1, deadline - Date.now());
    let frames: Buffer[];
    try {
      frames = await pull.receive();
    } catch {
      break; // timed out: return what arrived
    }
    const msg = decode(frames);
    expect(msg.type).toBe('JOB');
    ids.push(...msg.ids);
    sizes.push(msg.ids.length);
  }
  return ids;
}

async function ask(endpoint: string, command: string | Buffer[]): Promise<string> {
  const req = new Request({ receiveTimeout: 3000, linger: 0 });
  req.connect(endpoint);
  await req.send(command);
  const [reply] = await req.receive();
  req.close();
  return reply!.toString();
}

async function enqueue(n: number, priority = 0): Promise<string[]> {
  const targets = [];
  for (let i = 0; i < n; i++) {
    const { id } = await assets.create({ owner: 'o', url: normalizeUrl(`http://d${Math.random()}.test/`), plugins: ['http'], config: {}, interval: 60, tags: [] });
    targets.push({ assetId: id, owner: 'o' });
  }
  return jobs.enqueue(targets, priority);
}

beforeAll(async () => {
  t = await testRedis('dispatcher');
  jobs = new JobStore(t.redis, t.keys, t.scripts, { retentionSec: 60, maxAttempts: 3, historyMax: 10, eventsMax: 10, downAfter: 3, upAfter: 1 });
  assets = new AssetStore(t.redis, t.keys, t.scripts);
});
afterAll(() => t.cleanup());

describe('dispatcher', () => {
  let d: RunningDispatcher;
  let zmq: Awaited<ReturnType<typeof endpoints>>;
  let push: Push;
  let pull: Pull;

  beforeAll(async () => {
    zmq = await endpoints();
    config = loadConfig({
      env: {},
      overrides: { redis: { keyPrefix: t.prefix }, zmq, dispatcher: { sweepIntervalMs: 50, requeueAfterMs: 60_000 }, scheduler: { enabled: false } },
    });
    d = await startDispatcher(config, log, t.url);
    push = new Push({ linger: 0 });
    push.connect(zmq.frontend);
  });
  afterAll(async () => {
    push.close();
    pull?.close();
    await d.stop();
  });

  it('drops malformed frames and keeps going', async () => {
    await push.send(['2', 'JOBS', '0', 'a']);
    await push.send(['1', 'WHAT']);
    await push.send(['1', 'JOBS', 'x', 'a']);
    await push.send([Buffer.from([0xff, 0xfe])]);
    for (let i = 0; i < 100 && d.stats().dropped < 4; i++) await new Promise((r) => setTimeout(r, 10));
    expect(d.stats().dropped).toBe(4);
    expect(await ask(zmq.control, 'PING')).toBe('PONG');
  });

  it('streams ids to executors, higher priority first', async () => {
    const low = await enqueue(30, 0);
    const high = await enqueue(5, 9);
    await push.send(encode({ type: 'JOBS', priority: 0, ids: low }));
    for (let i = 0; i < 100 && d.stats().received < 30; i++) await new Promise((r) => setTimeout(r, 10));
    await push.send(encode({ type: 'JOBS', priority: 9, ids: high }));
    for (let i = 0; i < 100 && d.stats().received < 35; i++) await new Promise((r) => setTimeout(r, 10));
    // No executor yet: the backlog waits in the dispatcher, where priorities apply.
    pull = new Pull({ linger: 0 });
    pull.connect(zmq.backend);
    const sizes: number[] = [];
    const got = await receiveIds(pull, 35, 5000, sizes);
    expect(new Set(got)).toEqual(new Set([...low, ...high]));
    // A backlog goes out SEND_BATCH ids a message (the executor claims them in one round trip).
    expect(Math.max(...sizes)).toBe(SEND_BATCH);
    expect(sizes.length).toBeLessThanOrEqual(Math.ceil(35 / SEND_BATCH) + 1);
    // At most one message of low ids (already being sent when the high ones arrived, up to
    // SEND_BATCH of them) precedes them.
    const first = got.slice(0, SEND_BATCH + high.length);
    expect(high.every((id) => first.includes(id))).toBe(true);
  });

  it('re-dispatches a job whose lease expired', async () => {
    const [id] = await enqueue(1);
    const claim = await jobs.claim(id!, 'lost-executor', 100);
    expect(claim.claimed).toBe(true);
    const got = await receiveIds(pull, 1, 3000);
    expect(got).toEqual([id]);
    expect(await jobs.get(id!)).toMatchObject({ status: 'queued', attempts: 1 });
  });

  it('answers the control channel', async () => {
    expect(await ask(zmq.control, 'ping')).toBe('PONG');
    const status = JSON.parse(await ask(zmq.control, 'STATUS'));
    expect(status).toMatchObject({ queue: expect.any(Number), queuedInRedis: expect.any(Number), running: expect.any(Number), dropped: 4 });
    expect(await ask(zmq.control, 'FLY TO THE MOON')).toMatch(/^ERR unknown command/);
    expect(await ask(zmq.control, [Buffer.from([0xff, 0x00, 0x01])])).toMatch(/^ERR/);
    expect(await ask(zmq.control, 'PING')).toBe('PONG');
  });
});

describe('dispatcher restart', () => {
  it('picks up every job still queued in Redis', async () => {
    const ids = await enqueue(12, 3);
    const zmq = await endpoints();
    const cfg = loadConfig({ env: {}, overrides: { redis: { keyPrefix: t.prefix }, zmq, scheduler: { enabled: false } } });
    const pull = new Pull({ linger: 0 });
    pull.connect(zmq.backend);
    const d = await startDispatcher(cfg, log, t.url);
    try {
      const got = await receiveIds(pull, 100, 1500);
      expect(got).toEqual(expect.arrayContaining(ids));
    } finally {
      pull.close();
      await d.stop();
    }
  });
});

describe('dispatcher scheduler', () => {
  it('checks every asset every interval, without a push', async () => {
    const zmq = await endpoints();
    const s = await testRedis('scheduler');
    const store = new AssetStore(s.redis, s.keys, s.scripts);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { id } = await store.create({ owner: 'o', url: normalizeUrl(`http://sched${i}.test/`), plugins: ['http'], config: {}, interval: 1, tags: [] });
      ids.push(id);
      await s.redis.zadd(s.keys.schedule, Date.now(), id); // due now rather than within its first minute
    }
    const cfg = loadConfig({ env: {}, overrides: { redis: { keyPrefix: s.prefix }, zmq, scheduler: { tickMs: 100 } } });
    const pull = new Pull({ linger: 0 });
    pull.connect(zmq.backend);
    const d = await startDispatcher(cfg, log, s.url);
    const sched = new JobStore(s.redis, s.keys, s.scripts, { retentionSec: 60, maxAttempts: 3, historyMax: 10, eventsMax: 10, downAfter: 3, upAfter: 1 });
    try {
      // Act as an executor: complete each job as it arrives, for ~2.5 intervals.
      const perAsset = new Map<string, number>();
      const deadline = Date.now() + 2500;
      while (Date.now() < deadline) {
        for (const jobId of await receiveIds(pull, 1, Math.max(1, deadline - Date.now()))) {
          const claim = await sched.claim(jobId, 'tok', 5000);
          if (!claim.claimed) continue;
          perAsset.set(claim.asset.id, (perAsset.get(claim.asset.id) ?? 0) + 1);
          await sched.complete({ jobId, token: 'tok', outcome: 'ok', reason: null, results: [], durationMs: 1, owner: 'o', assetId: claim.asset.id });
        }
      }
      for (const id of ids) {
        expect(perAsset.get(id), id).toBeGreaterThanOrEqual(2);
        expect(perAsset.get(id), id).toBeLessThanOrEqual(4);
      }
      expect(d.stats().scheduled).toBeGreaterThanOrEqual(6);
    } finally {
      pull.close();
      await d.stop();
      await s.cleanup();
    }
  });
});
