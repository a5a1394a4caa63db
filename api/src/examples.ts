/**
 * Examples shown in the OpenAPI document: one set of made-up but consistent data, one example
 * per named component (the test of the document validates each against its schema).
 */
import { ConfigSchema } from '@webmon/core';

const T0 = '2026-03-02T09:00:00.000Z';
const T1 = '2026-03-02T09:05:00.412Z';
const ASSET_ID = 'q3Rk9ZxYbLmN0a1B';
const JOB_ID = 'm7zx1k2a9f3c01de';
const CLIENT_ID = 'c7Hx2a9K';
const KEY_ID = 'kTq81bV0xZrW3mPa5';
const WINDOW_ID = 'w4Yp0QmZ2rT8';
/** tenants.limits as configured by default. */
const DEFAULT_LIMITS = Object.fromEntries(Object.entries(ConfigSchema.properties.tenants.properties.limits.properties).map(([k, v]) => [k, (v as { default?: unknown }).default]));

const components = {
  Error: { statusCode: 404, code: 'WEBMON_ERR_ASSET_NOT_FOUND', error: 'Not Found', message: 'asset nope not found' },
  AssetInput: { url: 'https://shop.example.com/', plugins: ['http'], config: { http: { expectedStatus: '200-299', timeoutMs: 5000 } }, interval: 60, tags: ['shop', 'prod'] },
  AssetPatch: { interval: 300, paused: false },
  Asset: {
    id: ASSET_ID,
    url: 'https://shop.example.com/',
    owner: CLIENT_ID,
    plugins: ['http'],
    config: { http: { expectedStatus: '200-299', timeoutMs: 5000, followRedirects: true, maxRedirects: 5 } },
    interval: 60,
    tags: ['prod', 'shop'],
    paused: false,
    state: 'up',
    stateReason: null,
    stateChangedAt: T1,
    createdAt: T0,
    updatedAt: T0,
    lastCheckAt: T1,
  },
  AssetList: { items: [{ id: ASSET_ID, url: 'https://shop.example.com/', state: 'up' }], nextCursor: '1740906000123' },
  BatchInput: { assets: [{ url: 'https://shop.example.com/' }, { url: 'https://blog.example.com/', tags: ['blog'] }, { url: 42 }] },
  BatchResult: {
    created: 1,
    existing: 1,
    failed: 1,
    items: [
      { index: 0, id: ASSET_ID, created: false },
      { index: 1, id: 'b8Fq2LmZpXo4RtY1', created: true },
      { index: 2, error: { statusCode: 400, code: 'WEBMON_ERR_VALIDATION', error: 'Bad Request', message: 'assets.2.url: must be string' } },
    ],
  },
  CheckResult: { plugin: 'http', status: 'ok', reason: null, message: 'HTTP 200', durationMs: 182.4, metrics: { status: 200, ttfbMs: 151.2, totalMs: 182.4 } },
  get Job() {
    return { id: JOB_ID, assetId: ASSET_ID, status: 'done', priority: 5, attempts: 1, createdAt: T1, startedAt: T1, finishedAt: T1, outcome: 'ok', error: null, results: [this.CheckResult] };
  },
  JobsInput: { assetIds: [ASSET_ID], priority: 5 },
  JobsCreated: {
    jobs: [{ id: JOB_ID, assetId: ASSET_ID }],
    errors: [{ index: 1, assetId: 'nope', error: { statusCode: 404, code: 'WEBMON_ERR_ASSET_NOT_FOUND', error: 'Not Found', message: 'assetIds.1: asset nope not found' } }],
  },
  get Result() {
    return this.ResultsPage.items[0];
  },
  get AssetFields() {
    return { ...this.AssetList.items[0], stats24h: this.Stats24h };
  },
  Stats24h: { uptimePercent: 99.86, p95Ms: 310 },
  SessionInput: { key: 'wm_3pQ9bq0xF2kVh7Lr1sYt8uWz5aNc4dEe' },
  SessionInfo: { principal: { id: CLIENT_ID, admin: false }, csrfToken: 'Zq3v8Kx0PaL2mN7bR5tY1wE4uI9oS6dF-gH_jKlMnBc', expiresAt: '2026-03-02T21:05:00.412Z' },
  SignedOut: { signedOut: true },
  StateChange: { id: '1764928800000-0', assetId: ASSET_ID, from: 'up', to: 'down', reason: 'timeout', at: T1 },
  StateChangeList: { items: [{ id: '1764928800000-0', assetId: ASSET_ID, from: 'up', to: 'down', reason: 'timeout', at: T1 }] },
  SnapshotStatus: { lastSaveAt: T1, lastOk: true, inProgress: false, via: 'dispatcher' },
  StatusPageInput: { slug: 'acme', title: 'Acme services', description: 'Our public sites.', assetIds: [ASSET_ID], tags: ['prod'] },
  StatusPagePatch: { title: 'Acme status', tags: ['prod', 'shop'] },
  StatusPage: { slug: 'acme', owner: CLIENT_ID, title: 'Acme services', description: 'Our public sites.', assetIds: [ASSET_ID], tags: ['prod'], path: '/status/acme', createdAt: T0, updatedAt: T1 },
  get StatusPageList() {
    return { items: [this.StatusPage] };
  },
  UptimeDay: { day: '2026-03-01', uptimePercent: 99.93, checks: 1440 },
  get PublicAsset() {
    return { id: ASSET_ID, name: 'shop.example.com/', state: 'up', uptimeDays: [this.UptimeDay], uptime90dPercent: 99.97 };
  },
  PublicMaintenance: { title: 'database upgrade', from: '2026-03-03T02:00:00.000Z', to: '2026-03-03T03:00:00.000Z' },
  get PublicStatus() {
    return { title: 'Acme services', description: 'Our public sites.', updatedAt: T1, assets: [this.PublicAsset], maintenance: [this.PublicMaintenance] };
  },
  BadgeToken: { token: 'b4Qw9Zx0PaL2mN7bR5tY1wE4uI9oS6dFgHjKlMnBcVx' },
  get Latency() {
    return this.WindowStats.latency.http;
  },
  get WindowStats() {
    return this.AssetStats.window;
  },
  get Plugin() {
    return this.PluginList[0];
  },
  get Limits() {
    return this.ClientDetail.limits;
  },
  get LimitOverrides() {
    return this.ClientDetail.limitOverrides;
  },
  get FailedJobs() {
    return { items: [{ ...this.Job, status: 'failed', attempts: 3, outcome: null, results: null, error: 'executor lost the job (lease expired)' }], more: false };
  },
  get ResultsPage() {
    return { items: [{ at: T1, jobId: JOB_ID, outcome: 'ok', results: [this.CheckResult] }], nextCursor: '1740906300412-0' };
  },
  get AssetStats() {
    return {
      window: {
        from: '2026-03-01T09:05:00.000Z',
        to: '2026-03-02T09:05:00.000Z',
        resolution: 'minute',
        checks: 1440,
        outcomes: { ok: 1437, error: 3 },
        failuresByReason: { timeout: 3 },
        uptimePercent: 99.79,
        coveragePercent: 100,
        timeInStateMs: { up: 86_220_000, down: 180_000 },
        latency: { http: { count: 1440, meanMs: 190.2, p50Ms: 176, p95Ms: 310, p99Ms: 612, maxMs: 5000 } },
        transitions: [{ at: '2026-03-02T03:12:00.000Z', from: 'up', to: 'down', reason: 'http: timeout' }],
        series: [{ t: '2026-03-02T09:00:00.000Z', checks: 24, failures: 0, uptimePercent: 100, meanMs: 181.5, p95Ms: 240, plugins: { http: { p50Ms: 170, p95Ms: 240 } } }],
      },
      plugins: {},
      assetId: ASSET_ID,
      state: 'up',
      checks: 20_160,
      successes: 20_141,
      failures: 19,
      lastCheckAt: T1,
      lastDurationMs: 182.4,
      lastOutcome: 'ok',
      latest: { http: this.CheckResult },
    };
  },
  FleetStats: {
    assetsByState: { up: 1180, degraded: 12, down: 3, unknown: 5 },
    checksPerSecond: 20.4,
    checksLastHour: 73_440,
    queue: { queued: 2, running: 8, failed: 0 },
    executorsAlive: 3,
    checksSkipped: { late: 0, pending: 4 },
    failingMost: [{ assetId: ASSET_ID, url: 'https://shop.example.com/', failures: 19 }],
  },
  Health: { status: 'ok', redis: { ok: true, latencyMs: 0.31 }, dispatcher: { ok: true, instances: 1 }, executors: { alive: 3 } },
  PluginList: [
    {
      name: 'tcp',
      description: 'Opens a TCP connection.',
      schemes: ['tcp'],
      optInSchemes: [],
      secretOptions: [],
      configSchema: { type: 'object', properties: { timeoutMs: { type: 'integer', default: 5000 } } },
      defaults: { timeoutMs: 5000 },
    },
  ],
  Whoami: { id: CLIENT_ID, admin: false },
  ClientInput: { name: 'Acme web team' },
  Client: { id: CLIENT_ID, name: 'Acme web team', createdAt: T0 },
  get ClientList() {
    return { items: [this.Client] };
  },
  get ClientCreated() {
    return { client: this.Client, apiKey: 'wm_3pQ9bq0xF2kVh7Lr1sYt8uWz5aNc4dEe' };
  },
  ClientPatch: { allowCidrs: ['10.1.0.0/16'], limits: { maxAssets: 5000, requestsPerSecond: null } },
  ClientDetail: {
    id: CLIENT_ID,
    name: 'Acme web team',
    createdAt: T0,
    allowCidrs: ['10.1.0.0/16'],
    limits: { ...DEFAULT_LIMITS, maxAssets: 5000 },
    limitOverrides: { maxAssets: 5000 },
  },
  KeyInput: { name: 'ci deploys', expiresInSec: 2_592_000 },
  ApiKey: { id: KEY_ID, clientId: CLIENT_ID, name: 'ci deploys', createdAt: T1, expiresAt: '2026-04-01T09:05:00.412Z', lastUsedAt: null, expired: false },
  get ApiKeyList() {
    return { items: [this.ApiKey] };
  },
  get KeyCreated() {
    return { apiKey: 'wm_Vb7nQ2xZ0pLk9sRt4yUw1aEc8dFg3hJm', key: this.ApiKey };
  },
  SyncInput: { assets: ['https://shop.example.com/', { url: 'https://blog.example.com/', tags: ['blog'] }] },
  SyncResult: {
    added: 1,
    updated: 0,
    kept: 1,
    removed: 2,
    failed: 0,
    pruned: true,
    items: [
      { index: 0, url: 'https://shop.example.com/', id: ASSET_ID, change: 'kept', state: 'up', lastCheckAt: T1 },
      { index: 1, url: 'https://blog.example.com/', id: 'b8Fq2LmZpXo4RtY1', change: 'added', state: 'unknown', lastCheckAt: null },
    ],
  },
  MaintenanceInput: { reason: 'database upgrade', tags: ['shop'], start: '2026-03-03T02:00:00.000Z', end: '2026-03-03T03:00:00.000Z' },
  Maintenance: {
    id: WINDOW_ID,
    owner: CLIENT_ID,
    reason: 'database upgrade',
    assetIds: [],
    tags: ['shop'],
    start: '2026-03-03T02:00:00.000Z',
    end: '2026-03-03T03:00:00.000Z',
    open: false,
    createdAt: T1,
  },
  get MaintenanceList() {
    return { items: [this.Maintenance] };
  },
  WebhookInput: { url: 'https://hooks.example.com/webmon', secret: 'a-long-random-shared-secret', remindEverySec: 3600 },
  WebhookEnable: { dropPending: false },
  Webhook: {
    clientId: CLIENT_ID,
    url: 'https://hooks.example.com/webmon',
    secretSet: true,
    remindEverySec: 3600,
    enabled: true,
    failures: 0,
    disabledReason: null,
    disabledAt: null,
    lastDeliveryAt: T1,
    lastError: null,
    lastErrorAt: null,
    nextAttemptAt: null,
    pending: 0,
    delivered: 42,
    dropped: 0,
    createdAt: T0,
    updatedAt: T0,
  },
  ChannelInput: {
    name: 'team-slack',
    type: 'webhook',
    options: { url: 'https://hooks.example.com/webmon', secret: 'a-long-random-shared-secret' },
    filters: { tags: ['prod'], minSeverity: 'down' },
    delaySec: 300,
    template: { title: '{{asset}} is {{state}}', text: '{{reason}} {{link}}' },
  },
  ChannelCreate: {
    name: 'team-hook',
    type: 'webhook',
    options: { url: 'https://hooks.example.com/webmon', secret: 'a-long-random-shared-secret' },
    test: true,
  },
  Channel: {
    id: 'k3Jd9sQ2',
    clientId: CLIENT_ID,
    name: 'team-hook',
    type: 'webhook',
    options: { url: 'https://hooks.example.com/webmon', secret: '[redacted]' },
    secretOptions: ['secret'],
    filters: { tags: ['prod'] },
    delaySec: 300,
    escalation: null,
    digestSec: null,
    template: null,
    remindEverySec: null,
    enabled: true,
    failures: 0,
    disabledReason: null,
    disabledAt: null,
    lastDeliveryAt: T1,
    lastError: null,
    lastErrorAt: null,
    nextAttemptAt: null,
    pending: 0,
    delivered: 42,
    dropped: 0,
    createdAt: T0,
    updatedAt: T0,
  },
  ChannelList: { channels: [] },
  ChannelType: {
    name: 'webhook',
    description: 'Signed JSON POST to your URL (Standard Webhooks), one request per message.',
    secretOptions: ['secret'],
    digest: false,
    optionsSchema: { type: 'object' },
    defaults: {},
  },
  ChannelTypeList: { channels: [] },
  ChannelTestResult: { channelId: 'k3Jd9sQ2', result: { outcome: 'delivered' } },
};

/** An example for every named component (schemas/), by its $id. */
export const COMPONENT_EXAMPLES: Readonly<Record<string, unknown>> = components;

export const METRICS_EXAMPLE =
  '# HELP webmon_checks_total Plugin runs by plugin, status (ok, warn, error) and reason\n# TYPE webmon_checks_total counter\nwebmon_checks_total{plugin="http",status="ok",reason=""} 73437\n';

export const PROBE_EXAMPLE =
  '# HELP probe_http_status_code Response HTTP status code\n# TYPE probe_http_status_code gauge\nprobe_http_status_code 200\n# HELP probe_success Displays whether or not the probe was a success\n# TYPE probe_success gauge\nprobe_success 1\n';

/** Ids of the examples, also shown as path parameter examples. */
export const ids = { asset: ASSET_ID, job: JOB_ID, client: CLIENT_ID, key: KEY_ID, window: WINDOW_ID };
