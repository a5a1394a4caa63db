/**
 * The notifier: three bounded loops over Redis, safe to run in several processes at once.
 *
 * 1. Fan-out reads the `events` stream as consumer `<consumer>` of the group `notifier`
 *    (XREADGROUP … BLOCK on a connection of its own, so stop() can close it). Each state
 *    change becomes at most one delivery in its owner's outbox, queued and acknowledged in one
 *    script (notify_fanout), so re-processing never queues twice. Entries left pending by a
 *    consumer that died are taken over with XAUTOCLAIM after `claimIdleMs`.
 * 2. Delivery leases due clients from `outbox:due` (notify_claim) and POSTs each client's
 *    outbox in order, one request at a time per client, `concurrency` clients at once;
 *    failures back off exponentially and disable the client after `maxFailures` in a row.
 * 3. Reminders re-notify, every `remindEverySec` of the client, about assets that stay down.
 *
 * Where the group starts: it is created at `$` (with MKSTREAM) the first time any notifier
 * starts, so the state changes recorded before notifications existed are not replayed as a
 * flood of stale webhooks. From then on the group's position lives in Redis: events recorded
 * while no notifier runs are delivered when one starts again (unless the stream's MAXLEN cap
 * trimmed them away first).
 *
 * Egress: a webhook URL is user input, so each delivery connects through its owner's egress guard
 * (a client's: public addresses plus the ranges allowed to it; the admin's: config `policy`).
 * The name is resolved once by the guard's lookup and every address judged before connecting;
 * a refusal is a failed delivery recorded as `denied: …` in the webhook's lastError.
 *
 * Guarantees: at-least-once delivery (a notifier that dies after the receiver's 2xx but
 * before recording it re-sends; the delivery id is the same, receivers de-duplicate on it);
 * per-client FIFO; per asset, never an older state change after a newer one.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Agent, buildConnector, request } from 'undici';
import {
  AssetStore,
  ConfigError,
  egressDenial,
  EgressDeniedError,
  MaintenanceStore,
  coveringWindow,
  instanceId,
  scripts as coreScripts,
  type AssetRecord,
  type EgressGuard,
  type Keys,
  type Logger,
  type OwnerEgress,
} from '@webmon/core';
import { iso, type NotificationPayload } from './payload.js';
import { notifierScripts, type NotifierScripts } from './scripts.js';
import { DELIVERY_HEADER, SIGNATURE_HEADER, signPayload } from './signature.js';
import { defaultOwnerEgress, urlForLog, webhookHost } from './webhooks.js';

export interface NotifierOptions {
  /** Stream entries read per XREADGROUP. */
  batch: number;
  /** XREADGROUP BLOCK, ms (stop() does not wait for it: it closes the connection). */
  blockMs: number;
  /** A pending entry idle this long belongs to a dead consumer and is taken over, ms. */
  claimIdleMs: number;
  /** How often to look for such entries, ms. */
  claimIntervalMs: number;
  /** Consumers of the group with nothing pending and idle this long are removed, ms. */
  consumerIdleMs: number;
  /** Clients delivered to in parallel (one request at a time per client). */
  concurrency: number;
  /** Whole-request timeout of one delivery, ms. */
  timeoutMs: number;
  /** Delivery lease per client, ms; must exceed timeoutMs. */
  leaseMs: number;
  /** Deliveries per client per lease before others get a turn. */
  perLease: number;
  /** Retry after a failure: backoffBaseMs · 2^(failures-1), at most backoffMaxMs. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Consecutive failed deliveries that disable a client's notifications. */
  maxFailures: number;
  /** Longest sleep of the delivery and reminder loops between looks at Redis, ms. */
  maxSleepMs: number;
  /** Pending deliveries kept per client; the oldest beyond it are dropped (and counted). */
  maxOutbox: number;
  /** How long maintenance windows may be served from memory, ms. */
  maintenanceCacheMs: number;
  /** On stop, how long requests in flight may finish before they are aborted, ms. */
  stopGraceMs: number;
  /** Reminders fired per pass. */
  reminderBatch: number;
  userAgent: string;
}

export const DEFAULT_NOTIFIER_OPTIONS: Readonly<NotifierOptions> = Object.freeze({
  batch: 100,
  blockMs: 5000,
  claimIdleMs: 60_000,
  claimIntervalMs: 15_000,
  consumerIdleMs: 3_600_000,
  concurrency: 8,
  timeoutMs: 10_000,
  leaseMs: 30_000,
  perLease: 100,
  backoffBaseMs: 1000,
  backoffMaxMs: 600_000,
  maxFailures: 20,
  maxSleepMs: 1000,
  maxOutbox: 10_000,
  maintenanceCacheMs: 5000,
  stopGraceMs: 1000,
  reminderBatch: 100,
  userAgent: 'webmon-notifier/0.1',
});

export interface StartNotifierParams {
  /** A connection for ordinary commands (the blocking read gets a duplicate of it). */
  redis: Redis;
  keys: Keys;
  log: Logger;
  /** Consumer name in the group, unique per running instance (default instanceId('notifier')). */
  consumer?: string;
  options?: Partial<NotifierOptions>;
  /**
   * Guards of webhook owners, applied on the address each delivery connects to (webhook URLs
   * are user input: unguarded, a client could make webmon POST to internal addresses). A denied
   * delivery counts as a failed one. Default: no operator policy, clients limited to public
   * addresses plus the ranges in their client hash.
   */
  egress?: OwnerEgress;
}

/** Delivery pools kept (one per distinct guard); beyond it the least recently used is closed. */
const MAX_AGENTS = 32;

export interface NotifierStats {
  /** Stream entries handled (including skipped ones). */
  events: number;
  queued: number;
  skipped: { maintenance: number; noWebhook: number; stale: number; duplicate: number; gone: number; malformed: number };
  /** Entries taken over from dead consumers. */
  reclaimed: number;
  delivered: number;
  failed: number;
  disabled: number;
  reminders: number;
}

export interface RunningNotifier {
  readonly consumer: string;
  stats(): NotifierStats;
  /**
   * Stops the loops promptly: closes the blocking connection at once, lets requests in flight
   * finish for up to stopGraceMs, then aborts them (their leases are released, the deliveries
   * stay queued and go out again later).
   */
  stop(): Promise<void>;
}

export function notifierOptions(partial: Partial<NotifierOptions> = {}): Readonly<NotifierOptions> {
  const o = { ...DEFAULT_NOTIFIER_OPTIONS, ...partial };
  for (const [k, v] of Object.entries(o)) {
    if (k === 'userAgent') continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ConfigError(`notifier.${k} must be a non-negative number`);
  }
  for (const k of ['batch', 'concurrency', 'perLease', 'maxFailures', 'maxOutbox', 'reminderBatch', 'maxSleepMs', 'timeoutMs'] as const) {
    if (o[k] < 1) throw new ConfigError(`notifier.${k} must be at least 1`);
  }
  if (o.leaseMs <= o.timeoutMs) throw new ConfigError('notifier.leaseMs must exceed notifier.timeoutMs');
  return Object.freeze(o);
}

/** One waiter, woken early by wake(); a wake with no waiter makes the next wait return at once. */
class Waker {
  private pending = false;
  private resolve: (() => void) | null = null;
  private timer: NodeJS.Timeout | undefined;

  wake(): void {
    const r = this.resolve;
    if (!r) {
      this.pending = true;
      return;
    }
    this.resolve = null;
    clearTimeout(this.timer);
    r();
  }

  wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((res) => {
      this.resolve = res;
      this.timer = setTimeout(() => {
        this.resolve = null;
        res();
      }, Math.max(0, ms));
    });
  }
}

export type StreamEntry = [id: string, fields: string[] | null];

function fieldsOf(fields: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]!] = fields[i + 1]!;
  return out;
}

/**
 * The entries of a one-stream XREAD/XREADGROUP reply, whatever its shape: RESP2
 * `[[key, entries]]`, RESP3 with ioredis' legacy mapping `[key, entries]` (a map, flattened), or
 * RESP3 with `replyMapping: 'resp3'` `{key: entries}`; null when nothing came.
 */
export function streamEntries(reply: unknown): StreamEntry[] {
  if (!reply) return [];
  if (Array.isArray(reply)) {
    if (typeof reply[0] === 'string' || Buffer.isBuffer(reply[0])) return (reply[1] as StreamEntry[] | undefined) ?? [];
    return ((reply[0] as unknown[] | undefined)?.[1] as StreamEntry[] | undefined) ?? [];
  }
  if (typeof reply === 'object') return (Object.values(reply)[0] as StreamEntry[] | undefined) ?? [];
  return [];
}


function errorText(err: unknown): string {
  const refused = egressDenial(err);
  if (refused) return `denied: ${refused.message}`.slice(0, 300);
  const e = err as { code?: string; name?: string; message?: string };
  if (e?.name === 'TimeoutError' || e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT' || e?.code === 'UND_ERR_CONNECT_TIMEOUT') return 'timeout';
  const text = [e?.code, e?.message].filter(Boolean).join(': ') || String(err);
  return text.slice(0, 200);
}

/** Retry-After as ms (seconds or an HTTP date), 0 when absent or unusable. */
function retryAfterMs(value: string | string[] | undefined, now: number): number {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return 0;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - now) : 0;
}

type PostResult = { ok: true; status: number } | { ok: false; error: string; retryAfterMs: number; stopped: boolean };

export async function startNotifier(params: StartNotifierParams): Promise<RunningNotifier> {
  const { redis, keys } = params;
  const opts = notifierOptions(params.options);
  const consumer = params.consumer ?? instanceId('notifier');
  const log = params.log.child({ component: 'notifier', consumer });
  const group = keys.notifierGroup;
  const run: NotifierScripts['run'] = notifierScripts(redis).run;
  const assets = new AssetStore(redis, keys, coreScripts(redis));
  const maintenance = new MaintenanceStore(redis, keys, opts.maintenanceCacheMs);
  const webhookPrefix = keys.webhook('');
  const stats: NotifierStats = {
    events: 0,
    queued: 0,
    skipped: { maintenance: 0, noWebhook: 0, stale: 0, duplicate: 0, gone: 0, malformed: 0 },
    reclaimed: 0,
    delivered: 0,
    failed: 0,
    disabled: 0,
    reminders: 0,
  };
  let running = true;
  const stopping = new AbortController();
  const deliveryWaker = new Waker();
  const reminderWaker = new Waker();
  const owners = params.egress ?? defaultOwnerEgress(redis, keys);
  const agents = new Map<string, Agent>();
  const closeAgents = () => Promise.allSettled([...agents.values()].map((a) => a.close()));

  /** The pooled dispatcher whose every connection goes through `guard` (one per guard key). */
  const agentFor = (guard: EgressGuard): Agent => {
    let agent = agents.get(guard.key);
    if (agent) agents.delete(guard.key);
    else {
      const base = buildConnector({ timeout: opts.timeoutMs, lookup: guard.lookup });
      agent = new Agent({
        // IP literals never reach the lookup: they are judged here, before connecting.
        connect: (o, callback) => {
          const refused = guard.judgeHost(o.hostname);
          if (refused) return void process.nextTick(callback, new EgressDeniedError(refused), null);
          base(o, callback);
        },
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
        keepAliveTimeout: 10_000,
      });
    }
    agents.set(guard.key, agent);
    while (agents.size > MAX_AGENTS) {
      const [oldest, pool] = agents.entries().next().value as [string, Agent];
      agents.delete(oldest);
      pool.close().catch(() => undefined);
    }
    return agent;
  };

  // The blocking read gets a connection of its own: stop() closes it to end a BLOCK at once.
  const reader = redis.duplicate();
  reader.on('error', (err: Error) => log.debug({ err: err.message }, 'notifier reader connection error'));

  const ensureGroup = async () => {
    try {
      await redis.xgroup('CREATE', keys.events, group, '$', 'MKSTREAM');
      log.info({ stream: keys.events, group }, 'created the notifier consumer group at the end of the stream');
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
  };
  try {
    if (reader.status === 'wait') await reader.connect();
    await ensureGroup();
  } catch (err) {
    reader.disconnect();
    throw err;
  }

  // --- fan-out -------------------------------------------------------------------------------

  const windowsNow = () => maintenance.all(Date.now());

  const processEntry = async (id: string, raw: readonly string[] | null): Promise<void> => {
    stats.events++;
    const f = raw ? fieldsOf(raw) : {};
    const assetId = f.asset;
    const owner = f.owner;
    if (!assetId || !owner || f.to === undefined) {
      // Not a state change we understand (or an entry trimmed away): acknowledge and move on.
      await redis.xack(keys.events, group, id);
      stats.skipped.malformed++;
      return;
    }
    const at = Number(f.at);
    let deliver = '0';
    let payload = '';
    if ((await redis.hget(keys.webhook(owner), 'enabled')) === '1') {
      const asset = await assets.get(assetId);
      if (asset) {
        const window = coveringWindow(await windowsNow(), asset, Number.isFinite(at) ? at : Date.now());
        deliver = window ? '0' : '1';
        const body: NotificationPayload = {
          id,
          type: 'state_change',
          asset: { id: asset.id, url: asset.url, tags: asset.tags },
          from: f.from ?? '',
          to: f.to,
          reason: f.reason ?? '',
          at: iso(Number.isFinite(at) ? at : Date.now()),
          client: owner,
        };
        payload = JSON.stringify(body);
      }
    }
    const [queued, why] = await run<[number, string]>(
      'notify_fanout',
      [keys.events, keys.asset(assetId), keys.webhook(owner), keys.outbox(owner), keys.outboxDue, keys.reminders],
      [group, id, deliver, payload, Date.now(), owner, `${owner}|${assetId}`, f.to, opts.maxOutbox],
    );
    if (queued === 1) {
      stats.queued++;
      deliveryWaker.wake();
      log.debug({ clientId: owner, assetId, deliveryId: id, from: f.from, to: f.to }, 'notification queued');
    } else if (why === 'maintenance') stats.skipped.maintenance++;
    else if (why === 'no_webhook') stats.skipped.noWebhook++;
    else if (why === 'stale') stats.skipped.stale++;
    else if (why === 'duplicate') stats.skipped.duplicate++;
    else if (why === 'gone') stats.skipped.gone++;
    if (f.to === 'down') reminderWaker.wake();
  };

  const processAll = async (entries: readonly StreamEntry[]) => {
    // In order: per-client outboxes keep the stream's order.
    for (const [id, fields] of entries) {
      if (!running) return;
      try {
        await processEntry(id, fields);
      } catch (err) {
        // Left pending: this consumer's next start, or XAUTOCLAIM by any consumer, retries it.
        log.warn({ err: (err as Error).message, entryId: id }, 'could not handle an event; it stays pending');
      }
    }
  };

  const readGroup = async (id: string, block: number | null): Promise<StreamEntry[]> => {
    const args: (string | number)[] = ['GROUP', group, consumer, 'COUNT', opts.batch];
    if (block !== null) args.push('BLOCK', block);
    args.push('STREAMS', keys.events, id);
    return streamEntries(await reader.call('XREADGROUP', ...args));
  };

  let lastConsumerSweep = 0;
  const reclaim = async () => {
    let cursor = '0-0';
    for (let round = 0; round < 10 && running; round++) {
      const res = (await redis.call('XAUTOCLAIM', keys.events, group, consumer, opts.claimIdleMs, cursor, 'COUNT', opts.batch)) as [string, StreamEntry[], string[]?];
      const entries = res[1] ?? [];
      stats.reclaimed += entries.length;
      if (entries.length) log.info({ entries: entries.length }, 'took over events left pending by another consumer');
      await processAll(entries);
      cursor = res[0];
      if (cursor === '0-0') break;
    }
    if (Date.now() - lastConsumerSweep >= opts.consumerIdleMs / 4) {
      lastConsumerSweep = Date.now();
      const consumers = (await redis.call('XINFO', 'CONSUMERS', keys.events, group)) as unknown[][];
      for (const c of consumers) {
        const info = fieldsOf(c.map(String));
        if (info.name && info.name !== consumer && Number(info.pending) === 0 && Number(info.idle) > opts.consumerIdleMs) {
          await redis.xgroup('DELCONSUMER', keys.events, group, info.name);
        }
      }
    }
  };

  const fanoutLoop = (async () => {
    // First what this consumer name left pending in an earlier life, then new entries.
    let cursor: string | null = '0';
    let lastReclaim = 0;
    while (running) {
      try {
        if (cursor !== null) {
          const own = await readGroup(cursor, null);
          if (own.length === 0) cursor = null;
          else {
            await processAll(own);
            cursor = own[own.length - 1]![0];
          }
          continue;
        }
        const sinceReclaim = Date.now() - lastReclaim;
        if (sinceReclaim >= opts.claimIntervalMs) {
          lastReclaim = Date.now();
          await reclaim();
          continue;
        }
        const block = Math.max(1, Math.min(opts.blockMs, opts.claimIntervalMs - sinceReclaim));
        await processAll(await readGroup('>', block));
      } catch (err) {
        if (!running) break;
        const message = (err as Error).message;
        if (/NOGROUP/.test(message)) {
          await ensureGroup().catch(() => undefined);
          continue;
        }
        log.warn({ err: message }, 'notifier fan-out failed; retrying');
        await new Promise((r) => setTimeout(r, opts.maxSleepMs));
      }
    }
  })();

  // --- delivery ------------------------------------------------------------------------------

  const post = async (guard: EgressGuard, url: string, secret: string, body: string, deliveryId: string): Promise<PostResult> => {
    const signal = AbortSignal.any([stopping.signal, AbortSignal.timeout(opts.timeoutMs)]);
    try {
      const res = await request(url, {
        method: 'POST',
        dispatcher: agentFor(guard),
        signal,
        body,
        headers: {
          'content-type': 'application/json',
          'user-agent': opts.userAgent,
          [DELIVERY_HEADER]: deliveryId,
          [SIGNATURE_HEADER]: signPayload(secret, body),
        },
      });
      await res.body.dump({ limit: 65_536 }).catch(() => undefined);
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, status: res.statusCode };
      const wait = res.statusCode === 429 || res.statusCode === 503 ? retryAfterMs(res.headers['retry-after'], Date.now()) : 0;
      return { ok: false, error: `HTTP ${res.statusCode}`, retryAfterMs: wait, stopped: false };
    } catch (err) {
      return { ok: false, error: errorText(err), retryAfterMs: 0, stopped: stopping.signal.aborted };
    }
  };

  /**
   * Why the owner's guard refuses this URL by its host name or IP literal, or null (a name's
   * addresses are judged when the delivery connects: no resolution here).
   */
  const refusedUrl = (guard: EgressGuard, url: string): string | null => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return 'invalid webhook url';
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'webhook url must be http or https';
    const why = guard.judgeHost(webhookHost(u));
    return why ? `denied: ${why}` : null;
  };

  const release = (clientId: string, token: string, dueAt: number) =>
    run<number>('notify_release', [keys.webhook(clientId), keys.outbox(clientId), keys.outboxDue], [clientId, token, dueAt]);

  /** Delivers one leased client's outbox head by head until empty, failed, lost or out of budget. */
  const deliverClient = async (clientId: string, token: string): Promise<void> => {
    for (let n = 0; n < opts.perLease; n++) {
      if (!running) {
        await release(clientId, token, Date.now());
        return;
      }
      const res = await redis.multi().hmget(keys.webhook(clientId), 'url', 'secret', 'enabled', 'lease').lindex(keys.outbox(clientId), 0).exec();
      if (!res) throw new Error('transaction aborted');
      const [[e1, hook], [e2, head]] = res as [[Error | null, (string | null)[]], [Error | null, string | null]];
      if (e1 || e2) throw e1 ?? e2;
      const [url, secret, enabled, lease] = hook;
      if (lease !== token) return;
      if (enabled !== '1' || head === null) {
        await release(clientId, token, Date.now());
        return;
      }
      let deliveryId = '';
      try {
        deliveryId = String((JSON.parse(head) as { id?: unknown }).id ?? '');
      } catch {
        // Never written by us; deliver it anyway, the receiver will reject or ignore it.
      }
      const started = Date.now();
      const { guard } = await owners.forOwner(clientId);
      const refused = url && secret ? refusedUrl(guard, url) : 'webhook has no url or secret';
      const result: PostResult = refused ? { ok: false, error: refused, retryAfterMs: 0, stopped: false } : await post(guard, url!, secret!, head, deliveryId);
      if (!result.ok && result.stopped) {
        await release(clientId, token, Date.now());
        return;
      }
      if (result.ok) {
        const left = await run<number>('notify_ack', [keys.webhook(clientId), keys.outbox(clientId), keys.outboxDue], [clientId, token, head, Date.now(), opts.leaseMs]);
        stats.delivered++;
        log.debug({ clientId, deliveryId, status: result.status, durationMs: Date.now() - started }, 'notification delivered');
        if (left <= 0) return;
        continue;
      }
      const [code, failures, delay] = await run<[number, number?, number?]>(
        'notify_fail',
        [keys.webhook(clientId), keys.outboxDue],
        [clientId, token, Date.now(), result.error, opts.backoffBaseMs, opts.backoffMaxMs, opts.maxFailures, result.retryAfterMs],
      );
      stats.failed++;
      const where = url ? urlForLog(url) : null;
      if (code === 2) {
        stats.disabled++;
        log.warn(
          { event: 'webhook_disabled', clientId, url: where, failures, lastError: result.error },
          `webhook notifications disabled after ${failures} consecutive failed deliveries`,
        );
      } else if (code === 1) {
        log.info({ clientId, deliveryId, url: where, failures, retryInMs: delay, err: result.error }, 'notification delivery failed; will retry');
      }
      return;
    }
    await release(clientId, token, Date.now());
  };

  const deliveryLoop = (async () => {
    const active = new Set<Promise<void>>();
    while (running) {
      try {
        const free = opts.concurrency - active.size;
        if (free > 0) {
          const token = randomBytes(12).toString('base64url');
          const claimed = await run<string[]>('notify_claim', [keys.outboxDue], [Date.now(), opts.leaseMs, free, token, webhookPrefix]);
          for (const clientId of claimed) {
            const task: Promise<void> = deliverClient(clientId, token)
              .catch((err: Error) => log.warn({ err: err.message, clientId }, 'delivery pass failed; the lease expires and it is retried'))
              .finally(() => {
                active.delete(task);
                deliveryWaker.wake();
              });
            active.add(task);
          }
          if (claimed.length === free) {
            await deliveryWaker.wait(opts.maxSleepMs);
            continue;
          }
        } else {
          await deliveryWaker.wait(opts.maxSleepMs);
          continue;
        }
        const next = await redis.zrange(keys.outboxDue, '0', '0', 'WITHSCORES');
        const wait = next.length ? Number(next[1]) - Date.now() : opts.maxSleepMs;
        await deliveryWaker.wait(Math.min(Math.max(wait, 1), opts.maxSleepMs));
      } catch (err) {
        if (!running) break;
        log.warn({ err: (err as Error).message }, 'notifier delivery loop failed; retrying');
        await deliveryWaker.wait(opts.maxSleepMs);
      }
    }
    await Promise.allSettled([...active]);
  })();

  // --- reminders -----------------------------------------------------------------------------

  const fireReminder = async (member: string, score: string, windows: Awaited<ReturnType<typeof windowsNow>>) => {
    const bar = member.indexOf('|');
    const clientId = member.slice(0, bar);
    const assetId = member.slice(bar + 1);
    const now = Date.now();
    const asset: AssetRecord | null = await assets.get(assetId);
    let deliver = '0';
    let payload = '';
    if (asset && asset.state === 'down') {
      deliver = coveringWindow(windows, asset, now) ? '0' : '1';
      const body: NotificationPayload = {
        id: `reminder:${assetId}:${score}`,
        type: 'reminder',
        asset: { id: asset.id, url: asset.url, tags: asset.tags },
        from: 'down',
        to: 'down',
        reason: asset.stateReason ?? '',
        at: iso(now),
        client: clientId,
      };
      if (asset.stateChangedAt !== null) body.since = iso(asset.stateChangedAt);
      payload = JSON.stringify(body);
    }
    const [queued] = await run<[number, string]>(
      'notify_remind',
      [keys.reminders, keys.asset(assetId), keys.webhook(clientId), keys.outbox(clientId), keys.outboxDue],
      [member, score, now, deliver, payload, clientId, opts.maxOutbox],
    );
    if (queued === 1) {
      stats.reminders++;
      deliveryWaker.wake();
    }
  };

  const reminderLoop = (async () => {
    while (running) {
      try {
        const due = await redis.zrangebyscore(keys.reminders, '-inf', Date.now(), 'WITHSCORES', 'LIMIT', 0, opts.reminderBatch);
        if (due.length) {
          const windows = await windowsNow();
          for (let i = 0; i + 1 < due.length && running; i += 2) await fireReminder(due[i]!, due[i + 1]!, windows);
          if (due.length / 2 >= opts.reminderBatch) continue;
        }
        const next = await redis.zrange(keys.reminders, '0', '0', 'WITHSCORES');
        const wait = next.length ? Number(next[1]) - Date.now() : opts.maxSleepMs;
        await reminderWaker.wait(Math.min(Math.max(wait, 1), opts.maxSleepMs));
      } catch (err) {
        if (!running) break;
        log.warn({ err: (err as Error).message }, 'notifier reminder pass failed; retrying');
        await reminderWaker.wait(opts.maxSleepMs);
      }
    }
  })();

  log.info({ concurrency: opts.concurrency }, 'notifier started');

  return {
    consumer,
    stats: () => ({ ...stats, skipped: { ...stats.skipped } }),
    async stop() {
      if (!running) return;
      running = false;
      deliveryWaker.wake();
      reminderWaker.wake();
      reader.disconnect();
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([deliveryLoop, new Promise((r) => (grace = setTimeout(r, opts.stopGraceMs)))]);
      clearTimeout(grace);
      stopping.abort();
      await Promise.allSettled([fanoutLoop, deliveryLoop, reminderLoop]);
      await closeAgents();
      log.info({ delivered: stats.delivered, failed: stats.failed }, 'notifier stopped');
    },
  };
}
