/**
 * A real browser for the dashboard tests: Debian's `chromium` driven by playwright-core. Each page
 * records console errors and uncaught exceptions; axe-core (from node_modules) checks accessibility.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';

const CANDIDATES = [process.env.WEBMON_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** The chromium executable, or undefined when none is installed (`apt-get install chromium`). */
export function chromiumPath(): string | undefined {
  return CANDIDATES.find((p): p is string => !!p && existsSync(p));
}

export const SCREENSHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));
const AXE = fileURLToPath(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url));

export async function launchChromium(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('chromium is not installed: apt-get install chromium (CI installs it in .ci/run)');
  // --no-sandbox: CI and developer containers run as root, where chromium's sandbox cannot start.
  return chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

export interface ConsoleProblem {
  text: string;
  url: string;
}

/**
 * A page whose console errors and page errors are collected. `expected` names the failed
 * resource loads a test provokes on purpose (e.g. 401 from GET /session before signing in), which
 * chromium reports as console errors too; everything else is a problem.
 */
export async function openPage(context: BrowserContext, problems: ConsoleProblem[], expected: (m: ConsoleMessage) => boolean): Promise<Page> {
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && !expected(m)) problems.push({ text: m.text(), url: m.location().url });
  });
  page.on('pageerror', (e) => problems.push({ text: `uncaught: ${e.message}`, url: page.url() }));
  return page;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * Makes axe-core available in every page of the context. An init script runs before the page's
 * own scripts and is not subject to its Content-Security-Policy (which refuses inline scripts,
 * as a tag added to the page would be).
 */
export async function withAxe(context: BrowserContext): Promise<void> {
  await context.addInitScript({ path: AXE });
}

/** axe-core's serious and critical violations on the page as it is now (its context: withAxe). */
export async function seriousA11yViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => 'axe' in globalThis))) throw new Error('axe-core is not in the page: call withAxe(context) first');
  return page.evaluate(async () => {
    const w = globalThis as any;
    const r: { violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[] }> }> } = await w.axe.run(w.document);
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => JSON.stringify(n.target)) }));
  });
}
