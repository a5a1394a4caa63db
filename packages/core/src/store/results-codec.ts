/**
 * The compact encoding of an asset's raw results (the list `assetHistory`, written by
 * job_complete.lua, read by StatsStore.results).
 *
 * A check's results are a flat list of tokens, each a JSON text (never empty, never holding a
 * control character, never starting with `=`). Per result, in order:
 *   plugin, status, reason, message, durationMs, metric names (array), one token per metric
 *   value, details (`0` when absent), other fields (`0` when none).
 *
 * Every list entry is `<meta> \x1e <body>`, meta = `<ms>[-<seq>][@<at>] \x1d <outcome> \x1d <jobId>`
 * (the entry id `<ms>-<seq>` never goes back along the list; `at`, the check's time, is written
 * only when it differs from `ms`). The newest entry (index 0) holds its tokens in full, joined
 * by \x1f. Every older entry holds the difference from the entry just newer than it: items
 * joined by \x1f, each a literal token or `=<n>` (the next n tokens equal the newer entry's at
 * the same positions). Consecutive checks of an asset mostly repeat names, details and stable
 * values, so an older entry costs little more than what changed. Reading starts at the newest
 * entry; trimming the oldest never breaks the chain.
 */
import type { CheckResult } from '../types.js';

export const TOKEN_SEP = '\x1f';
export const ENTRY_SEP = '\x1e';
export const META_SEP = '\x1d';

const KNOWN = new Set(['plugin', 'status', 'reason', 'message', 'durationMs', 'metrics', 'details']);

/** The tokens of a check's results (see the module comment). */
export function resultTokens(results: readonly CheckResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    const names = Object.keys(r.metrics ?? {});
    out.push(JSON.stringify(r.plugin), JSON.stringify(r.status), JSON.stringify(r.reason ?? null), JSON.stringify(r.message ?? ''), num(r.durationMs), JSON.stringify(names));
    for (const n of names) out.push(num(r.metrics[n]));
    out.push(r.details === undefined ? '0' : JSON.stringify(r.details));
    const extra = Object.entries(r).filter(([k, v]) => !KNOWN.has(k) && v !== undefined);
    out.push(extra.length ? JSON.stringify(Object.fromEntries(extra)) : '0');
  }
  return out;
}

/** A number as JSON (non-finite values become null, as JSON.stringify of the result would). */
function num(v: number | undefined): string {
  return JSON.stringify(v ?? null) ?? 'null';
}

/** Results from their tokens. Throws on tokens that are not such a list. */
export function resultsFromTokens(tokens: readonly string[]): CheckResult[] {
  const out: CheckResult[] = [];
  let i = 0;
  const next = (): unknown => {
    if (i >= tokens.length) throw new Error('results: truncated token list');
    return JSON.parse(tokens[i++]!);
  };
  while (i < tokens.length) {
    const r = { plugin: next(), status: next(), reason: next(), message: next(), durationMs: next() } as CheckResult;
    const names = next() as string[];
    const metrics: Record<string, number> = {};
    for (const n of names) metrics[n] = next() as number;
    r.metrics = metrics;
    const details = next();
    if (details !== 0) r.details = details as Record<string, unknown>;
    const extra = next();
    out.push(extra === 0 ? r : { ...r, ...(extra as object) });
  }
  return out;
}

/** The tokens of an older entry from its difference body and the tokens of the entry newer than it. */
export function applyDiff(body: string, newer: readonly string[]): string[] {
  const out: string[] = [];
  if (body === '') return out;
  for (const item of body.split(TOKEN_SEP)) {
    if (item.startsWith('=')) {
      const n = Number(item.slice(1));
      for (let k = 0; k < n; k++) out.push(newer[out.length]!);
    } else {
      out.push(item);
    }
  }
  if (out.some((t) => t === undefined)) throw new Error('results: difference longer than the newer entry');
  return out;
}

export interface HistoryMeta {
  ms: number;
  seq: number;
  at: number;
  outcome: string;
  jobId: string;
}

/** Splits a stored entry into its meta and body; null when it is not an entry of this encoding. */
export function parseEntry(raw: string): { meta: HistoryMeta; body: string } | null {
  const cut = raw.indexOf(ENTRY_SEP);
  if (cut < 0) return null;
  const [id, outcome, jobId] = raw.slice(0, cut).split(META_SEP);
  const m = /^(\d+)(?:-(\d+))?(?:@(-?\d+))?$/.exec(id ?? '');
  if (!m || outcome === undefined || jobId === undefined) return null;
  const ms = Number(m[1]);
  return { meta: { ms, seq: Number(m[2] ?? 0), at: m[3] !== undefined ? Number(m[3]) : ms, outcome, jobId }, body: raw.slice(cut + 1) };
}

/** A full (newest-entry) encoding of one check: what job_complete.lua writes at index 0. */
export function encodeEntry(meta: HistoryMeta, tokens: readonly string[]): string {
  const id = `${meta.ms}${meta.seq ? `-${meta.seq}` : ''}${meta.at !== meta.ms ? `@${meta.at}` : ''}`;
  return `${id}${META_SEP}${meta.outcome}${META_SEP}${meta.jobId}${ENTRY_SEP}${tokens.join(TOKEN_SEP)}`;
}
