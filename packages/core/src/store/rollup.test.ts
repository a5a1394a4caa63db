/**
 * The roll-up rings as the statistics read them: window edges, wrap-around, retention, the
 * JSON hashes that preceded rings, and a comparison with a plain model of the aggregation
 * over random check sequences (late completions, new names, values crossing byte widths).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedis, type TestRedis } from '../../../../test/helpers/redis.js';
import { LATENCY_EDGES_MS, RESOLUTION_SECONDS, decodeRing, type Bucket, type Resolution } from '../rollup.js';
import { windowStats } from '../stats.js';
import type { CheckOutcome, CheckResult } from '../types.js';
import { normalizeUrl } from '../url.js';
import { AssetStore } from './assets.js';
import { JobStore, type JobPolicy } from './jobs.js';
import { StatsStore } from './stats.js';

const MIN = 60_000;
const H = 3_600_000;
const DAY = 86_400_000;
const BASE = Date.UTC(2026, 0, 5); // a Monday, 00:00 UTC
/** Small retentions so that rings fill and wrap: 11 minutes, 3 hours, 3 days (cap = retention / size + 1). */
const RETENTION = { minuteSec: 600, hourSec: 7200, daySec: 2 * 86_400 };
const CAP: Record<Resolution, number> = { minute: 11, hour: 3, day: 3 };
const RESOLUTIONS = ['minute', 'hour', 'day'] as const;
const INTERVAL = 60;

let t: TestRedis;
let assets: AssetStore;
let jobs: JobStore;
let stats: StatsStore;
const policy: JobPolicy = { retentionSec: 3600, maxAttempts: 2, historyMax: 100, eventsMax: 1000, downAfter: 2, upAfter: 1, rollups: { minuteSec: 600, hourSec: 7200, daySec: 2 * 86_400 } };

beforeAll(async () => {
  t = await testRedis('rollup');
  assets = new AssetStore(t.redis, t.keys, t.scripts);
  jobs = new JobStore(t.redis, t.keys, t.scripts, policy);
  stats = new StatsStore(t.redis, t.keys);
});
afterAll(() => t.cleanup());

let seq = 0;
async function newAsset(): Promise<string> {
  const { id } = await assets.create({ owner: 'o', url: normalizeUrl(`http://ring${seq++}.test/`), plugins: ['http'], config: {}, interval: INTERVAL, tags: [] });
  return id;
}

interface Check {
  at: number;
  outcome: CheckOutcome;
  reason: string | null;
  /** Plugin → duration, ms (to the µs, as the plugin SDK reports it). */
  durations: Record<string, number>;
}

/** Records one check through the real write path; returns the state it left. */
async function record(assetId: string, c: Check, store = jobs): Promise<string> {
  const [id] = await store.enqueue([{ assetId, owner: 'o' }], 0, c.at);
  await store.claim(id!, 'tok', 60_000, c.at);
  const results: CheckResult[] = Object.entries(c.durations).map(([plugin, durationMs]) => ({ plugin, status: c.outcome === 'unsupported' ? 'error' : c.outcome, reason: c.reason as CheckResult['reason'], message: '', durationMs, metrics: {} }));
  const res = await store.complete({ jobId: id!, token: 'tok', outcome: c.outcome, reason: c.reason as CheckResult['reason'], results, durationMs: 1, owner: 'o', assetId }, c.at);
  if (!res.recorded) throw new Error(`not recorded: ${res.why}`);
  return res.from;
}

const ok = (at: number, ms = 50): Check => ({ at, outcome: 'ok', reason: null, durations: { http: ms } });
const all = (assetId: string, res: Resolution) => stats.buckets(assetId, res, 0, BASE + 10_000 * DAY).then((b) => b.sort((x, y) => x.start - y.start));

/** The layout text of an asset's ring ("sw,c,t,d,x|outcomes|reasons|states|plugin:bins"; rollup.ts). */
async function layoutText(assetId: string, res: Resolution): Promise<string> {
  const raw = await t.redis.getrangeBuffer(t.keys.assetRollup(assetId, res), 0, 255);
  return raw.subarray(24, 24 + raw.readUInt16BE(22)).toString('latin1');
}

/** The http plugin's latency bin columns in a layout text ("3.4"). */
const httpBins = (layout: string) => /http:([\d.]*)/.exec(layout)![1];

function bin(ms: number): string {
  const i = LATENCY_EDGES_MS.findIndex((edge) => ms <= edge);
  return String(i === -1 ? LATENCY_EDGES_MS.length : i);
}

/** The aggregation job_complete.lua performs, kept as plain objects (the format before rings). */
class Model {
  constructor(private readonly caps: Record<Resolution, number> = CAP) {}

  private readonly buckets = { minute: new Map<number, Bucket>(), hour: new Map<number, Bucket>(), day: new Map<number, Bucket>() };
  private lastAt: number | undefined;

  add(c: Check, from: string): void {
    let spent = 0;
    let state = from;
    if (this.lastAt !== undefined) {
      const dt = c.at - this.lastAt;
      const cap = Math.max(INTERVAL * 2000, 120_000);
      spent = Math.min(dt, cap);
      if (dt > cap) [spent, state] = [dt, 'gap'];
    }
    this.lastAt = c.at;
    for (const res of RESOLUTIONS) {
      const start = Math.floor(c.at / 1000 / RESOLUTION_SECONDS[res]) * RESOLUTION_SECONDS[res] * 1000;
      const b = this.buckets[res].get(start) ?? { n: 0, o: {}, r: {}, p: {}, t: {} };
      b.n++;
      b.o[c.outcome] = (b.o[c.outcome] ?? 0) + 1;
      if (c.reason && c.outcome !== 'ok') b.r[c.reason] = (b.r[c.reason] ?? 0) + 1;
      for (const [plugin, ms] of Object.entries(c.durations)) {
        const p = b.p[plugin] ?? { n: 0, s: 0, x: 0, h: {} };
        // Sums in µs, as stored: the same number for durations given to the µs.
        b.p[plugin] = { n: p.n + 1, s: (Math.round(p.s * 1000) + Math.round(ms * 1000)) / 1000, x: Math.max(p.x, ms), h: { ...p.h, [bin(ms)]: (p.h[bin(ms)] ?? 0) + 1 } };
      }
      if (spent > 0) b.t[state] = (b.t[state] ?? 0) + spent;
      this.buckets[res].set(start, b);
    }
  }

  /** The buckets a ring keeps: the cap newest bucket numbers up to the newest check. */
  kept(res: Resolution): Array<{ start: number; bucket: Bucket }> {
    const size = RESOLUTION_SECONDS[res] * 1000;
    const newest = Math.max(...this.buckets[res].keys());
    return [...this.buckets[res]].filter(([start]) => start > newest - this.caps[res] * size).sort((a, b) => a[0] - b[0]).map(([start, bucket]) => ({ start, bucket }));
  }
}

describe('roll-up rings', () => {
  it('counts whole buckets for a window that starts or ends inside one', async () => {
    const id = await newAsset();
    const at = BASE + 10 * H;
    for (const s of [10, 50, 90, 150]) await record(id, ok(at + s * 1000));
    const checks = async (from: number, to: number) => (await stats.window(id, 'minute', at + from * 1000, at + to * 1000)).checks;
    expect(await checks(30, 60)).toBe(2); // starts mid-minute: the whole first minute counts
    expect(await checks(0, 60)).toBe(2);
    expect(await checks(0, 61)).toBe(3); // ends just after the second minute starts: it counts
    expect(await checks(60, 120)).toBe(1);
    expect(await checks(119, 180)).toBe(2); // minutes 1 and 2
    expect(await checks(120, 121)).toBe(1);
    expect(await checks(180, 240)).toBe(0);
    // The hour and day cells hold all four.
    expect((await stats.window(id, 'hour', at + 30_000, at + 60_000)).checks).toBe(4);
    expect((await stats.window(id, 'day', at, at + 1)).checks).toBe(4);
  });

  it('reads buckets across the wrap-around of the ring, oldest first', async () => {
    const id = await newAsset();
    const model = new Model();
    // 30 minutes, one check each: the 11-cell minute ring wraps twice.
    for (let m = 0; m < 30; m++) {
      const c = { ...ok(BASE + m * MIN + 5000, 10 + m), outcome: (m % 7 === 3 ? 'error' : 'ok') as CheckOutcome, reason: m % 7 === 3 ? 'timeout' : null };
      model.add(c, await record(id, c));
    }
    const ring = decodeRing(await t.redis.getBuffer(t.keys.assetRollup(id, 'minute')));
    expect(ring).toMatchObject({ cap: 11, head: (BASE + 29 * MIN) / MIN });
    const header = (await t.redis.getBuffer(t.keys.assetRollup(id, 'minute')))!;
    expect(header.readUInt32BE(14), 'oldest cell not in slot 0: the ring wrapped').toBeGreaterThan(0);
    const minutes = await all(id, 'minute');
    expect(minutes.map((b) => (b.start - BASE) / MIN)).toEqual([19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
    expect(minutes).toEqual(model.kept('minute'));
    const w = await stats.window(id, 'minute', BASE + 19 * MIN, BASE + 30 * MIN);
    expect(w).toEqual(windowStats(model.kept('minute'), BASE + 19 * MIN, BASE + 30 * MIN, 'minute'));
    expect(w.failuresByReason).toEqual({ timeout: 1 }); // failures at minutes 3, 10, 17, 24: only 24 is kept
  });

  it('drops a cell once its bucket leaves the retention, and ignores checks older than it', async () => {
    const id = await newAsset();
    await record(id, ok(BASE + 2 * MIN));
    await record(id, ok(BASE + 12 * MIN)); // minute 12: minute 2 is 10 buckets older, still kept (cap 11)
    expect((await all(id, 'minute')).map((b) => (b.start - BASE) / MIN)).toEqual([2, 12]);
    await record(id, ok(BASE + 13 * MIN)); // minute 2 leaves the retention
    expect((await all(id, 'minute')).map((b) => (b.start - BASE) / MIN)).toEqual([12, 13]);
    await record(id, ok(BASE + 2 * MIN)); // a late completion past the retention (minutes 3..13 are kept): not recorded per minute
    expect((await all(id, 'minute')).map((b) => (b.start - BASE) / MIN)).toEqual([12, 13]);
    expect((await all(id, 'hour'))[0]!.bucket.n).toBe(4); // the hour still counts it
    await record(id, ok(BASE + 7 * MIN)); // a late completion inside the retention gets its own cell
    expect((await all(id, 'minute')).map((b) => [(b.start - BASE) / MIN, b.bucket.n])).toEqual([[7, 1], [12, 1], [13, 1]]);
    // The key lives as long as the retention after its newest bucket.
    const ttl = await t.redis.ttl(t.keys.assetRollup(id, 'minute'));
    expect(ttl).toBeGreaterThan(500);
    expect(ttl).toBeLessThanOrEqual(600);
  });

  it('does not mistake a cell for a newer bucket with the same stamp after a long idle stretch', async () => {
    const id = await newAsset();
    await record(id, ok(BASE, 20));
    // 65,536 minutes later the minute's 2-byte stamp is the same again.
    const later = BASE + 65_536 * MIN;
    await record(id, ok(later, 30));
    const minutes = await all(id, 'minute');
    expect(minutes.map((b) => [b.start, b.bucket.n, b.bucket.p.http?.x])).toEqual([[later, 1, 30]]);
    expect(minutes[0]!.bucket.t).toEqual({ gap: 65_536 * MIN });
  });

  it('widens a ring when a count, a sum or a time outgrows its bytes', async () => {
    const id = await newAsset();
    const model = new Model();
    // 300 checks in one minute (counts past one byte), a 70 s duration (µs sums past three bytes).
    for (let i = 0; i < 300; i++) {
      const c = ok(BASE + 5 * H + i * 100, i === 150 ? 70_000.125 : 0.001 * i);
      model.add(c, await record(id, c));
    }
    const c = ok(BASE + 5 * H + 5 * MIN, 12.5);
    model.add(c, await record(id, c));
    for (const res of RESOLUTIONS) expect(await all(id, res), res).toEqual(model.kept(res));
    const [minute] = await all(id, 'minute');
    expect(minute!.bucket.p.http).toMatchObject({ n: 300, x: 70_000.125 });
  });

  it('makes time-in-state columns wide enough for a late check from the start: a late check re-lays out no ring', async () => {
    const id = await newAsset();
    const model = new Model();
    const layouts = () => Promise.all(RESOLUTIONS.map((res) => layoutText(id, res)));
    for (const at of [BASE + 9 * H, BASE + 9 * H + MIN]) model.add(ok(at), await record(id, ok(at)));
    const before = await layouts();
    // Widths "sw,c,t,d,x": t holds the 120 s a check may count as time in state at a 60 s interval.
    for (const text of before) expect(text.split('|')[0]!.split(',')[2], text).toBe('3');
    // 70 s after the previous check (past the 65.5 s two bytes hold): recorded in place.
    const late = ok(BASE + 9 * H + MIN + 70_000);
    model.add(late, await record(id, late));
    expect(await layouts()).toEqual(before);
    for (const res of RESOLUTIONS) expect(await all(id, res), res).toEqual(model.kept(res));
    expect((await all(id, 'minute')).at(-1)!.bucket.t).toEqual({ up: 70_000 });
  });

  it("lays out a plugin's latency bins as a run with a bin to spare above it: a neighbouring bin is recorded in place", async () => {
    const id = await newAsset();
    const model = new Model();
    const minuteLayout = () => layoutText(id, 'minute');
    const binsOf = async () => httpBins(await minuteLayout());
    const check = async (c: Check) => model.add(c, await record(id, c));
    const at = BASE + 9 * H;
    // 4 ms is bin 3 (3 < ms <= 5): bins 3 and 4.
    await check(ok(at, 4));
    await check(ok(at + MIN, 4.5));
    expect(await binsOf()).toBe('3.4');
    const before = await minuteLayout();
    // Widths "sw,c,t,d,x": duration sums and maxima (µs) hold a check of up to 16.7 s from the start.
    expect(before.split('|')[0]!.split(',').slice(3)).toEqual(['3', '3']);
    // 6 ms (bin 4), then 4.9 ms 14 times in one minute (a sum past the 65.5 ms two bytes hold): in place.
    await check(ok(at + 2 * MIN, 6));
    for (let k = 1; k <= 14; k++) await check(ok(at + 2 * MIN + k * 1000, 4.9));
    expect(await minuteLayout()).toBe(before);
    // 2.5 ms (bin 2) extends the run down to it; 40 ms (bin 9) up to bin 10, nothing between left out.
    await check(ok(at + 3 * MIN, 2.5));
    expect(await binsOf()).toBe('2.3.4');
    await check(ok(at + 4 * MIN, 40));
    expect(await binsOf()).toBe('2.3.4.5.6.7.8.9.10');
    // The open last bin (slower than the last edge) has nothing after it.
    await check(ok(at + 5 * MIN, 90_000));
    await check(ok(at + 6 * MIN, 0.5));
    expect(await binsOf()).toBe(Array.from({ length: LATENCY_EDGES_MS.length + 1 }, (_, i) => i).join('.'));
    // Columns of bins no run fell in read as nothing: the statistics are the model's.
    for (const res of RESOLUTIONS) expect(await all(id, res), res).toEqual(model.kept(res));
  });

  it('keeps names it cannot write as they are, without corrupting the ring', async () => {
    const id = await newAsset();
    const model = new Model();
    const odd: Check[] = [
      { at: BASE + H, outcome: 'error', reason: 'weird|reason,with;separators:%41', durations: { http: 5, 'é plugin': 7 } },
      { at: BASE + H + 1000, outcome: 'warn', reason: 'slow', durations: { http: 900 } },
      { at: BASE + H + 2000, outcome: 'unsupported', reason: 'unsupported', durations: {} },
    ];
    for (const c of odd) model.add(c, await record(id, c));
    for (const res of RESOLUTIONS) expect(await all(id, res), res).toEqual(model.kept(res));
  });

  it('sums the JSON buckets written before rings with the ring, and deletes both with the asset', async () => {
    const id = await newAsset();
    const start = (BASE + 3 * H) / 1000;
    const legacy: Bucket = { n: 2, o: { ok: 1, error: 1 }, r: { dns: 1 }, p: { http: { n: 2, s: 300, x: 200, h: { '13': 2 } } }, t: { up: 60_000 } };
    await t.redis.hset(t.keys.assetRollupLegacy(id, 'hour'), String(start), JSON.stringify(legacy), String(start - 3600), JSON.stringify({ n: 1, o: { ok: 1 }, r: [], p: [], t: [] }));
    await record(id, ok(BASE + 3 * H + 10 * MIN, 100));
    const hours = await all(id, 'hour');
    expect(hours.map((b) => b.start)).toEqual([start * 1000 - H, start * 1000]);
    expect(hours[1]!.bucket).toEqual({ n: 3, o: { ok: 2, error: 1 }, r: { dns: 1 }, p: { http: { n: 3, s: 400, x: 200, h: { '11': 1, '13': 2 } } }, t: { up: 60_000 } });
    await assets.delete(id);
    expect(await t.redis.exists(...RESOLUTIONS.flatMap((r) => [t.keys.assetRollup(id, r), t.keys.assetRollupLegacy(id, r)]))).toBe(0);
  });

  it('keeps every cell when a longer retention needs wider stamps', async () => {
    const id = await newAsset();
    const model = new Model();
    for (let m = 0; m < 8; m++) {
      const c = ok(BASE + m * MIN, 5 + m);
      model.add(c, await record(id, c)); // cap 11: one-byte stamps
    }
    const longer = new JobStore(t.redis, t.keys, t.scripts, { ...policy, rollups: { ...RETENTION, minuteSec: 4_000_000 } }); // cap 66,667
    const c = ok(BASE + 8 * MIN, 99);
    model.add(c, await record(id, c, longer));
    const ring = decodeRing(await t.redis.getBuffer(t.keys.assetRollup(id, 'minute')));
    expect(ring?.cap).toBe(66_667);
    expect(await all(id, 'minute')).toEqual(model.kept('minute'));
    expect((await all(id, 'minute')).length).toBe(9);
  });

  it('gives back the cells a shortened retention no longer needs', async () => {
    const id = await newAsset();
    // Minute roll-ups kept 10 minutes here (cap 11): 20 checks a minute apart fill the ring.
    for (let m = 0; m < 20; m++) await record(id, ok(BASE + m * MIN, 5 + m));
    const before = (await t.redis.getBuffer(t.keys.assetRollup(id, 'minute')))!;
    const shorter = new JobStore(t.redis, t.keys, t.scripts, { ...policy, rollups: { ...policy.rollups!, minuteSec: 180 } }); // cap 4
    const model = new Model();
    const c = ok(BASE + 20 * MIN, 77);
    model.add(c, await record(id, c, shorter));
    const after = (await t.redis.getBuffer(t.keys.assetRollup(id, 'minute')))!;
    const ring = decodeRing(after)!;
    expect(ring.cap).toBe(4);
    expect(after.readUInt32BE(6)).toBeLessThanOrEqual(4); // cells allocated: K ≤ cap
    expect(after.length).toBeLessThan(before.length);
    // What is kept is the newest buckets within the new retention, the check just made included.
    expect(ring.cells.map((cell) => cell.bucket)).toEqual([17, 18, 19, 20].map((m) => Math.floor((BASE + m * MIN) / MIN)));
    expect(ring.cells.at(-1)!.value.p.http!.x).toBe(77);
  });

  it('holds what a plain model of the aggregation holds, for random check sequences', async () => {
    const step = fc.record({
      dt: fc.oneof(fc.integer({ min: 0, max: 90_000 }), fc.integer({ min: 0, max: 4 * H }), fc.integer({ min: -5 * MIN, max: 0 }), fc.constant(DAY + 1)),
      outcome: fc.constantFrom<CheckOutcome>('ok', 'ok', 'ok', 'warn', 'error', 'unsupported'),
      reason: fc.constantFrom(null, 'timeout', 'dns', 'http_status', 'not-a-reason'),
      http: fc.integer({ min: 0, max: 70_000_000 }).map((us) => us / 1000),
      tcp: fc.option(fc.integer({ min: 0, max: 20_000 }).map((us) => us / 1000)),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
        const id = await newAsset();
        const model = new Model();
        let at = BASE + 7 * H;
        for (const s of steps) {
          at = Math.max(BASE, at + s.dt);
          const c: Check = { at, outcome: s.outcome, reason: s.outcome === 'ok' ? null : s.reason, durations: s.tcp === null ? { http: s.http } : { http: s.http, tcp: s.tcp } };
          model.add(c, await record(id, c));
        }
        for (const res of RESOLUTIONS) expect(await all(id, res), res).toEqual(model.kept(res));
        await assets.delete(id);
      }),
      { numRuns: 25 },
    );
  });
});

describe('roll-up rings folded from the minute ring (retentions of an hour and a day or more)', () => {
  /** Retentions just long enough for folding: two hours of minutes (an hour and the spread of fold points over the next), a day of hours. */
  const FOLDED = { minuteSec: 7200, hourSec: 86_400, daySec: 3 * 86_400 };
  const FOLDED_CAP: Record<Resolution, number> = { minute: 121, hour: 25, day: 4 };
  let folded: JobStore;
  let direct: JobStore;
  beforeAll(() => {
    folded = new JobStore(t.redis, t.keys, t.scripts, { ...policy, rollups: FOLDED });
    // Hour roll-ups kept under a day: every check goes to all three rings (the minute ring still holds two hours).
    direct = new JobStore(t.redis, t.keys, t.scripts, { ...policy, rollups: { ...FOLDED, hourSec: 20 * 3600 } });
  });
  const version = async (id: string) => (await t.redis.getrangeBuffer(t.keys.assetRollup(id, 'minute'), 1, 1))[0];
  /** Minutes into each hour at which the asset's closed hours are folded (its seq mod 60). */
  const spreadOf = async (id: string) => Number(await t.redis.hget(t.keys.asset(id), 'seq')) % 60;

  it('writes a check to the minute ring only, and the hour and day cells once their period has closed', async () => {
    const id = await newAsset();
    const spread = await spreadOf(id);
    const model = new Model(FOLDED_CAP);
    for (const m of [0, 10, 59]) model.add(ok(BASE + 23 * H + m * MIN), await record(id, ok(BASE + 23 * H + m * MIN), folded));
    expect(await version(id)).toBe(2);
    const coarse = () => t.redis.exists(t.keys.assetRollup(id, 'hour'), t.keys.assetRollup(id, 'day'));
    expect(await coarse()).toBe(0);
    // The hour and the day in progress are read from the minute ring.
    for (const res of RESOLUTIONS) expect(await all(id, res), res).toEqual(model.kept(res));
    if (spread > 0) {
      // Before the asset's fold point (`spread` minutes into the hour) nothing is folded yet.
      const early = ok(BASE + DAY + (spread - 1) * MIN + 30_000);
      model.add(early, await record(id, early, folded));
      expect(await coarse()).toBe(0);
      for (const res of RESOLUTIONS) expect(await all(id, res), res).toEqual(model.kept(res));
    }
    // The first check at or after it folds the closed hour, then the closed day.
    const next = ok(BASE + DAY + spread * MIN + 2000);
    model.add(next, await record(id, next, folded));
    const hours = decodeRing(await t.redis.getBuffer(t.keys.assetRollup(id, 'hour')))!;
    expect(hours.cells.map((c) => [c.bucket * H - BASE, c.value.n])).toEqual([[23 * H, 3]]);
    const days = decodeRing(await t.redis.getBuffer(t.keys.assetRollup(id, 'day')))!;
    expect(days.cells.map((c) => [c.bucket * DAY - BASE, c.value.n])).toEqual([[0, 3]]);
    for (const res of RESOLUTIONS) expect(await all(id, res), res).toEqual(model.kept(res));
    const w = await stats.window(id, 'hour', BASE + 20 * H, BASE + DAY + H);
    expect(w).toEqual(windowStats(model.kept('hour'), BASE + 20 * H, BASE + DAY + H, 'hour'));
  });

  it('lays out the minute ring, written at every check, with room for the next; the folded rings hold only what they were given', async () => {
    const id = await newAsset();
    const spread = await spreadOf(id);
    const layout = async (res: Resolution) => {
      const text = await layoutText(id, res);
      return { widths: text.split('|')[0]!.split(',').slice(3).join(','), bins: httpBins(text) };
    };
    // 4 ms: bin 3; three of them sum to 12 ms (two bytes of µs).
    for (const m of [0, 10, 59]) await record(id, ok(BASE + 23 * H + m * MIN, 4), folded);
    await record(id, ok(BASE + DAY + spread * MIN + 2000, 4), folded);
    expect(await layout('minute')).toEqual({ widths: '3,3', bins: '3.4' });
    for (const res of ['hour', 'day'] as const) expect(await layout(res), res).toEqual({ widths: '2,2', bins: '3' });
  });

  it("grows a minute ring no further than its asset's interval fills, until more checks come", async () => {
    // A day of minutes: cap 1441. Checked every 5 minutes, 289 cells at most are in use.
    const daily = new JobStore(t.redis, t.keys, t.scripts, { ...policy, rollups: { minuteSec: 86_400, hourSec: 86_400, daySec: 3 * 86_400 } });
    const { id } = await assets.create({ owner: 'o', url: normalizeUrl(`http://ring${seq++}.test/`), plugins: ['http'], config: {}, interval: 300, tags: [] });
    const header = async () => {
      const raw = await t.redis.getrangeBuffer(t.keys.assetRollup(id, 'minute'), 0, 23);
      return { K: raw.readUInt32BE(6), n: raw.readUInt32BE(10) };
    };
    for (let i = 0; i < 300; i++) await record(id, ok(BASE + i * 5 * MIN), daily);
    // Growing by eighths would have left 318 cells (282 -> 318); the interval's 288 + 3 are kept.
    expect(await header()).toEqual({ K: 291, n: 289 });
    // Checks pushed in between need more cells: the ring grows again.
    for (let m = 1; m <= 9; m++) await record(id, ok(BASE + 299 * 5 * MIN + m * MIN), daily);
    const after = await header();
    expect(after.n).toBeGreaterThan(291);
    expect(after.K).toBeGreaterThanOrEqual(after.n);
  });

  it('spreads the fold points of a fleet over the hour', async () => {
    const spreads = new Set<number>();
    for (let i = 0; i < 60; i++) spreads.add(await spreadOf(await newAsset()));
    expect(spreads.size).toBe(60);
  });

  it('records a late check of a closed hour or day in its ring directly', async () => {
    const id = await newAsset();
    const model = new Model(FOLDED_CAP);
    // 06:59:30 is past every asset's fold point of the hour: hours before 06:00 have closed.
    // The late ones take 120 ms (bin 12), the others 50 ms (bin 9).
    const seq = [ok(BASE + 5 * H), ok(BASE + DAY + 6 * H + 59.5 * MIN), ok(BASE + 5 * H + 30 * MIN, 120), ok(BASE + DAY + 5 * H + 50 * MIN, 120), ok(BASE + DAY + 6 * H + 59.75 * MIN)];
    for (const c of seq) model.add(c, await record(id, c, folded));
    // 05:30 of day 0 went to the day ring (a closed day), 05:50 of day 1 to the hour ring (a closed hour).
    expect(decodeRing(await t.redis.getBuffer(t.keys.assetRollup(id, 'day')))!.cells.map((c) => c.value.n)).toEqual([2]);
    expect(decodeRing(await t.redis.getBuffer(t.keys.assetRollup(id, 'hour')))!.cells.map((c) => [c.bucket * H - BASE, c.value.n])).toEqual([
      [5 * H, 2],
      [DAY + 5 * H, 1],
    ]);
    for (const res of RESOLUTIONS) expect(await all(id, res), res).toEqual(model.kept(res));
    // Written once a period or late, not at every check: no room, a column for each bin used.
    for (const res of ['hour', 'day'] as const) expect(httpBins(await layoutText(id, res)), res).toBe('9.12');
  });

  it('takes over rings written with every check in all three, without losing or doubling a check', async () => {
    const id = await newAsset();
    const model = new Model(FOLDED_CAP);
    // Hour retention under a day: every check in all three rings (version 1).
    const at = (min: number) => ok(BASE + 22 * H + min * MIN);
    for (const m of [0, 20, 40, 111, 115]) model.add(at(m), await record(id, at(m), direct));
    expect(await version(id)).toBe(1);
    for (const m of [118, 130, 150, 170]) model.add(at(m), await record(id, at(m), folded));
    expect(await version(id)).toBe(2);
    for (const res of ['hour', 'day'] as const) expect(await all(id, res), res).toEqual(model.kept(res));
    // And back: the periods in progress are folded before every check goes to all three again.
    for (const m of [175, 185, 200]) model.add(at(m), await record(id, at(m), direct));
    expect(await version(id)).toBe(1);
    for (const res of ['hour', 'day'] as const) expect(await all(id, res), res).toEqual(model.kept(res));
  });

  it('holds what a plain model of the aggregation holds, for random check sequences across hours and days', async () => {
    const step = fc.record({
      dt: fc.oneof(fc.integer({ min: 0, max: 20 * MIN }), fc.integer({ min: 0, max: 5 * H }), fc.integer({ min: -2 * H, max: 0 }), fc.constant(DAY + 1)),
      outcome: fc.constantFrom<CheckOutcome>('ok', 'ok', 'ok', 'warn', 'error', 'unsupported'),
      reason: fc.constantFrom(null, 'timeout', 'dns', 'http_status'),
      http: fc.integer({ min: 0, max: 70_000_000 }).map((us) => us / 1000),
      tcp: fc.option(fc.integer({ min: 0, max: 20_000 }).map((us) => us / 1000)),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
        const id = await newAsset();
        const model = new Model(FOLDED_CAP);
        let at = BASE + 20 * H;
        for (const s of steps) {
          at = Math.max(BASE, at + s.dt);
          const c: Check = { at, outcome: s.outcome, reason: s.outcome === 'ok' ? null : s.reason, durations: s.tcp === null ? { http: s.http } : { http: s.http, tcp: s.tcp } };
          model.add(c, await record(id, c, folded));
        }
        for (const res of RESOLUTIONS) expect(await all(id, res), res).toEqual(model.kept(res));
        await assets.delete(id);
      }),
      { numRuns: 40 },
    );
  });
});
