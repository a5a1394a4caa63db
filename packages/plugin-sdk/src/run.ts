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
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException(`no result within ${timeoutMs} ms`, 'TimeoutError'));
  }, timeoutMs);
  const onParentAbort = () => controller.abort(parent?.reason);
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  let rejectOnAbort: (() => void) | undefined;
  try {
    // The race makes a plugin that ignores its signal still end on time.
    const out = await Promise.race([
      // The caller's context stays the prototype, so lazy members (a getter for log) stay lazy.
      plugin.run(target, config, Object.assign(Object.create(ctx) as PluginContext, { signal, timeoutMs })),
      new Promise<never>((_, reject) => {
        rejectOnAbort = () => reject(signal.reason);
        if (signal.aborted) rejectOnAbort();
        else signal.addEventListener('abort', rejectOnAbort, { once: true });
      }),
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
    parent?.removeEventListener('abort', onParentAbort);
    if (rejectOnAbort) signal.removeEventListener('abort', rejectOnAbort);
  }
}

