/**
 * The htmlstats plugin against a real HTTP server on 127.0.0.1 (node:http), run through
 * runPlugin with configs validated by PluginRegistry, as the executor runs it. Storage is an
 * in-memory PluginStorage (the Redis-backed one is tested in packages/core); the shared cache is
 * the executor's memoising `once`. Every loop has a bound; the server is closed in afterAll.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PluginRegistry,
  clientEgress,
  createSharedCache,
  memoryStorage,
  operatorEgress,
  runPlugin,
  type AnyPlugin,
  type CheckResult,
  type EgressGuard,
  type PluginStorage,
} from '@webmon/plugin-sdk';
import { httpPlugin } from '@webmon/plugin-http';
import {
  FEATURES,
  HTMLSTATS_PENDING_KEY,
  HTMLSTATS_WINDOW_KEY,
  effectiveDeviation,
  extractFeatures,
  htmlStatsPlugin,
  resetHtmlStatsBaseline,
  scoreFeature,
} from './index.js';

// ---------------------------------------------------------------------------------------------
// Context, registry and the check helper

const registry = new PluginRegistry([httpPlugin, htmlStatsPlugin]);
const silentLog = pino({ level: 'silent' });

/** Samples stored by htmlstats (window and pending). */
async function sampled(storage: PluginStorage): Promise<number> {
  return (await storage.window(HTMLSTATS_WINDOW_KEY)).length + (await storage.window(HTMLSTATS_PENDING_KEY)).length;
}

function validated(plugin: string, options: Record<string, unknown>): Record<string, unknown> {
  const v = registry.validate(plugin, options);
  if (!v.ok) throw new Error(`invalid test config: ${JSON.stringify(v.problems)}`);
  return v.value;
}

/** Runs plugins of one check as the executor does: one shared cache, started in the given order. */
async function checkWith(
  plugins: { plugin: AnyPlugin; options?: Record<string, unknown>; storage?: PluginStorage }[],
  url: string,
  egress: EgressGuard = operatorEgress(),
): Promise<CheckResult[]> {
  const shared = createSharedCache();
  const target = { url: new URL(url), assetId: 'asset-htmlstats-test' };
  return Promise.all(
    plugins.map(({ plugin, options = {}, storage = memoryStorage() }) => {
      const config = validated(plugin.name, options);
      return runPlugin(plugin, target, config, { log: silentLog, storage, shared, egress }, config.timeoutMs as number);
    }),
  );
}

/** One htmlstats check of `path` on the test server. */
async function check(path: string, storage: PluginStorage, options: Record<string, unknown> = {}): Promise<CheckResult> {
  const [r] = await checkWith([{ plugin: htmlStatsPlugin, options, storage }], base + path);
  return r!;
}

// ---------------------------------------------------------------------------------------------
// Server: serves whatever a test put under a path and counts the requests per path

interface Route {
  status?: number;
  body: string | Buffer;
  headers?: Record<string, string>;
}

const routes = new Map<string, Route>();
const hits = new Map<string, number>();
let server: Server;
let base = '';

function serve(path: string, route: Route | string): void {
  routes.set(path, typeof route === 'string' ? { body: route } : route);
}

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const route = routes.get(path);
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>not found</h1>');
      return;
    }
    const body = Buffer.from(route.body);
    res.writeHead(route.status ?? 200, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(body.length), ...route.headers });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await httpPlugin.close?.();
});

// ---------------------------------------------------------------------------------------------
// Pages

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['status', 'monitor', 'page', 'report', 'service', 'uptime', 'latency', 'change', 'content', 'release'];

/** A plausible article page: navigation, paragraphs of words, a script, a style and a form. */
function page({ paragraphs = 40, words = 10, extraWords = 0, divs = 0, iframes = 0 } = {}): string {
  const ps: string[] = [];
  for (let i = 0; i < paragraphs; i++) {
    const w: string[] = [];
    for (let j = 0; j < words; j++) w.push(WORDS[(i * 7 + j) % WORDS.length]!);
    ps.push(`<p>${w.join(' ')}.</p>`);
  }
  ps.push(`<p>${WORDS.slice(0, extraWords).join(' ')}</p>`);
  return `<!doctype html><html><head><meta charset="utf-8"><title>Article</title>
<link rel="stylesheet" href="/s.css"><style>p { margin: 0 }</style><script>var x = 1;</script></head>
<body><nav><a href="/">Home</a> <a href="/news">News</a> <a href="https://example.org/x">Partner</a>
<a href="https://cdn.example.net/">CDN</a> <a href="mailto:info@example.com">Mail</a></nav>
<div class="content">${ps.join('\n')}${'<div class="ad">ad</div>'.repeat(divs)}${'<iframe src="/frame"></iframe>'.repeat(iframes)}</div>
<form action="/search"><input name="q"></form></body></html>`;
}

function zMetrics(r: CheckResult): Record<string, number> {
  return Object.fromEntries(Object.entries(r.metrics).filter(([k]) => k.startsWith('z_')));
}

function deviatingFeatures(r: CheckResult): string[] {
  return ((r.details?.deviations ?? []) as { feature: string }[]).map((d) => d.feature);
}

// ---------------------------------------------------------------------------------------------
// Tests

describe('features', () => {
  it('counts elements, key tags, visible text, links and linked hosts', () => {
    const html = `<html><head><base href="https://base.test/dir/"><meta name="a"><link rel="icon" href="/i.png">
<script>var hidden = "not text";</script></head><body>
  <p>Hello   <b>wörld</b></p>
  <style>.x{}</style><noscript>enable js</noscript><template><p>later</p></template>
  <a href="page">rel</a> <a href="//other.test/x">proto-relative</a> <a href="http://BASE.test:8080/">port</a>
  <a href="mailto:a@b.c">mail</a> <a href="http://[bad">bad</a> <a>no href</a>
  <img src="a.png"><iframe src="/f"></iframe><table><tr><td>1</td></tr></table><form></form><div></div>
</body></html>`;
    const f = extractFeatures(Buffer.from(html), 'https://page.test/start');
    expect(f).toMatchObject({
      bytes: Buffer.byteLength(html),
      tag_a: 6,
      tag_img: 1,
      tag_script: 1,
      tag_link: 1,
      tag_meta: 1,
      tag_div: 1,
      tag_p: 2, // one in the template
      tag_form: 1,
      tag_iframe: 1,
      tag_table: 1,
      links: 5, // a[href]
      link_hosts: 2, // base.test (relative and BASE.test:8080) and other.test; mailto and the bad URL are skipped
    });
    // "Hello wörld rel proto-relative port mail bad no href 1": script, style, noscript, template hidden.
    expect(f.text_length).toBe('Hello wörld rel proto-relative port mail bad no href 1'.length);
    // As written (no implied elements): html head base meta link script body p b style noscript
    // template p a×6 img iframe table tr td form div
    expect(f.elements).toBe(26);
    expect(Object.keys(f).sort()).toEqual([...FEATURES].sort());
  });

  it('decodes by charset (UTF-8 when the page says nothing) and counts bytes as received', () => {
    const utf8 = Buffer.from('<p>héllo</p>', 'utf8');
    expect(extractFeatures(utf8, 'http://x.test/').text_length).toBe(5);
    const latin1 = Buffer.from('<p>héllo</p>', 'latin1');
    const f = extractFeatures(latin1, 'http://x.test/', 'text/html; charset=ISO-8859-1');
    expect(f).toMatchObject({ text_length: 5, bytes: 12 });
  });
});

describe('statistics', () => {
  const opts = { minSamples: 5, warnZ: 3, errorZ: 5, minRelativeChange: 0.05, minAbsoluteChange: 1 };

  it('uses the sample standard deviation of the earlier values', () => {
    const s = scoreFeature('x', 20, [10, 12, 14, 16, 18], opts)!;
    expect(s.mean).toBe(14);
    expect(s.sd).toBeCloseTo(Math.sqrt(10), 12); // Σ(x−14)² = 40, n−1 = 4
    expect(s.z).toBeCloseTo(6 / Math.sqrt(10), 12);
    expect(s.level).toBe('ok');
  });

  it('floors the deviation: relative to the mean, then absolute', () => {
    expect(effectiveDeviation(0, 200, opts)).toBe(10);
    expect(effectiveDeviation(0, 0, opts)).toBe(1);
    expect(effectiveDeviation(25, 200, opts)).toBe(25);
    expect(scoreFeature('x', 3, [0, 0, 0, 0, 0], opts)).toMatchObject({ sd: 0, sdEff: 1, z: 3, level: 'warn' });
    expect(scoreFeature('x', 100, [0, 0, 0, 0, 0], opts)).toMatchObject({ z: 100, level: 'error' });
    expect(scoreFeature('x', 1, [0, 0, 0, 0], opts)).toBeNull();
  });
});

describe('htmlstats plugin', () => {
  it('learns until minSamples samples, then scores (no z-scores while learning)', async () => {
    serve('/learn', page());
    const storage = memoryStorage();
    const messages: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await check('/learn', storage, { minSamples: 3 });
      expect(r).toMatchObject({ plugin: 'htmlstats', status: 'ok', reason: null });
      messages.push(r.message);
      if (i < 3) {
        expect(zMetrics(r)).toEqual({});
        expect(r.metrics).toMatchObject({ samples: i + 1, elements: expect.any(Number), bytes: expect.any(Number) });
      } else {
        expect(Object.keys(zMetrics(r)).sort()).toEqual(FEATURES.map((f) => `z_${f}`).sort());
      }
    }
    expect(messages.slice(0, 3)).toEqual(['learning (1/3 samples)', 'learning (2/3 samples)', 'learning (3/3 samples)']);
    expect(messages[3]).toMatch(/^no deviation from 3 samples/);
  });

  it('does not alarm on a page that drifts a little, then flags a drastic change by name', async () => {
    const storage = memoryStorage();
    const rand = prng(20260522);
    for (let i = 0; i < 20; i++) {
      // One paragraph more or less, a few words more or less, sometimes one extra div.
      serve('/drift', page({ paragraphs: 40 + Math.floor(rand() * 3) - 1, extraWords: Math.floor(rand() * 6), divs: Math.floor(rand() * 2) }));
      const r = await check('/drift', storage);
      expect(r.status, `check ${i + 1}: ${r.message}`).toBe('ok');
      for (const z of Object.values(zMetrics(r))) expect(Math.abs(z)).toBeLessThan(3);
    }
    expect(await storage.window(HTMLSTATS_WINDOW_KEY)).toHaveLength(20);

    // The page is replaced by a tiny one.
    serve('/drift', '<!doctype html><p>Gone.</p>');
    const tiny = await check('/drift', storage);
    expect(tiny).toMatchObject({ status: 'error', reason: 'deviation' });
    expect(deviatingFeatures(tiny)).toEqual(expect.arrayContaining(['elements', 'bytes', 'tag_p', 'text_length']));
    expect(tiny.message).toMatch(/^deviation: .*\belements 1 \(mean [\d.]+, σ [\d.]+( floor)?, z -[\d.]+\)/); // just the <p>
    expect(tiny.message).toContain('bytes ');
    expect(tiny.metrics.z_elements).toBeLessThan(-5);
    expect(tiny.details).toMatchObject({ consecutiveDeviations: 1 });

    // Ten times the elements.
    serve('/drift', page({ paragraphs: 400 }));
    const big = await check('/drift', storage);
    expect(big).toMatchObject({ status: 'error', reason: 'deviation' });
    expect(deviatingFeatures(big)).toEqual(expect.arrayContaining(['elements', 'bytes', 'tag_p']));
    expect(big.metrics.z_elements).toBeGreaterThan(5);
    // Deviating samples are held out of the baseline.
    expect(await storage.window(HTMLSTATS_WINDOW_KEY)).toHaveLength(20);
    expect(await storage.window(HTMLSTATS_PENDING_KEY)).toHaveLength(2);

    // Back to normal: ok, joins the window, the held-out samples are dropped.
    serve('/drift', page({ paragraphs: 40, extraWords: 3 }));
    const back = await check('/drift', storage);
    expect(back.status, back.message).toBe('ok');
    expect(await storage.window(HTMLSTATS_WINDOW_KEY)).toHaveLength(21);
    expect(await storage.window(HTMLSTATS_PENDING_KEY)).toEqual([]);
  });

  it('keeps scores finite on a constant history (floored deviation)', async () => {
    const storage = memoryStorage();
    serve('/constant', page());
    for (let i = 0; i < 6; i++) {
      const r = await check('/constant', storage);
      expect(r.status).toBe('ok');
    }
    // One paragraph more: σ = 0 for every feature, floors apply.
    serve('/constant', page({ paragraphs: 41 }));
    const small = await check('/constant', storage);
    expect(small.status, small.message).toBe('ok');
    for (const [k, z] of Object.entries(zMetrics(small))) expect(Number.isFinite(z), k).toBe(true);
    expect(small.metrics.z_tag_p).toBe(0.488); // 1 / max(0, 0.05 × 41, 1)
    expect(small.metrics.z_tag_iframe).toBe(0);

    // Three iframes where there never was one: z = 3 / minAbsoluteChange.
    serve('/constant', page({ iframes: 3 }));
    const frames = await check('/constant', storage);
    expect(frames).toMatchObject({ status: 'warn', reason: 'deviation' });
    expect(frames.metrics.z_tag_iframe).toBe(3);
    expect(frames.details?.deviations).toEqual([{ feature: 'tag_iframe', value: 3, mean: 0, sd: 0, sdEff: 1, z: 3, level: 'warn' }]);
    expect(frames.message).toContain('tag_iframe 3 (mean 0, σ 1 floor, z +3)');
    for (const z of Object.values(zMetrics(frames))) expect(Number.isFinite(z)).toBe(true);
  });

  it('adopts a page that changed for good after adoptAfter consecutive deviating checks', async () => {
    const storage = memoryStorage();
    serve('/adopt', page());
    for (let i = 0; i < 5; i++) await check('/adopt', storage, { adoptAfter: 5 });
    serve('/adopt', page({ paragraphs: 5 }));
    for (let i = 1; i <= 4; i++) {
      const r = await check('/adopt', storage, { adoptAfter: 5 });
      expect(r).toMatchObject({ status: 'error', reason: 'deviation', details: { consecutiveDeviations: i } });
      expect(r.message).toContain(`(${i}/5 consecutive`);
    }
    const fifth = await check('/adopt', storage, { adoptAfter: 5 });
    expect(fifth).toMatchObject({ status: 'error', details: { baselineReplaced: true } });
    expect(await storage.window(HTMLSTATS_WINDOW_KEY)).toHaveLength(5);
    expect(await storage.window(HTMLSTATS_PENDING_KEY)).toEqual([]);
    const after = await check('/adopt', storage, { adoptAfter: 5 });
    expect(after.status, after.message).toBe('ok');
    expect(after.message).toMatch(/^no deviation from 5 samples/);

    // adoptAfter 0: never adopted, nothing held.
    const never = memoryStorage();
    serve('/never', page());
    for (let i = 0; i < 5; i++) await check('/never', never, { adoptAfter: 0 });
    serve('/never', page({ paragraphs: 5 }));
    for (let i = 0; i < 3; i++) {
      const r = await check('/never', never, { adoptAfter: 0 });
      expect(r.status).toBe('error');
      expect(r.message).toMatch(/not added to the baseline$/);
    }
    expect(await never.window(HTMLSTATS_WINDOW_KEY)).toHaveLength(5);
    expect(await never.window(HTMLSTATS_PENDING_KEY)).toEqual([]);
  });

  it('shares the page with the http plugin: one request per check', async () => {
    serve('/shared', page());
    const [http, stats] = await checkWith([{ plugin: httpPlugin }, { plugin: htmlStatsPlugin }], `${base}/shared`);
    expect(hits.get('/shared')).toBe(1);
    expect(http).toMatchObject({ plugin: 'http', status: 'ok' });
    expect(stats).toMatchObject({ plugin: 'htmlstats', status: 'ok', message: 'learning (1/5 samples)' });
    expect(stats!.metrics.bytes).toBe(http!.metrics.bytes);

    // Whatever the order, and a new check is a new request.
    await checkWith([{ plugin: htmlStatsPlugin }, { plugin: httpPlugin }], `${base}/shared`);
    expect(hits.get('/shared')).toBe(2);
    // Alone, it fetches the page itself.
    await check('/shared', memoryStorage());
    expect(hits.get('/shared')).toBe(3);
  });

  it('reports a failed fetch with its classified reason and samples nothing', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const storage = memoryStorage();
    const [r] = await checkWith([{ plugin: htmlStatsPlugin, storage }], `http://127.0.0.1:${port}/`);
    expect(r).toMatchObject({ status: 'error', reason: 'refused', metrics: {} });
    expect(r!.message).toMatch(/^page not fetched: /);
    expect(await sampled(storage)).toBe(0);

    serve('/loop', { status: 302, body: '', headers: { location: '/loop' } });
    expect(await check('/loop', storage)).toMatchObject({ status: 'error', reason: 'redirect_loop' });
    expect(await sampled(storage)).toBe(0);
  });

  it("fetches through the check's egress guard: a client's page on loopback is denied and nothing is requested", async () => {
    serve('/guarded', page());
    const storage = memoryStorage();
    const [r] = await checkWith([{ plugin: htmlStatsPlugin, storage }], `${base}/guarded`, clientEgress());
    expect(r).toMatchObject({ status: 'error', reason: 'denied', message: expect.stringMatching(/^page not fetched: .*loopback/) });
    expect(hits.get('/guarded')).toBeUndefined();
    expect(await sampled(storage)).toBe(0);
  });

  it('does not sample non-2xx pages or a body the shared request did not read', async () => {
    const storage = memoryStorage();
    const missing = await check('/missing', storage);
    expect(missing).toMatchObject({ status: 'warn', reason: 'http_status', metrics: { statusCode: 404 } });
    expect(missing.message).toBe('HTTP 404: page not sampled (only 2xx pages are measured)');
    expect(await sampled(storage)).toBe(0);

    serve('/head', page());
    const [http, stats] = await checkWith([{ plugin: httpPlugin, options: { method: 'HEAD' } }, { plugin: htmlStatsPlugin, storage }], `${base}/head`);
    expect(http!.status).toBe('ok');
    expect(stats).toMatchObject({ status: 'warn', reason: 'unsupported' });
    expect(stats!.message).toContain('HEAD');
    expect(await sampled(storage)).toBe(0);
  });

  it('resetHtmlStatsBaseline clears the window and the held-out samples: learning again', async () => {
    const storage = memoryStorage();
    serve('/reset', page());
    for (let i = 0; i < 5; i++) await check('/reset', storage);
    serve('/reset', page({ paragraphs: 2 }));
    expect((await check('/reset', storage)).status).toBe('error');
    expect(await storage.window(HTMLSTATS_WINDOW_KEY)).toHaveLength(5);
    expect(await storage.window(HTMLSTATS_PENDING_KEY)).toHaveLength(1);

    await resetHtmlStatsBaseline(storage);
    expect(await sampled(storage)).toBe(0);
    const r = await check('/reset', storage);
    expect(r).toMatchObject({ status: 'ok', message: 'learning (1/5 samples)' });
  });

  it('validates its config: defaults, and problems naming the field', () => {
    expect(registry.validate('htmlstats', {})).toEqual({
      ok: true,
      value: { window: 30, minSamples: 5, warnZ: 3, errorZ: 5, minRelativeChange: 0.05, minAbsoluteChange: 1, adoptAfter: 10, timeoutMs: 10_000, maxParseBytes: 2_097_152 },
    });
    const cases: [Record<string, unknown>, string][] = [
      [{ windw: 10 }, 'htmlstats.windw'],
      [{ window: 1 }, 'htmlstats.window'],
      [{ minSamples: 1 }, 'htmlstats.minSamples'],
      [{ warnZ: 0 }, 'htmlstats.warnZ'],
      [{ errorZ: 'high' }, 'htmlstats.errorZ'],
      [{ minRelativeChange: -0.1 }, 'htmlstats.minRelativeChange'],
      [{ minAbsoluteChange: 0 }, 'htmlstats.minAbsoluteChange'],
      [{ adoptAfter: 2.5 }, 'htmlstats.adoptAfter'],
      [{ timeoutMs: 10 }, 'htmlstats.timeoutMs'],
    ];
    for (const [options, field] of cases) {
      const v = registry.validate('htmlstats', options);
      expect(v.ok, JSON.stringify(options)).toBe(false);
      if (!v.ok) expect(v.problems.map((p) => p.field)).toContain(field);
    }
    const unknown = registry.validate('htmlstats', { windw: 10 });
    if (!unknown.ok) expect(unknown.problems).toContainEqual({ field: 'htmlstats.windw', message: 'unknown option' });
  });
});

describe('content types', () => {
  it('skips a JSON response: ok, not measured, nothing stored, with the http plugin or alone', async () => {
    serve('/api', { body: JSON.stringify({ items: [1, 2, 3], html: '<p>not a page</p>' }), headers: { 'content-type': 'application/json; charset=utf-8' } });
    const storage = memoryStorage();
    const [http, stats] = await checkWith([{ plugin: httpPlugin }, { plugin: htmlStatsPlugin, storage }], `${base}/api`);
    expect(http).toMatchObject({ plugin: 'http', status: 'ok', metrics: { statusCode: 200 } });
    expect(stats).toMatchObject({
      plugin: 'htmlstats',
      status: 'ok',
      reason: null,
      message: 'skipped: application/json is not HTML (only HTML pages are measured)',
      metrics: {},
      details: { skipped: 'not_html', contentType: 'application/json', finalUrl: `${base}/api` },
    });
    expect(await sampled(storage)).toBe(0);

    const alone = await check('/api', storage);
    expect(alone.details).toMatchObject({ skipped: 'not_html' });
    expect(await sampled(storage)).toBe(0);
  });

  it('measures HTML and XHTML, whatever the case and parameters of the type', async () => {
    const types = ['text/html', 'TEXT/HTML; charset=ISO-8859-1', 'application/xhtml+xml'];
    for (const [i, type] of types.entries()) {
      serve(`/typed-${i}`, { body: page(), headers: { 'content-type': type } });
      const storage = memoryStorage();
      const r = await check(`/typed-${i}`, storage);
      expect(r, type).toMatchObject({ status: 'ok', message: 'learning (1/5 samples)', metrics: { elements: expect.any(Number) } });
      expect(r.details?.skipped, type).toBeUndefined();
      expect(await sampled(storage), type).toBe(1);
    }
  });

  it('measures any type with anyContentType', async () => {
    serve('/feed', { body: page(), headers: { 'content-type': 'application/xml' } });
    const storage = memoryStorage();
    expect((await check('/feed', storage)).details).toMatchObject({ skipped: 'not_html', contentType: 'application/xml' });
    const measured = await check('/feed', storage, { anyContentType: true });
    expect(measured).toMatchObject({ status: 'ok', message: 'learning (1/5 samples)', metrics: { elements: expect.any(Number) } });
    expect(await sampled(storage)).toBe(1);
  });
});
