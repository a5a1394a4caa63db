/** How a check ends when something goes wrong: the reason, by phase, FTP reply or network error. */
import { FTPError } from 'basic-ftp';
import { classifyError, type Reason } from '@webmon/plugin-sdk';

export type Phase = 'connect' | 'tls' | 'login' | 'check';

/** Where a check got to: what `classify` needs to name a failure. */
export interface Progress {
  phase: Phase;
  /** The connect timer fired (it closes the client, which rejects whatever was pending). */
  connectTimedOut: boolean;
}

/** Thrown inside a check to end the check with a given reason. */
export class CheckFailure extends Error {
  constructor(
    readonly reason: Reason,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Maps an error to a reason. FTP replies are mapped by code and phase (530 → login, 550 →
 * not_found, a refused AUTH TLS → tls); network and TLS errors go through classifyError.
 */
export function classify(err: unknown, progress: Progress, connectTimeoutMs: number, signal: AbortSignal, path: string): { reason: Reason; message: string } {
  const { phase } = progress;
  if (signal.aborted) return { reason: 'timeout', message: `timed out during ${phase}` };
  if (progress.connectTimedOut) return { reason: 'timeout', message: `no connection and greeting within ${connectTimeoutMs} ms` };
  if (err instanceof CheckFailure) return { reason: err.reason, message: err.message };
  if (err instanceof FTPError) {
    const reply = err.message.trim();
    if (phase === 'tls') return { reason: 'tls', message: `AUTH TLS refused: ${reply}` };
    if (err.code === 530 || err.code === 332) return { reason: 'login', message: `login failed: ${reply}` };
    if (phase === 'check' && err.code === 550) return { reason: 'not_found', message: `${path}: ${reply}` };
    return { reason: 'protocol', message: `unexpected reply during ${phase}: ${reply}` };
  }
  // classifyError expects string error codes; basic-ftp copies numeric FTP codes onto some errors.
  return classifyError(stringCodes(err), signal);
}

/** The error itself, or a copy of its chain in which every `code` is a string (or absent). */
function stringCodes(err: unknown, depth = 0): unknown {
  if (!err || typeof err !== 'object' || depth > 5) return err;
  const e = err as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  const cause = e.cause === undefined ? undefined : stringCodes(e.cause, depth + 1);
  if ((typeof e.code === 'string' || e.code === undefined) && cause === e.cause) return err;
  return { name: e.name, message: e.message, code: typeof e.code === 'string' ? e.code : undefined, cause, errors: e.errors };
}
