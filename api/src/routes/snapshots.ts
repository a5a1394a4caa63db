/**
 * Snapshots (admin): Redis's last RDB save, and a snapshot now. Asked of the dispatcher over its
 * control channel (`SNAPSHOT NOW` on zmq.control, with the zmq.curve keys), as `webmon snapshot`
 * does; when no dispatcher accepts the connection there, this api has Redis save itself (the
 * same coalesced snapshot as snapshots.afterWrites), so that the button works in every setup.
 */
import { SNAPSHOT_NOW_WAIT_MS, WebmonError, curveClientOptions, persistenceInfo, type Config, type SnapshotCoalescer } from '@webmon/core';
import { requireAdmin } from '../access.js';
import type { ApiContext, App } from '../context.js';
import { error, response } from '../openapi.js';
import { iso } from '../present.js';
import { SnapshotStatus } from '../schemas/index.js';

/** How long a connection to the control channel may take before the dispatcher counts as absent. */
const CONNECT_TIMEOUT_MS = 1000;

/** The request was not taken by any dispatcher (nothing accepted the connection in time). */
class NotSent extends Error {}

/**
 * One request on the dispatcher's control channel and its reply. Throws NotSent when no
 * dispatcher took the request (messages go only to completed connections), and
 * WEBMON_ERR_DISPATCHER_UNAVAILABLE when it took it but did not answer in `timeoutMs`.
 */
export async function askDispatcher(config: Readonly<Config>, command: string, timeoutMs: number): Promise<string> {
  const { Request } = await import('zeromq');
  const sock = new Request({ immediate: true, receiveTimeout: timeoutMs, sendTimeout: CONNECT_TIMEOUT_MS, linger: 0, ...curveClientOptions(config) });
  sock.connect(config.zmq.control);
  try {
    try {
      await sock.send(command);
    } catch (err) {
      throw new NotSent((err as Error).message);
    }
    try {
      const [reply] = await sock.receive();
      return reply?.toString() ?? '';
    } catch (err) {
      throw new WebmonError('WEBMON_ERR_DISPATCHER_UNAVAILABLE', `no answer from the dispatcher at ${config.zmq.control}: ${(err as Error).message}`);
    }
  } finally {
    sock.close();
  }
}

async function snapshotStatus(ctx: ApiContext) {
  const p = await persistenceInfo(ctx.redis);
  return { lastSaveAt: p.lastSave > 0 ? iso(p.lastSave * 1000) : null, lastOk: p.lastStatus === 'ok', inProgress: p.inProgress };
}

export function snapshotRoutes(ctx: ApiContext, local: SnapshotCoalescer, timeoutMs = SNAPSHOT_NOW_WAIT_MS) {
  /** Who made the snapshot; throws WEBMON_ERR_SNAPSHOT_FAILED when it failed. */
  async function snapshotNow(): Promise<'dispatcher' | 'api'> {
    let reply: string;
    try {
      reply = await askDispatcher(ctx.config, 'SNAPSHOT NOW', timeoutMs);
    } catch (err) {
      if (!(err instanceof NotSent)) throw err;
      await local.request().catch((e: Error) => {
        throw new WebmonError('WEBMON_ERR_SNAPSHOT_FAILED', `no dispatcher at ${ctx.config.zmq.control}, and the snapshot from the api failed: ${e.message}`);
      });
      return 'api';
    }
    if (!reply.startsWith('OK')) throw new WebmonError('WEBMON_ERR_SNAPSHOT_FAILED', `the dispatcher answered: ${reply.slice(0, 300)}`);
    return 'dispatcher';
  }

  return async function routes(app: App) {
    app.get(
      '/snapshots',
      {
        schema: {
          tags: ['health'],
          operationId: 'getSnapshotStatus',
          summary: 'Redis snapshots (admin): when the last RDB save was made, whether it succeeded, whether one is running',
          response: { 200: response(SnapshotStatus, 'The last snapshot') },
        },
      },
      async (req) => {
        requireAdmin(req.principal);
        return snapshotStatus(ctx);
      },
    );

    app.post(
      '/snapshots',
      {
        schema: {
          tags: ['health'],
          operationId: 'snapshotNow',
          summary: 'Snapshot now (admin): SNAPSHOT NOW on the dispatcher control channel (this api saves when none is there); answers once written',
          response: {
            200: response(SnapshotStatus, 'The snapshot is written'),
            503: error(503, 'The dispatcher took the request but did not answer (WEBMON_ERR_DISPATCHER_UNAVAILABLE), or the snapshot failed (WEBMON_ERR_SNAPSHOT_FAILED)'),
          },
        },
      },
      async (req) => {
        requireAdmin(req.principal);
        const via = await snapshotNow();
        req.log.info({ via }, 'snapshot written (asked through the api)');
        return { ...(await snapshotStatus(ctx)), via };
      },
    );
  };
}
