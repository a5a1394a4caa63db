/**
 * Runs one plugin with a deadline and turns every way it can end into a CheckResult: its own
 * result, a timeout, or an exception (recorded as `plugin_error`, never rethrown; a refusal of
 * the egress guard that escaped the plugin is still `denied`).
 */
import { round, type CheckResult } from '@webmon/core';
import type { AnyPlugin, PluginContext, Target } from './index.js';
import { egressDenial } from './net.js';

export async function runPlugin(
  plugin: AnyPlugin,
  target: Target,
  config: Record<string, unknown>,
  ctx: Omit<PluginContext, 'signal' | 'timeoutMs'>,
  timeoutMs: number,
  parent?: AbortSignal,
): Promise<CheckResult> {
  const started = performance.now();
  // One controller per run, fed by a timer and the parent: cheaper than AbortSignal.timeout +
  // AbortSignal.any, and nothing stays attached to the long-lived parent after the run.
  const controller = new AbortController();
  const signal = controller.signal;
  // The race makes a plugin that ignores its signal still end on time: `cut` rejects when the
  // run is aborted (the timer or the parent), without a listener on the run's own signal.
  let rejectCut!: (reason: unknown) => void;
  const cut = new Promise<never>((_, reject) => (rejectCut = reject));
  cut.catch(() => undefined); // handled below, or never needed (the plugin threw first)
  const stop = (reason: unknown) => {
    controller.abort(reason);
    rejectCut(signal.reason);
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stop(new DOMException(`no result within ${timeoutMs} ms`, 'TimeoutError'));
  }, timeoutMs);
  const unwatch = parent ? onAbortOf(parent, stop) : undefined;
  try {
    const out = await Promise.race([
      // The caller's context stays the prototype, so lazy members (a getter for log) stay lazy.
      plugin.run(target, config, Object.assign(Object.create(ctx) as PluginContext, { signal, timeoutMs })),
      cut,
    ]);
    const result: CheckResult = {
      plugin: plugin.name,
      status: out.status,
      reason: out.reason,
      message: out.message,
      durationMs: round(performance.now() - started, 3),
      metrics: out.metrics,
    };
    if (out.details) result.details = out.details;
    return result;
  } catch (err) {
    const durationMs = round(performance.now() - started, 3);
    if (timedOut) {
      return { plugin: plugin.name, status: 'error', reason: 'timeout', message: `no result within ${timeoutMs} ms`, durationMs, metrics: {} };
    }
    const denial = egressDenial(err);
    if (denial) return { plugin: plugin.name, status: 'error', reason: 'denied', message: denial.message, durationMs, metrics: {} };
    ctx.log.error({ err, plugin: plugin.name, assetId: target.assetId }, 'plugin failed');
    return {
      plugin: plugin.name,
      status: 'error',
      reason: 'plugin_error',
      message: `plugin error: ${(err as Error)?.message ?? String(err)}`,
      durationMs,
      metrics: {},
    };
  } finally {
    clearTimeout(timer);
    unwatch?.();
  }
}

/** The runs watching each parent signal: one listener per parent, whatever the runs in flight. */
const watchers = new WeakMap<AbortSignal, Set<(reason: unknown) => void>>();

/**
 * Calls `fn` with the parent's reason when it aborts (at once if it has); returns what stops
 * watching. A set per parent instead of a listener per run: removing an EventTarget listener
 * walks the others, and a long-lived parent (the executor's shutdown) has one per check in flight.
 */
function onAbortOf(parent: AbortSignal, fn: (reason: unknown) => void): (() => void) | undefined {
  if (parent.aborted) {
    fn(parent.reason);
    return undefined;
  }
  let runs = watchers.get(parent);
  if (!runs) {
    const set = new Set<(reason: unknown) => void>();
    parent.addEventListener('abort', () => {
      for (const run of [...set]) run(parent.reason);
    }, { once: true });
    watchers.set(parent, set);
    runs = set;
  }
  runs.add(fn);
  return () => runs.delete(fn);
}

