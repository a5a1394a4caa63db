import { createServer } from 'node:http';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { operatorEgress } from './net.js';
import { ChannelAgents, createChannelContext } from './channel-context.js';

const agents = new ChannelAgents(5_000);
afterAll(() => agents.close());

describe('channel requests', () => {
  it('read at most 64 KiB of a service answer, and stop downloading the rest, with no stray error', async () => {
    let sent = 0;
    let closed!: () => void;
    const gone = new Promise<void>((resolve) => (closed = resolve));
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(16_384, 'a');
      const pump = () => {
        while (sent < 10_000_000 && res.write(chunk)) sent += chunk.length;
        if (sent >= 10_000_000) res.end();
      };
      res.on('drain', pump);
      res.on('close', () => closed());
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const errors: unknown[] = [];
    const onError = (err: unknown) => errors.push(err);
    process.on('uncaughtException', onError);
    try {
      const ctx = createChannelContext({ agents, egress: operatorEgress(), timeoutMs: 5_000, log: pino({ level: 'silent' }), userAgent: 'webmon-test' });
      const { port } = server.address() as { port: number };
      const res = await ctx.request(`http://127.0.0.1:${port}/`, { body: 'x' });
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(65_536);
      await gone; // the connection was dropped before the 10 MB were sent
      expect(sent).toBeLessThan(10_000_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      process.off('uncaughtException', onError);
      server.close();
    }
    expect(errors).toEqual([]);
  });
});
