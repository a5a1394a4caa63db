/**
 * Asset URL normalisation. Two spellings of the same target must give the same string, because
 * assets are de-duplicated per owner on it: scheme and host lower-cased, IDNs in punycode,
 * default ports and fragments dropped. Credentials are refused in URLs (they would be stored and
 * shown with the asset); they belong in a plugin's secret options.
 */
import { WebmonError } from './errors.js';

export const MAX_URL_LENGTH = 2048;

export interface NormalizedUrl {
  url: string;
  scheme: string;
  /** Host name without brackets or port; '' for URLs without an authority (mailto:…). */
  host: string;
}

const NEEDS_HOST = new Set(['http', 'https', 'ftp', 'ftps', 'ws', 'wss', 'tcp', 'tls', 'ssh', 'smtp', 'pop3', 'imap', 'icmp']);
const NEEDS_PORT = new Set(['tcp', 'tls']);
const DEFAULT_PORTS: Record<string, string> = { ftps: '990', ssh: '22', smtp: '25', pop3: '110', imap: '143' };

export function normalizeUrl(input: unknown): NormalizedUrl {
  if (typeof input !== 'string') throw invalid('url must be a string');
  const text = input.trim();
  if (text.length === 0) throw invalid('url must not be empty');
  if (text.length > MAX_URL_LENGTH) throw invalid(`url is longer than ${MAX_URL_LENGTH} characters`);
  if (!/^[a-z][a-z0-9+.-]*:/i.test(text)) throw invalid(`url ${quote(text)} has no scheme (for example https://)`);
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw invalid(`url ${quote(text)} is not a valid URL`);
  }
  const scheme = u.protocol.slice(0, -1).toLowerCase();
  if (u.username || u.password) throw invalid('url must not contain credentials; give them in the plugin options instead');
  u.hash = '';
  // Non-special schemes (tcp:, icmp:, dns:, …) keep a host with non-ASCII letters percent-encoded;
  // decoded here, it gets the IDN treatment of http below (punycode), so both spellings are one asset.
  let host = decodedHost(u.hostname).toLowerCase();
  if (NEEDS_HOST.has(scheme) && !host) throw invalid(`url ${quote(text)} has no host`);
  if (NEEDS_PORT.has(scheme) && !u.port) throw invalid(`${scheme} url ${quote(text)} needs a port (${scheme}://host:port)`);
  if (u.port && DEFAULT_PORTS[scheme] === u.port) u.port = '';
  if (host.includes('%')) throw invalid(`url ${quote(text)} has an invalid host`);
  if (host && !/^[\x21-\x7e]+$/.test(host)) {
    // Non-special schemes keep hosts opaque; give them the same IDN treatment as http.
    try {
      host = new URL(`http://${host}`).hostname;
    } catch {
      throw invalid(`url ${quote(text)} has an invalid host`);
    }
  }
  let url: string;
  if (u.host) {
    // Rebuild so that the host is lower-cased for non-special schemes too.
    const port = u.port ? `:${u.port}` : '';
    const path = u.pathname === '/' && !u.search && NEEDS_PORT.has(scheme) ? '' : u.pathname;
    url = `${scheme}://${host}${port}${path}${u.search}`;
  } else {
    url = u.toString();
  }
  if (!/^[\x21-\x7e]+$/.test(url)) throw invalid(`url ${quote(text)} contains characters that cannot be encoded`);
  return { url, scheme, host: host.replace(/^\[|\]$/g, '') };
}

/** The host with percent-encoding undone; a '%' left (not valid, or a delimiter encoded) is refused by the caller. */
function decodedHost(hostname: string): string {
  if (!hostname.includes('%')) return hostname;
  try {
    const decoded = decodeURIComponent(hostname);
    // Only letters may come out of the encoding: an encoded delimiter would change what the host is.
    return /[\s/?#@:[\]\\%]/.test(decoded) ? hostname : decoded;
  } catch {
    return hostname;
  }
}

function invalid(message: string): WebmonError {
  return new WebmonError('WEBMON_ERR_INVALID_URL', message);
}

function quote(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);
}
