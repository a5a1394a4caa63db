/**
 * A window whose start has left the retention of the resolution its length asks for is read
 * from the next coarser roll-up that still holds it, instead of coming back empty.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedis, type TestRedis } from '../../../../test/helpers/redis.js';
import type { CheckResult } from '../types.js';
import { normalizeUrl } from '../url.js';
import { AssetStore } from './assets.js';
import { JobStore } from './jobs.js';
import { StatsStore } from './stats.js';

const MIN = 60_000;
const H = 3_600_000;
/** Minute roll-ups kept 10 minutes, hour roll-ups 3 hours, day roll-ups 2 days. */
const policy = { retentionSec: 3600, maxAttempts: 2, historyMax: 100, eventsMax: 1000, downAfter: 2, upAfter: 1, rollups: { minuteSec: 600, hourSec: 3 * 3600, daySec: 2 * 86_400 } };
const BASE = Date.UTC(2026, 0, 5, 6);

let t: TestRedis;
let jobs: JobStore;
let stats: StatsStore;
let assetId: string;

beforeAll(async () => {
  t = await testRedis('winres');
  const assets = new AssetStore(t.redis, t.keys, t.scripts);
  jobs = new JobStore(t.redis, t.keys, t.scripts, policy);
  stats = new StatsStore(t.redis, t.keys);
  ({ id: assetId } = await assets.create({ owner: 'o', url: normalizeUrl('http://winres.test/'), plugins: ['http'], config: {}, interval: 60, tags: [] }));
  // A check every 5 minutes for 5 hours.
  for (let at = BASE; at < BASE + 5 * H; at += 5 * MIN) {
    const [id] = await jobs.enqueue([{ assetId, owner: 'o' }], 0, at);
    await jobs.claim(id!, 'tok', 60_000, at);
    const result: CheckResult = { plugin: 'http', status: 'ok', reason: null, message: 'ok', durationMs: 12, metrics: {} };
    await jobs.complete({ jobId: id!, token: 'tok', outcome: 'ok', reason: null, results: [result], durationMs: 12, owner: 'o', assetId }, at);
  }
});
afterAll(() => t.cleanup());

describe('window resolution', () => {
  it('keeps the resolution asked for while it holds the window', async () => {
    const w = await stats.window(assetId, 'minute', BASE + 5 * H - 10 * MIN, BASE + 5 * H);
    expect(w.resolution).toBe('minute');
    expect(w.checks).toBe(2);
  });

  it('reads an hour of three hours ago from hour roll-ups (minute ones are kept 10 minutes)', async () => {
    const w = await stats.window(assetId, 'minute', BASE + 2 * H, BASE + 3 * H);
    expect(w.resolution).toBe('hour');
    expect(w.checks).toBe(12);
  });

  it('reads an hour of the first hour from day roll-ups (hour ones are kept 3 hours)', async () => {
    const w = await stats.window(assetId, 'minute', BASE, BASE + H);
    expect(w.resolution).toBe('day');
    expect(w.checks).toBe(60); // the day bucket holds every check of the day
  });
});
