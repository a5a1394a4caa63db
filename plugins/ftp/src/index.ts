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
 *
 * Files: options.ts (the options), target.ts (host, port, TLS mode and path from the URL),
 * session.ts (connect, TLS, login), check.ts (login / list / file), file.ts (SIZE, MDTM and the
 * first bytes of a file), transfer.ts (guarded data connections), errors.ts (reasons).
 */
import { Client } from 'basic-ftp';
import { definePlugin, fail, type PluginOutput } from '@webmon/plugin-sdk';
import { checkPath } from './check.js';
import { classify, type Progress } from './errors.js';
import { ftpConfigSchema } from './options.js';
import { openSession, since, type Report } from './session.js';
import { ftpTarget } from './target.js';
import { guardedPassiveTransfer } from './transfer.js';

export { ftpConfigSchema, type FtpConfig } from './options.js';
export { ftpPath } from './target.js';

/** Largest directory listing read and parsed (basic-ftp's default is 40 MiB). */
const MAX_LISTING_BYTES = 4 * 1024 * 1024;

export const ftpPlugin = definePlugin({
  name: 'ftp',
  description: 'Logs in to an FTP(S) server and checks a directory listing or a file.',
  schemes: ['ftp', 'ftps'],
  configSchema: ftpConfigSchema,
  secretOptions: ['password'],
  async run(target, cfg, ctx): Promise<PluginOutput> {
    const started = performance.now();
    const ftp = ftpTarget(target.url, cfg, ctx.egress);
    const report: Report = { started, metrics: {}, details: { path: ftp.shown } };
    /** Server replies can echo what they were sent; keep the password out of every message. */
    const scrub = (text: string): string => (cfg.password ? text.split(cfg.password).join('[redacted]') : text);

    if (ctx.signal.aborted) return fail('timeout', 'timed out before connecting');
    // The reply/transfer inactivity limit; the overall deadline is the signal.
    const client = new Client(Math.min(cfg.timeoutMs, ctx.timeoutMs || cfg.timeoutMs), { maxListingBytes: MAX_LISTING_BYTES });
    client.prepareTransfer = guardedPassiveTransfer(client, ctx.egress);
    // Closing the client rejects whatever it is waiting for, so an abort ends the run at once.
    const onAbort = (): void => client.close();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    const progress: Progress = { phase: 'connect', connectTimedOut: false };
    try {
      await openSession(client, ftp, cfg, ctx, progress, report);
      progress.phase = 'check';
      return await checkPath(client, ftp, cfg, report);
    } catch (err) {
      report.metrics.totalMs = since(started);
      const c = classify(err, progress, cfg.connectTimeoutMs, ctx.signal, ftp.shown);
      return fail(c.reason, scrub(c.message), report.metrics, report.details);
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      client.close();
    }
  },
});
