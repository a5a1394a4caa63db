/**
 * The http plugin's body expressions run in RE2: a catastrophic pattern against a crafted page
 * served by a real server on 127.0.0.1 ends as a plain mismatch well within the check's
 * timeout, and expressions RE2 cannot run are refused when the config is validated.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginRegistry, createSharedCache, memoryStorage, operatorEgress, runPlugin, type CheckResult } from '@webmon/plugin-sdk';
import { httpPlugin } from './index.js';

const registry = new PluginRegistry([httpPlugin]);
const PAGES: Record<string, string> = {
  '/as': `${'a'.repeat(60_000)}!`,
  '/xs': 'x'.repeat(60_000),
  '/shop': '<p>Order #12345 READY</p>',
  // RE2 is linear, but this expression still costs microseconds per byte in it: seconds here.
  '/big': 'abcdefgh '.repeat(400_000),
  '/fast': 'ok',
};
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const page = PAGES[req.url ?? ''];
    if (page === undefined) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'text/plain' }).end(page);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

function run(path: string, config: Record<string, unknown>, owner = 'admin'): Promise<CheckResult> {
  const ctx = { log: pino({ level: 'silent' }), storage: memoryStorage(), shared: createSharedCache(), egress: operatorEgress() };
  return runPlugin(httpPlugin, { url: new URL(`${base}${path}`), assetId: 'regex-test', owner }, config, ctx, config.timeoutMs as number);
}

function validated(options: Record<string, unknown>): Record<string, unknown> {
  const v = registry.validate('http', options);
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return v.value;
}

describe('http body expressions', () => {
  it.each([
    ['/as', { bodyMatches: '^(a+)+$' }],
    ['/xs', { bodyMatches: '(x+x+)+y' }],
    ['/as', { bodyMatches: '^(a|aa)+$', ignoreCase: true }],
  ])('a catastrophic pattern on %s ends as a mismatch within the timeout', async (path, rule) => {
    const started = performance.now();
    const r = await run(path, validated({ ...rule, timeoutMs: 5000 }));
    expect(r).toMatchObject({ status: 'error', reason: 'body_mismatch' });
    expect(r.metrics.bytes).toBeGreaterThanOrEqual(60_000);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('an expression slow on a large body ends at the check timeout, without delaying another tenant\'s check', async () => {
    const started = performance.now();
    const hostile = Promise.all([1, 2, 3].map(() => run('/big', validated({ bodyMatches: '(.*a){20}', maxBodyBytes: 4_000_000, timeoutMs: 1500 }), 'mallory')));
    // Another tenant's checks, with and without an expression, run meanwhile.
    await new Promise((r) => setTimeout(r, 100));
    const other = performance.now();
    const plain = await run('/fast', validated({ timeoutMs: 5000 }), 'alice');
    const withRule = await run('/shop', validated({ bodyMatches: 'Order #\\d{5}', timeoutMs: 5000 }), 'alice');
    const otherMs = performance.now() - other;
    expect(plain).toMatchObject({ status: 'ok' });
    expect(withRule).toMatchObject({ status: 'ok' });
    expect(otherMs).toBeLessThan(3000); // matched inline, the first expression alone would hold it ~10 s
    for (const r of await hostile) expect(r).toMatchObject({ status: 'error', reason: 'timeout' });
    expect(performance.now() - started).toBeLessThan(4000);
  });

  it('bodyNotMatches with a catastrophic pattern passes when it does not match', async () => {
    const r = await run('/as', validated({ bodyNotMatches: '^(a+)+$', timeoutMs: 5000 }));
    expect(r).toMatchObject({ status: 'ok', reason: null });
  });

  it('matches RE2 expressions, case-insensitively when asked', async () => {
    expect(await run('/shop', validated({ bodyMatches: 'Order #\\d{5} ready' }))).toMatchObject({ status: 'error', reason: 'body_mismatch' });
    expect(await run('/shop', validated({ bodyMatches: 'Order #\\d{5} ready', ignoreCase: true }))).toMatchObject({ status: 'ok' });
  });

  it.each([
    ['bodyMatches', '(a)\\1'],
    ['bodyNotMatches', '(?<=x)y'],
    ['bodyMatches', '(?=a)'],
  ])('refuses %s %s when the config is validated, naming the field', (field, source) => {
    const v = registry.validate('http', { [field]: source });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.problems).toContainEqual({ field: `http.${field}`, message: expect.stringContaining('not a supported regular expression') });
  });

  it('an expression stored before it was checked is unsupported, not a crash', async () => {
    const config = { ...validated({ timeoutMs: 5000 }), bodyMatches: '(a)\\1' };
    const r = await run('/shop', config);
    expect(r).toMatchObject({ status: 'error', reason: 'unsupported', message: expect.stringContaining('/(a)\\1/') });
  });
});
