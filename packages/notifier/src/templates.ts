/**
 * Message templates: `{{variable}}` placeholders in a channel's `template.title` and
 * `template.text`, rendered by the host into each message's title and text. Unknown variables
 * are refused when the channel is saved; rendering never fails (a missing value is empty).
 */
import type { ChannelMessage, ChannelMessageType } from '@webmon/plugin-sdk';

export const TEMPLATE_VARIABLES = ['asset', 'url', 'state', 'previous', 'reason', 'message', 'duration', 'link', 'tags', 'client', 'at'] as const;
export type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number];

export interface MessageTemplate {
  title?: string | undefined;
  text?: string | undefined;
}

/** Longest template source, and longest rendered title and text (characters). */
export const MAX_TEMPLATE_LENGTH = 2000;
export const MAX_TITLE_LENGTH = 250;
export const MAX_TEXT_LENGTH = 4000;

const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w]*)\s*\}\}/g;

/** Problems of a template, `{field, message}` with fields `template.title` / `template.text`. */
export function templateProblems(t: MessageTemplate | null | undefined): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  for (const part of ['title', 'text'] as const) {
    const src = t?.[part];
    if (src === undefined) continue;
    if (src.length > MAX_TEMPLATE_LENGTH) out.push({ field: `template.${part}`, message: `at most ${MAX_TEMPLATE_LENGTH} characters` });
    for (const [, name] of src.matchAll(PLACEHOLDER)) {
      if (!(TEMPLATE_VARIABLES as readonly string[]).includes(name!)) {
        out.push({ field: `template.${part}`, message: `unknown variable {{${name}}}; known: ${TEMPLATE_VARIABLES.join(', ')}` });
      }
    }
  }
  return out;
}

/** The variables of a message, as text. */
export function templateValues(m: Omit<ChannelMessage, 'title' | 'text'>): Record<TemplateVariable, string> {
  return {
    asset: m.asset.url,
    url: m.asset.url,
    state: m.to,
    previous: m.from,
    reason: m.reason,
    message: m.message,
    duration: m.durationSec === null ? '' : formatDuration(m.durationSec),
    link: m.link ?? '',
    tags: m.asset.tags.join(', '),
    client: m.client,
    at: m.at,
  };
}

export function renderTemplate(src: string, values: Record<TemplateVariable, string>, max: number): string {
  const out = src.replace(PLACEHOLDER, (_, name: string) => values[name as TemplateVariable] ?? '');
  return out.length > max ? `${out.slice(0, max - 1)}…` : out;
}

/** Title and text of a message: the channel's template where it has one, else the default of the message type. */
export function renderMessage(m: Omit<ChannelMessage, 'title' | 'text'>, t: MessageTemplate | null | undefined): { title: string; text: string } {
  const values = templateValues(m);
  const d = DEFAULTS[m.type];
  return {
    title: renderTemplate(t?.title ?? d.title, values, MAX_TITLE_LENGTH).replace(/\s+/g, ' ').trim(),
    text: renderTemplate(t?.text ?? d.text(m), values, MAX_TEXT_LENGTH),
  };
}

const lines = (...parts: string[]) => parts.filter((p) => p !== '').join('\n');
const because = (m: Pick<ChannelMessage, 'reason' | 'message'>) => (m.message ? 'Reason: {{reason}} ({{message}})' : m.reason ? 'Reason: {{reason}}' : '');
const linkLine = (m: Pick<ChannelMessage, 'link'>) => (m.link ? 'Details: {{link}}' : '');

const DEFAULTS: Record<ChannelMessageType, { title: string; text: (m: Omit<ChannelMessage, 'title' | 'text'>) => string }> = {
  state_change: {
    title: '{{asset}} is {{state}}',
    text: (m) => lines('{{url}} changed from {{previous}} to {{state}} at {{at}}.', because(m), m.durationSec !== null ? 'It was {{previous}} for {{duration}}.' : '', linkLine(m)),
  },
  reminder: {
    title: 'Still down: {{asset}}',
    text: (m) => lines('{{url}} is still down{{duration_suffix}}.'.replace('{{duration_suffix}}', m.durationSec !== null ? ' after {{duration}}' : ''), because(m), linkLine(m)),
  },
  escalation: {
    title: 'Escalated: {{asset}} is {{state}}',
    text: (m) => lines('{{url}} has been {{state}} for {{duration}} without recovering.', because(m), linkLine(m)),
  },
  test: {
    title: 'webmon test message',
    text: () => 'This is a test message from webmon for client {{client}}: this channel works.',
  },
};

/** 3725 → "1h 2m 5s". */
export function formatDuration(sec: number): string {
  let s = Math.max(0, Math.round(sec));
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  if (s > 0 || parts.length === 0) parts.push(`${s}s`);
  return parts.join(' ');
}
