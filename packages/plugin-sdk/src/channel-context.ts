/**
 * The context a channel sends through: HTTP(S) requests bound to the owner's egress guard (every
 * connection's host judged before connecting, names resolved by the guard's lookup, so the
 * address judged is the address used), a time budget and a 64 KiB cap on what is read back.
 * Dispatchers are pooled per guard; the notifier keeps one ChannelAgents for its lifetime.
 */
import type { Readable } from 'node:stream';
import { Agent, buildConnector, request } from 'undici';
import { EgressDeniedError, type EgressGuard, type Logger } from '@webmon/core';
import type { ChannelContext, ChannelRequest, ChannelResponse } from './channel.js';
import { readBody } from './fetch/fetch.js';

/** Pools kept (one per distinct guard); beyond it the least recently used is closed. */
const MAX_AGENTS = 32;
/** What is read of a service's answer (enough for its error message). */
const MAX_RESPONSE_BYTES = 65_536;

/** Pooled undici dispatchers, one per egress guard, least recently used first. */
export class ChannelAgents {
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
    const all = [...this.agents.values()];
    this.agents.clear();
    return Promise.allSettled(all.map((a) => a.close()));
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

export interface ChannelContextOptions {
  agents: ChannelAgents;
  egress: EgressGuard;
  timeoutMs: number;
  log: Logger;
  userAgent: string;
  /** Aborted when the notifier stops. */
  stopping?: AbortSignal;
}

/** A ChannelContext for one delivery. */
export function createChannelContext(o: ChannelContextOptions): ChannelContext {
  const signal = o.stopping ? AbortSignal.any([o.stopping, AbortSignal.timeout(o.timeoutMs)]) : AbortSignal.timeout(o.timeoutMs);
  const dispatcher = o.agents.for(o.egress);
  return {
    signal,
    timeoutMs: o.timeoutMs,
    log: o.log,
    egress: o.egress,
    userAgent: o.userAgent,
    request: (url, init) => channelRequest(dispatcher, url, init ?? {}, o.userAgent, signal),
  };
}

async function channelRequest(dispatcher: Agent, url: string, init: ChannelRequest, userAgent: string, signal: AbortSignal): Promise<ChannelResponse> {
  const headers: Record<string, string> = { 'user-agent': userAgent, ...init.headers };
  let body: string | undefined;
  if (typeof init.body === 'string') body = init.body;
  else if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await request(url, { method: init.method ?? 'POST', dispatcher, signal, headers, body });
  return { status: res.statusCode, headers: res.headers, body: await readCapped(res.body) };
}

/** The answer's first MAX_RESPONSE_BYTES as text (the rest is never read: see readBody). */
async function readCapped(stream: Readable): Promise<string> {
  const { chunks } = await readBody(stream, MAX_RESPONSE_BYTES, true);
  return Buffer.concat(chunks).toString('utf8');
}
