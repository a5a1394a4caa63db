/**
 * One real redis-server for the whole run (each test file uses its own key prefix). Suites
 * that kill or restart Redis start their own with startRedis().
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startManagedRedis, type ManagedRedis } from '@webmon/core';

let redis: ManagedRedis | undefined;
let dir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'webmon-test-redis-'));
  redis = await startManagedRedis({ dir });
  project.provide('redisUrl', redis.url);
}

export async function teardown(): Promise<void> {
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}
