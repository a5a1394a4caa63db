/**
 * Running the system `ping` (iputils). No shell: execFile with fixed arguments and a numeric
 * address, so ping never resolves a name nor sees tenant text. The C locale makes both its
 * decimal arguments and its output parseable. Output is bounded; the run is bounded in time: at
 * `stopAfterMs` ping gets SIGINT (it then prints its statistics and exits) and SIGKILL if it is
 * still there a moment later; an abort of the check kills it at once.
 */
import { execFile } from 'node:child_process';

/** Far more than ping prints for the largest count allowed. */
export const MAX_OUTPUT_BYTES = 64 * 1024;
/** Between SIGINT and SIGKILL. */
const KILL_GRACE_MS = 500;

export interface PingRequest {
  address: string;
  family: 4 | 6;
  count: number;
  intervalMs: number;
  packetTimeoutMs: number;
}

export interface PingRun {
  stdout: string;
  stderr: string;
  /** Exit code, or null when ping was ended by a signal. */
  exitCode: number | null;
  /** Ping was stopped because the budget ran out. */
  stopped: boolean;
  /** The command could not be started (code of the error, e.g. ENOENT), or null. */
  spawnError: string | null;
  /** Ping wrote more than MAX_OUTPUT_BYTES. */
  overflow: boolean;
}

const seconds = (ms: number): string => String(ms / 1000);

/** ping's arguments: numeric output, N requests, interval and reply wait in seconds, the family. */
export function pingArgs(r: PingRequest): string[] {
  return ['-n', '-c', String(r.count), '-i', seconds(r.intervalMs), '-W', seconds(r.packetTimeoutMs), r.family === 6 ? '-6' : '-4', r.address];
}

/**
 * Runs `command` (the ping program, possibly behind a prefix such as `ip netns exec ns`) with
 * the request's arguments. Never rejects.
 */
export function runPing(command: readonly [string, ...string[]], req: PingRequest, stopAfterMs: number, signal: AbortSignal): Promise<PingRun> {
  const [file, ...prefix] = command;
  const env = { LC_ALL: 'C', LANG: 'C', PATH: process.env.PATH ?? '/usr/bin:/bin:/usr/sbin:/sbin' };
  return new Promise((resolve) => {
    let stopped = false;
    let grace: NodeJS.Timeout | undefined;
    const child = execFile(file, [...prefix, ...pingArgs(req)], { env, encoding: 'utf8', maxBuffer: MAX_OUTPUT_BYTES, killSignal: 'SIGKILL', windowsHide: true }, (err, stdout, stderr) => {
      clearTimeout(timer);
      clearTimeout(grace);
      signal.removeEventListener('abort', onAbort);
      const e = err as (NodeJS.ErrnoException & { code?: string | number | null; signal?: string | null }) | null;
      const spawnError = e && typeof e.code === 'string' && e.code !== 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER' ? e.code : null;
      resolve({
        stdout,
        stderr,
        exitCode: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        stopped,
        spawnError,
        overflow: e?.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER',
      });
    });
    const timer = setTimeout(() => {
      stopped = true;
      child.kill('SIGINT');
      grace = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    }, Math.max(0, stopAfterMs));
    const onAbort = () => child.kill('SIGKILL');
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
