/**
 * `GET /events/stream`: Server-Sent Events of the caller's state changes (the admin's: all).
 * `event: state`, `id: <events stream id>`, `data: {assetId, from, to, reason, at}`; a `: ping`
 * comment every 15 s; `Last-Event-ID` replays what came after that id (at most MAX_REPLAY
 * entries read). A `: ready` comment says the stream follows new changes from then on.
 */
import type { ServerResponse } from 'node:http';
import { ownerScope } from '../access.js';
import type { App } from '../context.js';
import { compareIds, type EventHub, type StateEvent } from '../events-hub.js';
import { response } from '../openapi.js';
import { iso } from '../present.js';
import { RecentChangesQuery, StateChangeList } from '../schemas/index.js';

const PING_MS = 15_000;
const EVENT_ID = /^\d{1,20}-\d{1,20}$/;

function frame(e: StateEvent): string {
  return `event: state\nid: ${e.id}\ndata: ${JSON.stringify({ assetId: e.assetId, from: e.from, to: e.to, reason: e.reason, at: e.at })}\n\n`;
}

export function eventStreamRoutes(hub: EventHub) {
  const open = new Set<ServerResponse>();
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
        let lastSent = '0-0';
        const pending: StateEvent[] = [];
        let replaying = true;
        const res = reply.raw;
        const send = (e: StateEvent) => {
          if (compareIds(e.id, lastSent) <= 0) return;
          lastSent = e.id;
          res.write(frame(e));
        };
        const unsubscribe = await hub.subscribe(scope, (e) => (replaying ? pending.push(e) : send(e)));
        reply.hijack();
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
        open.add(res);
        const ping = setInterval(() => res.write(': ping\n\n'), PING_MS);
        const done = () => {
          clearInterval(ping);
          unsubscribe();
          open.delete(res);
        };
        res.on('close', done);
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
