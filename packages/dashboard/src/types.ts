/** The shapes of the API responses the dashboard reads (a subset of GET /docs/json). */
export const STATES = ['unknown', 'up', 'degraded', 'down', 'unsupported', 'paused', 'maintenance'] as const;
export type AssetState = (typeof STATES)[number];

export interface Principal {
  id: string;
  admin: boolean;
}
export interface Session {
  principal: Principal;
  csrfToken: string;
  expiresAt: string | number;
}

export interface Asset {
  id: string;
  url: string;
  owner: string;
  plugins: string[];
  config: Record<string, Record<string, unknown>>;
  interval: number;
  tags: string[];
  paused: boolean;
  state: AssetState;
  stateReason: string | null;
  stateChangedAt: string | null;
  createdAt: string;
  lastCheckAt: string | null;
  stats24h?: { uptimePercent: number | null; p95Ms: number | null };
}
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface FleetStats {
  assetsByState: Record<string, number>;
  checksPerSecond: number;
  checksLastHour: number;
  queue: { queued: number; running: number; failed: number };
  executorsAlive: number;
  failingMost: Array<{ assetId: string; url: string | null; failures: number }>;
}

export interface Latency {
  count: number;
  meanMs: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}
export interface SeriesPoint {
  t: string;
  checks: number;
  failures: number;
  uptimePercent: number | null;
  meanMs: number | null;
  p95Ms: number | null;
  p50Ms?: number | null;
  plugins?: Record<string, { p50Ms: number | null; p95Ms: number | null }>;
}
export interface Transition {
  at: string;
  from: string;
  to: string;
  reason: string;
}
export interface CheckResult {
  plugin: string;
  status: string;
  reason: string | null;
  message: string;
  durationMs: number;
  metrics?: Record<string, number>;
}
export interface AssetStats {
  window: {
    from: string;
    to: string;
    checks: number;
    failuresByReason: Record<string, number>;
    uptimePercent: number | null;
    latency: Record<string, Latency>;
    transitions: Transition[];
    series: SeriesPoint[];
  };
  plugins: Record<string, { samples?: number; features?: Record<string, { mean: number; sd: number }>; latestZ?: Record<string, number> }>;
  state: AssetState;
  latest: Record<string, CheckResult>;
}
export interface ResultRow {
  at: string;
  jobId: string;
  outcome: string;
  results: CheckResult[];
}
export interface MaintenanceWindow {
  id: string;
  reason: string;
  assetIds: string[];
  tags: string[];
  start?: string;
  end?: string;
  recurring?: { days: number[]; start: string; durationMinutes: number };
  open: boolean;
}
export interface BatchItem {
  index: number;
  id?: string;
  created?: boolean;
  error?: { code: string; message: string };
}
export interface StateEvent {
  assetId: string;
  from: string;
  to: AssetState;
  reason: string;
  at: number;
}
export interface PublicStatus {
  title: string;
  description?: string;
  updatedAt: string;
  assets: Array<{
    id: string;
    name: string;
    state: AssetState;
    uptimeDays: Array<{ day: string; uptimePercent: number | null; checks: number }>;
    uptime90dPercent: number | null;
  }>;
  maintenance: Array<{ title: string; from: string; to: string }>;
}
