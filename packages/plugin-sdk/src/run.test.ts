import Type from 'typebox';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createSharedCache, definePlugin, memoryStorage, operatorEgress, runPlugin, type PluginContext } from './index.js';

const ctx = { log: pino({ level: 'silent' }), storage: memoryStorage(), shared: createSharedCache(), egress: operatorEgress() };
const target = { url: new URL('http://127.0.0.1:1/'), assetId: 'a' };

/** A plugin that never answers and ignores its signal; it records the signals it was given. */
function deafPlugin(seen: AbortSignal[]) {
  return definePlugin({
    name: 'deaf',
    description: 'never answers',
    schemes: ['http'],
    configSchema: Type.Object({}),
    run: (_t: unknown, _c: unknown, c: PluginContext) => {
      seen.push(c.signal);
      return new Promise(() => undefined);
    },
  });
}

describe('runPlugin', () => {
  it('ends a run that ignores its signal when the deadline passes, and aborts its signal', async () => {
    const seen: AbortSignal[] = [];
    const res = await runPlugin(deafPlugin(seen), target, {}, ctx, 50);
    expect(res).toMatchObject({ plugin: 'deaf', status: 'error', reason: 'timeout', message: 'no result within 50 ms' });
    expect(seen[0]!.aborted).toBe(true);
  });

  it('ends every run in flight when the parent aborts, with the parent reason, not as a timeout', async () => {
    const parent = new AbortController();
    const seen: AbortSignal[] = [];
    const plugin = deafPlugin(seen);
    const runs = Array.from({ length: 5 }, () => runPlugin(plugin, target, {}, ctx, 60_000, parent.signal));
    await new Promise((r) => setTimeout(r, 20));
    expect(seen.every((s) => !s.aborted)).toBe(true);
    parent.abort(new Error('executor stopping'));
    const results = await Promise.all(runs);
    expect(results.map((r) => r.reason)).toEqual(Array(5).fill('plugin_error'));
    expect(results[0]!.message).toBe('plugin error: executor stopping');
    expect(seen.map((s) => s.reason.message)).toEqual(Array(5).fill('executor stopping'));
  });

  it('starts a run under an already aborted parent with its signal aborted, and ends it at once', async () => {
    const parent = new AbortController();
    parent.abort(new Error('gone'));
    const seen: AbortSignal[] = [];
    const res = await runPlugin(deafPlugin(seen), target, {}, ctx, 60_000, parent.signal);
    expect(seen[0]!.aborted).toBe(true);
    expect(res).toMatchObject({ status: 'error', reason: 'plugin_error', message: 'plugin error: gone' });
  });

  it('leaves nothing watching the parent after its runs end: a later abort reaches no finished run', async () => {
    const parent = new AbortController();
    const seen: AbortSignal[] = [];
    const quick = definePlugin({
      name: 'quick',
      description: 'answers at once',
      schemes: ['http'],
      configSchema: Type.Object({}),
      run: async (_t: unknown, _c: unknown, c: PluginContext) => {
        seen.push(c.signal);
        return { status: 'ok' as const, reason: null, message: 'fine', metrics: {} };
      },
    });
    const results = await Promise.all(Array.from({ length: 3 }, () => runPlugin(quick, target, {}, ctx, 60_000, parent.signal)));
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
    parent.abort(new Error('later'));
    expect(seen.map((s) => s.aborted)).toEqual([false, false, false]);
  });
});
