/**
 * The executor's own Prometheus endpoint (GET /metrics). Metrics never keep an executor from
 * running: while the port is taken (typically by the previous executor still draining its
 * checks after SIGTERM), binding is retried in the background instead of failing start-up.
 */
import { createServer, type Server } from 'node:http';
import type { Logger } from '@webmon/core';

export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsServer {
  /** Resolves once the port is bound (for tests and logs); never rejects. */
  readonly listening: Promise<void>;
  close(): Promise<void>;
}

export function startMetricsServer(host: string, port: number, source: MetricsSource, log: Logger, retryMs = 1000): MetricsServer {
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end();
    source.metrics().then(
      (text) => res.writeHead(200, { 'content-type': source.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let warned = false;
  const listening = new Promise<void>((resolve) => {
    const attempt = () => {
      if (closed) return resolve();
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        log.info({ url: `http://${host}:${port}/metrics` }, 'executor metrics');
        resolve();
      });
    };
    const onError = (err: NodeJS.ErrnoException) => {
      if (!warned) log.warn({ err: err.message, port }, 'executor metrics port unavailable; retrying in the background');
      warned = true;
      retry = setTimeout(attempt, retryMs);
      retry.unref();
    };
    attempt();
  });
  return {
    listening,
    async close() {
      closed = true;
      clearTimeout(retry);
      if (server.listening) await new Promise((r) => server.close(r));
    },
  };
}
