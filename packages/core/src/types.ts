/** Shared domain types: asset states, check results and their reasons, jobs. */

export const ASSET_STATES = ['unknown', 'up', 'degraded', 'down', 'unsupported', 'paused', 'maintenance'] as const;
export type AssetState = (typeof ASSET_STATES)[number];

export const CHECK_STATUSES = ['ok', 'warn', 'error'] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];

/**
 * Why a check did not pass (or why it only warned). Stable strings, stored with results and
 * used in statistics; add new ones, never rename.
 */
export const REASONS = [
  'dns',
  'refused',
  'timeout',
  'tls',
  'reset',
  'unreachable',
  'http_status',
  'redirect_loop',
  'too_many_redirects',
  'body_mismatch',
  'slow',
  'cert_expiring',
  'rate_limited',
  'login',
  'not_found',
  'mismatch',
  'deviation',
  'protocol',
  'unsupported',
  'plugin_error',
  'denied',
  'nxdomain',
  'servfail',
  'answer_mismatch',
  'domain_expiring',
  'domain_expired',
  'packet_loss',
  'cert_expired',
  'hostname_mismatch',
  'untrusted',
] as const;
export type Reason = (typeof REASONS)[number];

/** What one plugin reports about one check. A failed check is a result, never an exception. */
export interface CheckResult {
  plugin: string;
  status: CheckStatus;
  reason: Reason | null;
  message: string;
  /** Wall time of the plugin run. */
  durationMs: number;
  /** Numeric measurements (timings, sizes, z-scores); charted and aggregated. */
  metrics: Record<string, number>;
  /** Plugin-specific, JSON-serialisable detail. */
  details?: Record<string, unknown>;
}

/** Outcome of a whole check (all plugins of an asset): the worst status, or unsupported. */
export type CheckOutcome = CheckStatus | 'unsupported';

export const JOB_STATUSES = ['queued', 'running', 'done', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Job priority: higher values are dispatched first. */
export const MAX_PRIORITY = 9;
