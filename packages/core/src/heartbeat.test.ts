import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HEARTBEAT_STOP_WAIT_MS, aliveInstances, startHeartbeat } from './heartbeat.js';
import { createKeys } from './keys.js';
import { openRedis } from './redis.js';
import { startManagedRedis } from './redis-server.js';

const dir = mkdtempSync(join(tmpdir(), 'webmon-heartbeat-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const keys = createKeys('hb');

describe('heartbeat', () => {
  it('takes the instance off when it stops, and stops without waiting for a Redis that is gone', async () => {
    const server = await startManagedRedis({ dir });
    // A worker's connection: commands queue while Redis is away.
    const redis = await openRedis({ url: server.url, name: 'hb-test' });
    try {
      const first = startHeartbeat(redis, keys, 'executor', 'one');
      await new Promise((r) => setTimeout(r, 100));
      expect(await aliveInstances(redis, keys, 'executor')).toContain('one');
      await first.stop();
      expect(await aliveInstances(redis, keys, 'executor')).not.toContain('one');

      const second = startHeartbeat(redis, keys, 'executor', 'two');
      await new Promise((r) => setTimeout(r, 100));
      await server.stop();
      const t0 = Date.now();
      await second.stop();
      // Its removal stays queued (Redis is gone): stop() gives up on it after a bounded wait.
      expect(Date.now() - t0).toBeLessThan(HEARTBEAT_STOP_WAIT_MS + 1500);
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
});
