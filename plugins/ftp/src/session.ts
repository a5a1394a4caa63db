/**
 * The control connection of one check: connected to the address the guard judged (the name is
 * kept for TLS SNI and the certificate check), upgraded to TLS when asked, logged in.
 */
import type { Client } from 'basic-ftp';
import { round, type EgressGuard, type PluginContext } from '@webmon/plugin-sdk';
import type { Progress } from './errors.js';
import type { FtpConfig } from './options.js';
import type { FtpTarget } from './target.js';

/** Metrics, details and start time of one check, filled in as it goes. */
export interface Report {
  started: number;
  metrics: Record<string, number>;
  details: Record<string, unknown>;
}

/** Milliseconds since `t` (a performance.now() time), to the hundredth. */
export function since(t: number): number {
  return round(performance.now() - t);
}

/** Connects, upgrades to TLS (explicit FTPS) and logs in, recording each phase's time and `progress`. */
export async function openSession(
  client: Client,
  ftp: FtpTarget,
  cfg: FtpConfig,
  ctx: Pick<PluginContext, 'egress' | 'signal'>,
  progress: Progress,
  report: Report,
): Promise<void> {
  let t = performance.now();
  await connect(client, ftp, cfg.connectTimeoutMs, ctx, progress);
  report.metrics.connectMs = since(t);

  if (ftp.explicitTls) {
    progress.phase = 'tls';
    t = performance.now();
    await client.useTLS({ ...ftp.tlsOptions });
    report.metrics.tlsMs = since(t);
  }
  const protocol = tlsProtocol(client);
  if (protocol) report.details.tls = protocol;

  progress.phase = 'login';
  t = performance.now();
  // As basic-ftp's access(): UTF-8 before login, for non-ASCII user names; errors are ignored.
  await client.sendIgnoringError('OPTS UTF8 ON');
  await client.login(cfg.user, ftp.password);
  report.metrics.loginMs = since(t);
}

/**
 * Resolves the host (through the guard) and connects within `connectTimeoutMs`, greeting (and
 * implicit TLS) included; when the time is up the client is closed and `progress` says so.
 */
async function connect(client: Client, ftp: FtpTarget, connectTimeoutMs: number, ctx: Pick<PluginContext, 'egress' | 'signal'>, progress: Progress): Promise<void> {
  const connectTimer = setTimeout(() => {
    progress.connectTimedOut = true;
    client.close();
  }, connectTimeoutMs);
  try {
    const address = await judgedAddress(ctx.egress, ftp.host);
    if (ctx.signal.aborted || progress.connectTimedOut) throw new Error('timed out resolving the host');
    // tls.connect lets options.host override its host argument: the address goes there.
    if (ftp.implicitTls) await client.connectImplicitTLS(address, ftp.port, { ...ftp.tlsOptions, host: address });
    else await client.connect(address, ftp.port);
  } finally {
    clearTimeout(connectTimer);
  }
}

/** The address the control connection uses: the host resolved once, every address judged. */
async function judgedAddress(egress: EgressGuard, host: string): Promise<string> {
  const [first] = await egress.resolve(host);
  if (!first) throw Object.assign(new Error(`${host}: no address`), { code: 'ENOTFOUND' });
  return first.address;
}

function tlsProtocol(client: Client): string | undefined {
  const socket = client.ftp.socket as { getProtocol?: () => string | null };
  return typeof socket.getProtocol === 'function' ? (socket.getProtocol() ?? undefined) : undefined;
}
