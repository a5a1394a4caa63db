/**
 * One signed webhook POST through its owner's egress guard. The name is resolved once by the
 * guard's lookup and every address judged before connecting; a refusal is a failed delivery
 * recorded as `denied: …`. Connections are pooled per guard.
 */
import { Agent, buildConnector, request } from 'undici';
import { egressDenial, EgressDeniedError, retryAfterMs, type EgressGuard } from '@webmon/core';
import { DELIVERY_HEADER, SIGNATURE_HEADER, signPayload, standardWebhookHeaders } from './signature.js';
import { webhookHost } from './webhooks.js';

/** Delivery pools kept (one per distinct guard); beyond it the least recently used is closed. */
const MAX_AGENTS = 32;

export type PostResult = { ok: true; status: number } | { ok: false; error: string; retryAfterMs: number; stopped: boolean };

/** The pooled dispatchers, one per guard key, least recently used first. */
export class AgentPool {
  private readonly agents = new Map<string, Agent>();

  constructor(private readonly timeoutMs: number) {}

  /** The pooled dispatcher whose every connection goes through `guard`. */
  for(guard: EgressGuard): Agent {
    let agent = this.agents.get(guard.key);
    if (agent) this.agents.delete(guard.key);
    else agent = this.create(guard);
    this.agents.set(guard.key, agent);
    while (this.agents.size > MAX_AGENTS) {
      const [oldest, pool] = this.agents.entries().next().value as [string, Agent];
      this.agents.delete(oldest);
      pool.close().catch(() => undefined);
    }
    return agent;
  }

  close(): Promise<unknown> {
    return Promise.allSettled([...this.agents.values()].map((a) => a.close()));
  }

  private create(guard: EgressGuard): Agent {
    const base = buildConnector({ timeout: this.timeoutMs, lookup: guard.lookup });
    return new Agent({
      // IP literals never reach the lookup: they are judged here, before connecting.
      connect: (o, callback) => {
        const refused = guard.judgeHost(o.hostname);
        if (refused) return void process.nextTick(callback, new EgressDeniedError(refused), null);
        base(o, callback);
      },
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      keepAliveTimeout: 10_000,
    });
  }
}

export interface PostRequest {
  url: string;
  secret: string;
  body: string;
  deliveryId: string;
  userAgent: string;
  timeoutMs: number;
  /** Aborted when the notifier stops: the result is then `stopped`. */
  stopping: AbortSignal;
}

/**
 * POSTs `body` signed with `secret` (x-webmon-signature and the Standard Webhooks headers, stamped
 * with the time of this attempt); a failure is a result, never an exception.
 */
export async function postWebhook(agent: Agent, r: PostRequest): Promise<PostResult> {
  const signal = AbortSignal.any([r.stopping, AbortSignal.timeout(r.timeoutMs)]);
  try {
    const res = await request(r.url, {
      method: 'POST',
      dispatcher: agent,
      signal,
      body: r.body,
      headers: {
        'content-type': 'application/json',
        'user-agent': r.userAgent,
        [DELIVERY_HEADER]: r.deliveryId,
        [SIGNATURE_HEADER]: signPayload(r.secret, r.body),
        ...standardWebhookHeaders(r.secret, r.deliveryId, r.body),
      },
    });
    await res.body.dump({ limit: 65_536 }).catch(() => undefined);
    if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, status: res.statusCode };
    const wait = res.statusCode === 429 || res.statusCode === 503 ? (retryAfterMs(res.headers['retry-after']) ?? 0) : 0;
    return { ok: false, error: `HTTP ${res.statusCode}`, retryAfterMs: wait, stopped: false };
  } catch (err) {
    return { ok: false, error: errorText(err), retryAfterMs: 0, stopped: r.stopping.aborted };
  }
}

/**
 * Why the owner's guard refuses this URL by its host name or IP literal, or null (a name's
 * addresses are judged when the delivery connects: no resolution here).
 */
export function refusedUrl(guard: EgressGuard, url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'invalid webhook url';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'webhook url must be http or https';
  const why = guard.judgeHost(webhookHost(u));
  return why ? `denied: ${why}` : null;
}

/** A failed request as the short text stored in the webhook's lastError (no secrets). */
function errorText(err: unknown): string {
  const refused = egressDenial(err);
  if (refused) return `denied: ${refused.message}`.slice(0, 300);
  const e = err as { code?: string; name?: string; message?: string };
  if (e?.name === 'TimeoutError' || e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT' || e?.code === 'UND_ERR_CONNECT_TIMEOUT') return 'timeout';
  const text = [e?.code, e?.message].filter(Boolean).join(': ') || String(err);
  return text.slice(0, 200);
}

/** Retry-After as ms (seconds or an HTTP date), 0 when absent or unusable. */
