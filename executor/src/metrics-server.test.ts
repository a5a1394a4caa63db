import { createServer, get } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, freePort } from '@webmon/core';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';

const log = createLogger({ level: 'silent', role: 'test' });
const source = { metrics: async () => 'webmon_test 1\n', contentType: 'text/plain; version=0.0.4' };
let server: MetricsServer | undefined;
afterEach(() => server?.close());

/** GET on a fresh connection (no keep-alive pool: the server behind the port changes). */
function fetchText(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    }).on('error', reject);
  });
}

describe('executor metrics server', () => {
  it('serves /metrics and 404 elsewhere', async () => {
    const port = await freePort();
    server = startMetricsServer('127.0.0.1', port, source, log);
    await server.listening;
    expect(await fetchText(`http://127.0.0.1:${port}/metrics`)).toEqual({ status: 200, text: 'webmon_test 1\n' });
    expect((await fetchText(`http://127.0.0.1:${port}/other`)).status).toBe(404);
  });

  it('does not fail while the port is taken (a previous executor draining) and binds once it is free', async () => {
    const port = await freePort();
    const previous = createServer((_, res) => res.end('previous'));
    await new Promise<void>((r) => previous.listen(port, '127.0.0.1', r));
    server = startMetricsServer('127.0.0.1', port, source, log, 50);
    let bound = false;
    void server.listening.then(() => (bound = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(bound).toBe(false);
    expect((await fetchText(`http://127.0.0.1:${port}/metrics`)).text).toBe('previous');
    await new Promise((r) => previous.close(r));
    await server.listening;
    expect((await fetchText(`http://127.0.0.1:${port}/metrics`)).text).toBe('webmon_test 1\n');
  });
});
