/**
 * Structured logging (pino). Log lines carry `{assetId, plugin, jobId, durationMs}` where they
 * apply. Secrets are redacted by path: API keys in request headers and any `password`, `secret`,
 * `adminKey` or `apiKey` field, at any of the first levels of nesting.
 *
 * Lines are JSON (one object a line, for log shippers and scripts) unless they go to a terminal:
 * there they are pretty-printed by pino-pretty, coloured when the terminal takes colours
 * (NO_COLOR, FORCE_COLOR and TERM=dumb are honoured). `format` forces either way.
 */
import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type PinoPretty from 'pino-pretty';

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

/** `auto`: pretty when the destination is a terminal, else JSON. */
export type LogFormat = 'auto' | 'json' | 'pretty';

export interface LoggerParams {
  level: string;
  role: string;
  /** Destination stream; defaults to stdout. */
  destination?: NodeJS.WritableStream;
  /** Defaults to `auto`. */
  format?: LogFormat;
}

/** The terminal side of a stream, when it is one (tty.WriteStream). */
interface MaybeTty {
  isTTY?: boolean;
  hasColors?: () => boolean;
}

/** Whether lines for `stream` are pretty-printed under `format`. */
export function prettyLogs(format: LogFormat, stream: MaybeTty): boolean {
  return format === 'pretty' || (format === 'auto' && stream.isTTY === true);
}

/** Colours only on a terminal that takes them (tty.WriteStream.hasColors reads NO_COLOR, FORCE_COLOR, TERM). */
export function terminalColors(stream: MaybeTty): boolean {
  return stream.isTTY === true && typeof stream.hasColors === 'function' && stream.hasColors();
}

export function createLogger(params: LoggerParams): Logger {
  const options: LoggerOptions = {
    level: params.level,
    base: { role: params.role, pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const target: MaybeTty = (params.destination ?? process.stdout) as NodeJS.WritableStream & MaybeTty;
  if (prettyLogs(params.format ?? 'auto', target)) return pino(options, prettyStream(params.destination, terminalColors(target)));
  return params.destination ? pino(options, params.destination as never) : pino(options);
}

/**
 * One readable line per entry (time, level, role, message, then the other fields as JSON);
 * written synchronously to stdout like pino's own default, so nothing is lost at process.exit.
 */
function prettyStream(destination: NodeJS.WritableStream | undefined, colorize: boolean): DestinationStream {
  // Loaded only here: processes that log JSON (servers, scripts, tests) never pay for it.
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  return pretty({
    colorize,
    destination: destination ?? 1,
    sync: true,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,role',
    messageFormat: '{if role}{role}: {end}{msg}',
  });
}
