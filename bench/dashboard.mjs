#!/usr/bin/env node
/**
 * The dashboard at fleet size: time to first render of the Overview and of the Assets list in
 * Debian's chromium, and the size of the largest API response each page fetches.
 *
 *   npm run build && node bench/dashboard.mjs [--assets 10000] [--failing 2000] [--runs 5] [--json]
 *
 * Assets are created through the asset store and failures recorded through the job store (as in
 * bench/api-scale.mjs); an in-process api on a free loopback port serves the built dashboard
 * (packages/dashboard/dist) and the API. Each run opens a fresh page signed in with a session
 * cookie and measures, from navigation start (performance.now() in the page), until the page
 * shows its data: the state tiles of the Overview, the first row of the Assets list. Every API
 * response the page fetches is weighed (bytes on the wire, before compression). Also prints the
 * shipped bundle's gzipped size, and the live-update delay: with the Assets page open on an `up`
 * asset, from recording the check that makes it `down` until its row shows `down` (through
 * GET /events/stream, no reload).
 */
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { Redis } from 'ioredis';
import { chromium } from 'playwright-core';
import { buildApi } from '@webmon/api';
import { AssetStore, JobStore, connectRedis, createKeys, createLogger, freePort, jobPolicy, loadConfig, normalizeUrl, scripts, startManagedRedis } from '@webmon/core';
import { registry } from '@webmon/plugin-registry';

const { values } = parseArgs({
  options: {
    assets: { type: 'string', default: '10000' },
    failing: { type: 'string', default: '2000' },
    runs: { type: 'string', default: '5' },
    chromium: { type: 'string', default: process.env.WEBMON_CHROMIUM ?? '/usr/bin/chromium' },
    json: { type: 'boolean', default: false },
  },
});
const ASSETS = Math.max(100, Number(values.assets));
const FAILING = Math.min(ASSETS, Number(values.failing));
const RUNS = Math.max(1, Number(values.runs));
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
const DIST = fileURLToPath(new URL('../packages/dashboard/dist/', import.meta.url));
const say = (line) => values.json || process.stdout.write(`${line}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/** The shipped files (JS, CSS, HTML) gzipped at level 9, as a server or CDN would send them. */
function bundleSize() {
  const files = ['index.html', ...readdirSync(join(DIST, 'static')).map((f) => `static/${f}`)];
  let raw = 0;
  let gz = 0;
  for (const f of files) {
    const b = readFileSync(join(DIST, f));
    raw += b.length;
    gz += gzipSync(b, { level: 9 }).length;
  }
  return { files: files.length, raw, gz };
}

async function dataset(redis, config) {
  const keys = createKeys('wm');
  const sc = scripts(redis);
  const assets = new AssetStore(redis, keys, sc);
  const jobs = new JobStore(redis, keys, sc, jobPolicy(config));
  const ids = [];
  for (let from = 0; from < ASSETS; from += 2000) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(2000, ASSETS - from) }, (_, j) => {
        const i = from + j;
        const url = normalizeUrl(`https://shop${i}.customer${i % 500}.example.com/status/health?probe=${i % 7}`);
        return assets.create({ owner: 'admin', url, plugins: ['http'], config: {}, interval: 60, tags: [`team${i % 20}`] });
      }),
    );
    ids.push(...batch.map((a) => a.id));
  }
  if (typeof assets.ensureSearchIndex === 'function') await assets.ensureSearchIndex();
  const now = Date.now();
  const check = async (i, ok, at) => {
    const [jobId] = await jobs.enqueue([{ assetId: ids[i], owner: 'admin' }], 0, at);
    await jobs.claim(jobId, 'tok', 60_000, at);
    const r = ok
      ? { plugin: 'http', status: 'ok', reason: null, message: 'HTTP 200', durationMs: 40 + (i % 50), metrics: {} }
      : { plugin: 'http', status: 'error', reason: 'refused', message: 'connection refused', durationMs: 3, metrics: {} };
    await jobs.complete({ jobId, token: 'tok', outcome: ok ? 'ok' : 'error', reason: ok ? null : 'refused', results: [r], durationMs: r.durationMs, owner: 'admin', assetId: ids[i] }, at);
  };
  for (let from = 0; from < ASSETS; from += 1000) {
    await Promise.all(Array.from({ length: Math.min(1000, ASSETS - from) }, (_, j) => check(from + j, from + j >= FAILING, now - 60_000 + j)));
  }
  return { ids, check };
}

/** Ms from recording the check that turns an `up` asset `down` until an open Assets page shows it. */
async function liveDelay(browser, base, cookie, data, i, downAfter) {
  const context = await browser.newContext();
  await context.addCookies([{ name: 'webmon_session', value: cookie, url: base }]);
  const page = await context.newPage();
  await page.goto(`${base}/#/assets?q=shop${i}.`);
  await page.waitForSelector(`tr[data-asset-id="${data.ids[i]}"][data-state="up"]`, { timeout: 30_000 });
  await page.waitForSelector('.live-live', { timeout: 30_000 });
  for (let k = 0; k < downAfter - 1; k++) await data.check(i, false, Date.now());
  const t0 = performance.now();
  await data.check(i, false, Date.now());
  await page.waitForSelector(`tr[data-asset-id="${data.ids[i]}"][data-state="down"]`, { timeout: 30_000 });
  const ms = performance.now() - t0;
  await context.close();
  return ms;
}

/** One fresh page: ms from navigation start until `selector` is in the DOM, and the API responses' sizes. */
async function measure(browser, base, cookie, hash, selector) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addCookies([{ name: 'webmon_session', value: cookie, url: base }]);
  const page = await context.newPage();
  const responses = [];
  page.on('response', async (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith('/static/') || path === '/' || path === '/favicon.svg' || path === '/events/stream') return;
    const body = await r.body().catch(() => null);
    if (body) responses.push({ path: new URL(r.url()).pathname + new URL(r.url()).search, bytes: body.length });
  });
  await page.goto(`${base}/${hash}`);
  const ms = await page.waitForFunction((sel) => document.querySelector(sel) && performance.now(), selector, { polling: 'raf', timeout: 30_000 }).then((h) => h.jsonValue());
  await page.waitForLoadState('networkidle').catch(() => {});
  await context.close();
  return { ms, responses };
}

const dir = mkdtempSync(join(tmpdir(), 'webmon-bench-dash-'));
const server = await startManagedRedis({ dir });
const redis = new Redis(server.url, { enableAutoPipelining: true });
let app;
let browser;
try {
  const config = loadConfig({ env: {}, overrides: { redis: { keyPrefix: 'wm' }, api: { adminKey: ADMIN_KEY }, snapshots: { afterWrites: 'off' } } });
  let t0 = performance.now();
  const data = await dataset(redis, config);
  const setupSeconds = (performance.now() - t0) / 1000;
  const apiRedis = connectRedis({ url: server.url, failFast: true });
  await apiRedis.connect();
  app = await buildApi({ config, redis: apiRedis, log: createLogger({ level: 'silent', role: 'api' }), registry, jobs: { push: async () => 0 } });
  const port = await freePort();
  await app.listen({ host: '127.0.0.1', port });
  const base = `http://127.0.0.1:${port}`;
  const signedIn = await fetch(`${base}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: ADMIN_KEY }) });
  const cookie = /webmon_session=([^;]+)/.exec(signedIn.headers.get('set-cookie') ?? '')?.[1];
  if (!cookie) throw new Error(`no session cookie (${signedIn.status})`);
  browser = await chromium.launch({ executablePath: values.chromium, args: ['--no-sandbox', '--disable-dev-shm-usage'] });

  const bundle = bundleSize();
  say(`webmon dashboard at scale — ${new Date().toISOString().slice(0, 10)}, ${ASSETS} assets (${FAILING} failing), dataset in ${setupSeconds.toFixed(1)} s`);
  say(`bundle: ${bundle.files} files, ${(bundle.raw / 1024).toFixed(1)} KB, ${(bundle.gz / 1024).toFixed(1)} KB gzipped`);
  const pages = [
    ['Overview', '#/', '.tile[data-state="up"] .tile-n'],
    ['Assets', '#/assets', 'tr[data-asset-id]'],
  ];
  const result = { assets: ASSETS, failing: FAILING, bundleGzipBytes: bundle.gz, pages: {} };
  await measure(browser, base, cookie, '#/', 'h1'); // warm-up: browser start, first compile
  for (const [name, hash, selector] of pages) {
    const times = [];
    let largest = { path: '', bytes: 0 };
    for (let i = 0; i < RUNS; i++) {
      t0 = performance.now();
      const r = await measure(browser, base, cookie, hash, selector);
      times.push(r.ms);
      for (const x of r.responses) if (x.bytes > largest.bytes) largest = x;
    }
    result.pages[name] = { firstRenderMsMedian: Math.round(median(times)), firstRenderMsMax: Math.round(Math.max(...times)), largestResponseBytes: largest.bytes, largestResponse: largest.path };
    say(`${name.padEnd(9)} first render: median ${Math.round(median(times))} ms, max ${Math.round(Math.max(...times))} ms over ${RUNS} runs; largest API response ${(largest.bytes / 1024).toFixed(1)} KB (${largest.path})`);
  }
  const delays = [];
  for (let r = 0; r < RUNS; r++) delays.push(await liveDelay(browser, base, cookie, data, FAILING + r, config.checks.downAfter));
  result.liveUpdateMs = { median: Math.round(median(delays)), max: Math.round(Math.max(...delays)) };
  say(`live update: a row turns down ${Math.round(median(delays))} ms (median; max ${Math.round(Math.max(...delays))} ms) after the check that brings it down`);
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await browser?.close();
  await app?.close().catch(() => undefined);
  redis.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
