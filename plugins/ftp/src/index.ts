/**
 * FTP(S) check: connects, optionally upgrades to TLS, logs in (anonymously by default) and then,
 * depending on `check`, stops there, lists the URL's directory, or checks the URL's file (size,
 * modification time, optionally the first `maxBytes` bytes). Every check opens and closes its own
 * connection; the client is closed in every case, also when the check's signal aborts.
 *
 * Paths follow RFC 1738 as curl does: the URL path is relative to the login directory, and a
 * leading `%2F` makes it absolute (`ftp://host/%2Fetc/motd` is `/etc/motd`).
 *
 * Egress: the host is resolved once by the check's guard and the control connection made to the
 * judged address (the name is kept for TLS SNI and the certificate check); every passive data
 * address (EPSV, PASV) is judged before its socket connects. A refusal is the reason `denied`.
 */
import { isIP } from 'node:net';
import { Writable } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { Client, FTPError, type FTPContext, type FTPResponse } from 'basic-ftp';
import { ipIsPrivateV4Address } from 'basic-ftp/dist/netUtils.js';
import { connectForPassiveTransfer, parseEpsvResponse, parsePasvResponse } from 'basic-ftp/dist/transfer.js';
import Type from 'typebox';
import { EgressDeniedError, classifyError, definePlugin, egressDenial, fail, ok, type EgressGuard, type PluginOutput, type Reason } from '@webmon/plugin-sdk';

/** No CR, LF or NUL: they would end an FTP command early (basic-ftp also refuses them). */
const NO_CONTROL = '^[^\\r\\n\\u0000]*$';

export const ftpConfigSchema = Type.Object(
  {
    check: Type.Enum(['auto', 'login', 'list', 'file'], {
      default: 'auto',
      description:
        'What to check after login: "login" (nothing more), "list" (list the URL\'s directory), "file" (size and modification time of the URL\'s file), "auto" (list when the path is empty or ends with "/", else file, and list when that path is a directory).',
    }),
    user: Type.String({ default: 'anonymous', minLength: 1, maxLength: 256, pattern: NO_CONTROL, description: 'User name; "anonymous" logs in anonymously.' }),
    password: Type.String({
      default: '',
      maxLength: 1024,
      pattern: NO_CONTROL,
      description: 'Password (secret: never logged or returned). Empty for an anonymous login sends "anonymous@".',
    }),
    secure: Type.Boolean({
      default: false,
      description: 'ftp:// only: upgrade the control and data connections with AUTH TLS (explicit FTPS). ftps:// always uses implicit TLS.',
    }),
    rejectUnauthorized: Type.Boolean({
      default: true,
      description: 'Verify the server certificate (chain and host name) for explicit and implicit TLS. false accepts any certificate.',
    }),
    timeoutMs: Type.Integer({ default: 10_000, minimum: 100, maximum: 300_000, description: 'Overall time for the check, and the longest wait for any one reply or transfer.' }),
    connectTimeoutMs: Type.Integer({
      default: 5_000,
      minimum: 100,
      maximum: 300_000,
      description: 'Time to connect and receive the server greeting (with the TLS handshake for ftps://).',
    }),
    maxBytes: Type.Integer({
      default: 0,
      minimum: 0,
      maximum: 104_857_600,
      description: 'check "file": download at most this many bytes of the file and report them; 0 downloads nothing.',
    }),
  },
  { additionalProperties: false },
);

export type FtpConfig = Type.Static<typeof ftpConfigSchema>;

/** Default ports: ftp:// 21, ftps:// (implicit TLS) 990. */
const DEFAULT_PORTS: Record<string, number> = { ftp: 21, ftps: 990 };
/** Password sent for an anonymous login without one (RFC 1635 asks for an e-mail-like string). */
const ANONYMOUS_PASSWORD = 'anonymous@';
const ANONYMOUS_USERS = new Set(['anonymous', 'ftp']);
/** Largest directory listing read and parsed (basic-ftp's default is 40 MiB). */
const MAX_LISTING_BYTES = 4 * 1024 * 1024;
/** Reply codes that mean "command not implemented" (500, 502, 504) rather than "no such file". */
const NOT_IMPLEMENTED = new Set([500, 502, 504]);

type Phase = 'connect' | 'tls' | 'login' | 'check';

/** The check's path as sent to the server: '' is the login directory. */
export function ftpPath(url: URL): string {
  const raw = url.pathname.replace(/^\//, '');
  if (raw === '') return '';
  return raw
    .split('/')
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    })
    .join('/');
}

/** Thrown inside run to end the check with a given reason. */
class CheckFailure extends Error {
  constructor(
    readonly reason: Reason,
    message: string,
  ) {
    super(message);
  }
}

export const ftpPlugin = definePlugin({
  name: 'ftp',
  description: 'Logs in to an FTP(S) server and checks a directory listing or a file.',
  schemes: ['ftp', 'ftps'],
  configSchema: ftpConfigSchema,
  secretOptions: ['password'],
  async run(target, cfg, ctx): Promise<PluginOutput> {
    const started = performance.now();
    const url = target.url;
    const scheme = url.protocol.slice(0, -1).toLowerCase();
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = url.port ? Number(url.port) : (DEFAULT_PORTS[scheme] ?? 21);
    const implicitTls = scheme === 'ftps';
    const explicitTls = !implicitTls && cfg.secure;
    const path = ftpPath(url);
    const shown = path === '' ? '.' : path;
    const anonymous = ANONYMOUS_USERS.has(cfg.user.toLowerCase());
    const password = cfg.password === '' && anonymous ? ANONYMOUS_PASSWORD : cfg.password;
    // servername: SNI and the name the certificate is checked against (not for IP addresses,
    // whose certificate is checked against `host`). The guard's lookup is there in case a
    // connection is ever made by name; every one made here is to a judged address.
    const tlsOptions: ConnectionOptions = { host, rejectUnauthorized: cfg.rejectUnauthorized, lookup: ctx.egress.lookup };
    if (!isIP(host)) tlsOptions.servername = host;

    const metrics: Record<string, number> = {};
    const details: Record<string, unknown> = { path: shown };
    /** Server replies can echo what they were sent; keep the password out of every message. */
    const scrub = (text: string): string => (cfg.password ? text.split(cfg.password).join('[redacted]') : text);
    const since = (t: number): number => round(performance.now() - t);

    if (ctx.signal.aborted) return fail('timeout', 'timed out before connecting');
    // The reply/transfer inactivity limit; the overall deadline is the signal.
    const client = new Client(Math.min(cfg.timeoutMs, ctx.timeoutMs || cfg.timeoutMs), { maxListingBytes: MAX_LISTING_BYTES });
    client.prepareTransfer = guardedPassiveTransfer(client, ctx.egress);
    // Closing the client rejects whatever it is waiting for, so an abort ends the run at once.
    const onAbort = (): void => client.close();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    let phase: Phase = 'connect';
    let connectTimedOut = false;
    try {
      let t = performance.now();
      const connectTimer = setTimeout(() => {
        connectTimedOut = true;
        client.close();
      }, cfg.connectTimeoutMs);
      try {
        const address = await judgedAddress(ctx.egress, host);
        if (ctx.signal.aborted || connectTimedOut) throw new Error('timed out resolving the host');
        // tls.connect lets options.host override its host argument: the address goes there.
        if (implicitTls) await client.connectImplicitTLS(address, port, { ...tlsOptions, host: address });
        else await client.connect(address, port);
      } finally {
        clearTimeout(connectTimer);
      }
      metrics.connectMs = since(t);

      if (explicitTls) {
        phase = 'tls';
        t = performance.now();
        await client.useTLS({ ...tlsOptions });
        metrics.tlsMs = since(t);
      }
      const protocol = tlsProtocol(client);
      if (protocol) details.tls = protocol;

      phase = 'login';
      t = performance.now();
      // As basic-ftp's access(): UTF-8 before login, for non-ASCII user names; errors are ignored.
      await client.sendIgnoringError('OPTS UTF8 ON');
      await client.login(cfg.user, password);
      metrics.loginMs = since(t);

      phase = 'check';
      let kind: 'login' | 'list' | 'file' = cfg.check === 'auto' ? (path === '' || path.endsWith('/') ? 'list' : 'file') : cfg.check;
      if (kind === 'login') {
        metrics.totalMs = since(started);
        return ok(`logged in as ${cfg.user} in ${Math.round(metrics.totalMs)} ms`, metrics, details);
      }
      // TYPE I (SIZE needs binary mode on many servers), PBSZ/PROT P with TLS, list command choice.
      await client.useDefaultSettings();

      let inDirectory = false;
      if (kind === 'file') {
        const file = await fileInfo(client, path);
        if (file === 'directory') {
          inDirectory = true;
          if (cfg.check === 'file') throw new CheckFailure('not_found', `${shown} is a directory, not a file`);
          kind = 'list'; // auto: the path names a directory after all
        } else {
          if (file.size !== undefined) metrics.size = file.size;
          if (file.mtime !== undefined) {
            metrics.mtime = Math.floor(file.mtime.getTime() / 1000);
            details.modified = file.mtime.toISOString();
          }
          let read = '';
          if (cfg.maxBytes > 0) {
            const got = await download(client, path, cfg.maxBytes);
            metrics.bytes = got.bytes;
            if (got.truncated || (file.size !== undefined && file.size > got.bytes)) details.truncated = true;
            read = `, read ${got.bytes} bytes`;
          }
          metrics.totalMs = since(started);
          const size = file.size !== undefined ? `${file.size} bytes` : 'size unknown';
          const modified = file.mtime ? `, modified ${file.mtime.toISOString()}` : '';
          return ok(`${shown}: ${size}${modified}${read} in ${Math.round(metrics.totalMs)} ms`, metrics, details);
        }
      }

      // list: CWD first, because many servers answer LIST of a missing path with an empty listing.
      if (path !== '' && !inDirectory) await client.cd(path);
      const entries = await client.list();
      metrics.entries = entries.length;
      metrics.totalMs = since(started);
      return ok(`${shown}: ${entries.length} entries in ${Math.round(metrics.totalMs)} ms`, metrics, details);
    } catch (err) {
      metrics.totalMs = since(started);
      const c = classify(err, phase, connectTimedOut, cfg.connectTimeoutMs, ctx.signal, shown);
      return fail(c.reason, scrub(c.message), metrics, details);
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      client.close();
    }
  },
});

/** The address the control connection uses: the host resolved once, every address judged. */
async function judgedAddress(egress: EgressGuard, host: string): Promise<string> {
  const [first] = await egress.resolve(host);
  if (!first) throw Object.assign(new Error(`${host}: no address`), { code: 'ENOTFOUND' });
  return first.address;
}

/**
 * The passive-mode transfer strategy: EPSV, else PASV, as basic-ftp's own (the first one that
 * works is kept), with the data address judged by the guard before its socket connects. PASV
 * follows basic-ftp's enterPassiveModeIPv4: a private address in the reply while the control
 * connection's is public is a NAT mistake, replaced by the control address; for a client, any
 * other host than the control connection's is refused (as basic-ftp's default does). A refused address
 * ends the transfer at once (no other strategy is tried).
 */
function guardedPassiveTransfer(client: Client, egress: EgressGuard): (ftp: FTPContext) => Promise<FTPResponse> {
  const epsv = async (ftp: FTPContext): Promise<FTPResponse> => {
    const res = await ftp.request('EPSV');
    const port = parseEpsvResponse(res.message);
    const control = ftp.socket.remoteAddress;
    if (!control) throw new Error("Control socket is disconnected, can't get remote address.");
    await connectJudged(ftp, egress, control, port);
    return res;
  };
  const pasv = async (ftp: FTPContext): Promise<FTPResponse> => {
    const res = await ftp.request('PASV');
    const target = parsePasvResponse(res.message);
    const control = ftp.socket.remoteAddress;
    if (ipIsPrivateV4Address(target.host) && control && !ipIsPrivateV4Address(control)) target.host = control;
    // A client's server may not send webmon's data connection to a third host (FTP bounce).
    if (!egress.trusted && control && target.host !== control.replace(/^::ffff:/, '')) {
      throw new EgressDeniedError(`data connection to ${target.host}:${target.port} refused: not the server's own address ${control}`);
    }
    await connectJudged(ftp, egress, target.host, target.port);
    return res;
  };
  return async (ftp) => {
    let last: unknown;
    for (const strategy of [epsv, pasv]) {
      try {
        const res = await strategy(ftp);
        client.prepareTransfer = strategy;
        return res;
      } catch (err) {
        if (egressDenial(err)) throw err;
        last = err;
      }
    }
    throw new Error(`None of the available transfer strategies work. Last error response was '${String(last)}'.`);
  };
}

async function connectJudged(ftp: FTPContext, egress: EgressGuard, host: string, port: number): Promise<void> {
  const refused = egress.judgeAddress(host);
  if (refused) throw new EgressDeniedError(`data connection to ${host}:${port} refused: ${refused}`);
  await connectForPassiveTransfer(host, port, ftp);
}

interface FileInfo {
  size?: number;
  mtime?: Date;
}

/**
 * SIZE and MDTM of a path. A 550 to SIZE is "no such file" unless CWD into the path works, in
 * which case the path is a directory (and the working directory now). A server that implements
 * neither command cannot tell.
 */
async function fileInfo(client: Client, path: string): Promise<FileInfo | 'directory'> {
  const out: FileInfo = {};
  try {
    out.size = await client.size(path);
  } catch (err) {
    if (!(err instanceof FTPError)) throw err;
    if (err.code === 550) {
      const isDirectory = await client.cd(path).then(
        () => true,
        (cdErr: unknown) => {
          if (cdErr instanceof FTPError) return false;
          throw cdErr;
        },
      );
      if (isDirectory) return 'directory';
      throw err;
    }
    if (!NOT_IMPLEMENTED.has(err.code)) throw err;
  }
  try {
    const mtime = await client.lastMod(path);
    // An MDTM reply basic-ftp cannot parse gives an invalid Date: treat the time as unknown.
    if (Number.isFinite(mtime.getTime())) out.mtime = mtime;
  } catch (err) {
    if (!(err instanceof FTPError) || !NOT_IMPLEMENTED.has(err.code)) throw err;
  }
  if (out.size === undefined && out.mtime === undefined) {
    throw new CheckFailure('protocol', 'the server supports neither SIZE nor MDTM: cannot check a file');
  }
  return out;
}

/**
 * Reads the first `max` bytes of a file, then closes the client (the check ends there).
 * `truncated`: more bytes arrived than were wanted.
 */
async function download(client: Client, path: string, max: number): Promise<{ bytes: number; truncated: boolean }> {
  let bytes = 0;
  let full = false;
  let truncated = false;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const room = max - bytes;
      if (chunk.length >= room) {
        if (chunk.length > room) truncated = true;
        bytes += room;
        full = true;
        callback();
        // Enough: dropping the connection is the only way to stop every server from sending.
        client.close();
        return;
      }
      bytes += chunk.length;
      callback();
    },
  });
  try {
    await client.downloadTo(sink, path);
  } catch (err) {
    if (!full) throw err;
  }
  return { bytes, truncated };
}

function tlsProtocol(client: Client): string | undefined {
  const socket = client.ftp.socket as { getProtocol?: () => string | null };
  return typeof socket.getProtocol === 'function' ? (socket.getProtocol() ?? undefined) : undefined;
}

/**
 * Maps an error to a reason. FTP replies are mapped by code and phase (530 → login, 550 →
 * not_found, a refused AUTH TLS → tls); network and TLS errors go through classifyError.
 */
function classify(err: unknown, phase: Phase, connectTimedOut: boolean, connectTimeoutMs: number, signal: AbortSignal, path: string): { reason: Reason; message: string } {
  if (signal.aborted) return { reason: 'timeout', message: `timed out during ${phase}` };
  if (connectTimedOut) return { reason: 'timeout', message: `no connection and greeting within ${connectTimeoutMs} ms` };
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

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
