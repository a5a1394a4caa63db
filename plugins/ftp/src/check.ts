/**
 * What a check looks at once logged in (`check`): nothing more, the URL's directory listing, or
 * the URL's file; "auto" lists a path that is empty or ends with "/", checks a file otherwise,
 * and lists a "file" that turns out to be a directory.
 */
import type { Client } from 'basic-ftp';
import { ok, type PluginOutput } from '@webmon/plugin-sdk';
import { CheckFailure } from './errors.js';
import { download, fileInfo, type FileInfo } from './file.js';
import type { FtpConfig } from './options.js';
import { since, type Report } from './session.js';
import type { FtpTarget } from './target.js';

export async function checkPath(client: Client, ftp: FtpTarget, cfg: FtpConfig, report: Report): Promise<PluginOutput> {
  const kind = cfg.check === 'auto' ? (ftp.path === '' || ftp.path.endsWith('/') ? 'list' : 'file') : cfg.check;
  if (kind === 'login') {
    report.metrics.totalMs = since(report.started);
    return ok(`logged in as ${cfg.user} in ${Math.round(report.metrics.totalMs)} ms`, report.metrics, report.details);
  }
  // TYPE I (SIZE needs binary mode on many servers), PBSZ/PROT P with TLS, list command choice.
  await client.useDefaultSettings();

  let inDirectory = false;
  if (kind === 'file') {
    const file = await fileInfo(client, ftp.path);
    if (file !== 'directory') return checkFile(client, ftp, file, cfg.maxBytes, report);
    inDirectory = true;
    if (cfg.check === 'file') throw new CheckFailure('not_found', `${ftp.shown} is a directory, not a file`);
    // auto: the path names a directory after all
  }
  return checkList(client, ftp, inDirectory, report);
}

/** A file's size and modification time, and its first `maxBytes` bytes when asked. */
async function checkFile(client: Client, ftp: FtpTarget, file: FileInfo, maxBytes: number, { started, metrics, details }: Report): Promise<PluginOutput> {
  if (file.size !== undefined) metrics.size = file.size;
  if (file.mtime !== undefined) {
    metrics.mtime = Math.floor(file.mtime.getTime() / 1000);
    details.modified = file.mtime.toISOString();
  }
  let read = '';
  if (maxBytes > 0) {
    const got = await download(client, ftp.path, maxBytes);
    metrics.bytes = got.bytes;
    if (got.truncated || (file.size !== undefined && file.size > got.bytes)) details.truncated = true;
    read = `, read ${got.bytes} bytes`;
  }
  metrics.totalMs = since(started);
  const size = file.size !== undefined ? `${file.size} bytes` : 'size unknown';
  const modified = file.mtime ? `, modified ${file.mtime.toISOString()}` : '';
  return ok(`${ftp.shown}: ${size}${modified}${read} in ${Math.round(metrics.totalMs)} ms`, metrics, details);
}

/** The number of entries of the URL's directory (`inDirectory`: it is the working directory already). */
async function checkList(client: Client, ftp: FtpTarget, inDirectory: boolean, { started, metrics, details }: Report): Promise<PluginOutput> {
  // CWD first, because many servers answer LIST of a missing path with an empty listing.
  if (ftp.path !== '' && !inDirectory) await client.cd(ftp.path);
  const entries = await client.list();
  metrics.entries = entries.length;
  metrics.totalMs = since(started);
  return ok(`${ftp.shown}: ${entries.length} entries in ${Math.round(metrics.totalMs)} ms`, metrics, details);
}
