/**
 * Per-asset series on GET /metrics (metrics.perAsset): off by default; values for each state and
 * plugin durations read from Redis; the cap and the time budget with their truncation gauge and
 * warning; escaped labels; and each caller sees only the assets it may.
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_CLIENT_ID, ALL_OWNERS, ASSET_STATES, JobStore, jobPolicy, readAssetSeries, type CheckResult } from '@webmon/core';
import { ADMIN, testApi, type TestApi } from '../../test/helpers/api.js';
import { PerAssetMetrics } from './per-asset-metrics.js';

type Families = ReturnType<typeof parsePrometheusTextFormat>;
type Sample = Families[number]['metrics'][number];

/** GET /metrics with a key (null: none): the status and the parsed families. */
async function scrape(api: TestApi, key: string | null): Promise<{ status: number; families: Families; body: string }> {
  const res = await api.app.inject({ method: 'GET', url: '/metrics', headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { status: res.statusCode, families: res.statusCode === 200 ? parsePrometheusTextFormat(res.body) : [], body: res.body };
}

function samples(families: Families, name: string): Sample[] {
  return families.find((f) => f.name === name)?.metrics ?? [];
}

/** Sample values of one family by asset id (and plugin, for durations: `id/plugin`). */
function byAsset(families: Families, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of samples(families, name)) out[m.labels?.plugin ? `${m.labels.asset_id}/${m.labels.plugin}` : m.labels!.asset_id!] = m.value!;
  return out;
}

/** The state each asset's one-hot webmon_asset_state shows, after checking it is one-hot over every state. */
function stateOf(families: Families): Record<string, string> {
  const rows: Record<string, Record<string, string>> = {};
  for (const m of samples(families, 'webmon_asset_state')) {
    const id = m.labels!.asset_id!;
    rows[id] = { ...rows[id], [m.labels!.state!]: m.value! };
  }
  const out: Record<string, string> = {};
  for (const [id, states] of Object.entries(rows)) {
    expect(Object.keys(states).sort(), id).toEqual([...ASSET_STATES].sort());
    const on = Object.entries(states).filter(([, v]) => v === '1');
    expect(on, id).toHaveLength(1);
    expect(Object.values(states).filter((v) => v !== '0' && v !== '1'), id).toEqual([]);
    out[id] = on[0]![0];
  }
  return out;
}

/** Records one check of an asset as an executor would. */
async function check(api: TestApi, assetId: string, owner: string, results: Array<Pick<CheckResult, 'plugin' | 'status' | 'durationMs'>>): Promise<void> {
  const jobs = new JobStore(api.t.redis, api.t.keys, api.t.scripts, jobPolicy(api.config));
  const [id] = await jobs.enqueue([{ assetId, owner }], 0);
  await jobs.claim(id!, 'tok', 60_000);
  const full: CheckResult[] = results.map((r) => ({ ...r, reason: r.status === 'ok' ? null : 'timeout', message: r.status, metrics: {} }));
  const outcome = full.some((r) => r.status === 'error') ? 'error' : full.some((r) => r.status === 'warn') ? 'warn' : 'ok';
  const reason = outcome === 'ok' ? null : 'timeout';
  await jobs.complete({ jobId: id!, token: 'tok', outcome, reason, results: full, durationMs: Math.max(...results.map((r) => r.durationMs)), owner, assetId });
}

async function createAsset(api: TestApi, url: string, key: string = ADMIN, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await api.call('POST', '/assets', { url, plugins: ['http'], ...extra }, key);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

describe('per-asset series off (the default)', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await testApi('perasset-off');
  });
  afterAll(() => api.close());

  it('shows fleet metrics and no series per asset', async () => {
    const id = await createAsset(api, 'https://off.test/');
    await check(api, id, ADMIN_CLIENT_ID, [{ plugin: 'http', status: 'ok', durationMs: 12 }]);
    const { status, families } = await scrape(api, ADMIN);
    expect(status).toBe(200);
    expect(families.find((f) => f.name === 'webmon_assets')).toBeDefined();
    expect(families.filter((f) => f.name.startsWith('webmon_asset_')).map((f) => f.name)).toEqual([]);
  });
});

describe('per-asset series on a public /metrics', () => {
  let api: TestApi;
  let client: { id: string; apiKey: string };
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    api = await testApi('perasset-public', { metrics: { perAsset: true }, checks: { downAfter: 1 } });
    client = await api.newClient('metrics client');
    ids.up = await createAsset(api, 'https://up.test/', ADMIN, { plugins: ['http', 'htmlstats'] });
    ids.degraded = await createAsset(api, 'https://degraded.test/');
    ids.down = await createAsset(api, 'https://down.test/');
    ids.paused = await createAsset(api, 'https://paused.test/');
    ids.maintenance = await createAsset(api, 'https://maintenance.test/');
    ids.unknown = await createAsset(api, 'https://unknown.test/');
    ids.client = await createAsset(api, 'https://client.test/', client.apiKey);
    await check(api, ids.up, ADMIN_CLIENT_ID, [
      { plugin: 'http', status: 'ok', durationMs: 120.5 },
      { plugin: 'htmlstats', status: 'ok', durationMs: 30 },
    ]);
    await check(api, ids.degraded, ADMIN_CLIENT_ID, [{ plugin: 'http', status: 'warn', durationMs: 2500 }]);
    await check(api, ids.down, ADMIN_CLIENT_ID, [{ plugin: 'http', status: 'error', durationMs: 10_000 }]);
    await check(api, ids.paused, ADMIN_CLIENT_ID, [{ plugin: 'http', status: 'ok', durationMs: 40 }]);
    await check(api, ids.maintenance, ADMIN_CLIENT_ID, [{ plugin: 'http', status: 'error', durationMs: 7 }]);
    await check(api, ids.client, client.id, [{ plugin: 'http', status: 'ok', durationMs: 55 }]);
    expect((await api.call('PATCH', `/assets/${ids.paused}`, { paused: true })).status).toBe(200);
    const window = { reason: 'deploy', assetIds: [ids.maintenance], start: new Date(Date.now() - 60_000).toISOString(), end: new Date(Date.now() + 3_600_000).toISOString() };
    expect((await api.call('POST', '/maintenance', window)).status).toBe(201);
  });
  afterAll(() => api.close());

  it('gives the admin key every asset: up 1/0 by state, one-hot states, latest durations per plugin', async () => {
    const { status, families } = await scrape(api, ADMIN);
    expect(status).toBe(200);
    expect(families.find((f) => f.name === 'webmon_assets')).toBeDefined();
    expect(byAsset(families, 'webmon_asset_up')).toEqual({ [ids.up!]: '1', [ids.degraded!]: '1', [ids.down!]: '0', [ids.client!]: '1' });
    expect(stateOf(families)).toEqual({
      [ids.up!]: 'up',
      [ids.degraded!]: 'degraded',
      [ids.down!]: 'down',
      [ids.paused!]: 'paused',
      [ids.maintenance!]: 'maintenance',
      [ids.unknown!]: 'unknown',
      [ids.client!]: 'up',
    });
    expect(byAsset(families, 'webmon_asset_check_duration_seconds')).toEqual({
      [`${ids.up}/http`]: '0.1205',
      [`${ids.up}/htmlstats`]: '0.03',
      [`${ids.degraded}/http`]: '2.5',
      [`${ids.down}/http`]: '10',
      [`${ids.paused}/http`]: '0.04',
      [`${ids.maintenance}/http`]: '0.007',
      [`${ids.client}/http`]: '0.055',
    });
    const up = samples(families, 'webmon_asset_up').find((m) => m.labels!.asset_id === ids.client)!;
    expect(up.labels).toEqual({ asset_id: ids.client, owner: client.id, url: 'https://client.test/' });
    expect(samples(families, 'webmon_asset_series_truncated').map((m) => m.value)).toEqual(['0']);
    for (const f of families.filter((f) => f.name.startsWith('webmon_asset_'))) expect(f.type, f.name).toBe('GAUGE');
  });

  it('gives a request without a key the admin-owned assets only, and a client key its own', async () => {
    const anonymous = await scrape(api, null);
    expect(anonymous.status).toBe(200);
    expect(anonymous.families.find((f) => f.name === 'webmon_assets')).toBeDefined();
    expect(Object.keys(stateOf(anonymous.families)).sort()).toEqual(Object.entries(ids).filter(([k]) => k !== 'client').map(([, v]) => v).sort());
    const asClient = await scrape(api, client.apiKey);
    expect(asClient.status).toBe(200);
    expect(asClient.families.find((f) => f.name === 'webmon_assets')).toBeDefined();
    expect(Object.keys(stateOf(asClient.families))).toEqual([ids.client]);
    expect(byAsset(asClient.families, 'webmon_asset_check_duration_seconds')).toEqual({ [`${ids.client}/http`]: '0.055' });
  });

  it('refuses an unknown key rather than answering as if none were given', async () => {
    const res = await scrape(api, 'not-a-key-of-anyone-0123456789');
    expect([res.status, JSON.parse(res.body).code]).toEqual([401, 'WEBMON_ERR_UNAUTHORIZED']);
    const spec = JSON.parse((await api.app.inject({ method: 'GET', url: '/docs/json' })).body);
    expect(Object.keys(spec.paths['/metrics'].get.responses)).toContain('401');
  });

  it('escapes label values and bounds the url label', async () => {
    const backslash = await createAsset(api, 'https://escape.test/a?q=back\\slash');
    const id = await createAsset(api, 'https://escape.test/b');
    // The URL normaliser percent-encodes quotes and line feeds; a stored URL holding them must still be written as a valid label.
    const stored = 'https://escape.test/"quoted"\\path\nline';
    await api.t.redis.hset(api.t.keys.asset(id), 'url', stored);
    const long = await createAsset(api, `https://long.test/${'x'.repeat(400)}`);
    const { families } = await scrape(api, ADMIN);
    const labels = (assetId: string) => samples(families, 'webmon_asset_state').find((m) => m.labels!.asset_id === assetId)!.labels!;
    expect(labels(backslash).url).toBe('https://escape.test/a?q=back\\slash');
    expect(labels(id).url).toBe(stored);
    const cut = labels(long).url!;
    expect([...cut]).toHaveLength(200);
    expect(cut).toBe(`https://long.test/${'x'.repeat(181)}…`);
  });
});

describe('per-asset series on a private /metrics', () => {
  let api: TestApi;
  let clients: Array<{ id: string; apiKey: string }>;
  beforeAll(async () => {
    api = await testApi('perasset-private', { api: { adminKey: ADMIN, publicMetrics: false }, metrics: { perAsset: true, perAssetUrlMax: 0 } });
    clients = [await api.newClient('one'), await api.newClient('two')];
    for (const [i, c] of clients.entries()) await createAsset(api, `https://tenant-${i}.test/`, c.apiKey);
    await createAsset(api, 'https://admin.test/');
  });
  afterAll(() => api.close());

  it('gives a client key its own per-asset series and nothing fleet-wide, the admin key everything, no key nothing', async () => {
    for (const c of clients) {
      const { status, families } = await scrape(api, c.apiKey);
      expect(status).toBe(200);
      expect(families.filter((f) => !f.name.startsWith('webmon_asset_')).map((f) => f.name)).toEqual([]);
      const owners = samples(families, 'webmon_asset_state').map((m) => m.labels!.owner);
      expect(new Set(owners)).toEqual(new Set([c.id]));
      expect(owners).toHaveLength(ASSET_STATES.length);
    }
    const admin = await scrape(api, ADMIN);
    expect(admin.families.find((f) => f.name === 'webmon_jobs')).toBeDefined();
    expect(new Set(samples(admin.families, 'webmon_asset_state').map((m) => m.labels!.owner))).toEqual(new Set([...clients.map((c) => c.id), ADMIN_CLIENT_ID]));
    // perAssetUrlMax 0: no url label.
    expect(Object.keys(samples(admin.families, 'webmon_asset_state')[0]!.labels!).sort()).toEqual(['asset_id', 'owner', 'state']);
    const anonymous = await scrape(api, null);
    expect([anonymous.status, JSON.parse(anonymous.body).code]).toEqual([401, 'WEBMON_ERR_UNAUTHORIZED']);
  });
});

describe('per-asset series past the cap or the time budget', () => {
  let api: TestApi;
  let created: string[];
  beforeAll(async () => {
    api = await testApi('perasset-cap', { metrics: { perAsset: true, perAssetMax: 3, perAssetPublic: 'none' } });
    created = [];
    for (let i = 0; i < 5; i++) created.push(await createAsset(api, `https://cap-${i}.test/`));
  });
  afterAll(() => api.close());

  it('exports the first assets created, up to perAssetMax, and says it left some out', async () => {
    const first = await scrape(api, ADMIN);
    expect(Object.keys(stateOf(first.families))).toEqual(created.slice(0, 3));
    expect(samples(first.families, 'webmon_asset_series_truncated').map((m) => m.value)).toEqual(['1']);
    // Deleting one of the first lets the next one in: the order is creation, not a snapshot.
    expect((await api.call('DELETE', `/assets/${created[1]}`)).status).toBe(204);
    const second = await scrape(api, ADMIN);
    expect(Object.keys(stateOf(second.families))).toEqual([created[0], created[2], created[3]]);
  });

  it('shows no per-asset series without a key when perAssetPublic is none', async () => {
    const { status, families } = await scrape(api, null);
    expect(status).toBe(200);
    expect(families.find((f) => f.name === 'webmon_assets')).toBeDefined();
    expect(families.filter((f) => f.name.startsWith('webmon_asset_')).map((f) => f.name)).toEqual([]);
  });

  it('warns at most once a minute while assets are left out', async () => {
    const warnings: unknown[] = [];
    const log = { warn: (obj: unknown) => void warnings.push(obj) };
    const metrics = new PerAssetMetrics({ config: api.config, redis: api.redis, keys: api.t.keys });
    const t0 = 1_000_000;
    await metrics.render(ALL_OWNERS, log, t0);
    await metrics.render(ALL_OWNERS, log, t0 + 59_999);
    expect(warnings).toEqual([{ exported: 3, total: 4, owner: ALL_OWNERS, limit: 'metrics.perAssetMax 3' }]);
    await metrics.render(ALL_OWNERS, log, t0 + 60_000);
    expect(warnings).toHaveLength(2);
  });

  it('stops reading at the time budget after the first chunk, and says so', async () => {
    const res = await api.call('POST', '/assets/batch', { assets: Array.from({ length: 250 }, (_, i) => ({ url: `https://budget-${i}.test/`, plugins: ['http'] })) });
    expect(res.status).toBe(200);
    const out = await readAssetSeries(api.redis, api.t.keys, ALL_OWNERS, { max: 1000, budgetMs: 0 });
    expect([out.assets.length, out.total, out.truncated]).toEqual([200, 254, 'budget']);
    const all = await readAssetSeries(api.redis, api.t.keys, ALL_OWNERS, { max: 1000, budgetMs: 60_000 });
    expect([all.assets.length, all.truncated]).toEqual([254, null]);
    expect(all.assets.slice(0, 4).map((a) => a.id)).toEqual([created[0], created[2], created[3], created[4]]);
  });
});
