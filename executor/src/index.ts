/**
 * The executor role: pulls job ids from the dispatcher, claims each job in Redis with a lease,
 * runs every plugin of the asset (concurrently, each with its own deadline), and records the
 * results and completes the job in one script. At most `executor.concurrency` checks run at
 * once; ids are only received when a slot is free, so the backlog stays with the dispatcher
 * where priorities apply.
 *
 * Trust: each check runs with the egress guard of its asset's owner (the admin's: config
 * `policy` only; a client's: public addresses plus the ranges allowed to it), judged by the
 * plugins on the address they connect to. A refused address makes the asset `unsupported` with
 * the refusal as its reason, never a retried error.
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { Pull } from 'zeromq';
import {
  ClientStore,
  JobStore,
  OwnerEgress,
  jobPolicy,
  ProtocolError,
  createKeys,
  CONTENT_TYPE,
  curveClientOptions,
  effectiveLimits,
  processMetrics,
  decode,
  instanceId,
  isStoreUnavailable,
  openRedis,
  pluginStorage,
  scripts,
  startHeartbeat,
  type AssetRecord,
  type CheckOutcome,
  type CheckResult,
  type Config,
  type EgressGuard,
  type Keys,
  type Logger,
  type Redis,
} from '@webmon/core';
import { closeRegexPool, createSharedCache, runPlugin, type PluginRegistry } from '@webmon/plugin-sdk';
import { registry as installed } from '@webmon/plugin-registry';
import { startMetricsServer } from './metrics-server.js';

export interface ExecutorStats {
  received: number;
  claimed: number;
  completed: number;
  skipped: number;
  /** Given back to run later because their host had no free slot soon enough. */
  deferred: number;
  inFlight: number;
}

export interface RunningExecutor {
  stats(): ExecutorStats;
  /** Stops taking work, lets running checks finish (up to `graceMs`), then closes. */
  stop(graceMs?: number): Promise<void>;
}

export interface ExecutorOptions {
  registry?: PluginRegistry;
}

const SEVERITY: Record<CheckResult['status'], number> = { ok: 0, warn: 1, error: 2 };

/**
 * The worst result decides the outcome; no plugin at all means unsupported, and so does a
 * connection the egress guard refused (the refusal is the reason shown).
 */
export function outcomeOf(results: readonly CheckResult[]): { outcome: CheckOutcome; reason: string | null } {
  if (results.length === 0) return { outcome: 'unsupported', reason: 'unsupported' };
  const denied = results.find((r) => r.reason === 'denied');
  if (denied) return { outcome: 'unsupported', reason: `denied: ${denied.message}` };
  let worst = results[0]!;
  for (const r of results) if (SEVERITY[r.status] > SEVERITY[worst.status]) worst = r;
  return { outcome: worst.status, reason: worst.reason };
}

/** Runs every plugin of an asset and returns their results (never throws for a failed check). */
export async function checkAsset(
  asset: AssetRecord,
  deps: { registry: PluginRegistry; redis: Redis; keys: Keys; log: Logger; defaultTimeoutMs: number; egress: EgressGuard; signal?: AbortSignal },
): Promise<CheckResult[]> {
  const target = { url: new URL(asset.url), assetId: asset.id, owner: asset.owner };
  const shared = createSharedCache();
  // Registration order, whatever the asset lists: plugins that provide shared data (the http
  // page) start before the plugins that reuse it, so results do not depend on list order.
  const order = deps.registry.names();
  const names = [...asset.plugins].sort((a, b) => rank(order, a) - rank(order, b));
  return Promise.all(
    names.map((name) => {
      const plugin = deps.registry.get(name);
      if (!plugin) {
        return Promise.resolve<CheckResult>({
          plugin: name,
          status: 'error',
          reason: 'plugin_error',
          message: `plugin "${name}" is not installed on this executor`,
          durationMs: 0,
          metrics: {},
        });
      }
      const config = asset.config[name] ?? {};
      const timeoutMs = typeof config.timeoutMs === 'number' ? config.timeoutMs : deps.defaultTimeoutMs;
      // The child logger is made only if the plugin logs (most checks never do).
      let log: Logger | undefined;
      const ctx = {
        get log() {
          return (log ??= deps.log.child({ assetId: asset.id, plugin: name }));
        },
        storage: pluginStorage(deps.redis, deps.keys, asset.id, name),
        shared,
        egress: deps.egress,
        assetConfig: asset.config,
      };
      return runPlugin(plugin, target, config, ctx, timeoutMs, deps.signal);
    }),
  );
}

/** The option of each plugin that bounds how many bytes it reads (or parses) from the target. */
const BYTE_CAPS: Readonly<Record<string, string>> = { http: 'maxBodyBytes', ftp: 'maxBytes', tcp: 'maxBytes', htmlstats: 'maxParseBytes' };

/**
 * The asset as a client's check runs it: every plugin reads at most `maxBytes` (the client's
 * effective `maxBodyBytes`), whatever was stored. The stored asset is not changed.
 */
export function withBodyCap(asset: AssetRecord, maxBytes: number): AssetRecord {
  let config = asset.config;
  for (const [plugin, option] of Object.entries(BYTE_CAPS)) {
    const options = config[plugin];
    if (!options) continue;
    const stored = typeof options[option] === 'number' ? (options[option] as number) : Infinity;
    if (stored <= maxBytes) continue;
    config = { ...config, [plugin]: { ...options, [option]: maxBytes } };
  }
  return config === asset.config ? asset : { ...asset, config };
}

/** Spacing between check starts for a host: its own entry, else the smallest of its tags', else the default. */
export function hostSpacing(p: Readonly<Config['politeness']>, host: string, tags: readonly string[]): number {
  if (Object.hasOwn(p.hosts, host)) return p.hosts[host]!;
  let best: number | undefined;
  for (const t of tags) if (Object.hasOwn(p.tags, t)) best = Math.min(best ?? Infinity, p.tags[t]!);
  return best ?? p.hostIntervalMs;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function rank(order: readonly string[], name: string): number {
  const i = order.indexOf(name);
  return i < 0 ? order.length : i;
}

export async function startExecutor(config: Readonly<Config>, log: Logger, redisUrl: string, opts: ExecutorOptions = {}): Promise<RunningExecutor> {
  const registry = opts.registry ?? installed;
  const redis = await openRedis({ url: redisUrl, name: 'webmon-executor', autoPipelining: true, log });
  const keys = createKeys(config.redis.keyPrefix);
  const jobs = new JobStore(redis, keys, scripts(redis), jobPolicy(config));
  // Settings are cached per owner for a few seconds: an admin's change applies within them.
  const owners = new OwnerEgress(config, new ClientStore(redis, keys, undefined));
  const metrics = processMetrics();
  metrics.jobsInFlight.set(0);
  // Lease tokens: unique per claim, unguessable across executors, cheap to make.
  const tokenPrefix = `${randomBytes(9).toString('base64url')}.`;
  let tokenSeq = 0;
  const concurrency = config.executor.concurrency;
  const leaseMs = config.executor.leaseMs;
  const stats: ExecutorStats = { received: 0, claimed: 0, completed: 0, skipped: 0, deferred: 0, inFlight: 0 };
  const stopping = new AbortController();
  // Every check in flight listens for shutdown: once per plugin run (at most 32 per asset) and
  // while it waits for a host slot. That bound, not Node's default of 10, is the leak threshold.
  setMaxListeners(Math.max(10, concurrency * 33), stopping.signal);
  let closing = false;

  const pull = new Pull({ receiveHighWaterMark: Math.max(1, Math.ceil(concurrency / 2)), linger: 0, ...curveClientOptions(config) });
  pull.connect(config.zmq.backend);

  // Slots: the receive loop waits for one before taking the next message.
  let free = concurrency;
  let slotWaiter: (() => void) | null = null;
  let idleWaiter: (() => void) | null = null;
  const release = () => {
    free++;
    stats.inFlight--;
    metrics.jobsInFlight.dec();
    const w = slotWaiter;
    slotWaiter = null;
    w?.();
    if (stats.inFlight === 0) idleWaiter?.();
  };

  /** Runs `op` again, with backoff, while Redis is away (the job stays claimed meanwhile). */
  async function whileStoreAway<T>(op: () => Promise<T>): Promise<T> {
    let delay = 100;
    for (;;) {
      try {
        return await op();
      } catch (err) {
        if (!isStoreUnavailable(err) || stopping.signal.aborted) throw err;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 2000);
      }
    }
  }

  async function completeWithRetry(args: Parameters<JobStore['complete']>[0]): Promise<void> {
    // Redis is away: hold the result and retry until it is back.
    const res = await whileStoreAway(() => jobs.complete(args));
    if (!res.recorded) log.info({ jobId: args.jobId, why: res.why }, 'result not recorded');
    else stats.completed++;
  }

  async function runJob(jobId: string): Promise<void> {
    const token = `${tokenPrefix}${(tokenSeq++).toString(36)}`;
    const claim = await jobs.claim(jobId, token, leaseMs);
    if (!claim.claimed) {
      stats.skipped++;
      log.debug({ jobId, why: claim.why }, 'job not claimed');
      return;
    }
    stats.claimed++;
    try {
      await checkClaimed(jobId, token, claim.asset);
    } catch (err) {
      if (stopping.signal.aborted) return;
      // A fault of the system, not a failed check: retry with backoff, then keep it as failed.
      const verdict = await jobs.fail(jobId, token, (err as Error).message).catch(() => 'unrecorded');
      log.error({ jobId, assetId: claim.asset.id, err, verdict }, 'job failed');
    }
  }

  async function checkClaimed(jobId: string, token: string, claimed: AssetRecord): Promise<void> {
    const { guard, settings } = await whileStoreAway(() => owners.forOwner(claimed.owner));
    const asset = guard.trusted ? claimed : withBodyCap(claimed, effectiveLimits(config, settings).maxBodyBytes);
    // Names and literals only: addresses are judged by the plugins' connections (no resolution here).
    const refused = asset.host ? guard.judgeHost(asset.host) : null;
    const denied = asset.plugins.length === 0 ? `no plugin handles ${asset.scheme}: URLs` : refused ? `denied: ${refused}` : null;
    if (denied) {
      // Unsupported is a verdict, not a failure: recorded once, never retried as an error.
      await completeWithRetry({ jobId, token, outcome: 'unsupported', reason: denied, results: [], durationMs: 0, owner: asset.owner, assetId: asset.id });
      return;
    }
    // Politeness: one start per host per spacing, across every executor (a slot in Redis).
    const spacing = hostSpacing(config.politeness, asset.host, asset.tags);
    if (spacing > 0 && asset.host) {
      const wait = await jobs.hostSlot(asset.host, asset.owner, spacing, config.politeness.maxWaitMs);
      if (wait < 0) {
        await jobs.defer(jobId, token, Date.now() - wait);
        stats.deferred++;
        return;
      }
      if (wait > 0) await sleep(wait, stopping.signal);
    }
    // Keep the lease alive while long checks run.
    const extender = setInterval(() => {
      jobs.extend(jobId, token, leaseMs).catch((err: Error) => log.warn({ jobId, err: err.message }, 'lease extension failed'));
    }, Math.floor(leaseMs / 2));
    extender.unref();
    const started = performance.now();
    let results: CheckResult[];
    try {
      results = await checkAsset(asset, { registry, redis, keys, log, defaultTimeoutMs: config.checks.timeoutMs, egress: guard, signal: stopping.signal });
    } finally {
      clearInterval(extender);
    }
    if (stopping.signal.aborted) return; // cut short by shutdown: the lease expires and the job runs again
    const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
    for (const r of results) {
      metrics.checks.inc({ plugin: r.plugin, status: r.status, reason: r.reason ?? '' });
      metrics.checkDuration.observe({ plugin: r.plugin }, r.durationMs / 1000);
    }
    const { outcome, reason } = outcomeOf(results);
    await completeWithRetry({ jobId, token, outcome, reason, results, durationMs, owner: asset.owner, assetId: asset.id });
    // A host that asked us to wait (Retry-After on 429/503) gets no check before then.
    const retryAfter = Math.max(0, ...results.map((r) => r.metrics.retryAfterSec ?? 0));
    if (retryAfter > 0 && asset.host) {
      const until = Date.now() + Math.min(retryAfter, config.politeness.maxRetryAfterSec) * 1000;
      await jobs.hostBackoff(asset.host, until).catch((err: Error) => log.warn({ err: err.message, host: asset.host }, 'could not record Retry-After'));
    }
    log.debug({ jobId, assetId: asset.id, outcome, durationMs }, 'check done');
  }

  const receiveLoop = (async () => {
    try {
      while (!closing) {
        while (free <= 0) await new Promise<void>((r) => (slotWaiter = r));
        const frames = await pull.receive();
        let ids: string[];
        try {
          ids = decode(frames).ids;
        } catch (err) {
          if (err instanceof ProtocolError) {
            log.warn({ err: err.message }, 'dropped malformed message');
            continue;
          }
          throw err;
        }
        stats.received += ids.length;
        for (const id of ids) {
          free--;
          stats.inFlight++;
          metrics.jobsInFlight.inc();
          runJob(id)
            .catch((err: Error) => log.error({ jobId: id, err }, 'job failed; it will be retried, then kept in the failed set'))
            .finally(release);
        }
      }
    } catch (err) {
      if (!closing) log.error({ err }, 'executor receive loop failed');
    }
  })();

  const id = instanceId('executor');
  // What the dispatcher's scheduler sizes its queue bound from (dispatcher/src/scheduler.ts).
  const heartbeat = startHeartbeat(redis, keys, 'executor', id, log, () => ({ concurrency, received: stats.received, completed: stats.completed }));
  // Its own Prometheus endpoint, for executors on other hosts (in `webmon up` the api's
  // /metrics shows the same registry).
  const metricsServer =
    config.executor.metricsPort > 0
      ? startMetricsServer(config.executor.metricsHost, config.executor.metricsPort, { metrics: () => metrics.registry.metrics(), contentType: CONTENT_TYPE }, log)
      : null;
  log.info({ backend: config.zmq.backend, concurrency }, 'executor ready');

  return {
    stats: () => ({ ...stats }),
    async stop(graceMs = 10_000) {
      closing = true;
      pull.close();
      // The port is freed first, so an executor started while this one drains can take it.
      await metricsServer?.close();
      await receiveLoop.catch(() => undefined);
      if (stats.inFlight > 0) {
        const idle = new Promise<void>((r) => (idleWaiter = r));
        const timer = setTimeout(() => stopping.abort(), graceMs);
        await idle;
        clearTimeout(timer);
      }
      stopping.abort();
      await registry.close();
      await closeRegexPool();
      await heartbeat.stop();
      redis.disconnect();
    },
  };
}
