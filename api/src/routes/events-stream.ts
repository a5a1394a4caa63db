/**
 * `GET /events/stream`: Server-Sent Events of the caller's state changes (the admin's: all).
 * `event: state`, `id: <events stream id>`, `data: {assetId, from, to, reason, at}`; a `: ping`
 * comment every 15 s; `Last-Event-ID` replays what came after that id (at most MAX_REPLAY
 * entries read). A `: ready` comment says the stream follows new changes from then on.
 */
import type { ServerResponse } from 'node:http';
import { WebmonError } from '@webmon/core';
import type { FastifyRequest } from 'fastify';
import { ownerScope } from '../access.js';
import { apiKeyOf, principalOf, signedIn } from '../auth.js';
import type { ApiContext, App } from '../context.js';
import { compareIds, type EventHub, type StateEvent } from '../events-hub.js';
import { response } from '../openapi.js';
import { iso } from '../present.js';
import { RecentChangesQuery, StateChangeList } from '../schemas/index.js';

const PING_MS = 15_000;
/** Open streams per principal in one api process (a page keeps one per tab). */
export const MAX_STREAMS_PER_PRINCIPAL = 10;
/** A reader this far behind (bytes not yet taken by the socket) is cut off. */
const MAX_BUFFERED_BYTES = 1 << 20;

/** Whether the request's key or session still holds (checked again at every ping). */
async function stillAuthorized(ctx: ApiContext, req: FastifyRequest): Promise<boolean> {
  try {
    if (apiKeyOf(req)) return (await principalOf(ctx, req)) !== undefined;
    await signedIn(ctx, req, { csrf: false });
    return true;
  } catch {
    return false;
  }
}
const EVENT_ID = /^\d{1,20}-\d{1,20}$/;

function frame(e: StateEvent): string {
  return `event: state\nid: ${e.id}\ndata: ${JSON.stringify({ assetId: e.assetId, from: e.from, to: e.to, reason: e.reason, at: e.at })}\n\n`;
}

export function eventStreamRoutes(ctx: ApiContext, hub: EventHub) {
  const open = new Set<ServerResponse>();
  const perPrincipal = new Map<string, number>();
  return async function routes(app: App) {
    // Streams never end by themselves: closing the server ends them.
    app.addHook('preClose', async () => {
      for (const res of open) res.end();
    });

    app.get(
      '/events',
      {
        schema: {
          tags: ['dashboard'],
          operationId: 'listRecentStateChanges',
          summary: 'The latest state changes of your assets, newest first (the dashboard\'s "recent changes" before live updates arrive)',
          querystring: RecentChangesQuery,
          response: { 200: response(StateChangeList, 'The latest state changes') },
        },
      },
      async (req) => {
        const { limit } = req.query as { limit: number };
        const events = await hub.recent(ownerScope(req.principal), limit);
        return { items: events.map((e) => ({ id: e.id, assetId: e.assetId, from: e.from, to: e.to, reason: e.reason, at: iso(e.at)! })) };
      },
    );

    app.get(
      '/events/stream',
      {
        // Not in the OpenAPI document (which cannot describe a stream that never ends): the
        // dashboard tag's description says what it sends.
        schema: { hide: true },
      },
      async (req, reply) => {
        const scope = ownerScope(req.principal);
        const who = req.principal.id;
        if ((perPrincipal.get(who) ?? 0) >= MAX_STREAMS_PER_PRINCIPAL) {
          throw new WebmonError('WEBMON_ERR_RATE_LIMITED', `at most ${MAX_STREAMS_PER_PRINCIPAL} open event streams per client and api process; close one first`, {
            limit: MAX_STREAMS_PER_PRINCIPAL,
            retryAfterSec: PING_MS / 1000,
          });
        }
        perPrincipal.set(who, (perPrincipal.get(who) ?? 0) + 1);
        let lastSent = '0-0';
        const pending: StateEvent[] = [];
        let replaying = true;
        const res = reply.raw;
        let ended = false;
        let unsubscribe = () => {};
        let ping: NodeJS.Timeout | undefined;
        const done = () => {
          if (ended) return;
          ended = true;
          clearInterval(ping);
          unsubscribe();
          open.delete(res);
          const left = (perPrincipal.get(who) ?? 1) - 1;
          if (left > 0) perPrincipal.set(who, left);
          else perPrincipal.delete(who);
        };
        // Attached before any wait: a client that hangs up meanwhile still releases everything.
        res.on('close', done);
        const write = (text: string) => {
          if (res.writableLength > MAX_BUFFERED_BYTES) return res.destroy(); // a reader that does not read
          res.write(text);
        };
        const send = (e: StateEvent) => {
          if (compareIds(e.id, lastSent) <= 0) return;
          lastSent = e.id;
          write(frame(e));
        };
        try {
          unsubscribe = await hub.subscribe(scope, (e) => (replaying ? pending.push(e) : send(e)));
        } catch (err) {
          done();
          throw err;
        }
        if (ended || res.destroyed) {
          done();
          return reply.hijack();
        }
        reply.hijack();
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
        open.add(res);
        // Every ping checks the key or session again: a revoked key or a signed-out session ends the stream.
        ping = setInterval(() => {
          void stillAuthorized(ctx, req).then((ok) => (ok ? write(': ping\n\n') : res.end()));
        }, PING_MS);
        res.write(': ready\n\n');
        const after = req.headers['last-event-id'];
        try {
          if (typeof after === 'string' && EVENT_ID.test(after.trim())) {
            lastSent = after.trim();
            for (const e of await hub.replay(scope, lastSent)) send(e);
          }
        } catch (err) {
          req.log.warn({ err: (err as Error).message }, 'replaying events after Last-Event-ID failed');
        }
        replaying = false;
        for (const e of pending.splice(0)) send(e);
      },
    );
  };
}
