/** Converts stored records into API responses: ISO times, secrets redacted. */
import { windowById, type AssetRecord, type JobRecord } from '@webmon/core';
import type { PluginRegistry } from '@webmon/plugin-sdk';
import type { AssetOut } from './schemas/index.js';

export function iso(ms: number | null): string | null {
  return ms === null || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}

/**
 * The API view of an asset. While a maintenance window covers it (`a.maintenance`, kept by the
 * maintenance store), its state reads `maintenance` with the window's reason (checks still run;
 * the state the checks give resumes when the window closes). `windows` supplies the reasons
 * (MaintenanceStore.summaries()); a window missing from it shows as plain `maintenance`.
 */
export function presentAsset(a: AssetRecord, registry: PluginRegistry, windows: readonly { id: string; reason: string }[] = []): AssetOut {
  const window = a.maintenance ? (windowById(windows, a.maintenance) ?? { reason: '' }) : null;
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
    stateReason: window ? (window.reason ? `maintenance: ${window.reason}` : 'maintenance') : a.stateReason,
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
