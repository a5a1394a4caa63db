/** Statistics of one asset over a window, and of the fleet. */
import Type from 'typebox';
import { ASSET_STATES } from '@webmon/core';
import { MaybeTime, Time, ref } from './common.js';
import { CheckResult } from './jobs.js';

export const StatsQuery = Type.Object(
  {
    window: Type.Enum(['1h', '24h', '7d', '30d', '365d'], { default: '24h', description: 'Ignored when from is given.' }),
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'Default: now.' })),
    points: Type.Integer({ minimum: 1, maximum: 1000, default: 60, description: 'Most points in the series.' }),
  },
  { additionalProperties: false },
);

const MaybeNumber = Type.Union([Type.Number(), Type.Null()]);

export const Latency = Type.Object(
  {
    count: Type.Integer(),
    meanMs: MaybeNumber,
    p50Ms: MaybeNumber,
    p95Ms: MaybeNumber,
    p99Ms: MaybeNumber,
    maxMs: MaybeNumber,
  },
  { $id: 'Latency', description: 'Durations of one plugin\'s checks, in ms.' },
);

export const WindowStats = Type.Object(
  {
    from: Time,
    to: Time,
    resolution: Type.Enum(['minute', 'hour', 'day']),
    checks: Type.Integer(),
    outcomes: Type.Record(Type.String(), Type.Integer()),
    failuresByReason: Type.Record(Type.String(), Type.Integer()),
    uptimePercent: Type.Union([Type.Number(), Type.Null()], { description: 'Time up or degraded over time up, degraded or down.' }),
    coveragePercent: Type.Number({ description: 'Share of the window observed in a known state.' }),
    timeInStateMs: Type.Record(Type.String(), Type.Number()),
    latency: Type.Record(Type.String(), ref(Latency), { description: 'Per plugin; percentiles from histograms (exact to their bins).' }),
    transitions: Type.Array(Type.Object({ at: Time, from: Type.String(), to: Type.String(), reason: Type.String() })),
    series: Type.Array(
      Type.Object({
        t: Time,
        checks: Type.Integer(),
        failures: Type.Integer(),
        uptimePercent: MaybeNumber,
        meanMs: MaybeNumber,
        p95Ms: MaybeNumber,
        plugins: Type.Record(Type.String(), Type.Object({ p50Ms: MaybeNumber, p95Ms: MaybeNumber }), {
          description: 'Per plugin that ran in the point: its median and 95th percentile (ms).',
        }),
      }),
    ),
  },
  { $id: 'WindowStats', description: 'An asset over a time window.' },
);

export const AssetStats = Type.Object(
  {
    window: ref(WindowStats),
    plugins: Type.Record(Type.String(), Type.Unknown(), { description: 'What plugins learned (e.g. htmlstats: per feature mean, sd and latest z).' }),
    assetId: Type.String(),
    state: Type.Enum(ASSET_STATES),
    checks: Type.Integer(),
    successes: Type.Integer(),
    failures: Type.Integer(),
    lastCheckAt: MaybeTime,
    lastDurationMs: MaybeNumber,
    lastOutcome: Type.Union([Type.String(), Type.Null()]),
    latest: Type.Record(Type.String(), ref(CheckResult)),
  },
  { $id: 'AssetStats', description: 'Uptime, latency and what plugins learned, for one asset.' },
);

export const FleetStats = Type.Object(
  {
    assetsByState: Type.Record(Type.String(), Type.Integer()),
    checksPerSecond: Type.Number({ description: 'Over the last complete minute (fleet-wide).' }),
    checksLastHour: Type.Integer(),
    queue: Type.Object({ queued: Type.Integer(), running: Type.Integer(), failed: Type.Integer() }),
    executorsAlive: Type.Integer(),
    checksSkipped: Type.Object(
      { late: Type.Integer(), pending: Type.Integer() },
      { description: 'Scheduled checks skipped since the start: late (their due time passed more than an interval ago, see webmon_check_start_lateness_seconds) or pending (the previous check was still queued or running).' },
    ),
    failingMost: Type.Array(Type.Object({ assetId: Type.String(), url: Type.Union([Type.String(), Type.Null()]), failures: Type.Integer() }), {
      description: 'The 10 assets with the most failed checks today and yesterday (UTC days), most first; url is null for an asset deleted since.',
    }),
  },
  { $id: 'FleetStats', description: 'The fleet (yours; the admin sees all) at a glance.' },
);
