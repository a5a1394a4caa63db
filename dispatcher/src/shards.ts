/**
 * Which shards this dispatcher serves. Each shard's schedule and sweep is served by the one
 * dispatcher holding its lease (shard_lease.lua); the dispatchers alive divide the shards
 * between them: each holds at most its fair share (shards / dispatchers alive, rounded up),
 * gives back what is over it and takes free ones up to it. A dispatcher that stops releases its
 * leases; one that dies loses them when they expire, and the others take them over. With one
 * dispatcher it holds every shard. Leases divide the work; they do not guard it: scheduling and
 * sweeping are atomic per call (schedule_claim, jobs_sweep), so two dispatchers serving one
 * shard for a moment split its due work instead of doubling it.
 */
import { aliveInstances, scripts, type Keys, type Logger, type Redis } from '@webmon/core';

export interface ShardLeaseOptions {
  /** How often leases are renewed and the share re-balanced. */
  renewMs: number;
  /** Lease length: a dead dispatcher's shards are free again after it. */
  leaseMs: number;
}

export const DEFAULT_SHARD_LEASES: ShardLeaseOptions = { renewMs: 1000, leaseMs: 5000 };

export class ShardLeases {
  private readonly held = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  private balancing: Promise<void> | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly id: string,
    private readonly log: Logger,
    private readonly opts: ShardLeaseOptions = DEFAULT_SHARD_LEASES,
  ) {}

  /** The shards this dispatcher serves now, ascending. */
  shards(): number[] {
    return [...this.held].sort((a, b) => a - b);
  }

  /** Takes a first share, then keeps balancing every renewMs. */
  async start(): Promise<void> {
    await this.balance();
    this.timer = setInterval(() => void this.balance(), this.opts.renewMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.balancing;
    await Promise.all([...this.held].map((n) => this.lease('release', n)));
    this.held.clear();
  }

  /** Renews what is held, gives back what is over the fair share, takes free shards up to it. */
  balance(): Promise<void> {
    this.balancing ??= this.balanceOnce()
      .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'shard leases: balancing failed'))
      .finally(() => {
        this.balancing = null;
      });
    return this.balancing;
  }

  private async balanceOnce(): Promise<void> {
    const alive = new Set(await aliveInstances(this.redis, this.keys, 'dispatcher'));
    alive.add(this.id);
    const fair = Math.ceil(this.keys.layout.shards / alive.size);
    for (const n of this.shards()) if (!(await this.lease('renew', n))) this.held.delete(n);
    for (const n of this.shards().slice(fair)) {
      await this.lease('release', n);
      this.held.delete(n);
    }
    for (const n of this.keys.shardIds) {
      if (this.held.size >= fair) break;
      if (!this.held.has(n) && (await this.lease('take', n))) this.held.add(n);
    }
  }

  private async lease(op: 'take' | 'renew' | 'release', shard: number): Promise<boolean> {
    const res = await scripts(this.redis).run<number>('shard_lease', [this.keys.shardLease(shard)], [op, this.id, this.opts.leaseMs]);
    return res === 1;
  }
}
