/**
 * Delivery: leases due clients from `outbox:due` (notify_claim) and POSTs each client's outbox
 * in order, one request at a time per client, `concurrency` clients at once. Failures back off
 * exponentially and disable the client after `maxFailures` in a row (notify_fail).
 */
import { randomBytes } from 'node:crypto';
import type { OwnerEgress } from '@webmon/core';
import { sleepUntilDue, type NotifierContext } from './context.js';
import { postWebhook, refusedUrl, type AgentPool, type PostResult } from './post.js';
import { urlForLog } from './webhooks.js';

/** A leased client's webhook settings and the head of its outbox, read together. */
interface Head {
  url: string | null;
  secret: string | null;
  enabled: string | null;
  lease: string | null;
  entry: string | null;
}

export class Delivery {
  constructor(
    private readonly ctx: NotifierContext,
    private readonly owners: OwnerEgress,
    private readonly agents: AgentPool,
    /** Aborted after stop()'s grace: requests in flight end as `stopped`. */
    private readonly stopping: AbortSignal,
  ) {}

  /** Claims due clients while slots are free; resolves once stopped and every pass has ended. */
  async run(): Promise<void> {
    const { opts, log, deliveryWaker } = this.ctx;
    const active = new Set<Promise<void>>();
    while (this.ctx.running()) {
      try {
        const free = opts.concurrency - active.size;
        if (free <= 0 || (await this.claim(free, active)) === free) {
          await deliveryWaker.wait(opts.maxSleepMs);
          continue;
        }
        await sleepUntilDue(this.ctx, this.ctx.keys.outboxDue, deliveryWaker);
      } catch (err) {
        if (!this.ctx.running()) break;
        log.warn({ err: (err as Error).message }, 'notifier delivery loop failed; retrying');
        await deliveryWaker.wait(opts.maxSleepMs);
      }
    }
    await Promise.allSettled([...active]);
  }

  /** Leases up to `free` due clients and starts a delivery pass for each; how many were leased. */
  private async claim(free: number, active: Set<Promise<void>>): Promise<number> {
    const { opts, log, deliveryWaker } = this.ctx;
    const token = randomBytes(12).toString('base64url');
    const claimed = await this.ctx.outbox.claim(Date.now(), opts.leaseMs, free, token);
    for (const clientId of claimed) {
      const task: Promise<void> = this.deliverClient(clientId, token)
        .catch((err: Error) => log.warn({ err: err.message, clientId }, 'delivery pass failed; the lease expires and it is retried'))
        .finally(() => {
          active.delete(task);
          deliveryWaker.wake();
        });
      active.add(task);
    }
    return claimed.length;
  }

  /** Delivers one leased client's outbox head by head until empty, failed, lost or out of budget. */
  private async deliverClient(clientId: string, token: string): Promise<void> {
    const { outbox, opts } = this.ctx;
    for (let n = 0; n < opts.perLease; n++) {
      if (!this.ctx.running()) return void (await outbox.release(clientId, token, Date.now()));
      const head = await this.readHead(clientId);
      if (head.lease !== token) return;
      if (head.enabled !== '1' || head.entry === null) return void (await outbox.release(clientId, token, Date.now()));
      const more = await this.deliverHead(clientId, token, head as Head & { entry: string });
      if (!more) return;
    }
    await outbox.release(clientId, token, Date.now());
  }

  private async readHead(clientId: string): Promise<Head> {
    const { redis, keys } = this.ctx;
    const res = await redis.multi().hmget(keys.webhook(clientId), 'url', 'secret', 'enabled', 'lease').lindex(keys.outbox(clientId), 0).exec();
    if (!res) throw new Error('transaction aborted');
    const [[e1, hook], [e2, entry]] = res as [[Error | null, (string | null)[]], [Error | null, string | null]];
    if (e1 || e2) throw e1 ?? e2;
    const [url, secret, enabled, lease] = hook;
    return { url: url ?? null, secret: secret ?? null, enabled: enabled ?? null, lease: lease ?? null, entry };
  }

  /** Sends the outbox head and records the result; whether the pass goes on with the next one. */
  private async deliverHead(clientId: string, token: string, head: Head & { entry: string }): Promise<boolean> {
    const { outbox, opts, stats, log } = this.ctx;
    const deliveryId = deliveryIdOf(head.entry);
    const started = Date.now();
    const result = await this.attempt(clientId, head, deliveryId);
    if (!result.ok && result.stopped) {
      await outbox.release(clientId, token, Date.now());
      return false;
    }
    if (!result.ok) {
      await this.failed(clientId, token, head.url, deliveryId, result);
      return false;
    }
    const left = await outbox.ack(clientId, token, head.entry, Date.now(), opts.leaseMs);
    stats.delivered++;
    log.debug({ clientId, deliveryId, status: result.status, durationMs: Date.now() - started }, 'notification delivered');
    return left > 0;
  }

  private async attempt(clientId: string, head: Head & { entry: string }, deliveryId: string): Promise<PostResult> {
    const { guard } = await this.owners.forOwner(clientId);
    const { url, secret } = head;
    const refused = url && secret ? refusedUrl(guard, url) : 'webhook has no url or secret';
    if (refused !== null) return { ok: false, error: refused, retryAfterMs: 0, stopped: false };
    const { opts } = this.ctx;
    return postWebhook(this.agents.for(guard), { url: url!, secret: secret!, body: head.entry, deliveryId, userAgent: opts.userAgent, timeoutMs: opts.timeoutMs, stopping: this.stopping });
  }

  /** Records a failed attempt (backoff, or disabling after maxFailures) and logs it. */
  private async failed(clientId: string, token: string, url: string | null, deliveryId: string, result: PostResult & { ok: false }): Promise<void> {
    const { outbox, opts, stats, log } = this.ctx;
    const verdict = await outbox.fail(clientId, token, {
      error: result.error,
      now: Date.now(),
      backoffBaseMs: opts.backoffBaseMs,
      backoffMaxMs: opts.backoffMaxMs,
      maxFailures: opts.maxFailures,
      retryAfterMs: result.retryAfterMs,
    });
    stats.failed++;
    const where = url ? urlForLog(url) : null;
    if (verdict.code === 2) {
      stats.disabled++;
      log.warn(
        { event: 'webhook_disabled', clientId, url: where, failures: verdict.failures, lastError: result.error },
        `webhook notifications disabled after ${verdict.failures} consecutive failed deliveries`,
      );
    } else if (verdict.code === 1) {
      log.info({ clientId, deliveryId, url: where, failures: verdict.failures, retryInMs: verdict.delayMs, err: result.error }, 'notification delivery failed; will retry');
    }
  }
}

/** The delivery id of an outbox entry ('' for an entry not written by us: it is delivered anyway). */
function deliveryIdOf(entry: string): string {
  try {
    return String((JSON.parse(entry) as { id?: unknown }).id ?? '');
  } catch {
    return '';
  }
}
