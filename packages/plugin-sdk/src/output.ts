/** Building a plugin's result: passed (`ok`), passed with a warning (`warn`), failed (`fail`). */
import type { Reason } from '@webmon/core';
import type { PluginOutput } from './index.js';

export function ok(message: string, metrics: Record<string, number> = {}, details?: Record<string, unknown>): PluginOutput {
  return withDetails({ status: 'ok', reason: null, message, metrics }, details);
}

export function warn(reason: Reason, message: string, metrics: Record<string, number> = {}, details?: Record<string, unknown>): PluginOutput {
  return withDetails({ status: 'warn', reason, message, metrics }, details);
}

export function fail(reason: Reason, message: string, metrics: Record<string, number> = {}, details?: Record<string, unknown>): PluginOutput {
  return withDetails({ status: 'error', reason, message, metrics }, details);
}

function withDetails(out: PluginOutput, details?: Record<string, unknown>): PluginOutput {
  if (details) out.details = details;
  return out;
}
