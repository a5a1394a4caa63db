/**
 * The dispatcher's sockets against hostile local peers: raw ZMTP 1.0/2.0 injections (no
 * security handshake), oversized messages, malformed frames flooding the log, and a burst of
 * SNAPSHOT NOW requests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pull, Push, Router, curveKeyPair } from 'zeromq';
import { createLogger, encode, freePort, loadConfig, persistenceInfo, startManagedRedis, type Config, type ManagedRedis } from '@webmon/core';
import { testRedis, type TestRedis } from '../../test/helpers/redis.js';
import { askControl } from '../../test/helpers/sockets.js';
import { SOCKET_TYPE, frame30, longFrameHeader, portOf, rawExchange, zmtp10, zmtp20, zmtp30NullPush } from '../../test/helpers/zmtp.js';
import { startDispatcher, type RunningDispatcher } from './index.js';
import { RateLimitedWarnings } from './warnings.js';

const MAX_MESSAGE = 4096;
const JOBS_FRAMES = ['1', 'JOBS', '9', Array.from({ length: 30 }, (_, i) => `injected${i}`).join('\n')];

/** A logger whose lines are kept for assertions. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger({ level: 'info', role: 'dispatcher', destination }), lines };
}

async function endpoints() {
  return {
    frontend: `tcp://127.0.0.1:${await freePort()}`,
    backend: `tcp://127.0.0.1:${await freePort()}`,
    control: `tcp://127.0.0.1:${await freePort()}`,
  };
}


async function until(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

describe('dispatcher sockets without CURVE', () => {
  let t: TestRedis;
  let d: RunningDispatcher;
  let zmq: Awaited<ReturnType<typeof endpoints>>;
  let captured: ReturnType<typeof capturingLogger>;

  beforeAll(async () => {
    t = await testRedis('hardening');
    zmq = await endpoints();
    captured = capturingLogger();
    const config = loadConfig({
      env: {},
      overrides: { redis: { keyPrefix: t.prefix }, zmq: { ...zmq, maxMessageBytes: MAX_MESSAGE }, scheduler: { enabled: false }, notifier: { enabled: false } },
    });
    d = await startDispatcher(config, captured.log, t.url);
  });
  afterAll(async () => {
    await d?.stop();
    await t?.cleanup();
  });

  it('the raw peers speak valid ZMTP 1.0/2.0: an unprotected socket takes their messages', async () => {
    // The same bytes the dispatcher must refuse, against plain sockets (as before ZAP was set).
    const pull = new Pull({ linger: 0, receiveTimeout: 3000 });
    const router = new Router({ linger: 0, receiveTimeout: 3000 });
    const pullPort = await freePort();
    const routerPort = await freePort();
    await pull.bind(`tcp://127.0.0.1:${pullPort}`);
    await router.bind(`tcp://127.0.0.1:${routerPort}`);
    try {
      void rawExchange(pullPort, zmtp10(JOBS_FRAMES), 500);
      expect((await pull.receive()).map(String)).toEqual(JOBS_FRAMES);
      void rawExchange(pullPort, zmtp20(SOCKET_TYPE.PUSH, JOBS_FRAMES), 500);
      expect((await pull.receive()).map(String)).toEqual(JOBS_FRAMES);
      void rawExchange(routerPort, zmtp10(['', 'STATUS']), 500);
      expect((await router.receive()).slice(1).map(String)).toEqual(['', 'STATUS']);
    } finally {
      pull.close();
      router.close();
    }
  });

  it('refuses ZMTP 1.0 and 2.0 peers on the frontend: no injected job id is queued', async () => {
    const before = d.stats();
    const v1 = await rawExchange(portOf(zmq.frontend), zmtp10(JOBS_FRAMES));
    const v2 = await rawExchange(portOf(zmq.frontend), zmtp20(SOCKET_TYPE.PUSH, JOBS_FRAMES));
    expect(v1.closedByServer).toBe(true);
    expect(v2.closedByServer).toBe(true);
    const after = d.stats();
    expect(after.received).toBe(before.received);
    expect(after.queue).toBe(before.queue);
    expect(after.dropped).toBe(before.dropped);
  });

  it('refuses ZMTP 1.0 and 2.0 peers on the control channel: no STATUS comes back', async () => {
    for (const bytes of [zmtp10(['', 'STATUS']), zmtp20(SOCKET_TYPE.REQ, ['', 'STATUS']), zmtp10(['', 'SNAPSHOT NOW'])]) {
      const res = await rawExchange(portOf(zmq.control), bytes);
      expect(res.closedByServer).toBe(true);
      expect(res.received.toString('latin1')).not.toMatch(/queue|OK \d|PONG|ERR/);
    }
  });

  it('still serves ordinary ZeroMQ clients', async () => {
    const before = d.stats().received;
    const push = new Push({ linger: 1000 });
    push.connect(zmq.frontend);
    await push.send(encode({ type: 'JOBS', priority: 0, ids: ['real1', 'real2'] }));
    await until(() => d.stats().received >= before + 2);
    push.close();
    expect(d.stats().received).toBe(before + 2);
    expect(await askControl(zmq.control, 'PING')).toBe('PONG');
    expect(JSON.parse(await askControl(zmq.control, 'STATUS'))).toMatchObject({ received: before + 2 });
  });

  it('drops a peer that sends a message larger than zmq.maxMessageBytes, without buffering it', async () => {
    const before = d.stats();
    // A ZeroMQ client: its connection is dropped.
    const push = new Push({ linger: 0 });
    const disconnected = new Promise<void>((res) => push.events.on('disconnect', () => res()));
    push.connect(zmq.frontend);
    await push.send(['1', 'JOBS', '0', Buffer.alloc(MAX_MESSAGE + 1, 'a')]);
    const dropped = await Promise.race([disconnected.then(() => true), new Promise((r) => setTimeout(() => r(false), 5000))]);
    push.close();
    expect(dropped).toBe(true);
    // A raw ZMTP 3 peer announcing 256 MiB: cut off after the frame header, long before the body.
    const huge = await rawExchange(portOf(zmq.frontend), zmtp30NullPush(), 5000, [longFrameHeader(256 * 1024 * 1024), Buffer.alloc(64 * 1024)]);
    expect(huge).toMatchObject({ ready: true, closedByServer: true });
    expect(d.stats()).toMatchObject({ received: before.received, dropped: before.dropped, queue: before.queue });
    // The same raw peer with a message within the limit is served.
    const message = ['1', 'JOBS', '0', 'raw1'].map((f, i, all) => frame30(Buffer.from(f), i < all.length - 1));
    expect(await rawExchange(portOf(zmq.frontend), zmtp30NullPush(), 500, message)).toMatchObject({ ready: true, closedByServer: false });
    await until(() => d.stats().received > before.received);
    expect(d.stats().received).toBe(before.received + 1);
  });

  it('shares the ZAP handler of the process with another dispatcher, each with its own rules', async () => {
    const pair = curveKeyPair();
    const curve = { serverPublicKey: pair.publicKey, serverSecretKey: pair.secretKey };
    const otherZmq = await endpoints();
    const other = await startDispatcher(
      loadConfig({ env: {}, overrides: { redis: { keyPrefix: t.prefix }, zmq: { ...otherZmq, curve }, scheduler: { enabled: false }, notifier: { enabled: false } } }),
      createLogger({ level: 'silent', role: 'dispatcher' }),
      t.url,
    );
    try {
      expect(await askControl(otherZmq.control, 'PING', 1000)).toMatch(/^no answer/);
      expect(await askControl(otherZmq.control, 'PING', 3000, { curveServerKey: pair.publicKey, curvePublicKey: pair.publicKey, curveSecretKey: pair.secretKey })).toBe('PONG');
      expect(await askControl(zmq.control, 'PING')).toBe('PONG');
    } finally {
      await other.stop();
    }
    // New connections still pass through the handler once the other dispatcher has gone.
    expect(await askControl(zmq.control, 'PING')).toBe('PONG');
  });

  it('rate-limits its warnings about malformed messages', async () => {
    const dropped = d.stats().dropped;
    const push = new Push({ linger: 1000 });
    push.connect(zmq.frontend);
    for (let i = 0; i < 100; i++) await push.send(['1', 'JOBS', ' 9 ', 'a']);
    await until(() => d.stats().dropped >= dropped + 100);
    push.close();
    expect(d.stats().dropped).toBe(dropped + 100);
    expect(captured.lines.filter((l) => l.msg === 'dropped malformed message')).toHaveLength(1);
  });
});

describe('RateLimitedWarnings', () => {
  it('writes one line per kind per interval and counts the rest', () => {
    const lines: Array<{ fields: Record<string, unknown>; msg: string }> = [];
    let now = 1_000_000;
    const w = new RateLimitedWarnings({ warn: ((fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg })) as never }, 10_000, () => now);
    for (let i = 0; i < 50; i++) w.warn('a', { i }, 'kind a');
    w.warn('b', {}, 'kind b');
    expect(lines.map((l) => l.msg)).toEqual(['kind a', 'kind b']);
    now += 9_999;
    w.warn('a', {}, 'kind a');
    expect(lines).toHaveLength(2);
    now += 1;
    w.warn('a', { i: 99 }, 'kind a');
    expect(lines).toHaveLength(3);
    expect(lines[2]!.fields).toMatchObject({ i: 99, kind: 'a', suppressed: 50 });
  });
});

describe('SNAPSHOT NOW under a burst', () => {
  let server: ManagedRedis;
  let redis: Redis;
  let d: RunningDispatcher;
  let config: Readonly<Config>;
  const dir = mkdtempSync(join(tmpdir(), 'webmon-snapshot-burst-'));

  beforeAll(async () => {
    server = await startManagedRedis({ dir });
    redis = new Redis(server.url);
    // Slow saves (Redis's own knob: a delay per key written) so requests arrive while one runs.
    await redis.mset(Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, 'v'])));
    await redis.config('SET', 'rdb-key-save-delay', '1000');
    config = loadConfig({
      env: {},
      overrides: { zmq: await endpoints(), scheduler: { enabled: false }, notifier: { enabled: false }, snapshots: { minIntervalMs: 1000 } },
    });
    d = await startDispatcher(config, createLogger({ level: 'silent', role: 'dispatcher' }), server.url);
  });
  afterAll(async () => {
    await d?.stop();
    redis?.disconnect();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('50 concurrent requests cause at most 2 saves, each answered by a save that began after it was sent', async () => {
    const savesBefore = (await persistenceInfo(redis)).saves;
    const request = async () => {
      const sentAfterSaves = (await persistenceInfo(redis)).saves;
      const reply = await askControl(config.zmq.control, 'SNAPSHOT NOW', 60_000);
      const info = await persistenceInfo(redis);
      // Saves finished by now: every counted one except one still running.
      return { reply, sentAfterSaves, finished: info.saves - (info.inProgress ? 1 : 0) };
    };
    const first = Array.from({ length: 25 }, request);
    for (let i = 0; i < 200 && !(await persistenceInfo(redis)).inProgress; i++) await new Promise((r) => setTimeout(r, 10));
    expect((await persistenceInfo(redis)).inProgress).toBe(true);
    const second = Array.from({ length: 25 }, request); // while a save runs
    const results = await Promise.all([...first, ...second]);
    for (const r of results) {
      expect(r.reply).toMatch(/^OK \d{10}$/);
      expect(r.finished).toBeGreaterThanOrEqual(r.sentAfterSaves + 1);
    }
    const saves = (await persistenceInfo(redis)).saves - savesBefore;
    expect(saves).toBeGreaterThanOrEqual(1);
    expect(saves).toBeLessThanOrEqual(2);
  });
});

describe('periodic snapshots (snapshots.everySec)', () => {
  let server: ManagedRedis;
  let redis: Redis;
  const dir = mkdtempSync(join(tmpdir(), 'webmon-snapshot-periodic-'));

  beforeAll(async () => {
    server = await startManagedRedis({ dir });
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('are taken once the last save is everySec old, paced, and do not hold up the dispatcher\'s stop', async () => {
    await redis.mset(Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`p${i}`, 'v'])));
    await redis.bgsave();
    for (let i = 0; i < 500 && (await persistenceInfo(redis)).inProgress; i++) await new Promise((r) => setTimeout(r, 10));
    const before = await persistenceInfo(redis);
    await redis.set('changed', '1');
    const config = loadConfig({
      env: {},
      overrides: { zmq: await endpoints(), scheduler: { enabled: false }, notifier: { enabled: false }, snapshots: { everySec: 1, keyDelayUs: 5000 } },
    });
    const d = await startDispatcher(config, createLogger({ level: 'silent', role: 'dispatcher' }), server.url);
    const waitFor = async (inProgress: boolean) => {
      let info = await persistenceInfo(redis);
      for (let i = 0; i < 500 && info.inProgress !== inProgress; i++) {
        await new Promise((r) => setTimeout(r, 10));
        info = await persistenceInfo(redis);
      }
      return info;
    };
    let info = await waitFor(true);
    expect(info.inProgress).toBe(true); // one second after the last save, something changed
    expect(info.saves).toBe(before.saves + 1);
    // 400 keys × 5 ms: the paced save runs for 2 s; the server's own setting stays 0.
    expect(((await redis.config('GET', 'rdb-key-save-delay')) as string[])[1]).toBe('0');
    const t0 = Date.now();
    await d.stop();
    expect(Date.now() - t0).toBeLessThan(1500);
    info = await waitFor(false);
    expect(info.lastStatus).toBe('ok');
    expect(info.lastSaveDurationMs).toBeGreaterThanOrEqual(1000); // paced: about 2 s, not milliseconds
  });
});
