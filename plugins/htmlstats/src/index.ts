/**
 * HTML statistics: measures structural features of a page (size, element and tag counts,
 * visible text, links; see features.ts) at every check, keeps a rolling window of earlier
 * measurements per asset, and flags a page whose features deviate from the window's mean by
 * more than a number of (floored) standard deviations (see stats.ts).
 *
 * The page is the SDK's shared page fetch (fetchPage): the one the http plugin fetched in the
 * same check, so enabling both costs one request. Run alone, the plugin fetches with the
 * request defaults (PAGE_REQUEST_DEFAULTS).
 *
 * Baseline policy (contract):
 * - Only 2xx pages are measured; a fetch failure or another status adds nothing to the window.
 * - Only HTML is measured unless `anyContentType` is set: a response whose Content-Type is
 *   neither text/html nor application/xhtml+xml is skipped (status ok, `details.skipped`) and adds
 *   nothing. A response without a Content-Type is measured (browsers sniff it).
 * - A sample joins the window unless it deviates (any feature at warn level or worse).
 * - Deviating samples are held in a `pending` list; when `adoptAfter` consecutive checks deviate,
 *   the page changed for good: the window is replaced by those samples (the new normal). A
 *   sample that does not deviate clears the pending list.
 * - resetHtmlStatsBaseline deletes both lists: the plugin learns again.
 */
import Type from 'typebox';
import {
  PAGE_REQUEST_DEFAULTS,
  closePageAgents,
  definePlugin,
  fail,
  fetchFailure,
  fetchPage,
  headerValue,
  ok,
  round,
  warn,
  type FetchOutcome,
  type PluginOutput,
  type PluginStorage,
} from '@webmon/plugin-sdk';
import { extractFeatures, FEATURES, type Feature, type Features } from './features.js';
import { mean as meanOf, sampleStandardDeviation } from 'simple-statistics';
import { scoreFeature, type Score, type ScoreOptions } from './stats.js';
import { encodeSample, parseSamples, type Sample } from './samples.js';

export { extractFeatures, FEATURES, type Feature, type Features } from './features.js';
export { effectiveDeviation, levelOf, scoreFeature, type Score, type ScoreOptions } from './stats.js';

/** Parsing takes many times the page's size in memory: pages are parsed up to a cap. */
export const MAX_PARSE_BYTES_DEFAULT = 2 * 1024 * 1024;
export const MAX_PARSE_BYTES_LIMIT = 10 * 1024 * 1024;

export const htmlStatsConfigSchema = Type.Object(
  {
    window: Type.Integer({ default: 30, minimum: 2, maximum: 1000, description: 'Samples kept per asset: the baseline is the last `window` non-deviating pages.' }),
    minSamples: Type.Integer({
      default: 5,
      minimum: 2,
      maximum: 1000,
      description: 'Earlier samples needed before pages are scored; until then results are ok ("learning"). Capped at `window`.',
    }),
    warnZ: Type.Number({ default: 3, exclusiveMinimum: 0, maximum: 1000, description: 'A feature with |z| at or above this warns (deviation).' }),
    errorZ: Type.Number({ default: 5, exclusiveMinimum: 0, maximum: 1000, description: 'A feature with |z| at or above this is an error (deviation).' }),
    minRelativeChange: Type.Number({
      default: 0.05,
      minimum: 0,
      maximum: 100,
      description: 'Floor of the deviation as a fraction of the mean: σ_eff = max(σ, minRelativeChange·|mean|, minAbsoluteChange).',
    }),
    minAbsoluteChange: Type.Number({
      default: 1,
      exclusiveMinimum: 0,
      maximum: 1_000_000_000,
      description: 'Absolute floor of the deviation (same unit as the feature); keeps z finite when the history is constant.',
    }),
    adoptAfter: Type.Integer({
      default: 10,
      minimum: 0,
      maximum: 100,
      description: 'Consecutive deviating checks after which the changed page becomes the new baseline; 0 = never (alarm until the baseline is reset).',
    }),
    timeoutMs: Type.Integer({
      default: 10_000,
      minimum: 100,
      maximum: 300_000,
      description: 'Time for the check. When the http plugin also runs, its request (options and time limit) is the one shared.',
    }),
    maxParseBytes: Type.Integer({
      default: MAX_PARSE_BYTES_DEFAULT,
      minimum: 1024,
      maximum: MAX_PARSE_BYTES_LIMIT,
      description: 'Most bytes of the page parsed; a larger page is measured on its first bytes only (the result says so). `bytes` is always the size fetched.',
    }),
    anyContentType: Type.Optional(
      Type.Boolean({
        description:
          'Measure 2xx responses of any Content-Type. Unset or false: only HTML (text/html, application/xhtml+xml, or no Content-Type) is measured, and other responses are skipped (ok, details.skipped "not_html").',
      }),
    ),
  },
  { additionalProperties: false },
);

export type HtmlStatsConfig = Type.Static<typeof htmlStatsConfigSchema>;

/** Plugin storage keys (per asset): the baseline window and the held-out deviating samples. */
export const HTMLSTATS_WINDOW_KEY = 'window';
export const HTMLSTATS_PENDING_KEY = 'pending';
export const HTMLSTATS_STORAGE_KEYS = [HTMLSTATS_WINDOW_KEY, HTMLSTATS_PENDING_KEY] as const;

/**
 * Forgets the baseline of one asset (both storage lists); the next checks learn again. `storage`
 * is the asset's storage for the plugin named `htmlstats`.
 */
export async function resetHtmlStatsBaseline(storage: Pick<PluginStorage, 'del'>): Promise<void> {
  for (const key of HTMLSTATS_STORAGE_KEYS) await storage.del(key);
}

/** The baseline of one asset: per feature, the mean and sample deviation of the window. */
export async function describeBaseline(storage: Pick<PluginStorage, 'window'>): Promise<Record<string, unknown>> {
  const samples = parseSamples(await storage.window(HTMLSTATS_WINDOW_KEY));
  const features: Record<string, { mean: number; sd: number }> = {};
  for (const f of FEATURES) {
    const values = valuesOf(samples, f);
    if (values.length === 0) continue;
    features[f] = { mean: round(meanOf(values), 3), sd: values.length > 1 ? round(sampleStandardDeviation(values), 3) : 0 };
  }
  return { samples: samples.length, features };
}

/** One stored sample: the features and the time it was measured (ms since the epoch). */

/** Media types measured unless `anyContentType` is set. */
const HTML_TYPES: ReadonlySet<string> = new Set(['text/html', 'application/xhtml+xml']);

export const htmlStatsPlugin = definePlugin({
  name: 'htmlstats',
  description: 'Measures HTML structure (size, element and tag counts, text, links) and flags pages that deviate from their recent history.',
  schemes: ['http', 'https'],
  configSchema: htmlStatsConfigSchema,
  reset: resetHtmlStatsBaseline,
  describe: describeBaseline,
  close: closePageAgents,
  async run(target, cfg, ctx): Promise<PluginOutput> {
    let page: FetchOutcome;
    try {
      page = await fetchPage(ctx, target.url, PAGE_REQUEST_DEFAULTS, true);
    } catch (err) {
      // The http plugin, when enabled, reports the same failure; alone, this is the only report.
      return fetchFailure(err, ctx.signal, 'page not fetched: ');
    }
    const details: Record<string, unknown> = { finalUrl: page.url };
    if (page.truncated) details.truncated = true;
    const body = bodyToMeasure(page, cfg, details);
    if (!Buffer.isBuffer(body)) return body;

    const features = extractFeatures(body, page.url, headerValue(page, 'content-type'), cfg.maxParseBytes);
    if (body.length <= cfg.maxParseBytes) return judge(features, cfg, ctx.storage, details);
    details.parseTruncated = true;
    details.parsedBytes = cfg.maxParseBytes;
    const out = await judge(features, cfg, ctx.storage, details);
    return { ...out, message: `${out.message} (measured on the first ${cfg.maxParseBytes} of ${body.length} bytes)` };
  },
});

/** The body to measure, or the result for a page that is not measured (it adds nothing to the baseline). */
function bodyToMeasure(page: FetchOutcome, cfg: HtmlStatsConfig, details: Record<string, unknown>): Buffer | PluginOutput {
  if (page.status < 200 || page.status > 299) {
    // An error or redirect page would poison the baseline: not measured.
    return warn('http_status', `HTTP ${page.status}: page not sampled (only 2xx pages are measured)`, { statusCode: page.status }, details);
  }
  const type = mediaType(page);
  if (!cfg.anyContentType && type !== undefined && !HTML_TYPES.has(type)) {
    return ok(`skipped: ${type} is not HTML (only HTML pages are measured)`, {}, { ...details, skipped: 'not_html', contentType: type });
  }
  if (page.body === undefined || (page.body.length === 0 && Number(headerValue(page, 'content-length')) > 0)) {
    // The shared request did not read the body (http plugin configured with method HEAD).
    return warn('unsupported', 'page body not read (is the http plugin set to HEAD?): page not sampled', { statusCode: page.status }, details);
  }
  return page.body;
}

/** The response's media type (lower case, without parameters), or undefined when none was sent. */
function mediaType(page: FetchOutcome): string | undefined {
  const type = headerValue(page, 'content-type')?.split(';', 1)[0]?.trim().toLowerCase();
  return type || undefined;
}

/**
 * Scores one page's features against the stored window and updates the window (see the
 * baseline policy above).
 */
async function judge(features: Features, cfg: HtmlStatsConfig, storage: PluginStorage, details: Record<string, unknown>): Promise<PluginOutput> {
  const sample = encodeSample(Date.now(), features);
  const [stored, pending] = await Promise.all([storage.window(HTMLSTATS_WINDOW_KEY), storage.window(HTMLSTATS_PENDING_KEY)]);
  const history = parseSamples(stored.slice(-cfg.window)); // the window option may have shrunk
  const minSamples = Math.min(cfg.minSamples, cfg.window);
  const metrics: Record<string, number> = { ...features };

  if (history.length < minSamples) {
    const list = await storage.pushWindow(HTMLSTATS_WINDOW_KEY, sample, cfg.window);
    if (pending.length > 0) await storage.del(HTMLSTATS_PENDING_KEY);
    metrics.samples = list.length;
    return ok(`learning (${list.length}/${minSamples} samples)`, metrics, details);
  }

  const opts: ScoreOptions = { ...cfg, minSamples };
  const scores: Score[] = [];
  for (const f of FEATURES) {
    const s = scoreFeature(f, features[f], valuesOf(history, f), opts);
    if (!s) continue; // a feature newer than the stored samples: still learning
    scores.push(s);
    metrics[`z_${f}`] = round(s.z, 3);
  }
  metrics.samples = history.length;
  const offending = scores.filter((s) => s.level !== 'ok').sort((a, b) => Math.abs(b.z) - Math.abs(a.z));

  if (offending.length === 0) {
    await storage.pushWindow(HTMLSTATS_WINDOW_KEY, sample, cfg.window);
    if (pending.length > 0) await storage.del(HTMLSTATS_PENDING_KEY);
    const top = scores.reduce<Score | undefined>((m, s) => (m && Math.abs(m.z) >= Math.abs(s.z) ? m : s), undefined);
    const largest = top ? `; largest |z| ${Math.abs(round(top.z, 3))} (${top.feature})` : '';
    return ok(`no deviation from ${history.length} samples${largest}`, metrics, details);
  }

  details.deviations = offending.map((s) => ({
    feature: s.feature,
    value: s.value,
    mean: round(s.mean, 3),
    sd: round(s.sd, 3),
    sdEff: round(s.sdEff, 3),
    z: round(s.z, 3),
    level: s.level,
  }));
  let message = `deviation: ${offending.map(describe).join(', ')}`;
  if (cfg.adoptAfter > 0) {
    const held = await storage.pushWindow(HTMLSTATS_PENDING_KEY, sample, cfg.adoptAfter);
    details.consecutiveDeviations = held.length;
    if (held.length >= cfg.adoptAfter) {
      await adopt(storage, held, cfg.window);
      details.baselineReplaced = true;
      message += `; ${held.length} consecutive deviating checks: they are the new baseline`;
    } else {
      message += `; not added to the baseline (${held.length}/${cfg.adoptAfter} consecutive before it becomes the new one)`;
    }
  } else {
    message += '; not added to the baseline';
  }
  const error = offending.some((s) => s.level === 'error');
  return (error ? fail : warn)('deviation', message, metrics, details);
}

/**
 * Replaces the window by the held-out samples and clears them. Not atomic (PluginStorage has no
 * transaction), but safe when interrupted: a partial window only means learning again, and a
 * pending list left behind is cleared by the next sample that does not deviate.
 */
async function adopt(storage: PluginStorage, held: readonly string[], window: number): Promise<void> {
  await storage.del(HTMLSTATS_WINDOW_KEY);
  for (const s of held.slice(-window)) await storage.pushWindow(HTMLSTATS_WINDOW_KEY, s, window);
  await storage.del(HTMLSTATS_PENDING_KEY);
}

function valuesOf(samples: readonly Sample[], f: Feature): number[] {
  const out: number[] = [];
  for (const s of samples) {
    const v = s[f];
    if (typeof v === 'number' && Number.isFinite(v)) out.push(v);
  }
  return out;
}

function describe(s: Score): string {
  const z = round(s.z, 3);
  return `${s.feature} ${s.value} (mean ${round(s.mean, 3)}, σ ${round(s.sdEff, 3)}${s.sdEff > s.sd ? ' floor' : ''}, z ${z > 0 ? '+' : ''}${z})`;
}

export { encodeSample } from './samples.js';
