/**
 * Options of the shared page request (fetch.ts): the request half of the http plugin's options,
 * which that plugin extends with its rules, and the defaults of a plugin that fetches alone.
 */
import Type from 'typebox';
import Value from 'typebox/value';

const HEADER_NAME = '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$';

export const pageRequestSchema = Type.Object(
  {
    method: Type.Enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], {
      default: 'GET',
      description: 'Request method.',
    }),
    headers: Type.Record(Type.String(), Type.String({ maxLength: 8192 }), {
      default: {},
      maxProperties: 100,
      propertyNames: { pattern: HEADER_NAME },
      description:
        'Extra request headers (names are HTTP tokens). Secret headers (below) are not sent to other origins on redirect. The values of Authorization, Proxy-Authorization, Cookie, X-API-Key and of the headers named in secretHeaders are secrets: never returned by the API nor logged.',
    }),
    secretHeaders: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 256, pattern: HEADER_NAME }), {
        maxItems: 100,
        description: 'Further header names (case-insensitive) whose values in `headers` are secrets, shown as "[redacted]"; sending "[redacted]" back keeps the stored value.',
      }),
    ),
    body: Type.Optional(Type.String({ maxLength: 1_048_576, description: 'Request body (for POST/PUT/PATCH).' })),
    connectTimeoutMs: Type.Integer({ default: 5_000, minimum: 100, maximum: 300_000, description: 'Time to establish a connection.' }),
    headersTimeoutMs: Type.Integer({ default: 10_000, minimum: 100, maximum: 300_000, description: 'Time from request sent to response headers.' }),
    bodyTimeoutMs: Type.Integer({ default: 10_000, minimum: 100, maximum: 300_000, description: 'Longest pause while reading the body.' }),
    followRedirects: Type.Boolean({ default: true, description: 'Follow 301/302/303/307/308.' }),
    maxRedirects: Type.Integer({ default: 5, minimum: 0, maximum: 50, description: 'Redirects followed before giving up with too_many_redirects.' }),
    maxBodyBytes: Type.Integer({ default: 1_048_576, minimum: 0, maximum: 104_857_600, description: 'Most body bytes read; the rest is not downloaded.' }),
    keepAlive: Type.Boolean({ default: false, description: 'Reuse connections between checks (hides connect problems).' }),
    verifyTls: Type.Boolean({ default: true, description: 'Verify certificates (chain, expiry, host name). false still reports the certificate and its expiry.' }),
  },
  { additionalProperties: false },
);

export type PageRequest = Type.Static<typeof pageRequestSchema>;

/** The request of a plugin that fetches the page without the http plugin's options. */
export const PAGE_REQUEST_DEFAULTS: Readonly<PageRequest> = Object.freeze(Value.Default(pageRequestSchema, {}) as PageRequest);

/** Request headers (lower case) whose values are always secret. */
const SECRET_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'x-api-key'];

/** Paths of the secret values in `headers`: the always-secret names and those in secretHeaders, case-insensitively. */
export function secretHeaderPaths(cfg: { headers?: Record<string, string>; secretHeaders?: readonly string[] }): string[][] {
  const secret = new Set([...SECRET_HEADERS, ...(cfg.secretHeaders ?? []).map((h) => h.toLowerCase())]);
  return Object.keys(cfg.headers ?? {})
    .filter((name) => secret.has(name.toLowerCase()))
    .map((name) => ['headers', name]);
}
