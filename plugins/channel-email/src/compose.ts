/**
 * The mail for one message or a digest of several: subject, plain-text part and HTML part. Pure
 * functions of the messages. Every value that reaches the HTML part is escaped; the subject is
 * kept to one line (no header injection whatever an asset URL or reason holds).
 */
import { createHash } from 'node:crypto';
import { cutText, escapeHtml, type ChannelMessage } from '@webmon/plugin-sdk';

export interface ComposedMail {
  subject: string;
  text: string;
  html: string;
  /** Message-ID: the same for every retry of the same delivery, so a receiver can drop a duplicate. */
  messageId: string;
}

/** Entries listed in one digest mail; the rest are counted. */
export const DIGEST_MAX_ENTRIES = 200;
const SUBJECT_MAX = 250;

const STATE_WORDS: Record<string, string> = {
  up: 'UP',
  down: 'DOWN',
  degraded: 'DEGRADED',
  unsupported: 'UNSUPPORTED',
  paused: 'PAUSED',
  unknown: 'UNKNOWN',
};

const STATE_COLORS: Record<string, string> = { up: '#1a7f37', down: '#cf222e', degraded: '#9a6700' };

export function stateWord(state: string): string {
  return STATE_WORDS[state] ?? state.toUpperCase();
}

/** Control characters (CR, LF, TAB, …) become spaces; the text is cut to `max` characters. */
export function oneLine(text: string, max = SUBJECT_MAX): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return cutText(flat, max);
}

/**
 * `<asset> is DOWN (<reason>)`: the reason only when the asset is not up; reminders and
 * escalations say "is still", a test says so first.
 */
export function headline(m: ChannelMessage): string {
  const reason = m.to !== 'up' && m.reason ? ` (${m.reason})` : '';
  const verb = m.type === 'reminder' || m.type === 'escalation' ? 'is still' : 'is';
  const test = m.type === 'test' ? 'test: ' : '';
  const escalated = m.type === 'escalation' ? ' [escalation]' : '';
  return `${test}${m.asset.url} ${verb} ${stateWord(m.to)}${reason}${escalated}`;
}

/** `[webmon] <asset> is DOWN (<reason>)`, or for a digest `[webmon] 3 changes: 2 DOWN, 1 UP`. */
export function subjectOf(messages: readonly ChannelMessage[]): string {
  if (messages.length === 1) return oneLine(`[webmon] ${headline(messages[0]!)}`);
  const counts = new Map<string, number>();
  for (const m of messages) counts.set(m.to, (counts.get(m.to) ?? 0) + 1);
  const parts = [...counts].map(([state, n]) => `${n} ${stateWord(state)}`);
  return oneLine(`[webmon] ${messages.length} changes: ${parts.join(', ')}`);
}

function durationText(sec: number): string {
  const s = Math.max(0, Math.round(sec));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = [d && `${d}d`, h && `${h}h`, m && `${m}m`].filter(Boolean);
  return parts.length ? parts.join(' ') : `${s}s`;
}

/** The facts shown under a message, label and value, in both parts. */
function facts(m: ChannelMessage): [string, string][] {
  const rows: [string, string][] = [
    ['Asset', m.asset.url],
    ['State', `${stateWord(m.from)} → ${stateWord(m.to)}`],
  ];
  if (m.reason) rows.push(['Reason', m.reason]);
  if (m.message) rows.push(['Message', m.message]);
  rows.push(['At', m.at]);
  if (m.since) rows.push(['Since', m.since]);
  if (m.durationSec !== null) rows.push([m.type === 'state_change' ? 'Previous state lasted' : 'Lasting', durationText(m.durationSec)]);
  if (m.link) rows.push(['Dashboard', m.link]);
  return rows;
}

function textEntry(m: ChannelMessage): string {
  const width = Math.max(...facts(m).map(([k]) => k.length)) + 2;
  const rows = facts(m).map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`);
  return [m.title, '', m.text, '', ...rows].join('\n');
}

/** Only http(s) links become anchors; anything else is shown as text. */
function htmlLink(link: string): string {
  return /^https?:\/\//i.test(link) ? `<a href="${escapeHtml(link)}">${escapeHtml(link)}</a>` : escapeHtml(link);
}

function htmlEntry(m: ChannelMessage): string {
  const color = STATE_COLORS[m.to] ?? '#57606a';
  const rows = facts(m)
    .map(([k, v]) => `<tr><th align="left" style="padding:2px 12px 2px 0">${escapeHtml(k)}</th><td>${k === 'Dashboard' || k === 'Asset' ? htmlLink(v) : escapeHtml(v)}</td></tr>`)
    .join('');
  const body = escapeHtml(m.text).replace(/\r?\n/g, '<br>');
  return `<h2 style="color:${color};margin:16px 0 8px">${escapeHtml(m.title)}</h2><p>${body}</p><table style="border-collapse:collapse">${rows}</table>`;
}

function messageIdOf(messages: readonly ChannelMessage[], from: string): string {
  const hash = createHash('sha256')
    .update(messages.map((m) => m.id).join('\n'))
    .digest('hex')
    .slice(0, 40);
  const domain = from.slice(from.lastIndexOf('@') + 1) || 'webmon.invalid';
  return `<${hash}.webmon@${domain}>`;
}

/** The mail for `messages` (one: a mail about it; several: a digest listing them in order). */
export function composeMail(messages: readonly ChannelMessage[], from: string): ComposedMail {
  const shown = messages.slice(0, DIGEST_MAX_ENTRIES);
  const more = messages.length - shown.length;
  const texts = shown.map(textEntry);
  const htmls = shown.map(htmlEntry);
  if (more > 0) {
    texts.push(`… and ${more} more.`);
    htmls.push(`<p>… and ${more} more.</p>`);
  }
  const subject = subjectOf(messages);
  const separator = `\n\n${'-'.repeat(60)}\n\n`;
  const heading = messages.length > 1 ? `<h1 style="font-size:20px">${escapeHtml(subject)}</h1>` : '';
  return {
    subject,
    text: `${texts.join(separator)}\n`,
    html: `<!doctype html><html><body style="font-family:sans-serif">${heading}${htmls.join('<hr>')}</body></html>`,
    messageId: messageIdOf(messages, from),
  };
}
