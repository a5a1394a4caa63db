/**
 * Structured logging (pino). Log lines carry `{assetId, plugin, jobId, durationMs}` where they
 * apply. Secrets are redacted by path: API keys in request headers and any `password`, `secret`,
 * `adminKey` or `apiKey` field, at any of the first levels of nesting.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

const SECRET_FIELDS = ['password', 'secret', 'adminKey', 'apiKey', 'token', 'authorization', '"x-api-key"'];

export const REDACT_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  ...SECRET_FIELDS.map((f) => `*.*.${f}`),
  ...SECRET_FIELDS.map((f) => `*.*.*.${f}`),
  'req.headers.authorization',
  'req.headers["x-api-key"]',
];

export interface LoggerParams {
  level: string;
  role: string;
  /** Destination stream; defaults to stdout. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(params: LoggerParams): Logger {
  const options: LoggerOptions = {
    level: params.level,
    base: { role: params.role, pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return params.destination ? pino(options, params.destination as never) : pino(options);
}
