/**
 * Errors in the catalog's format `{statusCode, code, error, message}`: any error mapped to it,
 * sent as it, and the requests Node's HTTP parser refused answered with it.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply } from 'fastify';
import { WebmonError, errorBody, isStoreUnavailable, type ErrorBody, type ErrorCode } from '@webmon/core';

/** Longest path parameter the router accepts (ids are at most 64): longer answers 414. */
export const MAX_PARAM_LENGTH = 200;
/** Longest request URL answered (Node refuses request lines past its header limit, 16 KiB, itself). */
export const MAX_URL_LENGTH_BYTES = 8192;

/** Maps any error to the catalog's shape. */
export function toErrorBody(err: unknown) {
  if (err instanceof WebmonError) return err.toJSON();
  if (isStoreUnavailable(err)) return errorBody('WEBMON_ERR_STORE_UNAVAILABLE', 'Redis is unavailable; retry shortly');
  const e = err as FastifyError & { validation?: Array<{ instancePath: string; message?: string; params?: Record<string, unknown> }>; validationContext?: string };
  if (e.validation) {
    const problems = e.validation.map((v) => {
      const path = [e.validationContext, ...v.instancePath.split('/').slice(1)].filter(Boolean).join('.');
      const extra = v.params?.additionalProperty;
      const field = extra ? `${path}.${String(extra)}` : path;
      const message = extra ? 'is not a known field' : (v.message ?? 'is invalid');
      return { field, message };
    });
    const first = problems[0]!;
    return errorBody('WEBMON_ERR_VALIDATION', `${first.field}: ${first.message}`, { problems });
  }
  const framework = typeof e.code === 'string' ? FRAMEWORK_CODES[e.code] : undefined;
  // Fastify's messages may quote the request (a whole over-long path): keep them short.
  if (framework) return errorBody(framework, e.message.length > 300 ? `${e.message.slice(0, 300)}…` : e.message);
  if (err instanceof SyntaxError) return errorBody('WEBMON_ERR_INVALID_JSON', err.message);
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const byStatus = CODES_BY_STATUS[e.statusCode];
    // Any other fastify error (FST_ERR_*) is a malformed request; its code is not ours to show.
    if (byStatus) return errorBody(byStatus, e.message);
    return errorBody(String(e.code).startsWith('FST_') ? 'WEBMON_ERR_BAD_REQUEST' : 'WEBMON_ERR_VALIDATION', e.message);
  }
  return errorBody('WEBMON_ERR_INTERNAL', 'internal error');
}

/** Fastify's own errors that reach clients, by their code. */
const FRAMEWORK_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'WEBMON_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'WEBMON_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'WEBMON_ERR_INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'WEBMON_ERR_INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'WEBMON_ERR_BAD_REQUEST',
  FST_ERR_BAD_URL: 'WEBMON_ERR_BAD_REQUEST',
  FST_ERR_MAX_PARAM_LENGTH: 'WEBMON_ERR_URI_TOO_LONG',
  FST_ERR_NOT_FOUND: 'WEBMON_ERR_ROUTE_NOT_FOUND',
};

/** Statuses of errors from elsewhere (plugins, Node) that have one catalog code; 400 stays VALIDATION. */
const CODES_BY_STATUS: Record<number, ErrorCode> = {
  401: 'WEBMON_ERR_UNAUTHORIZED',
  403: 'WEBMON_ERR_FORBIDDEN',
  404: 'WEBMON_ERR_ROUTE_NOT_FOUND',
  408: 'WEBMON_ERR_REQUEST_TIMEOUT',
  413: 'WEBMON_ERR_BODY_TOO_LARGE',
  414: 'WEBMON_ERR_URI_TOO_LONG',
  415: 'WEBMON_ERR_UNSUPPORTED_MEDIA_TYPE',
  429: 'WEBMON_ERR_RATE_LIMITED',
  431: 'WEBMON_ERR_HEADERS_TOO_LARGE',
};

/**
 * Sends an error body. It is serialised here, not by the route's response schema: a route may
 * document its own body for the same status (GET /health's 503), which an error must not meet.
 */
export function sendError(reply: FastifyReply, body: ErrorBody): FastifyReply {
  if (body.code === 'WEBMON_ERR_STORE_UNAVAILABLE') reply.header('retry-after', '5');
  return reply.code(body.statusCode).type('application/json; charset=utf-8').serializer(JSON.stringify).send(body);
}

/**
 * Requests Node's HTTP parser refused (headers too large, malformed request line, timeout):
 * answered in the catalog's format, then the connection is closed (the parser cannot resume).
 */
export function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const raw = (err as { rawPacket?: unknown }).rawPacket;
  const body = clientErrorBody({ code: err.code, rawPacket: Buffer.isBuffer(raw) ? raw : undefined });
  const json = JSON.stringify(body);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const head = [
    `HTTP/1.1 ${body.statusCode} ${STATUS_CODES[body.statusCode] ?? 'Error'}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(json)}`,
    'Connection: close',
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${json}`);
  // A peer that keeps sending is not read any more: close for good shortly after answering.
  setTimeout(() => socket.destroy(), 1000).unref();
}

export function clientErrorBody(err: { code?: string | undefined; rawPacket?: Buffer | undefined }): ErrorBody {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return requestLineOverflowed(err.rawPacket)
        ? errorBody('WEBMON_ERR_URI_TOO_LONG', 'the request line is longer than the server accepts')
        : errorBody('WEBMON_ERR_HEADERS_TOO_LARGE', 'the request headers are larger than the server accepts');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return errorBody('WEBMON_ERR_REQUEST_TIMEOUT', 'the request was not received in time');
    default:
      return errorBody('WEBMON_ERR_BAD_REQUEST', `malformed HTTP request${err.code ? ` (${err.code})` : ''}`);
  }
}

/** Whether the request line is what overflowed: the packet starts one longer than any URL answered. */
function requestLineOverflowed(packet: Buffer | undefined): boolean {
  if (!packet || !/^[A-Z]+ /.test(packet.subarray(0, 16).toString('latin1'))) return false;
  const end = packet.indexOf('\n');
  return end === -1 || end > MAX_URL_LENGTH_BYTES;
}

