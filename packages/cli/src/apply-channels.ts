/**
 * `channels:` of a `webmon apply` file: a client's notification channels by name, made to match
 * the file through the channel routes. Listed channels are created or replaced, unlisted ones
 * deleted (the `webhook` channel of /clients/:id/webhook is left alone), and nothing is deleted
 * while a listed one is refused. An escalation names its target channel (`channel: <name>`).
 * Secrets need not live in the file: `${NAME}` in a string is replaced by the environment
 * variable NAME when the file is read (a missing one stops apply before any request).
 */
import { ConfigError } from '@webmon/core';

/** A channel as a file lists it (the body of POST /clients/:id/channels, escalation by name). */
export interface FileChannel {
  name: string;
  type: string;
  options?: Record<string, unknown>;
  escalation?: { afterSec: number; channel: string } | null;
  [routing: string]: unknown;
}

/** How a channel shows in GET /clients/:id/channels (the fields apply compares). */
interface ShownChannel {
  id: string;
  name: string;
  type: string;
  options: Record<string, unknown>;
  secretOptions: string[];
  [field: string]: unknown;
}

interface ChannelType {
  name: string;
  secretOptions: string[];
  defaults: Record<string, unknown>;
}

export type Call = <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => Promise<T>;

export interface ChannelReport {
  created: number;
  updated: number;
  kept: number;
  deleted: number;
  failed: Array<{ name: string; error: string }>;
}

const WEBHOOK_CHANNEL_ID = 'webhook';
const REDACTED = '[redacted]';
/** The routing fields of a channel, with the value that means "none". */
const ROUTING: Record<string, unknown> = { filters: {}, delaySec: null, digestSec: null, template: null, remindEverySec: null };
const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Checks the file's `channels:` and expands `${NAME}` references; throws ConfigError naming the entry. */
export function readChannels(file: string, value: unknown, env: NodeJS.ProcessEnv): FileChannel[] {
  if (!Array.isArray(value)) throw new ConfigError(`${file}: channels: expected a list of channels`);
  const names = new Set<string>();
  const out = value.map((entry, i) => {
    const where = `${file}: channels.${i}`;
    if (!entry || typeof entry !== 'object' || typeof entry.name !== 'string' || typeof entry.type !== 'string') throw new ConfigError(`${where}: expected a mapping with name: and type:`);
    if (entry.name === WEBHOOK_CHANNEL_ID) throw new ConfigError(`${where}: the webhook channel is set with PUT /clients/:id/webhook, not apply`);
    if (names.has(entry.name)) throw new ConfigError(`${where}: channel ${entry.name} is listed twice`);
    names.add(entry.name);
    return expandEnv(entry, env, where) as FileChannel;
  });
  for (const [i, c] of out.entries()) {
    const target = c.escalation?.channel;
    if (c.escalation && (typeof target !== 'string' || !names.has(target))) throw new ConfigError(`${file}: channels.${i}.escalation.channel: names no channel of the file (${String(target)})`);
  }
  return out;
}

function expandEnv(value: unknown, env: NodeJS.ProcessEnv, where: string): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_m, name: string) => {
      const v = env[name];
      if (v === undefined) throw new ConfigError(`${where}: environment variable ${name} is not set`);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, `${where}.${i}`));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env, `${where}.${k}`)]));
  return value;
}

/** Creates, replaces and deletes the client's channels to match `wanted`. */
export async function syncChannels(call: Call, client: string, wanted: readonly FileChannel[]): Promise<ChannelReport> {
  const base = `/clients/${encodeURIComponent(client)}/channels`;
  const types = new Map((await call<{ channels: ChannelType[] }>('GET', '/channels')).channels.map((t) => [t.name, t]));
  const shown = (await call<{ channels: ShownChannel[] }>('GET', base)).channels.filter((c) => c.id !== WEBHOOK_CHANNEL_ID);
  const ids = new Map(shown.map((c) => [c.name, c.id]));
  const report: ChannelReport = { created: 0, updated: 0, kept: 0, deleted: 0, failed: [] };
  const attempt = async (name: string, f: () => Promise<void>) => {
    try {
      await f();
    } catch (err) {
      report.failed.push({ name, error: (err as Error).message });
    }
  };
  // New channels first, without escalation, so that every escalation target has an id.
  const created = new Set<string>();
  for (const c of wanted.filter((w) => !ids.has(w.name))) {
    await attempt(c.name, async () => {
      const res = await call<{ id: string }>('POST', base, { ...bodyOf(c, null), escalation: null });
      ids.set(c.name, res.id);
      created.add(c.name);
      report.created++;
    });
  }
  for (const c of wanted.filter((w) => ids.has(w.name))) {
    const isNew = created.has(c.name);
    if (isNew && !c.escalation) continue;
    const target = c.escalation ? ids.get(c.escalation.channel) : undefined;
    if (c.escalation && !target) {
      report.failed.push({ name: c.name, error: `escalation.channel: ${c.escalation.channel} was refused above` });
      continue;
    }
    const body = bodyOf(c, target && c.escalation ? { afterSec: c.escalation.afterSec, channelId: target } : null);
    const before = shown.find((s) => s.name === c.name);
    await attempt(c.name, async () => {
      await call('PUT', `${base}/${ids.get(c.name)}`, body);
      if (!isNew) report[before && same(before, body, types.get(c.type)) ? 'kept' : 'updated']++;
    });
  }
  if (report.failed.length > 0) return report;
  for (const s of shown.filter((x) => !wanted.some((w) => w.name === x.name))) {
    await attempt(s.name, async () => {
      await call('DELETE', `${base}/${s.id}`);
      report.deleted++;
    });
  }
  return report;
}

function bodyOf(c: FileChannel, escalation: { afterSec: number; channelId: string } | null): Record<string, unknown> {
  const { escalation: _byName, ...rest } = c;
  return { ...rest, options: c.options ?? {}, escalation };
}

/**
 * Whether a stored channel already had this configuration. Secrets cannot be read back, so they
 * are not compared (apply writes them every time).
 */
function same(before: ShownChannel, body: Record<string, unknown>, type: ChannelType | undefined): boolean {
  if (before.type !== body.type) return false;
  const options = { ...type?.defaults, ...(body.options as Record<string, unknown>) };
  for (const name of before.secretOptions) if (options[name] !== undefined) options[name] = REDACTED;
  const fields = { ...ROUTING, escalation: null };
  const want = Object.fromEntries(Object.entries(fields).map(([k, none]) => [k, body[k] ?? none]));
  const had = Object.fromEntries(Object.entries(fields).map(([k, none]) => [k, before[k] ?? none]));
  return canonical(options) === canonical(before.options) && canonical(want) === canonical(had);
}

/** JSON with object keys sorted, so that key order does not count as a difference. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));
}
