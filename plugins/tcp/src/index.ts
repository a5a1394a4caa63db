/**
 * TCP check with optional banner matching, for services that greet (SSH, SMTP, POP3, FTP,
 * IMAP): connect to tcp://host:port, optionally send a string, read until a pattern, a byte cap
 * or the deadline, and match the text against an expected regular expression. Without `expect`
 * and `send`, a successful connect is the check.
 */
import { connect, type Socket } from 'node:net';
import Type from 'typebox';
import { classifyError, definePlugin, fail, ok, type PluginOutput } from '@webmon/plugin-sdk';

export const tcpConfigSchema = Type.Object(
  {
    timeoutMs: Type.Integer({ default: 10_000, minimum: 100, maximum: 300_000, description: 'Overall time for the check.' }),
    connectTimeoutMs: Type.Integer({ default: 5_000, minimum: 100, maximum: 300_000, description: 'Time to establish the connection.' }),
    send: Type.Optional(Type.String({ maxLength: 4096, description: 'Text sent once connected (e.g. "QUIT\\r\\n"), before reading.' })),
    expect: Type.Optional(
      Type.String({ format: 'regex', minLength: 1, maxLength: 512, description: 'Regular expression the text read must match, e.g. "^SSH-2\\\\.0", "^220", "^\\\\+OK".' }),
    ),
    until: Type.String({ format: 'regex', default: '\\n', minLength: 1, maxLength: 512, description: 'Stop reading once the text read matches this expression (default: the first line).' }),
    readTimeoutMs: Type.Integer({ default: 5_000, minimum: 10, maximum: 300_000, description: 'After connecting, how long to wait for the reply; then what was read is matched (nothing read: timeout).' }),
    maxBytes: Type.Integer({ default: 4096, minimum: 1, maximum: 1_048_576, description: 'Stop reading after this many bytes.' }),
  },
  { additionalProperties: false },
);

export type TcpConfig = Type.Static<typeof tcpConfigSchema>;

interface Exchange {
  connectMs: number;
  firstByteMs?: number;
  text: string;
  bytes: number;
  ended: 'pattern' | 'cap' | 'closed' | 'idle' | 'connected';
}

const BANNER_SHOWN = 200;

/** Connects, sends, reads; resolves with what was read, rejects with the network error. */
function exchange(host: string, port: number, cfg: TcpConfig, signal: AbortSignal): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket: Socket = connect({ host, port, noDelay: true });
    const until = new RegExp(cfg.until);
    const read = cfg.expect !== undefined || cfg.send !== undefined;
    const chunks: Buffer[] = [];
    let bytes = 0;
    let connectMs = 0;
    let firstByteMs: number | undefined;
    let settled = false;
    let readTimer: NodeJS.Timeout | undefined;
    const finish = (err: Error | null, ended?: Exchange['ended']) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(readTimer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) return reject(err);
      const text = Buffer.concat(chunks).toString('latin1');
      const out: Exchange = { connectMs, text, bytes, ended: ended ?? 'closed' };
      if (firstByteMs !== undefined) out.firstByteMs = firstByteMs;
      resolve(out);
    };
    const onAbort = () => finish(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }));
    signal.addEventListener('abort', onAbort, { once: true });
    const connectTimer = setTimeout(
      () => finish(Object.assign(new Error(`no connection within ${cfg.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' })),
      cfg.connectTimeoutMs,
    );
    socket.once('connect', () => {
      clearTimeout(connectTimer);
      connectMs = performance.now() - started;
      if (!read) return finish(null, 'connected');
      if (cfg.send !== undefined) socket.write(cfg.send);
      readTimer = setTimeout(() => {
        if (bytes > 0) finish(null, 'idle');
        else finish(Object.assign(new Error(`no reply within ${cfg.readTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
      }, cfg.readTimeoutMs);
    });
    socket.on('data', (chunk: Buffer) => {
      firstByteMs ??= performance.now() - started;
      const room = cfg.maxBytes - bytes;
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      bytes += Math.min(chunk.length, room);
      if (bytes >= cfg.maxBytes) return finish(null, 'cap');
      if (until.test(Buffer.concat(chunks).toString('latin1'))) finish(null, 'pattern');
    });
    socket.once('end', () => finish(null, 'closed'));
    socket.once('error', (err) => finish(err));
    if (signal.aborted) onAbort();
  });
}

/** The banner as shown in messages: first line-ish, control characters escaped, bounded. */
function shown(text: string): string {
  const s = JSON.stringify(text.length > BANNER_SHOWN ? `${text.slice(0, BANNER_SHOWN)}…` : text);
  return s.slice(1, -1);
}

export const tcpPlugin = definePlugin({
  name: 'tcp',
  description: 'Connects to tcp://host:port; optionally sends a string and matches the reply (banner) against a regular expression.',
  schemes: ['tcp'],
  configSchema: tcpConfigSchema,
  async run(target, cfg, ctx): Promise<PluginOutput> {
    const host = target.url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(target.url.port);
    let ex: Exchange;
    try {
      ex = await exchange(host, port, cfg, ctx.signal);
    } catch (err) {
      const c = classifyError(err, ctx.signal);
      return fail(c.reason, c.message);
    }
    const metrics: Record<string, number> = { connectMs: round(ex.connectMs), bytes: ex.bytes };
    if (ex.firstByteMs !== undefined) metrics.firstByteMs = round(ex.firstByteMs);
    if (ex.ended === 'connected') return ok(`connected in ${Math.round(ex.connectMs)} ms`, metrics);
    const details = { banner: ex.text.slice(0, 1024), ended: ex.ended };
    if (cfg.expect !== undefined) {
      if (ex.bytes === 0) return fail('mismatch', `connection closed without a reply, expected /${cfg.expect}/`, metrics, details);
      if (!new RegExp(cfg.expect).test(ex.text)) return fail('mismatch', `reply "${shown(ex.text)}" does not match /${cfg.expect}/`, metrics, details);
    }
    return ok(`reply "${shown(ex.text.trimEnd())}"`, metrics, details);
  },
});

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
