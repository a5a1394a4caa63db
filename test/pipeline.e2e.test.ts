/**
 * The whole pipeline with each role in its own process: REST → Redis → ZeroMQ → dispatcher →
 * executor → plugin → local HTTP target → Redis → REST.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { freePort } from '@webmon/core';
import { client, startRoles, startTarget, webmon, type Proc, type Target } from './helpers/processes.js';
import { TOPOLOGIES, testRedisOf, type TestRedis } from './helpers/redis.js';

const KEY = 'e2e-admin-key-0123456789abcdef';
let t: TestRedis;
let target: Target;
let procs: Record<'api' | 'dispatcher' | 'executor', Proc>;
let api: ReturnType<typeof client>;
let apiUrl: string;
let refusedUrl: string;
let env: Record<string, string>;

describe.each(TOPOLOGIES)('pipeline (%s Redis)', (topology) => {
  beforeAll(async () => {
    t = await testRedisOf(topology, 'e2e');
    target = await startTarget();
    refusedUrl = `http://127.0.0.1:${await freePort()}/`;
    const extraEnv = async () => ({ WEBMON_EXECUTOR_METRICS_PORT: String(await freePort()) });
    const deployment = await startRoles(['dispatcher', 'executor', 'api'], { redisUrl: t.url, prefix: t.prefix, adminKey: KEY, extraEnv });
    env = deployment.env;
    apiUrl = deployment.apiUrl;
    const [dispatcher, executor, apiProc] = deployment.procs as [Proc, Proc, Proc];
    procs = { dispatcher, executor, api: apiProc };
    api = client(apiUrl, KEY);
  });

  afterAll(async () => {
    const codes = await Promise.all(Object.values(procs ?? {}).map((p) => p.stop('SIGTERM')));
    await target?.close();
    await t?.cleanup();
    // Every role shuts down cleanly on SIGTERM.
    expect(codes).toEqual([0, 0, 0]);
  });

  describe('pipeline across three processes', () => {
    it('exposes Prometheus metrics on the api and on the executor', async () => {
      const { body: a } = await api.call('POST', '/assets', { url: `${target.url}/wait?ms=1`, plugins: ['http'] });
      const pushed = await api.call('POST', '/jobs', { assetIds: [a.id] });
      await api.waitJob(pushed.body.jobs[0].id);
      const apiText = await (await fetch(`${apiUrl}/metrics`)).text();
      const apiFamilies = parsePrometheusTextFormat(apiText);
      const family = (fs: typeof apiFamilies, name: string) => fs.find((f) => f.name === name);
      expect(family(apiFamilies, 'webmon_assets')!.metrics.find((m) => m.labels?.state === 'up')!.value).toBe('1');
      expect(family(apiFamilies, 'webmon_jobs')!.metrics.map((m) => m.labels?.queue).sort()).toEqual(['delayed', 'failed', 'queued', 'running']);
      expect(Number(family(apiFamilies, 'webmon_executors_alive')!.metrics[0]!.value)).toBe(1);
      // The age of the last RDB snapshot, as Redis itself reports it (LASTSAVE), give or take the scrape.
      const age = Number(family(apiFamilies, 'webmon_snapshot_age_seconds')!.metrics[0]!.value);
      const expectedAge = Date.now() / 1000 - (await t.redis.lastsave());
      expect(Math.abs(age - expectedAge)).toBeLessThan(5);

      const execText = await (await fetch(`http://127.0.0.1:${env.WEBMON_EXECUTOR_METRICS_PORT}/metrics`)).text();
      const execFamilies = parsePrometheusTextFormat(execText);
      const checks = family(execFamilies, 'webmon_checks_total')!.metrics.find((m) => m.labels?.plugin === 'http' && m.labels?.status === 'ok');
      expect(Number(checks!.value)).toBeGreaterThanOrEqual(1);
      expect(family(execFamilies, 'webmon_check_duration_seconds')).toBeDefined();
      expect(family(execFamilies, 'webmon_executor_jobs_in_flight')).toBeDefined();
    });

    it('is healthy once all roles run', async () => {
      let health: any;
      for (let i = 0; i < 50; i++) {
        health = await api.call('GET', '/health');
        if (health.status === 200 && health.body.executors.alive > 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({ status: 'ok', redis: { ok: true }, dispatcher: { ok: true, instances: 1 }, executors: { alive: 1 } });
    });

    it('checks a 200, a 404, a refused port and a target slower than the timeout', async () => {
      const urls = {
        ok: `${target.url}/ok`,
        missing: `${target.url}/missing`,
        refused: refusedUrl,
        slow: `${target.url}/slow`,
      };
      const created = await api.call('POST', '/assets/batch', {
        assets: [
          { url: urls.ok },
          { url: urls.missing },
          { url: urls.refused },
          { url: urls.slow, config: { http: { timeoutMs: 500, headersTimeoutMs: 400 } } },
        ],
      });
      expect(created.body).toMatchObject({ created: 4, failed: 0 });
      const ids = created.body.items.map((i: { id: string }) => i.id);
      const pushed = await api.call('POST', '/jobs', { assetIds: ids });
      expect(pushed.status).toBe(202);
      const jobs = await Promise.all(pushed.body.jobs.map((j: { id: string }) => api.waitJob(j.id)));

      const [ok, missing, refused, slow] = jobs;
      expect(ok).toMatchObject({ status: 'done', outcome: 'ok', attempts: 1 });
      expect(ok.results[0]).toMatchObject({ plugin: 'http', status: 'ok', reason: null, metrics: { statusCode: 200, redirects: 0 } });
      expect(ok.results[0].metrics.bytes).toBeGreaterThan(0);
      expect(ok.results[0].metrics.totalMs).toBeGreaterThan(0);
      expect(missing.results[0]).toMatchObject({ status: 'error', reason: 'http_status', metrics: { statusCode: 404 } });
      expect(refused.results[0]).toMatchObject({ status: 'error', reason: 'refused' });
      expect(slow.results[0]).toMatchObject({ status: 'error', reason: 'timeout' });
      expect(slow.results[0].durationMs).toBeLessThan(2500);

      const stats = await api.call('GET', `/assets/${ids[0]}/stats`);
      expect(stats.body).toMatchObject({ state: 'up', checks: 1, successes: 1, failures: 0, lastOutcome: 'ok', latest: { http: { metrics: { statusCode: 200 } } } });
      const missingStats = await api.call('GET', `/assets/${ids[1]}/stats`);
      expect(missingStats.body).toMatchObject({ state: 'unknown', checks: 1, failures: 1 });
      // Every applicable plugin ran on the asset, on one download of the page.
      expect(ok.results.map((r: { plugin: string }) => r.plugin)).toEqual(['http', 'htmlstats']);
      expect(ok.results[1]).toMatchObject({ status: 'ok', message: expect.stringContaining('learning'), metrics: { elements: expect.any(Number), bytes: ok.results[0].metrics.bytes } });
      expect(target.hits.get('/ok')).toBe(1);
    });

    it('follows a redirect and marks an asset down after three failed checks', async () => {
      const { body: redirect } = await api.call('POST', '/assets', { url: `${target.url}/redirect` });
      const { body: gone } = await api.call('POST', '/assets', { url: `${target.url}/missing?x=1` });
      for (let round = 0; round < 3; round++) {
        const pushed = await api.call('POST', '/jobs', { assetIds: [redirect.id, gone.id], priority: 5 });
        await Promise.all(pushed.body.jobs.map((j: { id: string }) => api.waitJob(j.id)));
      }
      const r = await api.call('GET', `/assets/${redirect.id}/stats`);
      expect(r.body).toMatchObject({ state: 'up', checks: 3, latest: { http: { metrics: { redirects: 1, statusCode: 200 } } } });
      const g = await api.call('GET', `/assets/${gone.id}`);
      expect(g.body).toMatchObject({ state: 'down', stateReason: 'http_status' });
      const down = await api.call('GET', '/assets?state=down');
      expect(down.body.items.map((a: { id: string }) => a.id)).toContain(gone.id);
    });

    it('answers bad input on every route with a 4xx and stays up', async () => {
      const cases: Array<[string, string, unknown, number, string]> = [
        ['POST', '/assets', { url: 12 }, 400, 'WEBMON_ERR_VALIDATION'],
        ['POST', '/assets', '{"url":', 400, 'WEBMON_ERR_INVALID_JSON'],
        ['POST', '/assets', { url: 'no-scheme' }, 400, 'WEBMON_ERR_INVALID_URL'],
        ['POST', '/assets', { url: 'http://x.test/', plugins: ['warp'] }, 400, 'WEBMON_ERR_UNKNOWN_PLUGIN'],
        ['POST', '/assets/batch', { assets: 'many' }, 400, 'WEBMON_ERR_VALIDATION'],
        ['GET', '/assets?limit=-1', undefined, 400, 'WEBMON_ERR_VALIDATION'],
        ['GET', '/assets?cursor=zz', undefined, 400, 'WEBMON_ERR_INVALID_CURSOR'],
        ['GET', '/assets/nope', undefined, 404, 'WEBMON_ERR_ASSET_NOT_FOUND'],
        ['PATCH', '/assets/nope', { interval: 60 }, 404, 'WEBMON_ERR_ASSET_NOT_FOUND'],
        ['PATCH', '/assets/nope', { interval: 'soon' }, 400, 'WEBMON_ERR_VALIDATION'],
        ['DELETE', '/assets/nope', undefined, 404, 'WEBMON_ERR_ASSET_NOT_FOUND'],
        ['GET', '/assets/nope/stats', undefined, 404, 'WEBMON_ERR_ASSET_NOT_FOUND'],
        ['POST', '/jobs', { assetIds: [1] }, 400, 'WEBMON_ERR_VALIDATION'],
        ['POST', '/jobs', { filter: { tag: 'a b' } }, 400, 'WEBMON_ERR_VALIDATION'],
        ['GET', '/jobs/nope', undefined, 404, 'WEBMON_ERR_JOB_NOT_FOUND'],
        ['GET', '/plugins?x=1', undefined, 200, ''],
        ['PUT', '/assets', {}, 404, 'WEBMON_ERR_ROUTE_NOT_FOUND'],
      ];
      for (const [method, path, body, status, code] of cases) {
        const res = await api.call(method, path, body);
        expect(res.status, `${method} ${path}`).toBe(status);
        if (code) expect(res.body, `${method} ${path}`).toMatchObject({ statusCode: status, code, error: expect.any(String), message: expect.any(String) });
      }
      // Garbage straight into the dispatcher's ZeroMQ frontend is dropped, not fatal.
      const { Push } = await import('zeromq');
      const push = new Push({ linger: 2000 });
      push.connect(env.WEBMON_ZMQ_FRONTEND!);
      await push.send(['garbage']);
      await push.send(['1', 'JOBS', '0', 'bad id with spaces']);
      push.close();
      // One warning line (they are rate-limited), both messages counted as dropped.
      await procs.dispatcher.waitFor(/dropped malformed message/, 5000);
      const status = webmon(['status'], env);
      await new Promise((r) => status.child.once('exit', r));
      expect(JSON.parse(status.output())).toMatchObject({ dropped: 2, received: expect.any(Number) });
      for (const p of Object.values(procs)) expect(p.child.exitCode).toBeNull();
      expect((await api.call('GET', '/health')).status).toBe(200);
    });
  });
});
