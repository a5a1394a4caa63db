/**
 * One real redis-server for the whole run (each test file uses its own key prefix), and one
 * real 3-master Redis Cluster for the suites that also run against a Cluster. Suites that kill
 * or restart Redis start their own with startRedis().
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startManagedCluster, startManagedRedis, type ManagedCluster, type ManagedRedis } from '@webmon/core';

let redis: ManagedRedis | undefined;
let cluster: ManagedCluster | undefined;
let dir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'webmon-test-redis-'));
  [redis, cluster] = await Promise.all([startManagedRedis({ dir: join(dir, 'single') }), startManagedCluster({ dir: join(dir, 'cluster') })]);
  project.provide('redisUrl', redis.url);
  project.provide('redisClusterUrl', cluster.url);
}

export async function teardown(): Promise<void> {
  await Promise.all([redis?.stop(), cluster?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    /** redis+cluster:// URL of the shared 3-master Cluster. */
    redisClusterUrl: string;
  }
}
