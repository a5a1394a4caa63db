/** Converts stored records into API responses: ISO times, secrets redacted. */
import { coveringWindow, type AssetRecord, type JobRecord, type MaintenanceWindow } from '@webmon/core';
import type { PluginRegistry } from '@webmon/plugin-sdk';
import type { AssetOut } from './schemas.js';

export function iso(ms: number | null): string | null {
  return ms === null || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}

/**
 * The API view of an asset. While a maintenance window covers it, its state reads
 * `maintenance` (checks still run; the underlying state resumes when the window closes).
 */
export function presentAsset(a: AssetRecord, registry: PluginRegistry, windows: readonly MaintenanceWindow[] = [], now = Date.now()): AssetOut {
  const window = windows.length ? coveringWindow(windows, a, now) : null;
  return {
    id: a.id,
    url: a.url,
    owner: a.owner,
    plugins: a.plugins,
    config: registry.redact(a.config),
    interval: a.interval,
    tags: a.tags,
    paused: a.paused,
    state: window ? 'maintenance' : a.state,
    stateReason: window ? `maintenance: ${window.reason}` : a.stateReason,
    stateChangedAt: iso(a.stateChangedAt),
    createdAt: iso(a.createdAt)!,
    updatedAt: iso(a.updatedAt)!,
    lastCheckAt: iso(a.lastCheckAt),
  };
}

export function presentJob(j: JobRecord) {
  return {
    id: j.id,
    assetId: j.assetId,
    status: j.status,
    priority: j.priority,
    attempts: j.attempts,
    createdAt: iso(j.createdAt)!,
    startedAt: iso(j.startedAt),
    finishedAt: iso(j.finishedAt),
    outcome: j.outcome,
    error: j.error,
    results: j.results,
  };
}
