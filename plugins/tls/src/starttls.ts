/**
 * The plaintext part of STARTTLS for SMTP, IMAP, POP3 and FTP: read the greeting, ask for TLS
 * and stop right after the server's yes, so that the same socket carries the handshake next.
 * Replies are bounded in bytes (MAX_DIALOGUE_BYTES for the whole dialogue) and in time
 * (`replyTimeoutMs` each, and the check's signal). A server that sends anything after a reply is
 * refused: after the STARTTLS reply those bytes would be taken for the start of the TLS session
 * (the plaintext command injection of CVE-2011-0411), and before it nothing is pipelined.
 */
import type { Socket } from 'node:net';

export const STARTTLS_PROTOCOLS = ['smtp', 'imap', 'pop3', 'ftp'] as const;
export type StartTlsProtocol = (typeof STARTTLS_PROTOCOLS)[number];

/** Bytes the server may send before TLS, all replies together. */
export const MAX_DIALOGUE_BYTES = 16 * 1024;
const SHOWN = 200;

interface Step {
  /** What the reply answers, for messages. */
  what: string;
  /** Command sent before reading the reply (none for the greeting). */
  send?: string;
  /** The reply ends with the first line that matches. */
  last: RegExp;
  /** That line must match this. */
  expect: RegExp;
}

/** SMTP and FTP: the last line of a reply is `NNN text`, continuation lines are `NNN-text`. */
const CODE_LINE = /^\d{3}(?: |$)/;
const ANY_LINE = /^/;

const DIALOGUES: Record<StartTlsProtocol, readonly Step[]> = {
  smtp: [
    { what: 'greeting', last: CODE_LINE, expect: /^220/ },
    { what: 'EHLO', send: 'EHLO webmon\r\n', last: CODE_LINE, expect: /^250/ },
    { what: 'STARTTLS', send: 'STARTTLS\r\n', last: CODE_LINE, expect: /^220/ },
  ],
  imap: [
    { what: 'greeting', last: ANY_LINE, expect: /^\* OK/i },
    { what: 'STARTTLS', send: 'a1 STARTTLS\r\n', last: /^a1 /i, expect: /^a1 OK/i },
  ],
  pop3: [
    { what: 'greeting', last: ANY_LINE, expect: /^\+OK/ },
    { what: 'STLS', send: 'STLS\r\n', last: ANY_LINE, expect: /^\+OK/ },
  ],
  ftp: [
    { what: 'greeting', last: CODE_LINE, expect: /^220/ },
    { what: 'AUTH TLS', send: 'AUTH TLS\r\n', last: CODE_LINE, expect: /^234/ },
  ],
};

/**
 * The server did not follow the dialogue: `protocol` before the request for TLS (a greeting
 * that is not a welcome), `tls` when it declined TLS itself.
 */
export class DialogueError extends Error {
  constructor(
    readonly reason: 'protocol' | 'tls',
    message: string,
  ) {
    super(message);
    this.name = 'DialogueError';
  }
}

export function timeoutError(message: string): Error {
  return Object.assign(new Error(message), { code: 'ETIMEDOUT' });
}

/** Speaks the dialogue on a connected socket; resolves with the server's reply to the request for TLS. */
export async function startTls(socket: Socket, protocol: StartTlsProtocol, replyTimeoutMs: number, signal: AbortSignal): Promise<string> {
  const steps = DIALOGUES[protocol];
  const budget = { bytes: 0 };
  let answer = '';
  for (const [i, step] of steps.entries()) {
    if (step.send !== undefined) socket.write(step.send);
    const reply = await readReply(socket, step, budget, replyTimeoutMs, signal);
    answer = reply.lines[reply.lines.length - 1] ?? '';
    const requestForTls = i === steps.length - 1;
    if (!step.expect.test(answer)) {
      const verb = requestForTls ? 'declined TLS' : 'answered';
      throw new DialogueError(requestForTls ? 'tls' : 'protocol', `${protocol} ${step.what}: the server ${verb}: "${shown(answer)}"`);
    }
    if (reply.extra) throw new DialogueError('protocol', `${protocol} ${step.what}: the server sent more than its reply`);
  }
  return answer;
}

interface Reply {
  lines: string[];
  /** Bytes followed the last line. */
  extra: boolean;
}

/** Reads one reply: lines up to the first that matches `step.last`. Leaves the socket paused. */
function readReply(socket: Socket, step: Step, budget: { bytes: number }, ms: number, signal: AbortSignal): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    let buffer = '';
    let settled = false;
    const done = (err: Error | null, reply?: Reply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData).off('end', onClose).off('close', onClose).off('error', done);
      socket.pause();
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(reply!);
    };
    const onData = (chunk: Buffer) => {
      budget.bytes += chunk.length;
      if (budget.bytes > MAX_DIALOGUE_BYTES) return done(new DialogueError('protocol', `more than ${MAX_DIALOGUE_BYTES} bytes before TLS`));
      buffer += chunk.toString('latin1');
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        lines.push(line);
        if (step.last.test(line)) return done(null, { lines, extra: buffer.length > 0 });
      }
    };
    const onClose = () => done(new DialogueError('protocol', `connection closed before the reply to ${step.what}`));
    const onAbort = () => done(timeoutError('timed out'));
    const timer = setTimeout(() => done(timeoutError(`no reply to ${step.what} within ${ms} ms`)), ms);
    socket.on('data', onData).once('end', onClose).once('close', onClose).once('error', done);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    else if (socket.destroyed || socket.readableEnded) onClose();
    else socket.resume();
  });
}

/** A reply line as shown in messages: control characters escaped, bounded. */
function shown(line: string): string {
  const s = JSON.stringify(line.length > SHOWN ? `${line.slice(0, SHOWN)}…` : line);
  return s.slice(1, -1);
}
