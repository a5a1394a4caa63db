/**
 * At-least-once jobs with exactly-once results: an executor killed with SIGKILL mid-check loses
 * nothing (its leases expire, the jobs run again elsewhere), and a job delivered twice is
 * recorded once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Push } from 'zeromq';
import { JobStore, encode, jobPolicy, loadConfig } from '@webmon/core';
import { client, startRoles, startTarget, webmon, type Proc, type Target } from './helpers/processes.js';
import { TOPOLOGIES, testRedisOf, type TestRedis } from './helpers/redis.js';

const KEY = 'reliability-admin-key-0123456789';
let t: TestRedis;
let target: Target;
let env: Record<string, string>;
const procs: Proc[] = [];
let api: ReturnType<typeof client>;

describe.each(TOPOLOGIES)('reliability (%s Redis)', (topology) => {
  beforeAll(async () => {
    procs.length = 0; // each topology starts its own processes
    t = await testRedisOf(topology, 'reliable');
    target = await startTarget();
    const extraEnv = {
      WEBMON_EXECUTOR_LEASE_MS: '1500',
      WEBMON_EXECUTOR_CONCURRENCY: '5',
      WEBMON_DISPATCHER_SWEEP_INTERVAL_MS: '100',
      WEBMON_JOBS_RETRY_BASE_MS: '100',
      // Ids buffered in the killed executor's socket come back through the lost-id sweep.
      WEBMON_DISPATCHER_REQUEUE_AFTER_MS: '1000',
    };
    const deployment = await startRoles(['dispatcher', 'api'], { redisUrl: t.url, prefix: t.prefix, adminKey: KEY, extraEnv });
    env = deployment.env;
    procs.push(...deployment.procs);
    api = client(deployment.apiUrl, KEY);
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await target?.close();
    await t?.cleanup();
  });

  describe('reliability', () => {
    it('completes every job exactly once when an executor is killed mid-run', async () => {
      const doomed = webmon(['executor'], env);
      procs.push(doomed);
      await doomed.waitFor(/executor ready/);
      const assets = Array.from({ length: 15 }, (_, i) => ({ url: `${target.url}/wait?ms=800&n=${i}`, plugins: ['http'] }));
      const created = await api.call('POST', '/assets/batch', { assets });
      const assetIds: string[] = created.body.items.map((i: { id: string }) => i.id);
      const pushed = await api.call('POST', '/jobs', { assetIds });
      const jobIds: string[] = pushed.body.jobs.map((j: { id: string }) => j.id);

      // Kill it while checks are in flight (the target has started answering some).
      const deadline = Date.now() + 10_000;
      while ((target.hits.get('/wait') ?? 0) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(target.hits.get('/wait') ?? 0).toBeGreaterThanOrEqual(3);
      doomed.child.kill('SIGKILL');
      await new Promise((r) => doomed.child.once('exit', r));

      const survivor = webmon(['executor'], env);
      procs.push(survivor);
      await survivor.waitFor(/executor ready/);
      const jobs = await Promise.all(jobIds.map((id) => api.waitJob(id, 30_000)));
      expect(jobs.map((j) => j.status)).toEqual(jobIds.map(() => 'done'));
      expect(jobs.map((j) => j.outcome)).toEqual(jobIds.map(() => 'ok'));
      // The killed executor's jobs ran a second time.
      expect(jobs.some((j) => j.attempts >= 2)).toBe(true);

      const exactlyOnce = async () => {
        for (const id of assetIds) {
          const stats = await api.call('GET', `/assets/${id}/stats`);
          expect(stats.body.checks, id).toBe(1);
          expect(await t.redis.llen(t.keys.assetHistory(id)), id).toBe(1);
        }
      };
      await exactlyOnce();

      // Every id delivered again, straight into the dispatcher, followed in the same message by a
      // fresh job: ids are relayed and claimed in order (one executor, one Redis connection), so
      // once the fresh job is done every duplicate claim has been answered.
      const sentinel = await api.call('POST', '/assets', { url: `${target.url}/sentinel`, plugins: ['http'] });
      expect(sentinel.status).toBe(201);
      const [sentinelJob] = await new JobStore(t.redis, t.keys, t.scripts, jobPolicy(loadConfig({ env: {} }))).enqueue([{ assetId: sentinel.body.id, owner: sentinel.body.owner }], 9);
      const push = new Push({ linger: 2000 });
      push.connect(env.WEBMON_ZMQ_FRONTEND!);
      await push.send(encode({ type: 'JOBS', priority: 9, ids: [...jobIds, sentinelJob!] }));
      push.close();
      expect((await api.waitJob(sentinelJob!, 30_000)).status).toBe('done');
      await exactlyOnce();
      expect(target.hits.get('/wait')).toBeLessThanOrEqual(15 + 5); // at most the killed executor's in-flight checks ran twice
    });
  });
});
