/**
 * Runs one plugin with a deadline and turns every way it can end into a CheckResult: its own
 * result, a timeout, or an exception (recorded as `plugin_error`, never rethrown).
 */
import type { CheckResult } from '@webmon/core';
import type { AnyPlugin, PluginContext, Target } from './index.js';

export async function runPlugin(
  plugin: AnyPlugin,
  target: Target,
  config: Record<string, unknown>,
  ctx: Omit<PluginContext, 'signal' | 'timeoutMs'>,
  timeoutMs: number,
  parent?: AbortSignal,
): Promise<CheckResult> {
  const started = performance.now();
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = parent ? AbortSignal.any([parent, timeout]) : timeout;
  try {
    // The race makes a plugin that ignores its signal still end on time.
    const out = await Promise.race([
      plugin.run(target, config, { ...ctx, signal, timeoutMs }),
      new Promise<never>((_, reject) => {
        if (signal.aborted) reject(signal.reason);
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      }),
    ]);
    const result: CheckResult = {
      plugin: plugin.name,
      status: out.status,
      reason: out.reason,
      message: out.message,
      durationMs: round(performance.now() - started),
      metrics: out.metrics,
    };
    if (out.details) result.details = out.details;
    return result;
  } catch (err) {
    const durationMs = round(performance.now() - started);
    if (timeout.aborted) {
      return { plugin: plugin.name, status: 'error', reason: 'timeout', message: `no result within ${timeoutMs} ms`, durationMs, metrics: {} };
    }
    ctx.log.error({ err, plugin: plugin.name, assetId: target.assetId }, 'plugin failed');
    return {
      plugin: plugin.name,
      status: 'error',
      reason: 'plugin_error',
      message: `plugin error: ${(err as Error)?.message ?? String(err)}`,
      durationMs,
      metrics: {},
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
