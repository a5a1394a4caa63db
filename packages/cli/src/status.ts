/**
 * `webmon status` for people: the dispatcher's STATUS reply (JSON, see dispatcher/src/control.ts)
 * as a two-column table. Every field of the reply is shown, known ones first with a plain label,
 * fields this version does not know after them under their own names, so nothing is hidden when
 * the dispatcher is newer than the CLI.
 */
import type { Style } from './term.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Labels of the known fields, in display order; nested objects list their own fields. */
const LABELS: Record<string, string> = {
  instance: 'dispatcher',
  executors: 'executors',
  queue: 'queued in dispatcher',
  queuedInRedis: 'queued in Redis',
  running: 'running',
  failed: 'failed',
  received: 'jobs received',
  sent: 'jobs sent',
  dropped: 'messages dropped',
  scheduled: 'scheduled',
  scheduler: 'scheduler',
  bound: 'queue bound',
  concurrency: 'concurrency',
  takenPerSec: 'taken per second',
  skippedLate: 'skipped (late)',
  skippedPending: 'skipped (pending)',
  lastSnapshot: 'last snapshot',
  at: 'at',
  status: 'status',
  inProgress: 'in progress',
  changesSince: 'changes since',
};

const ORDER = Object.keys(LABELS);

interface Row {
  depth: number;
  label: string;
  value: string;
  /** A heading row (a nested object): no value of its own. */
  heading: boolean;
  path: string;
}

/** `camelCase` → `camel case`, for fields without a label. */
function words(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
}

function byOrder(a: string, b: string): number {
  const ia = ORDER.indexOf(a);
  const ib = ORDER.indexOf(b);
  return (ia < 0 ? ORDER.length : ia) - (ib < 0 ? ORDER.length : ib);
}

/** `lastSnapshot.at` is Redis LASTSAVE (unix seconds). */
function snapshotTime(seconds: number, now: number): string {
  const ago = Math.max(0, Math.round(now / 1000 - seconds));
  return `${new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')} (${ago} s ago)`;
}

function scalar(path: string, value: Json, now: number): string {
  if (value === null) return path === 'scheduler' ? 'off' : '-';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (path === 'lastSnapshot.at' && typeof value === 'number' && value > 0) return snapshotTime(value, now);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function rows(obj: { [key: string]: Json }, depth: number, prefix: string, now: number): Row[] {
  const out: Row[] = [];
  for (const key of Object.keys(obj).sort(byOrder)) {
    const value = obj[key]!;
    const path = prefix ? `${prefix}.${key}` : key;
    const label = LABELS[key] ?? words(key);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      out.push({ depth, label, value: '', heading: true, path });
      out.push(...rows(value, depth + 1, path, now));
    } else {
      out.push({ depth, label, value: scalar(path, value, now), heading: false, path });
    }
  }
  return out;
}

/** Colour for a value that calls for attention: failures red, drops yellow, a good snapshot green. */
function tint(row: Row, style: Style): string {
  if (row.path === 'lastSnapshot.status') return row.value === 'ok' ? style.green(row.value) : style.red(row.value);
  if (row.path === 'failed' && row.value !== '0') return style.red(row.value);
  if (row.path === 'dropped' && row.value !== '0') return style.yellow(row.value);
  return row.value;
}

/** The STATUS reply as aligned `label  value` lines, nested objects indented under a heading. */
export function formatStatus(status: Record<string, unknown>, style: Style, now = Date.now()): string {
  const all = rows(status as { [key: string]: Json }, 0, '', now);
  const width = Math.max(...all.map((r) => r.depth * 2 + r.label.length));
  return all
    .map((r) => {
      const label = `${'  '.repeat(r.depth)}${r.label}`;
      if (r.heading) return style.bold(label);
      return `${style.dim(label.padEnd(width))}  ${tint(r, style)}`;
    })
    .join('\n')
    .concat('\n');
}
