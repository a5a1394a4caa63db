import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { firstReplyLine } from '../../../test/helpers/sockets.js';
import { ConfigError } from './errors.js';
import { openRedis } from './redis.js';
import { REDIS_PASSWORD_FILE, freePort, managedRedisPassword, quietPortRange, startManagedRedis, useQuietPorts } from './redis-server.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'webmon-managed-redis-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});


describe('managed redis-server', () => {
  it('requires a generated password kept in a 0600 file, never on the command line', async () => {
    const dir = tmp();
    const server = await startManagedRedis({ dir });
    try {
      const file = join(dir, REDIS_PASSWORD_FILE);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const password = readFileSync(file, 'utf8').trim();
      expect(password).toMatch(/^[A-Za-z0-9_-]{43,}$/); // 32 random bytes, base64url
      expect(server.url).toBe(`redis://:${password}@127.0.0.1:${server.port}`);

      expect(await firstReplyLine(server.port, 'PING\r\n')).toMatch(/^-NOAUTH/);
      expect(await firstReplyLine(server.port, '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n')).toMatch(/^-NOAUTH/);
      expect(await firstReplyLine(server.port, '*2\r\n$4\r\nAUTH\r\n$5\r\nwrong\r\n')).toMatch(/^-WRONGPASS/);

      const cmdline = readFileSync(`/proc/${server.process.pid}/cmdline`, 'utf8');
      expect(cmdline).toContain('redis-server');
      expect(cmdline).not.toContain(password);

      const r = new Redis(server.url);
      try {
        expect(await r.set('k', 'v')).toBe('OK');
      } finally {
        r.disconnect();
      }

      // A role given the URL without (or with a wrong) password says what to do, without echoing it.
      await expect(openRedis({ url: `redis://127.0.0.1:${server.port}` }, 3000)).rejects.toThrow(/NOAUTH.*redis\.url: redis:\/\/\[user\]:password@host:port/);
      const wrong = openRedis({ url: `redis://:not-the-password-123@127.0.0.1:${server.port}` }, 3000);
      await expect(wrong).rejects.toThrow(/WRONGPASS/);
      await expect(wrong).rejects.toThrow(/redis:\/\/:\*\*\*@127\.0\.0\.1/);
      await expect(wrong).rejects.not.toThrow(/not-the-password-123/);
    } finally {
      await server.stop();
    }
  });

  it('also listens on a Unix socket of its own (mode 0700) that takes the same password', async () => {
    const dir = tmp();
    const server = await startManagedRedis({ dir });
    try {
      const password = readFileSync(join(dir, REDIS_PASSWORD_FILE), 'utf8').trim();
      expect(server.socketUrl).toBe(`redis+unix://${join(dir, 'redis.sock')}?password=${password}`);
      expect(statSync(join(dir, 'redis.sock')).isSocket()).toBe(true);
      expect(statSync(join(dir, 'redis.sock')).mode & 0o777).toBe(0o700);
      const r = await openRedis({ url: server.socketUrl! }, 3000);
      try {
        expect(await r.set('k', 'over the socket')).toBe('OK');
        expect(await r.client('INFO')).toMatch(/(^| )addr=\/\S*redis\.sock/);
      } finally {
        r.disconnect();
      }
      const wrong = openRedis({ url: `redis+unix://${join(dir, 'redis.sock')}?password=not-the-password-123` }, 3000);
      await expect(wrong).rejects.toThrow(/WRONGPASS/);
      await expect(wrong).rejects.not.toThrow(/not-the-password-123/);
    } finally {
      await server.stop();
    }
  });

  it('keeps the password across restarts on the same directory', async () => {
    const dir = tmp();
    const first = await startManagedRedis({ dir });
    const r1 = new Redis(first.url);
    await r1.set('survivor', 'yes');
    r1.disconnect();
    await first.stop(); // SIGTERM: final snapshot
    const again = await startManagedRedis({ dir, port: first.port });
    try {
      expect(again.url).toBe(first.url);
      const r2 = new Redis(again.url);
      try {
        expect(await r2.get('survivor')).toBe('yes');
      } finally {
        r2.disconnect();
      }
    } finally {
      await again.stop();
    }
  });

  it('repairs the file mode and refuses a malformed password file', () => {
    const dir = tmp();
    const file = join(dir, REDIS_PASSWORD_FILE);
    writeFileSync(file, `${'a'.repeat(43)}\n`, { mode: 0o644 });
    expect(managedRedisPassword(dir)).toBe('a'.repeat(43));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    writeFileSync(file, 'short\n');
    expect(() => managedRedisPassword(dir)).toThrow(ConfigError);
    expect(() => managedRedisPassword(dir)).toThrow(/redis\.pass does not hold a valid password/);
  });
});

describe('freePort', () => {
  it('hands out each port once while its caller has not bound it, from the range this process uses', async () => {
    // A lane of four ports inside this worker's own: those free now are handed out one by one.
    const inner = { from: quietPortRange().from, to: quietPortRange().from + 3 };
    const lane = useQuietPorts(inner);
    try {
      const bindable: number[] = [];
      for (let p = inner.from; p <= inner.to; p++) if (await canBind(p)) bindable.push(p);
      const got: number[] = [];
      for (let i = 0; i < bindable.length; i++) got.push(await freePort());
      expect([...got].sort((a, b) => a - b)).toEqual(bindable);
      // Every port of the range handed out: one outside it, from the kernel, rather than a repeat.
      const outside = await freePort();
      expect(outside < inner.from || outside > inner.to).toBe(true);
      expect(await canBind(outside)).toBe(true);
    } finally {
      useQuietPorts(lane);
    }
  });

  it('refuses a range that is not one', () => {
    for (const bad of [{ from: 30_000, to: 20_000 }, { from: 80, to: 2000 }, { from: 20_000, to: 70_000 }, { from: 20_000.5, to: 20_010 }]) {
      expect(() => useQuietPorts(bad)).toThrow(RangeError);
    }
  });
});

function canBind(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}
