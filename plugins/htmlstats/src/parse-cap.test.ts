/**
 * Parsing is bounded: a page larger than `maxParseBytes`, fetched from a real server on
 * 127.0.0.1, is measured on its first bytes only, in bounded memory, and the result says so.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginRegistry, createSharedCache, memoryStorage, operatorEgress, runPlugin, type AnyPlugin, type CheckResult } from '@webmon/plugin-sdk';
import { httpPlugin } from '@webmon/plugin-http';
import { MAX_PARSE_BYTES_DEFAULT, extractFeatures, htmlStatsPlugin } from './index.js';

const registry = new PluginRegistry([httpPlugin, htmlStatsPlugin]);
const ELEMENT = '<p>x</p>'; // 8 bytes: a cap that is a multiple of 8 ends on an element boundary
const PAGE_BYTES = 24 * 1024 * 1024;
let server: Server;
let base: string;

beforeAll(async () => {
  const block = Buffer.from(ELEMENT.repeat(8192)); // 64 KiB
  server = createServer((req, res) => {
    const total = req.url === '/huge' ? PAGE_BYTES : 4 * 1024;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(total) });
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        const piece = block.subarray(0, Math.min(block.length, total - sent));
        sent += piece.length;
        if (!res.write(piece)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

async function checkPage(path: string, htmlstats: Record<string, unknown> = {}): Promise<CheckResult> {
  const shared = createSharedCache();
  const ctx = { log: pino({ level: 'silent' }), shared, egress: operatorEgress() };
  const configs: Record<string, Record<string, unknown>> = { http: { maxBodyBytes: 32 * 1024 * 1024, timeoutMs: 20_000 }, htmlstats: { timeoutMs: 20_000, ...htmlstats } };
  const assetConfig: Record<string, Record<string, unknown>> = {};
  for (const [name, options] of Object.entries(configs)) {
    const v = registry.validate(name, options);
    if (!v.ok) throw new Error(JSON.stringify(v.problems));
    assetConfig[name] = v.value;
  }
  const run = (plugin: AnyPlugin) =>
    runPlugin(plugin, { url: new URL(`${base}${path}`), assetId: 'parse-cap' }, assetConfig[plugin.name]!, { ...ctx, storage: memoryStorage(), assetConfig }, 20_000);
  const [, stats] = await Promise.all([run(httpPlugin), run(htmlStatsPlugin)]);
  return stats!;
}

describe('htmlstats parse cap', () => {
  it('measures a page larger than maxParseBytes on its first bytes, in bounded memory, and says so', async () => {
    const heapBefore = process.memoryUsage().heapUsed;
    const r = await checkPage('/huge');
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    expect(r).toMatchObject({
      status: 'ok',
      message: expect.stringContaining(`measured on the first ${MAX_PARSE_BYTES_DEFAULT} of ${PAGE_BYTES} bytes`),
      details: { parseTruncated: true, parsedBytes: MAX_PARSE_BYTES_DEFAULT },
    });
    // The page's size is what was fetched; elements are those of the parsed part only.
    expect(r.metrics.bytes).toBe(PAGE_BYTES);
    expect(r.metrics.tag_p).toBe(MAX_PARSE_BYTES_DEFAULT / ELEMENT.length);
    // Parsing all 3 million elements takes gigabytes; the parsed 2 MiB take a few tens of MB.
    expect(heapGrowth).toBeLessThan(400 * 1024 * 1024);
  });

  it('honours a smaller maxParseBytes and leaves a page within it whole', async () => {
    const small = await checkPage('/huge', { maxParseBytes: 8192 });
    expect(small).toMatchObject({ details: { parseTruncated: true, parsedBytes: 8192 }, metrics: { tag_p: 1024 } });
    const whole = await checkPage('/page');
    expect(whole.details).not.toHaveProperty('parseTruncated');
    expect(whole.message).not.toContain('measured on the first');
    expect(whole.metrics).toMatchObject({ bytes: 4096, tag_p: 512 });
  });

  it('refuses maxParseBytes above 10 MiB', () => {
    const v = registry.validate('htmlstats', { maxParseBytes: 10 * 1024 * 1024 + 1 });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.problems.map((p) => p.field)).toContain('htmlstats.maxParseBytes');
  });

  it('extractFeatures parses only the first maxParseBytes, bytes stays the whole size', () => {
    const body = Buffer.from(ELEMENT.repeat(100));
    expect(extractFeatures(body, 'http://x.test/', undefined, 80)).toMatchObject({ bytes: 800, tag_p: 10, elements: 10 });
  });
});
