import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedis, type TestRedis } from '../../../../test/helpers/redis.js';
import type { CheckResult } from '../types.js';
import { normalizeUrl } from '../url.js';
import { AssetStore } from './assets.js';
import { JobStore, type JobPolicy } from './jobs.js';
import { applyDiff, encodeEntry, parseEntry, resultTokens, resultsFromTokens } from './results-codec.js';
import { StatsStore } from './stats.js';

let t: TestRedis;
let assets: AssetStore;
let stats: StatsStore;

beforeAll(async () => {
  t = await testRedis('history');
  assets = new AssetStore(t.redis, t.keys, t.scripts);
  stats = new StatsStore(t.redis, t.keys);
});
afterAll(() => t.cleanup());

const basePolicy: JobPolicy = { retentionSec: 3600, maxAttempts: 2, historyMax: 100, historyMaxAgeSec: 7 * 86_400, eventsMax: 1000, downAfter: 3, upAfter: 1 };
let n = 0;
async function newAsset(): Promise<string> {
  const { id } = await assets.create({ owner: 'o', url: normalizeUrl(`http://hist${n++}.test/`), plugins: ['http'], config: {}, interval: 60, tags: [] });
  return id;
}

/** Runs one pushed check of `assetId` through enqueue, claim and complete, at `now`. */
async function record(jobs: JobStore, assetId: string, results: CheckResult[], now = Date.now(), outcome: CheckResult['status'] = 'ok') {
  const [jobId] = await jobs.enqueue([{ assetId, owner: 'o' }], 0, now);
  const claim = await jobs.claim(jobId!, 'tok', 10_000, now);
  if (!claim.claimed) throw new Error(claim.why);
  const res = await jobs.complete({ jobId: jobId!, token: 'tok', outcome, reason: null, results, durationMs: 3, owner: 'o', assetId }, now);
  if (!res.recorded) throw new Error(res.why);
  return jobId!;
}

const http = (ms: number, extra: Partial<CheckResult> = {}): CheckResult => ({
  plugin: 'http',
  status: 'ok',
  reason: null,
  message: `HTTP 200 in ${ms} ms`,
  durationMs: ms,
  metrics: { statusCode: 200, totalMs: ms, ttfbMs: ms * 0.7, bytes: 48_213 },
  details: { finalUrl: 'https://www.example.com/', certificate: { subject: 'www.example.com', validTo: '2027-01-22T00:00:00.000Z' } },
  ...extra,
});

/** What a result looks like after a JSON round trip (what the API returned before the compact encoding). */
const viaJson = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** Every entry, newest first, read page by page. */
async function readAll(assetId: string, limit = 7, plugin?: string) {
  const out: Array<{ id: string; jobId: string; at: number; outcome: string; results: CheckResult[] }> = [];
  let before: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await stats.results(assetId, { from: 0, to: Date.now() + 86_400_000, before, limit, plugin });
    out.push(...page.items);
    if (!page.next) return out;
    before = page.next;
  }
  throw new Error('did not end');
}

const arbResult: fc.Arbitrary<CheckResult> = fc.record(
  {
    plugin: fc.constantFrom('http', 'htmlstats', 'tcp', '=x'),
    status: fc.constantFrom('ok', 'warn', 'error'),
    reason: fc.constantFrom(null, 'timeout', 'deviation'),
    message: fc.string({ unit: 'binary' }),
    durationMs: fc.double({ noNaN: false }),
    metrics: fc.dictionary(fc.string({ unit: 'binary', maxLength: 6 }), fc.oneof(fc.integer(), fc.double())),
    details: fc.option(fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })), { nil: undefined }),
  },
  { requiredKeys: ['plugin', 'status', 'reason', 'message', 'durationMs', 'metrics'] },
) as fc.Arbitrary<CheckResult>;

describe('the compact results encoding', () => {
  it('round-trips every field of any result, as its JSON would', () => {
    fc.assert(
      fc.property(fc.array(arbResult, { maxLength: 4 }), (results) => {
        const tokens = resultTokens(results);
        for (const tok of tokens) {
          expect(tok.length).toBeGreaterThan(0);
          expect(tok.startsWith('=')).toBe(false);
          // biome-ignore lint/suspicious/noControlCharactersInRegex: the codec's separators are control characters
          expect(/[\x1c-\x1f]/.test(tok)).toBe(false);
        }
        expect(resultsFromTokens(tokens)).toEqual(viaJson(results));
      }),
      { numRuns: 150 },
    );
  });

  it('keeps fields a result carries beyond the known ones', () => {
    const r = { ...http(5), extra: { a: [1, 'two'] }, flag: true } as unknown as CheckResult;
    expect(resultsFromTokens(resultTokens([r]))).toEqual([viaJson(r)]);
  });

  it('parses the entries it writes, and applies differences', () => {
    const meta = { ms: 1_700_000_000_000, seq: 2, at: 1_699_999_999_990, outcome: 'warn', jobId: 's18c-4' };
    const raw = encodeEntry(meta, ['"a"', '1']);
    expect(parseEntry(raw)).toEqual({ meta, body: '"a"\x1f1' });
    expect(parseEntry('no separator')).toBeNull();
    expect(applyDiff('=2\x1f3\x1f=1', ['"a"', '1', '2', '4'])).toEqual(['"a"', '1', '3', '4']);
    expect(applyDiff('', ['1'])).toEqual([]);
    expect(() => applyDiff('=3', ['1'])).toThrow();
  });
});

describe('raw results in Redis', () => {
  it('reads back every field of every check, newest first, through the differences between entries', async () => {
    const jobs = new JobStore(t.redis, t.keys, t.scripts, basePolicy);
    const id = await newAsset();
    const html = (z: number): CheckResult => ({ plugin: 'htmlstats', status: 'warn', reason: 'deviation', message: 'deviation: links', durationMs: 2.5, metrics: { links: 96, z_links: z }, details: { deviations: [{ feature: 'links', z }] } });
    const sequence: CheckResult[][] = [
      [http(40)],
      [http(41), html(0.5)],
      [http(41), html(3.25)],
      [], // e.g. unsupported: no plugin result
      [http(90, { status: 'error', reason: 'timeout', message: '=starts with equals', metrics: {} })],
      [http(42, { details: undefined })],
      [html(-1), http(42)],
      [http(42), http(42)],
    ];
    const jobIds: string[] = [];
    const t0 = Date.now() - 60_000;
    for (let i = 0; i < sequence.length; i++) jobIds.push(await record(jobs, id, sequence[i]!, t0 + i * 1000, i === 4 ? 'error' : 'ok'));

    const all = await readAll(id, 3);
    expect(all.map((e) => e.jobId)).toEqual([...jobIds].reverse());
    expect(all.map((e) => e.results)).toEqual(viaJson([...sequence].reverse()));
    expect(all.map((e) => e.at)).toEqual(sequence.map((_, i) => t0 + i * 1000).reverse());
    expect(all[3]!.outcome).toBe('error');
    // Only the newest entry holds its tokens in full: an older one repeating it is mostly `=n`.
    const [head, second] = await t.redis.lrange(t.keys.assetHistory(id), 0, 1);
    expect(second!.length).toBeLessThan(head!.length);
    expect(parseEntry(head!)!.body.split('\x1f')).toEqual(resultTokens(sequence[sequence.length - 1]!));

    // The plugin filter drops entries without that plugin and keeps paging.
    const onlyHtml = await readAll(id, 1, 'htmlstats');
    expect(onlyHtml.map((e) => e.jobId)).toEqual([jobIds[6], jobIds[2], jobIds[1]]);
    expect(onlyHtml.every((e) => e.results.every((r) => r.plugin === 'htmlstats'))).toBe(true);
  });

  it('orders entries by id even when a check reports an earlier time than the one before it', async () => {
    const jobs = new JobStore(t.redis, t.keys, t.scripts, basePolicy);
    const id = await newAsset();
    const now = Date.now();
    await record(jobs, id, [http(1)], now);
    await record(jobs, id, [http(2)], now - 5000); // another executor's clock, a little behind
    await record(jobs, id, [http(3)], now);
    const all = await readAll(id, 1);
    expect(all.map((e) => e.id)).toEqual([`${now}-2`, `${now}-1`, `${now}-0`]);
    expect(all.map((e) => e.at)).toEqual([now, now - 5000, now]);
    expect(all.map((e) => e.results[0]!.durationMs)).toEqual([3, 2, 1]);
  });

  it('keeps exactly historyMax entries, the newest', async () => {
    const jobs = new JobStore(t.redis, t.keys, t.scripts, { ...basePolicy, historyMax: 50 });
    const id = await newAsset();
    const t0 = Date.now() - 400_000;
    const ids: string[] = [];
    for (let i = 0; i < 400; i++) ids.push(await record(jobs, id, [http(i)], t0 + i * 1000));
    expect(await t.redis.llen(t.keys.assetHistory(id))).toBe(50);
    const all = await readAll(id, 20);
    expect(all.map((e) => e.jobId)).toEqual(ids.slice(-50).reverse());
    expect(all.map((e) => e.results[0]!.durationMs)).toEqual(Array.from({ length: 50 }, (_, i) => 399 - i));
  });

  it('drops entries older than historyMaxAgeSec', async () => {
    const jobs = new JobStore(t.redis, t.keys, t.scripts, { ...basePolicy, historyMaxAgeSec: 3600 });
    const id = await newAsset();
    const now = Date.now();
    for (let i = 0; i < 3; i++) await record(jobs, id, [http(i)], now - 7_200_000 + i * 1000);
    await record(jobs, id, [http(9)], now - 1000);
    await record(jobs, id, [http(10)], now);
    const all = await readAll(id);
    expect(all.map((e) => e.results[0]!.durationMs)).toEqual([10, 9]);
    expect(await t.redis.llen(t.keys.assetHistory(id))).toBe(2);
  });

  it('pages in time windows, and rejects cursors it did not issue', async () => {
    const jobs = new JobStore(t.redis, t.keys, t.scripts, basePolicy);
    const id = await newAsset();
    const t0 = Date.now() - 100_000;
    for (let i = 0; i < 10; i++) await record(jobs, id, [http(i)], t0 + i * 1000);
    const window = await stats.results(id, { from: t0 + 3000, to: t0 + 6000, limit: 2 });
    expect(window.items.map((e) => e.results[0]!.durationMs)).toEqual([6, 5]);
    const rest = await stats.results(id, { from: t0 + 3000, to: t0 + 6000, limit: 2, before: window.next! });
    expect(rest).toMatchObject({ next: null });
    expect(rest.items.map((e) => e.results[0]!.durationMs)).toEqual([4, 3]);
    await expect(stats.results(id, { from: 0, to: Date.now(), limit: 2, before: 'nope' })).rejects.toMatchObject({ code: 'WEBMON_ERR_INVALID_CURSOR' });
  });

  it('resumes a walk whose list gained entries between two reads', async () => {
    const jobs = new JobStore(t.redis, t.keys, t.scripts, { ...basePolicy, historyMax: 1000 });
    const id = await newAsset();
    const t0 = Date.now() - 1_000_000;
    for (let i = 0; i < 450; i++) await record(jobs, id, [http(i)], t0 + i * 1000);
    // A completion lands between the chunks of one walk (the reader reads 201 entries per round trip).
    let reads = 0;
    const racing = new Proxy(t.redis, {
      get(target, prop, receiver) {
        if (prop === 'lrange') {
          return async (...args: [string, number, number]) => {
            if (reads++ === 1) await record(jobs, id, [http(1000)], t0 + 500_000);
            return target.lrange(...args);
          };
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    }) as Redis;
    const page = await new StatsStore(racing, t.keys).results(id, { from: 0, to: Date.now(), limit: 300 });
    expect(reads).toBeGreaterThanOrEqual(2);
    expect(page.items.map((e) => e.results[0]!.durationMs)).toEqual(Array.from({ length: 300 }, (_, i) => 449 - i));
  });

  it('moves a stream of an earlier version aside, reads it after the list, and trims it to the cap', async () => {
    const jobs = new JobStore(t.redis, t.keys, t.scripts, { ...basePolicy, historyMax: 10 });
    const id = await newAsset();
    const key = t.keys.assetHistory(id);
    const t0 = Date.now() - 100_000;
    for (let i = 0; i < 20; i++) await t.redis.xadd(key, `${t0 + i}-0`, 'job', `old${i}`, 'at', t0 + i, 'outcome', 'ok', 'results', JSON.stringify([http(i)]));
    const fresh = await record(jobs, id, [http(100)]);
    expect(await t.redis.type(key)).toBe('list');
    expect(await t.redis.xlen(t.keys.assetHistoryLegacy(id))).toBe(9);
    expect(await t.redis.ttl(t.keys.assetHistoryLegacy(id))).toBeGreaterThan(0);
    const all = await readAll(id, 4);
    expect(all.map((e) => e.jobId)).toEqual([fresh, ...Array.from({ length: 9 }, (_, i) => `old${19 - i}`)]);
    expect(all[1]).toMatchObject({ id: `${t0 + 19}-0`, at: t0 + 19, outcome: 'ok', results: [viaJson(http(19))] });
    for (let i = 0; i < 9; i++) await record(jobs, id, [http(101 + i)]);
    expect(await t.redis.exists(t.keys.assetHistoryLegacy(id))).toBe(0);
    expect((await readAll(id)).length).toBe(10);
  });
});

describe('finished jobs', () => {
  it('deletes a scheduled job once done, and keeps a pushed one for the retention', async () => {
    const jobs = new JobStore(t.redis, t.keys, t.scripts, basePolicy);
    const id = await newAsset();
    const now = Date.now() + 120_000; // past the new asset's first due time
    const { ids } = await jobs.scheduleDue(1000, 100_000, now);
    const ours = (await Promise.all(ids.map(async (j) => ((await jobs.get(j))?.assetId === id ? j : null)))).find(Boolean)!;
    expect(ours).toBeDefined();
    expect(await t.redis.hget(t.keys.job(ours), 'scheduled')).toBe('1');
    expect((await jobs.claim(ours, 'tok', 10_000, now)).claimed).toBe(true);
    expect(await jobs.complete({ jobId: ours, token: 'tok', outcome: 'ok', reason: null, results: [http(7)], durationMs: 7, owner: 'o', assetId: id }, now)).toMatchObject({ recorded: true });
    expect(await t.redis.exists(t.keys.job(ours))).toBe(0);
    expect(await jobs.get(ours)).toBeNull();
    expect(await t.redis.zscore(t.keys.jobsLeases, ours)).toBeNull();
    // The result is in the history, and a late duplicate writes nothing.
    expect((await readAll(id)).map((e) => e.jobId)).toEqual([ours]);
    expect(await jobs.complete({ jobId: ours, token: 'tok', outcome: 'ok', reason: null, results: [http(7)], durationMs: 7, owner: 'o', assetId: id }, now)).toEqual({ recorded: false, why: 'stale' });
    expect(await jobs.claim(ours, 'tok2', 10_000, now)).toEqual({ claimed: false, why: 'missing' });
    expect(await t.redis.llen(t.keys.assetHistory(id))).toBe(1);

    const pushed = await record(jobs, id, [http(8)]);
    expect(await jobs.get(pushed)).toMatchObject({ status: 'done', results: [viaJson(http(8))] });
    expect(await t.redis.ttl(t.keys.job(pushed))).toBeGreaterThan(3000);
  });

  it('deletes a scheduled job whose asset is gone when claimed; a pushed one is failed and kept', async () => {
    const jobs = new JobStore(t.redis, t.keys, t.scripts, basePolicy);
    const id = await newAsset();
    const { ids } = await jobs.scheduleDue(1000, 100_000, Date.now() + 120_000);
    const ours = (await Promise.all(ids.map(async (j) => ((await jobs.get(j))?.assetId === id ? j : null)))).find(Boolean)!;
    const [pushed] = await jobs.enqueue([{ assetId: id, owner: 'o' }], 0);
    await assets.delete(id);
    expect(await jobs.claim(ours, 'tok', 10_000)).toEqual({ claimed: false, why: 'asset_deleted' });
    expect(await t.redis.exists(t.keys.job(ours))).toBe(0);
    expect(await jobs.claim(pushed!, 'tok', 10_000)).toEqual({ claimed: false, why: 'asset_deleted' });
    expect(await jobs.get(pushed!)).toMatchObject({ status: 'failed', error: 'asset_deleted' });
  });
});
