/**
 * Per-asset series on GET /metrics (metrics.perAsset): whose assets a request sees, and one
 * warning a minute at most, per api process, while assets are left out. The series are read
 * from Redis for each scrape (readAssetSeries): nothing per asset stays in this process.
 */
import { ADMIN_CLIENT_ID, ALL_OWNERS, readAssetSeries, renderAssetSeries, type Principal } from '@webmon/core';
import type { FastifyBaseLogger } from 'fastify';
import { ownerScope } from './access.js';
import type { ApiContext } from './context.js';

const TRUNCATION_WARNING_EVERY_MS = 60_000;

export class PerAssetMetrics {
  private warnedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly ctx: Pick<ApiContext, 'config' | 'redis' | 'keys'>) {}

  /**
   * The owner whose assets a request sees (ALL_OWNERS: every one), or null for none. A key sees
   * what it owns (the admin key: the fleet); a request without a key, what
   * metrics.perAssetPublic allows.
   */
  scope(who: Principal | undefined): string | null {
    if (who) return ownerScope(who);
    const open = this.ctx.config.metrics.perAssetPublic;
    if (open === 'all') return ALL_OWNERS;
    return open === 'admin' ? ADMIN_CLIENT_ID : null;
  }

  /** The per-asset series of `owner`'s assets, as Prometheus text. */
  async render(owner: string, log: Pick<FastifyBaseLogger, 'warn'>, now = Date.now()): Promise<string> {
    const m = this.ctx.config.metrics;
    const read = await readAssetSeries(this.ctx.redis, this.ctx.keys, owner, { max: m.perAssetMax, budgetMs: m.perAssetBudgetMs });
    if (read.truncated && now - this.warnedAt >= TRUNCATION_WARNING_EVERY_MS) {
      this.warnedAt = now;
      const limit = read.truncated === 'cap' ? `metrics.perAssetMax ${m.perAssetMax}` : `metrics.perAssetBudgetMs ${m.perAssetBudgetMs}`;
      log.warn({ exported: read.assets.length, total: read.total, owner, limit }, 'per-asset metrics left assets out');
    }
    return renderAssetSeries(read, { urlMax: m.perAssetUrlMax });
  }
}
