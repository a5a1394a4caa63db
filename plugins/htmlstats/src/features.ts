/**
 * Structural features of one HTML page: its size, element counts, visible text length and links.
 * This is the only place the page is parsed: cheerio with its htmlparser2 back end, about three
 * times faster than its parse5 one on real pages (this runs on every check of every http asset).
 * The tree is the markup as written: implied <html>/<head>/<body>/<tbody> are not added, so
 * elements count what the page contains.
 */
import { load } from 'cheerio';
import { decodeBuffer } from 'encoding-sniffer';

/**
 * Every feature, in report order. Stable names: they are stored in the baseline window and are
 * the metric names (`<feature>` and `z_<feature>`); add new ones at the end, never rename,
 * remove or reorder (samples are stored positionally, see samples.ts).
 */
export const FEATURES = [
  'bytes',
  'elements',
  'tag_a',
  'tag_img',
  'tag_script',
  'tag_link',
  'tag_div',
  'tag_p',
  'tag_form',
  'tag_iframe',
  'tag_table',
  'tag_meta',
  'text_length',
  'links',
  'link_hosts',
] as const;

export type Feature = (typeof FEATURES)[number];
export type Features = Record<Feature, number>;

/** Tags counted one by one (feature `tag_<name>`). */
const COUNTED_TAGS = ['a', 'img', 'script', 'link', 'div', 'p', 'form', 'iframe', 'table', 'meta'] as const;

/** Elements whose text is not visible. */
const HIDDEN_TEXT = new Set(['script', 'style', 'noscript', 'template']);

/** The part of a domhandler node this module reads (avoids a direct domhandler dependency). */
interface DomNode {
  type: string;
  name?: string;
  data?: string;
  attribs?: Record<string, string>;
  children?: DomNode[];
}

/** domhandler node types that are elements. */
const ELEMENT_TYPES = new Set(['tag', 'script', 'style']);

/**
 * Measures a page.
 *
 * @param body The body bytes as fetched (possibly truncated at the http `maxBodyBytes`).
 * @param pageUrl The final URL of the page (after redirects): the base for relative links unless
 *   the page has a `<base href>`.
 * @param contentType The response's Content-Type, whose `charset` decides the decoding (then a
 *   BOM or `<meta charset>`; UTF-8 when nothing says).
 * @param maxParseBytes Only the first bytes are parsed (the parsed tree takes many times the
 *   page's size in memory); `bytes` is still the whole body's size.
 */
export function extractFeatures(body: Buffer, pageUrl: string, contentType?: string, maxParseBytes = Infinity): Features {
  const parsed = body.length > maxParseBytes ? body.subarray(0, maxParseBytes) : body;
  const html = decodeBuffer(parsed, { transportLayerEncodingLabel: charsetOf(contentType), defaultEncoding: 'utf-8' });
  const $ = load(html, { xml: { xmlMode: false, decodeEntities: true } }, true);
  const root = $.root()[0] as unknown as DomNode;

  const tags: Record<string, number> = {};
  let elements = 0;
  const texts: string[] = [];
  const hrefs: string[] = [];
  let baseHref: string | undefined;

  // Iterative walk (deeply nested pages must not overflow the stack). Text is visible outside
  // <head> and script/style/noscript/template (pages without a <body> tag included).
  const stack: { node: DomNode; visible: boolean }[] = [{ node: root, visible: true }];
  while (stack.length > 0) {
    const { node, visible } = stack.pop()!;
    let childVisible = visible;
    if (ELEMENT_TYPES.has(node.type) && node.name !== undefined) {
      const name = node.name.toLowerCase();
      elements++;
      tags[name] = (tags[name] ?? 0) + 1;
      if (name === 'body') childVisible = true;
      else if (name === 'head' || name === 'title' || HIDDEN_TEXT.has(name)) childVisible = false;
      const href = node.attribs?.href;
      if (href !== undefined) {
        if (name === 'a') hrefs.push(href);
        else if (name === 'base' && baseHref === undefined) baseHref = href;
      }
    } else if (node.type === 'text' && visible && node.data) {
      texts.push(node.data);
    }
    const children = node.children;
    if (children) for (let i = children.length - 1; i >= 0; i--) stack.push({ node: children[i]!, visible: childVisible });
  }

  const features = {} as Features; // keys in FEATURES order (metrics are reported in it)
  for (const f of FEATURES) features[f] = 0;
  features.bytes = body.length;
  features.elements = elements;
  for (const t of COUNTED_TAGS) features[`tag_${t}`] = tags[t] ?? 0;
  features.text_length = texts.join('').replace(/\s+/g, ' ').trim().length;
  features.links = hrefs.length;
  features.link_hosts = linkedHosts(hrefs, baseFor(pageUrl, baseHref));
  return features;
}

/** Document base URL: the first <base href> resolved against the page URL, else the page URL. */
function baseFor(pageUrl: string, baseHref: string | undefined): string {
  if (baseHref === undefined) return pageUrl;
  try {
    return new URL(baseHref, pageUrl).href;
  } catch {
    return pageUrl;
  }
}

/** Distinct host names of the http(s) links (relative links count as the page's own host). */
function linkedHosts(hrefs: readonly string[], base: string): number {
  const hosts = new Set<string>();
  for (const href of hrefs) {
    let url: URL;
    try {
      url = new URL(href, base);
    } catch {
      continue; // not a URL at all
    }
    if (url.protocol === 'http:' || url.protocol === 'https:') hosts.add(url.hostname);
  }
  return hosts.size;
}

function charsetOf(contentType: string | undefined): string | undefined {
  const m = contentType ? /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType) : null;
  return m?.[1];
}
