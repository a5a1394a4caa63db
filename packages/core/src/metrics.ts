/**
 * Prometheus metrics (prom-client). Each process has one registry: executors count the checks
 * they run; the api adds fleet gauges read from Redis at scrape time (assets by state, queue,
 * executors alive, snapshot age). In `webmon up` both land in the api's /metrics. With
 * metrics.perAsset, the api also writes series per asset, read from Redis for each scrape within
 * a cap and a time budget (readAssetSeries, renderAssetSeries; docs/metrics.md).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Redis } from 'ioredis';
import { aliveInstances } from './heartbeat.js';
import { ALL_OWNERS, shardOfId, type Keys, type ShardKeys } from './keys.js';
import { pipelineBy } from './redis.js';
import { persistenceInfo } from './snapshot.js';
import { safeJson } from './store/assets.js';
import { ASSET_STATES, type AssetState } from './types.js';
import { round } from './util.js';

export const CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

export interface ProcessMetrics {
  registry: Registry;
  checks: Counter<'plugin' | 'status' | 'reason'>;
  checkDuration: Histogram<'plugin'>;
  jobsInFlight: Gauge;
  /** Observed by the dispatcher when it hands a scheduled check to an executor. */
  startLateness: Histogram;
  /** The scheduler's queue bound in force (derived from the executors' capacity). */
  schedulerBound: Gauge;
}

let shared: ProcessMetrics | undefined;

/** The metrics of this process (created once, with Node's default process metrics). */
export function processMetrics(): ProcessMetrics {
  if (shared) return shared;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'webmon_process_' });
  shared = {
    registry,
    checks: new Counter({
      name: 'webmon_checks_total',
      help: 'Plugin runs by plugin, status (ok, warn, error) and reason',
      labelNames: ['plugin', 'status', 'reason'],
      registers: [registry],
    }),
    checkDuration: new Histogram({
      name: 'webmon_check_duration_seconds',
      help: 'Duration of plugin runs',
      labelNames: ['plugin'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    jobsInFlight: new Gauge({ name: 'webmon_executor_jobs_in_flight', help: 'Checks running in this executor', registers: [registry] }),
    startLateness: new Histogram({
      name: 'webmon_check_start_lateness_seconds',
      help: 'Scheduled checks: time from their due time until this dispatcher handed them to an executor',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    }),
    schedulerBound: new Gauge({
      name: 'webmon_scheduler_queue_bound',
      help: 'Jobs this dispatcher lets queue before it stops scheduling (derived from the alive executors, at most scheduler.maxQueued)',
      registers: [registry],
    }),
  };
  return shared;
}

/** Adds gauges computed from Redis at every scrape (the api registers them once). */
export function registerFleetGauges(registry: Registry, redis: Redis, keys: Keys): void {
  new Gauge({
    name: 'webmon_assets',
    help: 'Assets by state, fleet-wide',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const counts = await sumOverShards(redis, keys, (k) => ASSET_STATES.map((s) => k.ownerIndex(ALL_OWNERS, 'state', s)));
      ASSET_STATES.forEach((s, i) => {
        this.set({ state: s }, counts[i]!);
      });
    },
  });
  new Gauge({
    name: 'webmon_jobs',
    help: 'Jobs by queue: queued, running (leased), delayed (retries, politeness), failed',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      const [queued = 0, running = 0, delayed = 0, failed = 0] = await sumOverShards(redis, keys, (k) => [k.jobsQueued, k.jobsLeases, k.jobsDelayed, k.jobsFailed]);
      this.set({ queue: 'queued' }, queued);
      this.set({ queue: 'running' }, running);
      this.set({ queue: 'delayed' }, delayed);
      this.set({ queue: 'failed' }, failed);
    },
  });
  new Counter({
    name: 'webmon_checks_skipped_total',
    help: 'Scheduled checks skipped, fleet-wide: late (their due time passed more than an interval ago) or pending (the previous check was still queued or running)',
    labelNames: ['reason'],
    registers: [registry],
    async collect() {
      let [late, pending] = [0, 0];
      for (const n of keys.shardIds) {
        const [l, p] = await redis.hmget(keys.shard(n).checksSkipped, `${ALL_OWNERS}:late`, `${ALL_OWNERS}:pending`);
        late += Number(l ?? 0);
        pending += Number(p ?? 0);
      }
      this.reset();
      this.inc({ reason: 'late' }, late);
      this.inc({ reason: 'pending' }, pending);
    },
  });
  new Gauge({
    name: 'webmon_executors_alive',
    help: 'Executors seen in the last few seconds',
    registers: [registry],
    async collect() {
      this.set((await aliveInstances(redis, keys, 'executor')).length);
    },
  });
  new Gauge({
    name: 'webmon_snapshot_age_seconds',
    help: 'Seconds since Redis last wrote an RDB snapshot',
    registers: [registry],
    async collect() {
      const info = await persistenceInfo(redis);
      this.set(Math.max(0, Date.now() / 1000 - info.lastSave));
    },
  });
  new Gauge({
    name: 'webmon_snapshot_last_ok',
    help: '1 when the last RDB snapshot succeeded',
    registers: [registry],
    async collect() {
      this.set((await persistenceInfo(redis)).lastStatus === 'ok' ? 1 : 0);
    },
  });
}

// --- per-asset series (metrics.perAsset) --------------------------------------------------------

/** One asset as its per-asset series show it. */
export interface AssetSample {
  id: string;
  owner: string;
  url: string;
  /** The state the API shows: `maintenance` while a window covers the asset. */
  state: AssetState;
  /** Duration of the latest run of each of the asset's plugins that has run, ms. */
  durations: Array<[plugin: string, ms: number]>;
}

export interface AssetSeriesRead {
  /** In creation order (the order of ownerAssets): the same assets scrape after scrape. */
  assets: AssetSample[];
  /** Assets of the scope when the read started. */
  total: number;
  /** Why assets were left out: past `max` (cap), out of time (budget), or none (null). */
  truncated: 'cap' | 'budget' | null;
}

export interface AssetSeriesOptions {
  /** Most assets read. */
  max: number;
  /** Time allowed for the read; no further chunk starts after it. */
  budgetMs: number;
}

/** Assets read per pipelined round trip (bounds what one round trip asks of Redis). */
const ASSET_READ_CHUNK = 200;
const ASSET_FIELDS = ['id', 'owner', 'url', 'state', 'maintenance', 'plugins'] as const;

/**
 * Reads the per-asset series of an owner's assets (ALL_OWNERS: the fleet) from Redis, in chunks
 * paged by creation sequence (an asset created or deleted meanwhile shifts nothing), at most
 * `max` assets and no new chunk once `budgetMs` has passed. Nothing is kept between reads.
 */
export async function readAssetSeries(redis: Redis, keys: Keys, owner: string, opts: AssetSeriesOptions): Promise<AssetSeriesRead> {
  const deadline = performance.now() + opts.budgetMs;
  const indexes = keys.shardIds.map((n) => keys.shard(n).ownerAssets(owner));
  const [total] = await sumOverShards(redis, keys, (k) => [k.ownerAssets(owner)]);
  const assets: AssetSample[] = [];
  let seen = 0;
  // Shard after shard, each paged by creation sequence.
  for (const index of indexes) {
    for (let after = '-inf'; ; ) {
      const want = Math.min(ASSET_READ_CHUNK, opts.max - assets.length);
      if (want <= 0) return { assets, total: total!, truncated: total! > assets.length ? 'cap' : null };
      if (seen > 0 && performance.now() > deadline) return { assets, total: total!, truncated: total! > seen ? 'budget' : null };
      const page = await redis.zrangebyscore(index, after, '+inf', 'WITHSCORES', 'LIMIT', 0, want);
      const ids = page.filter((_, i) => i % 2 === 0);
      seen += ids.length;
      assets.push(...(await readAssetChunk(redis, keys, ids)));
      if (ids.length < want) break;
      after = `(${page[page.length - 1]}`;
    }
  }
  return { assets, total: total!, truncated: null };
}

/** The sums over every shard of the ZCARD of each key `of(shard)` names, in that order. */
export async function sumOverShards(redis: Redis, keys: Keys, of: (k: ShardKeys) => string[]): Promise<number[]> {
  const rows = await pipelineBy(redis, keys.shardIds, (n) => n, (pipe, n) => {
    for (const key of of(keys.shard(n))) pipe.zcard(key);
  });
  const sums: number[] = [];
  for (const replies of rows) {
    replies.forEach((v, i) => {
      sums[i] = (sums[i] ?? 0) + (Number(v) || 0);
    });
  }
  return sums.length ? sums : of(keys.shard(0)).map(() => 0);
}

async function readAssetChunk(redis: Redis, keys: Keys, ids: readonly string[]): Promise<AssetSample[]> {
  const rows = await pipelineBy(redis, ids, shardOfId, (pipe, id) => pipe.hmget(keys.asset(id), ...ASSET_FIELDS).hgetall(keys.assetLatest(id)));
  const out: AssetSample[] = [];
  for (const [fields, latest] of rows) {
    const sample = assetSample(fields as (string | null)[], latest as Record<string, string>);
    if (sample) out.push(sample);
  }
  return out;
}

/** The sample of one asset from its hash fields (ASSET_FIELDS) and latest results; null once deleted. */
function assetSample([id, owner, url, state, maintenance, plugins]: (string | null)[], latest: Record<string, string>): AssetSample | null {
  if (!id) return null;
  const durations: Array<[string, number]> = [];
  for (const plugin of (safeJson(plugins) as string[] | null) ?? []) {
    const ms = (safeJson(latest[plugin]) as { durationMs?: unknown } | null)?.durationMs;
    if (typeof ms === 'number' && Number.isFinite(ms)) durations.push([plugin, ms]);
  }
  const shown = maintenance ? 'maintenance' : ((state as AssetState | null) ?? 'unknown');
  return { id, owner: owner ?? '', url: url ?? '', state: shown, durations };
}

/** webmon_asset_up: 1 in these states, 0 in `down`, no sample in the others (see docs/metrics.md). */
const UP_STATES: ReadonlySet<AssetState> = new Set(['up', 'degraded']);

/**
 * Prometheus text of per-asset series. Label values are escaped as the exposition format asks
 * (backslash, double quote, line feed); `urlMax` bounds the `url` label (0: no such label).
 */
export function renderAssetSeries(read: AssetSeriesRead, opts: { urlMax: number }): string {
  const up: string[] = [];
  const states: string[] = [];
  const durations: string[] = [];
  for (const a of read.assets) {
    const labels = assetLabels(a, opts.urlMax);
    if (UP_STATES.has(a.state)) up.push(`webmon_asset_up{${labels}} 1`);
    else if (a.state === 'down') up.push(`webmon_asset_up{${labels}} 0`);
    for (const s of ASSET_STATES) states.push(`webmon_asset_state{${labels},state="${s}"} ${s === a.state ? 1 : 0}`);
    for (const [plugin, ms] of a.durations) durations.push(`webmon_asset_check_duration_seconds{${labels},plugin="${escapeLabel(plugin)}"} ${round(ms / 1000, 6)}`);
  }
  return [
    family('webmon_asset_up', '1 when the asset is up or degraded, 0 when it is down; no sample in other states', up),
    family('webmon_asset_state', 'The state of the asset: 1 for the state it is in, 0 for the others', states),
    family('webmon_asset_check_duration_seconds', 'Duration of the latest run of each plugin of the asset', durations),
    family('webmon_asset_series_truncated', '1 when assets were left out of the per-asset series (metrics.perAssetMax or metrics.perAssetBudgetMs)', [
      `webmon_asset_series_truncated ${read.truncated ? 1 : 0}`,
    ]),
  ].join('\n');
}

function family(name: string, help: string, samples: readonly string[]): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${samples.map((s) => `${s}\n`).join('')}`;
}

function assetLabels(a: AssetSample, urlMax: number): string {
  const base = `asset_id="${escapeLabel(a.id)}",owner="${escapeLabel(a.owner)}"`;
  return urlMax > 0 ? `${base},url="${escapeLabel(cut(a.url, urlMax))}"` : base;
}

/** At most `max` characters (code points): a longer text keeps `max - 1` and ends with …. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const points = [...text];
  return points.length <= max ? text : `${points.slice(0, max - 1).join('')}…`;
}

/** A label value as the Prometheus text format writes it. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
