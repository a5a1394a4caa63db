/**
 * State changes for live pages: one blocking XREAD loop per api process and shard on the shard's
 * `events` stream (on a connection of its own, closed to end a BLOCK), fanned out in memory to
 * subscribers, each filtered to one owner (or every owner for the admin). Started by the first
 * subscriber. Entry ids are those of the shards' streams (`<ms>-<seq>`): across shards they
 * order by time, so a replay after an id reads every shard's entries after it.
 */
import { ALL_OWNERS, sleep, type Keys, type Logger, type Redis } from '@webmon/core';
import { fieldsOf, streamEntries, type StreamEntry } from '@webmon/notifier';

export interface StateEvent {
  /** The entry id in the events stream (`<ms>-<seq>`). */
  id: string;
  owner: string;
  assetId: string;
  from: string;
  to: string;
  reason: string;
  at: number;
}

type Listener = (e: StateEvent) => void;

const BLOCK_MS = 5000;
const BATCH = 500;
/** Most entries replayed for a Last-Event-ID. */
export const MAX_REPLAY = 1000;

/** Orders two stream ids. */
export function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

function toEvent([id, raw]: StreamEntry): StateEvent | null {
  const f = raw ? fieldsOf(raw) : {};
  if (!f.asset || !f.owner || f.to === undefined) return null;
  return { id, owner: f.owner, assetId: f.asset, from: f.from ?? '', to: f.to, reason: f.reason ?? '', at: Number(f.at) || 0 };
}

export class EventHub {
  private readonly listeners = new Set<{ scope: string; fn: Listener }>();
  private readers: Redis[] = [];
  private started: Promise<void> | null = null;
  private loops: Promise<void>[] = [];
  private running = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly log: Logger,
  ) {}

  /**
   * Calls `fn` with every state change of `scope`'s assets (ALL_OWNERS: all) from the moment
   * the returned promise settles; the function it resolves to unsubscribes.
   */
  async subscribe(scope: string, fn: Listener): Promise<() => void> {
    const entry = { scope, fn };
    this.listeners.add(entry);
    try {
      await this.start();
    } catch (err) {
      this.listeners.delete(entry);
      throw err;
    }
    return () => this.listeners.delete(entry);
  }

  /** Entries of `scope` after `afterId` (exclusive), oldest first, at most MAX_REPLAY read. */
  async replay(scope: string, afterId: string): Promise<StateEvent[]> {
    const rows = (await this.eachShard((events) => this.redis.xrange(events, `(${afterId}`, '+', 'COUNT', MAX_REPLAY))).sort(([a], [b]) => compareIds(a, b));
    return rows
      .slice(0, MAX_REPLAY)
      .map(toEvent).filter((e): e is StateEvent => e !== null && (scope === ALL_OWNERS || e.owner === scope));
  }

  /** The latest `limit` entries of `scope`, newest first, from at most MAX_REPLAY entries read. */
  async recent(scope: string, limit: number): Promise<StateEvent[]> {
    const rows = (await this.eachShard((events) => this.redis.xrevrange(events, '+', '-', 'COUNT', MAX_REPLAY))).sort(([a], [b]) => compareIds(b, a));
    const out: StateEvent[] = [];
    for (const row of rows) {
      const e = toEvent(row);
      if (e && (scope === ALL_OWNERS || e.owner === scope)) out.push(e);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** The rows `read` returns for every shard's events stream, concatenated. */
  private async eachShard(read: (events: string) => Promise<unknown>): Promise<StreamEntry[]> {
    const all = await Promise.all(this.keys.shardIds.map((n) => read(this.keys.shard(n).events) as Promise<StreamEntry[]>));
    return all.flat();
  }

  async close(): Promise<void> {
    this.running = false;
    this.listeners.clear();
    for (const reader of this.readers) reader.disconnect();
    await Promise.all(this.loops);
  }

  private start(): Promise<void> {
    this.started ??= (async () => {
      const lasts = await Promise.all(this.keys.shardIds.map((n) => this.redis.xrevrange(this.keys.shard(n).events, '+', '-', 'COUNT', 1) as Promise<StreamEntry[]>));
      this.readers = lasts.map(() => {
        const reader = this.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, connectionName: 'webmon-api-events' });
        reader.on('error', () => undefined); // reported by the loop
        return reader;
      });
      this.running = true;
      this.loops = lasts.map((last, n) => this.run(this.readers[n]!, this.keys.shard(n).events, last[0]?.[0] ?? '0-0'));
    })().catch((err: unknown) => {
      this.started = null;
      throw err;
    });
    return this.started;
  }

  private async run(reader: Redis, events: string, from: string): Promise<void> {
    let lastId = from;
    while (this.running) {
      try {
        const entries = streamEntries(await reader.call('XREAD', 'COUNT', BATCH, 'BLOCK', BLOCK_MS, 'STREAMS', events, lastId));
        for (const entry of entries) {
          lastId = entry[0];
          const e = toEvent(entry);
          if (e) this.publish(e);
        }
      } catch (err) {
        if (!this.running) break;
        this.log.warn({ err: (err as Error).message }, 'reading the events stream for live pages failed; retrying');
        await sleep(1000);
      }
    }
  }

  private publish(e: StateEvent): void {
    for (const l of this.listeners) {
      if (l.scope !== ALL_OWNERS && l.scope !== e.owner) continue;
      try {
        l.fn(e);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'a live page listener failed');
      }
    }
  }
}
