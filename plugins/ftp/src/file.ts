/** A file on the server: its size and modification time, and its first bytes. */
import { Writable } from 'node:stream';
import { FTPError, type Client } from 'basic-ftp';
import { CheckFailure } from './errors.js';

/** Reply codes that mean "command not implemented" (500, 502, 504) rather than "no such file". */
const NOT_IMPLEMENTED = new Set([500, 502, 504]);

export interface FileInfo {
  size?: number;
  mtime?: Date;
}

/**
 * SIZE and MDTM of a path. A 550 to SIZE is "no such file" unless CWD into the path works, in
 * which case the path is a directory (and the working directory now). A server that implements
 * neither command cannot tell.
 */
export async function fileInfo(client: Client, path: string): Promise<FileInfo | 'directory'> {
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
export async function download(client: Client, path: string, max: number): Promise<{ bytes: number; truncated: boolean }> {
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
