/**
 * RDAP over HTTP: one domain lookup (RFC 9082 `<base>/domain/<name>`) through the SDK's shared
 * fetch, so the egress guard, pooled connections, timeouts and a byte cap apply as to any check;
 * the answer is parsed defensively (RFC 9083) into what the check needs.
 */
import { PAGE_REQUEST_DEFAULTS, fetchUrl, type EgressGuard, type PageRequest, type Reason } from '@webmon/plugin-sdk';

/** The largest RDAP answer read (registries answer in a few KiB). */
export const ANSWER_MAX_BYTES = 262_144;
const RDAP_MEDIA = 'application/rdap+json, application/json;q=0.8';
const MAX_EVENTS = 100;
const MAX_ENTITIES = 50;
const MAX_STATUS = 16;
const MAX_TEXT = 200;

/** A registry or bootstrap answer that is not one: the reason and a message for the result. */
export class RdapError extends Error {
  constructor(
    readonly reason: Reason,
    message: string,
  ) {
    super(message);
  }
}

/** Request options for an RDAP GET: the shared defaults with this check's deadline and cap. */
export function requestOptions(timeoutMs: number, maxBodyBytes: number, accept = RDAP_MEDIA): PageRequest {
  return {
    ...PAGE_REQUEST_DEFAULTS,
    headers: { accept },
    connectTimeoutMs: Math.min(PAGE_REQUEST_DEFAULTS.connectTimeoutMs, timeoutMs),
    headersTimeoutMs: timeoutMs,
    bodyTimeoutMs: timeoutMs,
    maxRedirects: 3,
    maxBodyBytes,
    // Registries serve many assets: reuse their connections between checks.
    keepAlive: true,
  };
}

/** JSON from a response body, or RdapError('protocol'). */
export function parseJson(body: Buffer | undefined, what: string): unknown {
  try {
    return JSON.parse((body ?? Buffer.alloc(0)).toString('utf8'));
  } catch {
    return fail(`${what}: the answer is not JSON`);
  }
}

function fail(message: string): never {
  throw new RdapError('protocol', message);
}

/** What a registry says about a domain. */
export interface Registration {
  /** Expiry, ms since the epoch; null when the registry publishes none. */
  expiresAt: number | null;
  registrar: string | null;
  /** The domain's RDAP status values (e.g. "client transfer prohibited", "redemption period"). */
  status: string[];
}

/** The registration found, or null when the registry does not know the domain (404). */
export async function lookupDomain(base: string, domain: string, signal: AbortSignal, timeoutMs: number, egress: EgressGuard): Promise<Registration | null> {
  const url = new URL(`domain/${encodeURIComponent(domain)}`, base.endsWith('/') ? base : `${base}/`);
  const page = await fetchUrl(url, requestOptions(timeoutMs, ANSWER_MAX_BYTES), signal, true, egress);
  if (page.status === 404) return null;
  if (page.status === 429) throw new RdapError('rate_limited', `RDAP ${url.origin}: HTTP 429 (rate limited)`);
  if (page.status !== 200) throw new RdapError('http_status', `RDAP ${url.origin}: HTTP ${page.status}`);
  if (page.truncated) fail(`RDAP ${url.origin}: answer larger than ${ANSWER_MAX_BYTES} bytes`);
  return registrationOf(parseJson(page.body, `RDAP ${url.origin}`), `RDAP ${url.origin}`);
}

/** Reads the expiration event, the registrar's name and the status list of a domain object. */
export function registrationOf(doc: unknown, what: string): Registration {
  if (!isObject(doc)) fail(`${what}: the answer is not a JSON object`);
  if (doc.events !== undefined && !Array.isArray(doc.events)) fail(`${what}: "events" is not an array`);
  let expiresAt: number | null = null;
  for (const event of ((doc.events as unknown[] | undefined) ?? []).slice(0, MAX_EVENTS)) {
    if (!isObject(event) || typeof event.eventAction !== 'string' || event.eventAction.toLowerCase() !== 'expiration') continue;
    const at = typeof event.eventDate === 'string' ? Date.parse(event.eventDate) : NaN;
    if (!Number.isFinite(at)) fail(`${what}: expiration eventDate ${JSON.stringify(String(event.eventDate).slice(0, 40))} is not a date`);
    expiresAt = at;
    break;
  }
  const status = Array.isArray(doc.status) ? doc.status.filter((s): s is string => typeof s === 'string').slice(0, MAX_STATUS).map(clip) : [];
  return { expiresAt, registrar: registrarOf(doc.entities), status };
}

/** The name (vCard `fn`) of the entity with the role "registrar", else its handle. */
function registrarOf(entities: unknown): string | null {
  if (!Array.isArray(entities)) return null;
  for (const entity of entities.slice(0, MAX_ENTITIES)) {
    if (!isObject(entity) || !Array.isArray(entity.roles) || !entity.roles.includes('registrar')) continue;
    const name = vcardName(entity.vcardArray) ?? (typeof entity.handle === 'string' ? entity.handle : null);
    return name ? clip(name) : null;
  }
  return null;
}

/** `["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Example Registrar, Inc."], …]]` → its fn. */
function vcardName(vcard: unknown): string | null {
  if (!Array.isArray(vcard) || !Array.isArray(vcard[1])) return null;
  for (const prop of (vcard[1] as unknown[]).slice(0, MAX_EVENTS)) {
    if (Array.isArray(prop) && prop[0] === 'fn' && typeof prop[3] === 'string' && prop[3].trim()) return prop[3].trim();
  }
  return null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clip(s: string): string {
  return s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s;
}
