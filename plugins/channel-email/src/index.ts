/**
 * The `email` channel: one mail per message over SMTP (nodemailer), or with `digest: true` in the
 * notifier one mail for several. Subject `[webmon] <asset> is DOWN (<reason>)`; a plain-text and
 * an HTML part (see compose.ts).
 *
 * Security: `starttls` (default, port 587) requires the upgrade: a server that does not offer or
 * fails STARTTLS gets nothing, neither credentials nor the message. `tls` is implicit TLS (465);
 * `none` never upgrades (25, for relays on a trusted network). Certificates are verified against
 * `servername` (default: `host`) unless `rejectUnauthorized` is false.
 *
 * Egress: the socket is opened here, not by nodemailer: an IP literal host is judged before
 * connecting, a name is resolved by the guard's lookup, which judges every address it returns,
 * so the address judged is the address connected to. TLS (implicit or STARTTLS) runs over that
 * socket with SNI and verification for the host name. The whole exchange is bounded by
 * ctx.timeoutMs and ends when ctx.signal aborts.
 *
 * Outcomes: a 2xx from the server is delivered (recipients refused among others accepted are
 * logged, not retried: the others have the mail); a 4xx reply or a network, TLS or time failure
 * is retried; a 5xx reply (550 mailbox, 535 authentication, 502 no STARTTLS) or a refused
 * configuration (no credentials the server accepts) is rejected. An address the egress policy
 * refuses is thrown, as by every channel: the notifier records `denied: …` and retries (the
 * operator may widen the policy). The password never reaches a reason or a log line (nodemailer's own logger is off).
 */
import { connect, type Socket } from 'node:net';
import nodemailer from 'nodemailer';
import type { SMTPTransportOptions } from 'nodemailer/lib/smtp-transport';
import Type from 'typebox';
import {
  defineChannel,
  delivered,
  egressDenial,
  guardedTarget,
  rejected,
  retryLater,
  type ChannelContext,
  type ChannelMessage,
  type SendOutcome,
} from '@webmon/plugin-sdk';
import { composeMail } from './compose.js';

/** Recipients of one channel. */
export const MAX_RECIPIENTS = 20;

const DEFAULT_PORTS = { starttls: 587, tls: 465, none: 25 } as const;

export const emailOptionsSchema = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9._:-]+$', description: 'SMTP server: a host name or an IP address (IPv6 without brackets).' }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_535, description: 'Default: 587 for starttls, 465 for tls, 25 for none.' })),
    security: Type.Union([Type.Literal('starttls'), Type.Literal('tls'), Type.Literal('none')], {
      default: 'starttls',
      description: 'starttls: plain connection upgraded with STARTTLS, required (no mail without it); tls: implicit TLS; none: no TLS.',
    }),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'SMTP AUTH user (PLAIN or LOGIN, as the server offers); with password.' })),
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'SMTP AUTH password (secret: never returned nor logged).' })),
    from: Type.String({ format: 'email', maxLength: 254, description: 'Sender address (envelope and From header).' }),
    to: Type.Array(Type.String({ format: 'email', maxLength: 254 }), { minItems: 1, maxItems: MAX_RECIPIENTS, uniqueItems: true, description: 'Recipient addresses.' }),
    rejectUnauthorized: Type.Boolean({ default: true, description: 'Verify the server certificate (tls and starttls).' }),
    servername: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: 'Name the certificate is verified against and sent as SNI (default: host).' })),
  },
  { additionalProperties: false, dependentRequired: { username: ['password'], password: ['username'] } },
);

export type EmailOptions = Type.Static<typeof emailOptionsSchema>;

export const emailChannel = defineChannel({
  name: 'email',
  description: 'E-mail over SMTP (STARTTLS or TLS, AUTH): one mail per change, or a digest.',
  optionsSchema: emailOptionsSchema,
  secretOptions: ['password'],
  endpointOptions: ['host', 'port', 'security', 'servername', 'rejectUnauthorized'],
  digest: true,
  send: sendMail,
});

async function sendMail(messages: readonly ChannelMessage[], options: EmailOptions, ctx: ChannelContext): Promise<SendOutcome> {
  if (messages.length === 0) return delivered();
  const mail = composeMail(messages, options.from);
  const transport = nodemailer.createTransport(transportOptions(options, ctx));
  try {
    const info = await transport.sendMail({ from: options.from, to: options.to, ...mail, signal: ctx.signal });
    if (info.rejected.length > 0) {
      ctx.log.warn({ channel: 'email', host: options.host, refused: info.rejected }, 'SMTP server refused some recipients; the others got the mail');
    }
    ctx.log.debug({ channel: 'email', host: options.host, messages: messages.length, recipients: info.accepted.length }, 'mail sent');
    return delivered();
  } catch (err) {
    return outcomeOfError(err, options, ctx);
  } finally {
    transport.close();
  }
}

function transportOptions(o: EmailOptions, ctx: ChannelContext): SMTPTransportOptions {
  const budget = Math.max(1, ctx.timeoutMs);
  const port = o.port ?? DEFAULT_PORTS[o.security];
  const tls: NonNullable<SMTPTransportOptions['tls']> = { rejectUnauthorized: o.rejectUnauthorized, minVersion: 'TLSv1.2' };
  if (o.servername) tls.servername = o.servername;
  return {
    host: o.host,
    port,
    secure: o.security === 'tls',
    requireTLS: o.security === 'starttls',
    ignoreTLS: o.security === 'none',
    tls,
    auth: o.username !== undefined ? { user: o.username, pass: o.password ?? '' } : undefined,
    // With credentials, a server that does not offer AUTH is an error, not an unauthenticated send.
    forceAuth: o.username !== undefined,
    connectionTimeout: budget,
    greetingTimeout: budget,
    socketTimeout: budget,
    logger: false,
    getSocket: (_opts, callback) => {
      guardedSocket(o.host, port, ctx).then(
        (socket) => callback(null, { connection: socket }),
        (err: Error) => callback(err),
      );
    },
  };
}

/** A TCP connection to host:port through the egress guard; rejects on refusal, error or abort. */
function guardedSocket(host: string, port: number, ctx: ChannelContext): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let socket: Socket;
    try {
      socket = connect({ ...guardedTarget(ctx.egress, host), port, noDelay: true });
    } catch (err) {
      return reject(err);
    }
    const fail = (err: Error) => {
      ctx.signal.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(err);
    };
    const onAbort = () => fail(Object.assign(new Error(`no connection within ${ctx.timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', fail);
    socket.once('connect', () => {
      ctx.signal.removeEventListener('abort', onAbort);
      socket.removeListener('error', fail);
      resolve(socket);
    });
  });
}

interface SmtpError {
  code?: string;
  responseCode?: number;
  message?: string;
}

/** Configuration faults that no retry can mend (bad credentials setup, bad addresses). */
const PERMANENT_CODES = new Set(['EAUTH', 'ENOAUTH', 'EENVELOPE', 'EMESSAGE', 'EMAXRECIPIENTS']);

function outcomeOfError(err: unknown, o: EmailOptions, ctx: ChannelContext): SendOutcome {
  const denial = egressDenial(err);
  if (denial) throw denial;
  const e = (err ?? {}) as SmtpError;
  const what = ctx.signal.aborted ? `no answer within ${ctx.timeoutMs} ms` : String(e.message ?? err);
  const reason = withoutSecret(`SMTP server ${o.host}: ${what}`, o);
  if (typeof e.responseCode === 'number') return e.responseCode >= 500 ? rejected(reason) : retryLater(reason);
  if (!ctx.signal.aborted && e.code && PERMANENT_CODES.has(e.code)) return rejected(reason);
  return retryLater(reason);
}

/** The text with the password and the forms AUTH PLAIN and LOGIN send it in (base64) blanked out. */
function withoutSecret(text: string, o: EmailOptions): string {
  const password = o.password;
  if (!password) return text;
  const forms = [password, Buffer.from(password).toString('base64'), Buffer.from(`\0${o.username ?? ''}\0${password}`).toString('base64')];
  return forms.reduce((t, s) => t.split(s).join('[redacted]'), text);
}
