/**
 * webmon's own services authenticate their callers, even on loopback, on a default install
 * (`webmon up`): its redis-server wants the generated password, and every dispatcher socket
 * wants CURVE with the generated keys; the CLI of the same install finds them.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Push, curveKeyPair } from 'zeromq';
import { persistenceInfo } from '@webmon/core';
import { freshPorts, startRunning, webmon, type Proc } from './helpers/processes.js';
import { askControl, firstReplyLine } from './helpers/sockets.js';
import { SOCKET_TYPE, frame30, portOf, rawExchange, zmtp10, zmtp20, zmtp30NullPush } from './helpers/zmtp.js';

const JOBS = ['1', 'JOBS', '9', Array.from({ length: 30 }, (_, i) => `injected${i}`).join('\n')];

let cwd: string;
let dataDir: string;
let env: Record<string, string>;
let up: Proc;
let redisPort: number;

beforeAll(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'webmon-services-'));
  dataDir = join(cwd, 'data');
  ({ proc: up, env } = await startRunning(
    ['up'],
    async () => ({
      WEBMON_DATA_DIR: dataDir,
      ...(await freshPorts()),
      WEBMON_EXECUTOR_METRICS_PORT: '0',
      WEBMON_SCHEDULER_ENABLED: 'false',
    }),
    { cwd },
  ));
  redisPort = Number(/"port":(\d+)[^\n]*started local redis-server/.exec(up.output())?.[1]);
}, 60_000);
afterAll(async () => {
  await up?.stop('SIGTERM');
  rmSync(cwd, { recursive: true, force: true });
});

/** Runs the CLI against this install; resolves with its exit code and output. */
async function cli(args: string[], extra: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const p = webmon(args, { ...env, ...extra }, { cwd });
  const code = await new Promise<number | null>((r) => p.child.once('exit', r));
  return { code, out: p.output() };
}

async function status(): Promise<Record<string, number>> {
  const res = await cli(['status']);
  expect(res.code, res.out).toBe(0);
  return JSON.parse(res.out) as Record<string, number>;
}

/** The first reply line of a raw RESP exchange. */


describe('the Redis of webmon up', () => {
  it('keeps its generated password in a 0600 file and logs its URL only redacted', () => {
    expect(redisPort).toBeGreaterThan(0);
    const file = join(dataDir, 'redis', 'redis.pass');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const password = readFileSync(file, 'utf8').trim();
    expect(password).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    expect(up.output()).not.toContain(password);
    // The roles reach it through its Unix socket; the password is redacted there too.
    expect(up.output()).toContain(`"url":"redis+unix://${join(dataDir, 'redis', 'redis.sock')}?password=***","port":${redisPort}`);
    expect(statSync(join(dataDir, 'redis', 'redis.sock')).mode & 0o777).toBe(0o700);
  });

  it('refuses unauthenticated commands', async () => {
    expect(await firstReplyLine(redisPort, 'PING\r\n')).toMatch(/^-NOAUTH/);
    expect(await firstReplyLine(redisPort, '*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n')).toMatch(/^-NOAUTH/);
    expect(await firstReplyLine(redisPort, '*2\r\n$4\r\nAUTH\r\n$12\r\nnot-the-pass\r\n')).toMatch(/^-WRONGPASS/);
  });
});

describe('the dispatcher of webmon up', () => {
  it('keeps its generated CURVE keys in a 0600 file, and the CLI of the install finds them', async () => {
    const file = join(dataDir, 'curve.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const keys = JSON.parse(readFileSync(file, 'utf8')) as { publicKey: string; secretKey: string };
    expect(keys.publicKey).toHaveLength(40);
    expect(up.output()).not.toContain(keys.secretKey);
    // Every executor process of up (one per core) reached the dispatcher over CURVE.
    expect(await status()).toMatchObject({ executors: availableParallelism(), received: 0, queue: 0 });
    expect(await cli(['ping'])).toMatchObject({ code: 0, out: 'PONG\n' });
    // Another data directory has no keys: no answer.
    const elsewhere = await cli(['ping'], { WEBMON_DATA_DIR: join(cwd, 'other') });
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.out).toMatch(/no answer from the dispatcher/);
  });

  it('refuses job ids injected as raw ZMTP 1.0/2.0 or over ZMTP 3 without CURVE', async () => {
    const frontend = portOf(env.WEBMON_ZMQ_FRONTEND!);
    const v1 = await rawExchange(frontend, zmtp10(JOBS));
    const v2 = await rawExchange(frontend, zmtp20(SOCKET_TYPE.PUSH, JOBS));
    const v3 = await rawExchange(frontend, zmtp30NullPush(), 1500, JOBS.map((f, i) => frame30(Buffer.from(f), i < JOBS.length - 1)));
    expect(v1.closedByServer).toBe(true);
    expect(v2.closedByServer).toBe(true);
    expect(v3.ready).toBe(false);
    // A ZeroMQ client without CURVE, or with a key of its own, is refused too.
    const serverKey = (JSON.parse(readFileSync(join(dataDir, 'curve.json'), 'utf8')) as { publicKey: string }).publicKey;
    const stranger = curveKeyPair();
    for (const options of [{}, { curveServerKey: serverKey, curvePublicKey: stranger.publicKey, curveSecretKey: stranger.secretKey }]) {
      const push = new Push({ linger: 0, sendTimeout: 500, ...options });
      push.connect(env.WEBMON_ZMQ_FRONTEND!);
      await push.send(JOBS).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      push.close();
    }
    expect(await status()).toMatchObject({ received: 0, dropped: 0, queue: 0 });
  });

  it('answers no STATUS or SNAPSHOT NOW without the CURVE keys, and starts no save', async () => {
    const password = readFileSync(join(dataDir, 'redis', 'redis.pass'), 'utf8').trim();
    const redis = new Redis({ port: redisPort, password, lazyConnect: true });
    await redis.connect();
    try {
      const saves = (await persistenceInfo(redis)).saves;
      expect(await askControl(env.WEBMON_ZMQ_CONTROL!, 'STATUS', 1500)).toMatch(/^no answer/);
      expect(await askControl(env.WEBMON_ZMQ_CONTROL!, 'SNAPSHOT NOW', 1500)).toMatch(/^no answer/);
      const control = portOf(env.WEBMON_ZMQ_CONTROL!);
      for (const bytes of [zmtp10(['', 'SNAPSHOT NOW']), zmtp10(['', 'STATUS']), zmtp20(SOCKET_TYPE.REQ, ['', 'STATUS'])]) {
        const res = await rawExchange(control, bytes);
        expect(res.closedByServer).toBe(true);
        expect(res.received.toString('latin1')).not.toMatch(/queue|OK \d|PONG|ERR/);
      }
      expect((await persistenceInfo(redis)).saves).toBe(saves);
      // The install's own CLI is served.
      const snap = await cli(['snapshot']);
      expect(snap).toMatchObject({ code: 0, out: expect.stringMatching(/^OK \d{10}\n$/) });
      expect((await persistenceInfo(redis)).saves).toBeGreaterThan(saves);
    } finally {
      redis.disconnect();
    }
  });
});
