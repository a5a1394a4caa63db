/**
 * One send through a channel plugin, as every caller (delivery, test-send) makes it: a throw is a
 * `retry` outcome (`denied: …` for an address the owner's guard refused, `timeout`, else
 * `plugin_error: …`), and no reason leaves here holding a secret option's value, even when the
 * service echoed it (a Bot API answer quoting its token, an error text holding a keyed URL).
 */
import { REDACTED, type AnyChannel, type ChannelContext, type ChannelMessage, type SendOutcome } from '@webmon/plugin-sdk';
import { errorText } from './errors.js';

/** Secret values shorter than this are not searched for (they would redact ordinary words). */
const MIN_SECRET_LENGTH = 6;
/** How long a send may go on after ctx.signal aborted before the host gives it up as `timeout`. */
export const SEND_GRACE_MS = 1000;

export async function sendMessages(channel: AnyChannel, options: Record<string, unknown>, messages: readonly ChannelMessage[], ctx: ChannelContext): Promise<SendOutcome> {
  let outcome: SendOutcome;
  try {
    outcome = await bounded(channel.send(channel.digest ? messages : messages.slice(0, 1), options, ctx), ctx.signal);
  } catch (err) {
    const text = errorText(err);
    outcome = { outcome: 'retry', reason: text.startsWith('denied: ') || text === 'timeout' ? text : `plugin_error: ${text}`, retryAfterMs: null };
  }
  return outcome.outcome === 'delivered' ? outcome : { ...outcome, reason: scrubSecrets(outcome.reason, secretValues(channel, options)) };
}

/**
 * `work`, or a TimeoutError SEND_GRACE_MS after `signal` aborted: a plugin that ignores its
 * signal (a library that never settles) cannot hold a delivery slot and its lease forever.
 */
function bounded<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      timer = setTimeout(() => reject(Object.assign(new Error('send did not end after its time budget'), { name: 'TimeoutError' })), SEND_GRACE_MS);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    });
  });
}

/** The outcome of a channel type that is not installed: a failed attempt, retried with backoff like any other (after maxFailures in a row the channel is disabled, with this reason shown). */
export function notInstalled(type: string): SendOutcome {
  return { outcome: 'retry', reason: `channel type ${type} is not installed`, retryAfterMs: null };
}

/** The strings a reason must not hold: each secret option's value and, for a URL, its path and query (where the key is). */
export function secretValues(channel: AnyChannel, options: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const name of channel.secretOptions) {
    const v = options[name];
    if (typeof v !== 'string' || v.length < MIN_SECRET_LENGTH) continue;
    out.push(v);
    if (URL.canParse(v)) {
      const u = new URL(v);
      const keyed = `${u.pathname}${u.search}`;
      if (keyed.length >= MIN_SECRET_LENGTH) out.push(keyed, decodeURIComponent(keyed));
    }
  }
  return out.sort((a, b) => b.length - a.length);
}

export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join(REDACTED);
  return out;
}
