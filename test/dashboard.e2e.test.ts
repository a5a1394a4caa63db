/**
 * The dashboard in a real browser (Debian's chromium through playwright-core) against a real
 * `webmon up` with local HTTP targets: sign-in and tenant scoping, bulk add, live updates, the
 * asset detail charts, the public status page and badges, CSRF, console errors and axe-core.
 * Screenshots of every page land in test-output/screenshots/.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, ConsoleMessage, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, type ConsoleProblem, launchChromium, openPage, screenshot, seriousA11yViolations, withAxe } from './helpers/browser.js';
import { client, freshPorts, startRunning, startTarget, type Proc, type Target } from './helpers/processes.js';

const DOWN_AFTER = 2;
const WAIT = 20_000;

/**
 * Chromium logs every failed resource load as a console error. The ones a test provokes on purpose
 * (`<path> <status>`: 401 from /session before signing in and for a wrong key, a taken slug) are
 * expected; any other console error fails the last test.
 */
const provoked = new Set(['/session 401']);
function expectedFailure(m: ConsoleMessage): boolean {
  const status = /status of (\d{3})/.exec(m.text())?.[1];
  return !!status && provoked.has(`${new URL(m.location().url, 'http://x').pathname} ${status}`);
}

/** A target that answers 200 until told to fail, then 500. */
async function flakyTarget(): Promise<{ url: string; fail(on: boolean): void; close(): Promise<void> }> {
  let failing = false;
  const server: Server = createServer((_req, res) => {
    if (failing) res.writeHead(500).end('broken');
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><h1>fine</h1></body></html>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/flaky`,
    fail: (on) => {
      failing = on;
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const chromium = chromiumPath();
const skip = !chromium && !process.env.CI;
if (skip) console.warn('dashboard e2e tests skipped: chromium is not installed (apt-get install chromium); CI never skips them');

describe.skipIf(skip)(skip ? 'dashboard (skipped: chromium is not installed)' : 'dashboard in chromium', () => {
  let dir: string;
  let up: Proc;
  let apiUrl: string;
  let adminKey: string;
  let admin: ReturnType<typeof client>;
  let target: Target;
  let flaky: Awaited<ReturnType<typeof flakyTarget>>;
  let browser: Browser;
  const problems: ConsoleProblem[] = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'webmon-dash-'));
    const started = await startRunning(
      ['up', '--executors', '1'],
      async () => ({
        ...(await freshPorts()),
        WEBMON_EXECUTOR_METRICS_PORT: '0',
        WEBMON_POLITENESS_HOST_INTERVAL_MS: '0',
        WEBMON_CHECKS_DOWN_AFTER: String(DOWN_AFTER),
      }),
      { cwd: dir },
    );
    up = started.proc;
    apiUrl = `http://127.0.0.1:${started.env.WEBMON_API_PORT}`;
    adminKey = readFileSync(join(dir, 'data', 'admin.key'), 'utf8').trim();
    admin = client(apiUrl, adminKey);
    target = await startTarget();
    flaky = await flakyTarget();
    browser = await launchChromium();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await up?.stop('SIGTERM');
    await target?.close();
    await flaky?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await withAxe(context);
    contexts.push(context);
    return { context, page: await openPage(context, problems, expectedFailure) };
  }

  async function signIn(page: Page, key: string): Promise<void> {
    await page.goto(`${apiUrl}/`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: WAIT });
  }

  async function sessionCookie(context: BrowserContext) {
    return (await context.cookies(apiUrl)).find((c) => c.name === 'webmon_session');
  }

  /** Runs `n` checks of each asset now, one after the other, as the scheduler would. */
  async function check(ids: string[], n = 1): Promise<void> {
    for (let i = 0; i < n; i++) {
      const { body } = await admin.call('POST', '/jobs', { assetIds: ids });
      for (const j of body.jobs) await admin.waitJob(j.id, WAIT);
    }
  }

  async function expectAccessible(page: Page, name: string): Promise<void> {
    await screenshot(page, name);
    expect(await seriousA11yViolations(page), `axe on ${name}`).toEqual([]);
  }

  /** Marks the page's window: the mark survives live updates and is gone after a reload. */
  const markPage = (page: Page) =>
    page.evaluate(() => {
      (globalThis as any).notReloaded = true;
    });
  const notReloaded = (page: Page) => page.evaluate(() => (globalThis as any).notReloaded === true);

  const row = (page: Page, id: string) => page.locator(`tr[data-asset-id="${id}"]`);

  it('refuses a wrong key with the API message, signs the admin in, and signing out ends the session', async () => {
    const { context, page } = await newPage();
    await page.goto(`${apiUrl}/`);
    await expectAccessible(page, 'sign-in');
    const refused = await fetch(`${apiUrl}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'not-a-key-0123456789' }) });
    expect(refused.status).toBe(401);
    const { message } = (await refused.json()) as { message: string };
    await page.getByLabel('API key').fill('not-a-key-0123456789');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: WAIT }).toBe(message);
    expect(await sessionCookie(context)).toBeUndefined();

    await signIn(page, adminKey);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const cookie = (await sessionCookie(context))!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(cookie.value).not.toContain(adminKey);
    // The key is nowhere in the page's storage.
    const stored = await page.evaluate(() => {
      const w = globalThis as any;
      return JSON.stringify({ ...w.localStorage }) + JSON.stringify({ ...w.sessionStorage }) + w.document.cookie;
    });
    expect(stored).not.toContain(adminKey);
    const withCookie = () => fetch(`${apiUrl}/assets`, { headers: { cookie: `webmon_session=${cookie.value}` } });
    expect((await withCookie()).status).toBe(200);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    expect((await withCookie()).status).toBe(401);
  });

  it('adds pasted URLs, shows the invalid line its error, and each row turns up or down live', async () => {
    const { page } = await newPage();
    await signIn(page, adminKey);
    await page.goto(`${apiUrl}/#/assets`);
    await markPage(page);
    await page.getByText('Add assets').click();
    const ok = `${target.url}/ok?paste=1`;
    const missing = `${target.url}/missing`;
    await page.getByLabel('URLs, one per line').fill(`${ok}\nnot a url\n\n${missing}\n`);
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    const invalid = page.locator('.add-results li[data-line="2"]');
    await invalid.waitFor({ timeout: WAIT });
    expect(await invalid.getAttribute('class')).toBe('error');
    expect(await invalid.textContent()).toMatch(/line 2: not a url — .*scheme/);
    expect(await page.locator('.add-results li[data-line="1"]').textContent()).toMatch(/added$/);
    expect(await page.locator('.add-results li[data-line="4"]').textContent()).toMatch(/added$/);

    const { body } = await admin.call('GET', `/assets?q=${encodeURIComponent(target.url)}`);
    const byUrl = new Map<string, string>(body.items.map((a: { url: string; id: string }) => [a.url, a.id]));
    const okId = byUrl.get(ok)!;
    const missingId = byUrl.get(missing)!;
    expect(okId && missingId).toBeTruthy();
    // The page checked each new asset once; the scheduler's next checks bring the failing one down.
    await check([okId, missingId], DOWN_AFTER);
    await row(page, okId).and(page.locator('[data-state="up"]')).waitFor({ timeout: WAIT });
    await row(page, missingId).and(page.locator('[data-state="down"]')).waitFor({ timeout: WAIT });
    expect(await notReloaded(page)).toBe(true);
    await expectAccessible(page, 'assets');
  });

  it('turns a row down on an open page when its target starts failing, and the detail page charts it', async () => {
    const { body: asset } = await admin.call('POST', '/assets', { url: flaky.url, tags: ['flaky'] });
    await check([asset.id]);
    const { page } = await newPage();
    await signIn(page, adminKey);
    await page.goto(`${apiUrl}/#/assets?tag=flaky`);
    await row(page, asset.id).and(page.locator('[data-state="up"]')).waitFor({ timeout: WAIT });
    await markPage(page);
    flaky.fail(true);
    await check([asset.id], DOWN_AFTER);
    await row(page, asset.id).and(page.locator('[data-state="down"]')).waitFor({ timeout: WAIT });
    expect(await notReloaded(page)).toBe(true);

    await page.locator(`tr[data-asset-id="${asset.id}"] td.url a`).click();
    await page.getByRole('heading', { name: 'Event timeline' }).waitFor({ timeout: WAIT });
    await page.locator('.timeline li[data-to="down"]').waitFor({ timeout: WAIT });
    expect(await page.locator('.timeline li[data-to="up"]').count()).toBeGreaterThan(0);
    // uPlot drew on its canvas: some pixels carry a series colour (not only axes and grid).
    const canvas = page.locator('.chart canvas').first();
    await canvas.waitFor({ timeout: WAIT });
    const coloured = await canvas.evaluate((c: any) => {
      const d: Uint8ClampedArray = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3]! > 0 && Math.max(d[i]!, d[i + 1]!, d[i + 2]!) - Math.min(d[i]!, d[i + 1]!, d[i + 2]!) > 60) n++;
      return n;
    });
    expect(coloured).toBeGreaterThan(0);
    const cells = page.locator('.uptime-bar rect');
    expect(await cells.count()).toBe(90);
    const today = cells.last();
    expect(await today.getAttribute('fill')).not.toBe('#d1d5db');
    await today.hover();
    expect(await page.locator('.uptime figcaption').textContent()).toMatch(/^\d{4}-\d{2}-\d{2}: .* up, \d+ checks, \d+ failed$/);
    await expectAccessible(page, 'asset-detail');

    // A badge token makes the asset's badges public; the page shows them.
    await page.getByRole('button', { name: 'Create a badge token' }).click();
    const badge = page.getByRole('img', { name: 'state badge' });
    await badge.waitFor({ timeout: WAIT });
    await expect.poll(() => badge.evaluate((img: any) => img.complete && img.naturalWidth), { timeout: WAIT }).toBeGreaterThan(0);
    const badgeUrl = (await badge.getAttribute('src'))!;
    expect((await fetch(badgeUrl)).status).toBe(200);
    expect((await fetch(badgeUrl.replace(/token=[^&]+/, 'token=wrong'))).status).toBeGreaterThanOrEqual(400);

    // The editor shows the API's validation message for bad options, and saves good ones.
    const bad = { http: { method: 'FETCH' } };
    const refused = await admin.call('PATCH', `/assets/${asset.id}`, { config: bad });
    expect(refused.status).toBe(400);
    provoked.add(`/assets/${asset.id} 400`);
    await page.getByLabel(/^Options per plugin/).fill(JSON.stringify(bad));
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('form.edit [role="alert"]').textContent(), { timeout: WAIT }).toBe(refused.body.message);
    await page.getByLabel(/^Options per plugin/).fill(JSON.stringify({ http: { method: 'HEAD' } }));
    await page.getByLabel(/^Interval/).fill('120');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('form.edit [role="status"]').waitFor({ timeout: WAIT });
    expect((await admin.call('GET', `/assets/${asset.id}`)).body).toMatchObject({ interval: 120, config: { http: { method: 'HEAD' } } });
  });

  it('shows the overview and, for the admin, operations with a snapshot button', async () => {
    const { page } = await newPage();
    await signIn(page, adminKey);
    await page.locator('.tile[data-state="up"] .tile-n').waitFor({ timeout: WAIT });
    expect(Number(await page.locator('.tile[data-state="up"] .tile-n').textContent())).toBeGreaterThan(0);
    expect(Number(await page.locator('.tile[data-state="down"] .tile-n').textContent())).toBeGreaterThan(0);
    expect(await page.locator('.tile[data-state="unsupported"]').evaluate((e) => (globalThis as any).getComputedStyle(e).borderTopColor)).toBe('rgb(29, 78, 216)');
    await expectAccessible(page, 'overview');

    await page.getByRole('link', { name: 'Operations' }).click();
    await page.getByRole('heading', { name: 'Snapshots' }).waitFor();
    const before = Date.parse((await admin.call('GET', '/snapshots')).body.lastSaveAt);
    // Saves are stamped in whole seconds: the next one must fall in a later second.
    await new Promise((r) => setTimeout(r, Math.max(0, before + 1100 - Date.now())));
    await page.getByRole('button', { name: 'Snapshot now' }).click();
    const shownSave = async () => {
      const shown = /Last save: (\S+) (\S+) UTC/.exec((await page.locator('#h-snapshots + p').textContent()) ?? '');
      return shown ? Date.parse(`${shown[1]}T${shown[2]}Z`) : 0;
    };
    await expect.poll(shownSave, { timeout: WAIT }).toBeGreaterThan(before);
    await expectAccessible(page, 'operations');
  });

  it('shows a client only its own assets', async () => {
    const { body: created } = await admin.call('POST', '/clients', { name: 'acme' });
    const acme = client(apiUrl, created.apiKey);
    const { status, body: own } = await acme.call('POST', '/assets', { url: 'https://acme-only.example/' });
    expect(status).toBeLessThan(300);
    const { page } = await newPage();
    await signIn(page, created.apiKey);
    expect(await page.getByRole('link', { name: 'Operations' }).count()).toBe(0);
    await page.goto(`${apiUrl}/#/assets`);
    await row(page, own.id).waitFor({ timeout: WAIT });
    expect(await page.locator('tr[data-asset-id]').count()).toBe(1);
    expect(await page.content()).not.toContain(target.url);
    await screenshot(page, 'assets-client');
  });

  it('renders a public status page without a key, with nothing outside it, and serves its badges as SVG', async () => {
    const { body: list } = await admin.call('GET', `/assets?q=${encodeURIComponent('paste=1')}`);
    const shown = list.items[0] as { id: string; url: string };
    const created = await admin.call('POST', '/status-pages', { slug: 'public-demo', title: 'Demo services', assetIds: [shown.id] });
    expect(created.status).toBeLessThan(300);
    const { page } = await newPage();
    await page.goto(`${apiUrl}/status/public-demo`);
    await page.getByRole('heading', { name: 'Demo services' }).waitFor({ timeout: WAIT });
    await page.locator(`li[data-asset-id="${shown.id}"]`).waitFor();
    expect(await page.locator('li[data-asset-id]').count()).toBe(1);
    const html = await page.content();
    expect(html).not.toContain('flaky');
    expect(html).not.toContain('/missing');
    expect(html).not.toContain('?paste=1'); // the name drops the query
    expect(await page.locator('.uptime-bar rect').count()).toBe(90);
    await expectAccessible(page, 'status-page');

    const badge = await fetch(`${apiUrl}/badge/${shown.id}/state.svg?window=24h`);
    expect(badge.status).toBe(200);
    expect(badge.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    const svg = await badge.text();
    const parsed = await page.evaluate((text) => {
      const doc = new (globalThis as any).DOMParser().parseFromString(text, 'image/svg+xml');
      return { root: doc.documentElement.nodeName, errors: doc.getElementsByTagName('parsererror').length, text: doc.documentElement.textContent };
    }, svg);
    expect(parsed).toMatchObject({ root: 'svg', errors: 0, text: expect.stringContaining('up') });
    const { body: hidden } = await admin.call('GET', '/assets?tag=flaky');
    expect((await fetch(`${apiUrl}/badge/${hidden.items[0].id}/state.svg`)).status).toBeGreaterThanOrEqual(400);
  });

  it('lists status pages for their owner', async () => {
    const { page } = await newPage();
    await signIn(page, adminKey);
    await page.goto(`${apiUrl}/#/pages`);
    await page.getByRole('link', { name: 'Demo services' }).waitFor({ timeout: WAIT });
    // Publishing from the page: a taken slug gets the API's message, a new one is listed.
    const publish = async (slug: string, title: string) => {
      await page.getByLabel('Slug').fill(slug);
      await page.getByLabel('Title').fill(title);
      await page.getByLabel(/^Tags/).fill('flaky');
      await page.getByRole('button', { name: 'Publish' }).click();
    };
    const taken = await admin.call('POST', '/status-pages', { slug: 'public-demo', title: 'again' });
    expect(taken.status).toBeGreaterThanOrEqual(400);
    provoked.add(`/status-pages ${taken.status}`);
    await publish('public-demo', 'Again');
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: WAIT }).toBe(taken.body.message);
    await publish('flaky-team', 'Flaky team');
    await page.getByRole('link', { name: 'Flaky team' }).waitFor({ timeout: WAIT });
    expect((await admin.call('GET', '/public/status/flaky-team')).body.assets.map((a: { name: string }) => a.name)).toEqual([expect.stringContaining('/flaky')]);
    await expectAccessible(page, 'status-pages');
  });

  it('refuses a state-changing request that lacks the page CSRF token', async () => {
    const { context, page } = await newPage();
    await signIn(page, adminKey);
    const cookie = `webmon_session=${(await sessionCookie(context))!.value}`;
    const body = JSON.stringify({ url: `${target.url}/ok?csrf=1` });
    const forged = await fetch(`${apiUrl}/assets`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body });
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as { code: string }).code).toBe('WEBMON_ERR_CSRF');
    const { csrfToken } = (await (await fetch(`${apiUrl}/session`, { headers: { cookie } })).json()) as { csrfToken: string };
    const real = await fetch(`${apiUrl}/assets`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', 'x-webmon-csrf': csrfToken }, body });
    expect(real.status).toBeLessThan(300);
  });

  it('logged no console error on any page', () => {
    expect(problems).toEqual([]);
  });
});
