/** GET /stats reports the scheduled checks skipped, for the caller's own assets (admin: all). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobStore, jobPolicy } from '@webmon/core';
import { testApi, type TestApi } from '../../test/helpers/api.js';

let api: TestApi;
let jobs: JobStore;
beforeAll(async () => {
  api = await testApi('skipped');
  jobs = new JobStore(api.t.redis, api.t.keys, api.t.scripts, jobPolicy(api.config));
});
afterAll(() => api.close());

describe('GET /stats checksSkipped', () => {
  it('counts late and pending skips per owner', async () => {
    expect((await api.call('GET', '/stats')).body.checksSkipped).toEqual({ late: 0, pending: 0 });
    const c = await api.newClient('Late client');
    const { body: mine } = await api.call('POST', '/assets', { url: 'https://late.skipped.test/', interval: 60 }, c.apiKey);
    const { body: theirs } = await api.call('POST', '/assets', { url: 'https://admin.skipped.test/', interval: 60 });
    const t0 = Date.now() + 3_600_000;
    // The client's asset is 2.5 intervals late (2 due times missed), the admin's 1.5 (1 missed).
    await api.t.redis.zadd(api.t.keys.schedule, t0 - 150_000, mine.id, t0 - 90_000, theirs.id);
    await jobs.scheduleDue(100, 1000, t0);
    // The client's next due time comes while its job is still queued: one pending skip.
    await api.t.redis.zadd(api.t.keys.schedule, t0 + 36_000_000, theirs.id);
    await jobs.scheduleDue(100, 1000, Number(await api.t.redis.zscore(api.t.keys.schedule, mine.id)));

    expect((await api.call('GET', '/stats', undefined, c.apiKey)).body.checksSkipped).toEqual({ late: 2, pending: 1 });
    expect((await api.call('GET', '/stats')).body.checksSkipped).toEqual({ late: 3, pending: 1 });
  });
});
