/**
 * Snapshots (admin): Redis's last RDB save, and `SNAPSHOT NOW` asked of the dispatcher over its
 * control channel (zmq.control, with the zmq.curve keys), as `webmon snapshot` does.
 */
import { WebmonError, curveClientOptions, persistenceInfo, type Config } from '@webmon/core';
import { requireAdmin } from '../access.js';
import type { ApiContext, App } from '../context.js';
import { error, response } from '../openapi.js';
import { iso } from '../present.js';
import { SnapshotStatus } from '../schemas/index.js';

/** How long a snapshot may take, as `webmon snapshot` waits. */
const SNAPSHOT_TIMEOUT_MS = 130_000;
const PING_TIMEOUT_MS = 3000;

/** One request on the dispatcher's control channel; its reply, or WEBMON_ERR_DISPATCHER_UNAVAILABLE. */
export async function askDispatcher(config: Readonly<Config>, command: string, timeoutMs: number): Promise<string> {
  const { Request } = await import('zeromq');
  const sock = new Request({ receiveTimeout: timeoutMs, sendTimeout: 5000, linger: 0, ...curveClientOptions(config) });
  sock.connect(config.zmq.control);
  try {
    await sock.send(command);
    const [reply] = await sock.receive();
    return reply?.toString() ?? '';
  } catch (err) {
    throw new WebmonError('WEBMON_ERR_DISPATCHER_UNAVAILABLE', `no answer from the dispatcher at ${config.zmq.control}: ${(err as Error).message}`);
  } finally {
    sock.close();
  }
}

async function snapshotStatus(ctx: ApiContext) {
  const p = await persistenceInfo(ctx.redis);
  return { lastSaveAt: p.lastSave > 0 ? iso(p.lastSave * 1000) : null, lastOk: p.lastStatus === 'ok', inProgress: p.inProgress };
}

export function snapshotRoutes(ctx: ApiContext, timeoutMs = SNAPSHOT_TIMEOUT_MS) {
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
          summary: 'Snapshot now (admin): SNAPSHOT NOW on the dispatcher control channel; answers once the snapshot is written',
          response: {
            200: response(SnapshotStatus, 'The snapshot is written'),
            503: error(503, 'The dispatcher did not answer (WEBMON_ERR_DISPATCHER_UNAVAILABLE) or the snapshot failed (WEBMON_ERR_SNAPSHOT_FAILED)'),
          },
        },
      },
      async (req) => {
        requireAdmin(req.principal);
        // A quick PING first: without a dispatcher, answer in seconds rather than after the snapshot timeout.
        await askDispatcher(ctx.config, 'PING', PING_TIMEOUT_MS);
        const reply = await askDispatcher(ctx.config, 'SNAPSHOT NOW', timeoutMs);
        if (!reply.startsWith('OK')) throw new WebmonError('WEBMON_ERR_SNAPSHOT_FAILED', `the dispatcher answered: ${reply.slice(0, 300)}`);
        req.log.info({ reply }, 'snapshot written (asked from the api)');
        return snapshotStatus(ctx);
      },
    );
  };
}
