/**
 * The tcp plugin's `until` and `expect` run in RE2 against real servers on 127.0.0.1: a
 * catastrophic pattern ends as a plain mismatch well within the check's timeout; `until` is
 * matched in work linear in the bytes read however the reply is split.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginRegistry, createSharedCache, memoryStorage, operatorEgress, runPlugin, userRegex, type CheckResult, type UserRegex } from '@webmon/plugin-sdk';
import { UntilWatcher, tcpPlugin } from './index.js';

const registry = new PluginRegistry([tcpPlugin]);
const servers: Server[] = [];
const ports: Record<string, number> = {};

async function serve(onConnection: (s: Socket) => void): Promise<number> {
  const srv = createServer((s) => {
    s.on('error', () => undefined);
    onConnection(s);
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return (srv.address() as AddressInfo).port;
}

function run(port: number, config: Record<string, unknown>): Promise<CheckResult> {
  const ctx = { log: pino({ level: 'silent' }), storage: memoryStorage(), shared: createSharedCache(), egress: operatorEgress() };
  return runPlugin(tcpPlugin, { url: new URL(`tcp://127.0.0.1:${port}`), assetId: 'regex-test' }, config, ctx, config.timeoutMs as number);
}

function validated(options: Record<string, unknown>): Record<string, unknown> {
  const v = registry.validate('tcp', options);
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return v.value;
}

beforeAll(async () => {
  ports.as = await serve((s) => s.end(`${'a'.repeat(60_000)}!`));
  ports.xs = await serve((s) => s.end('x'.repeat(60_000)));
  ports.smtp = await serve((s) => s.write('220 mail.test ESMTP ready\r\n'));
  ports.big = await serve((s) => s.write('abcdefgh '.repeat(110_000)));
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

describe('tcp expressions', () => {
  it.each([
    ['as', { until: '^(a+)+$', expect: '^(a+)+$' }],
    ['xs', { until: '(x+x+)+y', expect: '(x+x+)+y' }],
  ])('a catastrophic pattern on a %s reply ends as a mismatch within the timeout', async (name, rule) => {
    const started = performance.now();
    const r = await run(ports[name]!, validated({ ...rule, maxBytes: 100_000, timeoutMs: 5000 }));
    expect(r).toMatchObject({ status: 'error', reason: 'mismatch', metrics: { bytes: 60_000 + (name === 'as' ? 1 : 0) }, details: { ended: 'closed' } });
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('an expression slow on a large reply ends at the check timeout without stalling the event loop', async () => {
    let worst = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      worst = Math.max(worst, performance.now() - last);
      last = performance.now();
    }, 10);
    const r = await run(ports.big!, validated({ until: '(.*a){20}(?:x|y)', expect: '^abc', maxBytes: 1_000_000, timeoutMs: 1500 }));
    clearInterval(ticker);
    expect(r).toMatchObject({ status: 'error', reason: 'timeout' });
    expect(worst).toBeLessThan(1000); // matched inline, one pass over the reply takes seconds
  });

  it('stops at `until` and matches `expect` in RE2', async () => {
    const r = await run(ports.smtp!, validated({ until: '(?i)esmtp', expect: '^220 \\S+ ESMTP' }));
    expect(r).toMatchObject({ status: 'ok', details: { ended: 'pattern' } });
  });

  it.each([
    ['until', '(a)\\1'],
    ['expect', '(?<!x)y'],
  ])('refuses %s %s when the config is validated, naming the field', (field, source) => {
    const v = registry.validate('tcp', { [field]: source });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.problems).toContainEqual({ field: `tcp.${field}`, message: expect.stringContaining('not a supported regular expression') });
  });

  it('an expression stored before it was checked is unsupported, not a crash', async () => {
    const r = await run(ports.smtp!, { ...validated({}), expect: '(?=220)' });
    expect(r).toMatchObject({ status: 'error', reason: 'unsupported', message: expect.stringContaining('expect /(?=220)/') });
  });
});

describe('UntilWatcher', () => {
  /** An expression that counts the characters it is asked to scan. */
  function counting(source: string): { re: UserRegex; scanned: () => number } {
    const inner = userRegex(source);
    let scanned = 0;
    const test = (text: string) => {
      scanned += text.length;
      return inner.test(text);
    };
    return {
      re: { source, ignoreCase: false, test, match: async (text) => test(String(text)) },
      scanned: () => scanned,
    };
  }

  const settle = () => new Promise((r) => setImmediate(r));

  it('matches a reply split in a few chunks as each chunk arrives', async () => {
    const { re } = counting('\\r\\n');
    let matched = 0;
    const w = new UntilWatcher(re, 4096, () => matched++, (err) => { throw err; });
    w.push('220 mail');
    await settle();
    w.push('.test ready');
    await settle();
    expect(matched).toBe(0);
    w.push('\r\n');
    await settle();
    expect(matched).toBe(1);
  });

  it('scans a reply trickled one byte at a time in work linear in maxBytes', async () => {
    const maxBytes = 50_000;
    const { re, scanned } = counting('never');
    const w = new UntilWatcher(re, maxBytes, () => undefined, (err) => { throw err; });
    for (let i = 0; i < maxBytes; i++) {
      w.push('z');
      if (i % 100 === 0) await settle();
    }
    await settle();
    // Re-matching the whole text per byte would scan maxBytes²/2 = 1.25e9 characters.
    expect(scanned()).toBeLessThanOrEqual(12 * maxBytes);
    // A pattern completed late in a trickle is still found once the text has doubled.
    let found = -1;
    let i = 0;
    const late = new UntilWatcher(userRegex('END'), 1000, () => (found = i), (err) => { throw err; });
    for (; i < 1000 && found < 0; i++) {
      late.push(i === 700 ? 'END' : 'z');
      await settle();
    }
    expect(found).toBeGreaterThanOrEqual(700);
  });
});
