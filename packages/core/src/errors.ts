/**
 * The error catalog: every error a client can receive, with a stable code and HTTP status.
 *
 * Contract: codes never change meaning once released; new failures get new codes. Every code
 * here is documented in docs/errors.md (a test enforces it). Clients receive
 * `{statusCode, code, error, message}` and may add `details` (for example per-field problems).
 */

export const ErrorCatalog = {
  WEBMON_ERR_VALIDATION: { status: 400, title: 'Request failed validation' },
  WEBMON_ERR_INVALID_JSON: { status: 400, title: 'Request body is not valid JSON' },
  WEBMON_ERR_INVALID_URL: { status: 400, title: 'Malformed or unacceptable asset URL' },
  WEBMON_ERR_UNKNOWN_PLUGIN: { status: 400, title: 'Unknown plugin' },
  WEBMON_ERR_PLUGIN_SCHEME: { status: 400, title: 'Plugin does not handle this URL scheme' },
  WEBMON_ERR_PLUGIN_CONFIG: { status: 400, title: 'Invalid plugin configuration' },
  WEBMON_ERR_INVALID_CURSOR: { status: 400, title: 'Invalid pagination cursor' },
  WEBMON_ERR_BATCH_TOO_LARGE: { status: 400, title: 'Too many items in one request' },
  WEBMON_ERR_BAD_REQUEST: { status: 400, title: 'Malformed HTTP request' },
  WEBMON_ERR_PROBE_MODULE: { status: 400, title: 'Unknown probe module' },
  WEBMON_ERR_UNAUTHORIZED: { status: 401, title: 'Missing or invalid API key' },
  WEBMON_ERR_FORBIDDEN: { status: 403, title: 'This API key may not do that' },
  WEBMON_ERR_CSRF: { status: 403, title: 'Missing or wrong CSRF token' },
  WEBMON_ERR_ROUTE_NOT_FOUND: { status: 404, title: 'No such route' },
  WEBMON_ERR_ASSET_NOT_FOUND: { status: 404, title: 'Asset not found' },
  WEBMON_ERR_JOB_NOT_FOUND: { status: 404, title: 'Job not found' },
  WEBMON_ERR_CLIENT_NOT_FOUND: { status: 404, title: 'Client not found' },
  WEBMON_ERR_MAINTENANCE_NOT_FOUND: { status: 404, title: 'Maintenance window not found' },
  WEBMON_ERR_WEBHOOK_NOT_FOUND: { status: 404, title: 'No webhook is set for this client' },
  WEBMON_ERR_CHANNEL_NOT_FOUND: { status: 404, title: 'Notification channel not found' },
  WEBMON_ERR_KEY_NOT_FOUND: { status: 404, title: 'API key not found' },
  WEBMON_ERR_STATUS_PAGE_NOT_FOUND: { status: 404, title: 'Status page not found' },
  WEBMON_ERR_BADGE_NOT_FOUND: { status: 404, title: 'No public badge for this id' },
  WEBMON_ERR_ASSET_EXISTS: { status: 409, title: 'Another asset already has this URL' },
  WEBMON_ERR_CHANNEL_NAME_TAKEN: { status: 409, title: 'The client already has a channel with this name' },
  WEBMON_ERR_CHANNEL_LIMIT: { status: 409, title: 'The client has the most channels allowed' },
  WEBMON_ERR_STATUS_PAGE_EXISTS: { status: 409, title: 'Another status page has this slug' },
  WEBMON_ERR_CONFLICT: { status: 409, title: 'Concurrent modification, retry' },
  WEBMON_ERR_JOB_NOT_FAILED: { status: 409, title: 'Only a failed job can be retried' },
  WEBMON_ERR_LAST_KEY: { status: 409, title: 'A client cannot revoke its last usable API key' },
  WEBMON_ERR_PROBE_CONFLICT: { status: 409, title: 'An asset of yours watches the probe target with other options' },
  WEBMON_ERR_REQUEST_TIMEOUT: { status: 408, title: 'The request was not received in time' },
  WEBMON_ERR_BODY_TOO_LARGE: { status: 413, title: 'Request body too large' },
  WEBMON_ERR_URI_TOO_LONG: { status: 414, title: 'Request URL too long' },
  WEBMON_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported content type' },
  WEBMON_ERR_QUOTA_EXCEEDED: { status: 429, title: 'A quota of this client is used up' },
  WEBMON_ERR_RATE_LIMITED: { status: 429, title: 'Too many requests; retry after the time in Retry-After' },
  WEBMON_ERR_HEADERS_TOO_LARGE: { status: 431, title: 'Request headers too large' },
  WEBMON_ERR_INTERNAL: { status: 500, title: 'Internal error' },
  WEBMON_ERR_STORE_UNAVAILABLE: { status: 503, title: 'Redis is unavailable' },
  WEBMON_ERR_SNAPSHOT_FAILED: { status: 503, title: 'The change was applied but not snapshotted' },
  WEBMON_ERR_SHUTTING_DOWN: { status: 503, title: 'This api instance is shutting down' },
  WEBMON_ERR_DISPATCHER_UNAVAILABLE: { status: 503, title: 'The dispatcher did not answer on its control channel' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ErrorCatalog;

export const ERROR_CODES = Object.keys(ErrorCatalog) as ErrorCode[];

/** An error meant for a client: carries a catalog code and an optional structured detail. */
export class WebmonError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message?: string, details?: unknown) {
    super(message ?? ErrorCatalog[code].title);
    this.name = 'WebmonError';
    this.code = code;
    this.statusCode = ErrorCatalog[code].status;
    this.details = details;
  }

  toJSON(): ErrorBody {
    return errorBody(this.code, this.message, this.details);
  }
}

export interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  error: string;
  message: string;
  details?: unknown;
}

export function errorBody(code: ErrorCode, message?: string, details?: unknown): ErrorBody {
  const entry = ErrorCatalog[code];
  const body: ErrorBody = { statusCode: entry.status, code, error: entry.title, message: message ?? entry.title };
  if (details !== undefined) body.details = details;
  return body;
}

/** A fault in configuration: stops the process at start-up with a message naming the field. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
