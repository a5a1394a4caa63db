/**
 * The api role: REST API over Redis, pushing job ids to the dispatcher.
 */
import { checkLayout, curveClientOptions, deploymentKeys, openRedis, type Config, type Logger } from '@webmon/core';
import { registry } from '@webmon/plugin-registry';
import { buildApi, type App } from './app.js';
import { JobPusher } from './pusher.js';

export { buildApi, toErrorBody, type ApiDeps, type App, type JobSink } from './app.js';
export { JobPusher } from './pusher.js';

export interface RunningApi {
  app: App;
  /** Base URL the API listens on, e.g. http://127.0.0.1:8080 */
  url: string;
  stop(): Promise<void>;
}

export async function startApi(config: Readonly<Config>, log: Logger, redisUrl: string): Promise<RunningApi> {
  const redis = await openRedis({ url: redisUrl, failFast: true, name: 'webmon-api', log });
  await checkLayout(redis, deploymentKeys(redis, config));
  const pusher = new JobPusher(config.zmq.frontend, config.zmq.sendTimeoutMs, log, curveClientOptions(config), config.zmq.maxMessageBytes);
  const app = await buildApi({ config, redis, log, registry, jobs: pusher });
  await app.listen({ host: config.api.host, port: config.api.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.api.port;
  const host = config.api.host.includes(':') ? `[${config.api.host}]` : config.api.host;
  const url = `http://${host}:${port}`;
  log.info({ url }, 'api listening');
  return {
    app,
    url,
    async stop() {
      await app.close();
      await pusher.close();
      redis.disconnect();
    },
  };
}
