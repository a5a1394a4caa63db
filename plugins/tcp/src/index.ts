/**
 * TCP check with optional banner matching, for services that greet (SSH, SMTP, POP3, FTP,
 * IMAP): connect to tcp://host:port, optionally send a string, read until a pattern, a byte cap
 * or the deadline, and match the text against an expected regular expression. Without `expect`
 * and `send`, a successful connect is the check. The connection goes through the check's egress
 * guard (name resolved and judged once by its lookup, an IP literal judged before connecting).
 */
import { connect, type Socket } from 'node:net';
import Type from 'typebox';
import { RegexTimeoutError, USER_REGEX_FORMAT, userRegex, userRegexProblem, type MatchOptions, type UserRegex } from '@webmon/plugin-sdk';
import { classifyError, definePlugin, fail, guardedTarget, ok, round, type EgressGuard, type PluginOutput } from '@webmon/plugin-sdk';

export const tcpConfigSchema = Type.Object(
  {
    timeoutMs: Type.Integer({ default: 10_000, minimum: 100, maximum: 300_000, description: 'Overall time for the check.' }),
    connectTimeoutMs: Type.Integer({ default: 5_000, minimum: 100, maximum: 300_000, description: 'Time to establish the connection.' }),
    send: Type.Optional(Type.String({ maxLength: 4096, description: 'Text sent once connected (e.g. "QUIT\\r\\n"), before reading.' })),
    expect: Type.Optional(
      Type.String({ format: USER_REGEX_FORMAT, minLength: 1, maxLength: 512, description: 'Regular expression (RE2 syntax) the text read must match, e.g. "^SSH-2\\\\.0", "^220", "^\\\\+OK".' }),
    ),
    until: Type.String({ format: USER_REGEX_FORMAT, default: '\\n', minLength: 1, maxLength: 512, description: 'Stop reading once the text read matches this expression (default: the first line).' }),
    readTimeoutMs: Type.Integer({ default: 5_000, minimum: 10, maximum: 300_000, description: 'After connecting, how long to wait for the reply; then what was read is matched (nothing read: timeout).' }),
    maxBytes: Type.Integer({ default: 4096, minimum: 1, maximum: 1_048_576, description: 'Stop reading after this many bytes.' }),
  },
  { additionalProperties: false },
);

export type TcpConfig = Type.Static<typeof tcpConfigSchema>;

interface Exchange {
  connectMs: number;
  /** The address connected to and its family. */
  address?: string;
  family?: 4 | 6;
  firstByteMs?: number;
  text: string;
  bytes: number;
  ended: 'pattern' | 'cap' | 'closed' | 'idle' | 'connected';
}

const BANNER_SHOWN = 200;

/** Connects, sends, reads; resolves with what was read, rejects with the network error or the guard's refusal. */
function exchange(host: string, port: number, cfg: TcpConfig, signal: AbortSignal, egress: EgressGuard, owner?: string): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket: Socket = connect({ ...guardedTarget(egress, host), port, noDelay: true });
    const until = new UntilWatcher(
      userRegex(cfg.until),
      cfg.maxBytes,
      () => finish(null, 'pattern'),
      (err) => finish(err instanceof Error ? err : new Error(String(err))),
      { signal, owner },
    );
    const read = cfg.expect !== undefined || cfg.send !== undefined;
    const chunks: Buffer[] = [];
    let bytes = 0;
    let connectMs = 0;
    let firstByteMs: number | undefined;
    let settled = false;
    const peer: Pick<Exchange, 'address' | 'family'> = {};
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
      if (peer.address) Object.assign(out, peer);
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
      if (socket.remoteAddress) Object.assign(peer, { address: socket.remoteAddress, family: socket.remoteFamily === 'IPv6' ? 6 : 4 });
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
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      chunks.push(part);
      bytes += part.length;
      if (bytes >= cfg.maxBytes) return finish(null, 'cap');
      until.push(part.toString('latin1'));
    });
    socket.once('end', () => finish(null, 'closed'));
    socket.once('error', (err) => finish(err));
    if (signal.aborted) onAbort();
  });
}

/**
 * Watches the text read for `until`. Matching runs off the event loop for large texts (see the
 * SDK's regex pool), one match at a time: chunks that arrive meanwhile are matched together
 * next. Matching the whole text again for every chunk is quadratic in a reply trickled a byte at
 * a time, so the text is matched on every chunk only while the characters scanned stay within a
 * budget (a few times maxBytes), then each time it has doubled: the work stays linear in
 * maxBytes, and a reply arriving in a few chunks is still matched as each one arrives.
 */
export class UntilWatcher {
  private text = '';
  private scanned = 0;
  private testedAt = 0;
  private running = false;
  private pending = false;
  private readonly budget: number;

  constructor(
    private readonly re: UserRegex,
    maxBytes: number,
    private readonly onMatch: () => void,
    private readonly onError: (err: unknown) => void,
    private readonly options: MatchOptions = {},
  ) {
    this.budget = 8 * maxBytes;
  }

  push(chunk: string): void {
    this.text += chunk;
    this.pending = true;
    this.kick();
  }

  private kick(): void {
    if (this.running || !this.pending) return;
    const n = this.text.length;
    if (this.scanned + n > this.budget && n < 2 * this.testedAt) return;
    this.pending = false;
    this.scanned += n;
    this.testedAt = n;
    this.running = true;
    this.re.match(this.text, { ...this.options, encoding: 'latin1' }).then(
      (matched) => {
        this.running = false;
        if (matched) this.onMatch();
        else this.kick();
      },
      (err: unknown) => {
        this.running = false;
        this.onError(err);
      },
    );
  }
}

/** Why `until` or `expect` cannot run in RE2 (stored before expressions were checked so), or null. */
function unusableExpression(cfg: TcpConfig): string | null {
  for (const [field, source] of [['until', cfg.until], ['expect', cfg.expect]] as const) {
    const problem = source === undefined ? null : userRegexProblem(source);
    if (problem) return `${field} /${source}/: ${problem}`;
  }
  return null;
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
    const unusable = unusableExpression(cfg);
    if (unusable) return fail('unsupported', unusable);
    const host = target.url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(target.url.port);
    let ex: Exchange;
    try {
      ex = await exchange(host, port, cfg, ctx.signal, ctx.egress, target.owner);
    } catch (err) {
      if (err instanceof RegexTimeoutError) return fail('timeout', `until: ${err.message}`);
      const c = classifyError(err, ctx.signal);
      return fail(c.reason, c.message);
    }
    const metrics: Record<string, number> = { connectMs: round(ex.connectMs), bytes: ex.bytes };
    if (ex.firstByteMs !== undefined) metrics.firstByteMs = round(ex.firstByteMs);
    if (ex.family) metrics.ipFamily = ex.family;
    const peer = ex.address ? { address: ex.address } : {};
    if (ex.ended === 'connected') return ok(`connected in ${Math.round(ex.connectMs)} ms`, metrics, peer);
    const details = { banner: ex.text.slice(0, 1024), ended: ex.ended, ...peer };
    if (cfg.expect !== undefined) {
      if (ex.bytes === 0) return fail('mismatch', `connection closed without a reply, expected /${cfg.expect}/`, metrics, details);
      let matched: boolean;
      try {
        matched = await userRegex(cfg.expect).match(ex.text, { encoding: 'latin1', signal: ctx.signal, owner: target.owner });
      } catch (err) {
        if (err instanceof RegexTimeoutError) return fail('timeout', `expect: ${err.message}`, metrics, details);
        throw err;
      }
      if (!matched) return fail('mismatch', `reply "${shown(ex.text)}" does not match /${cfg.expect}/`, metrics, details);
    }
    return ok(`reply "${shown(ex.text.trimEnd())}"`, metrics, details);
  },
});

