/**
 * Reads an asset's raw results page by page: the compact list (store/results-codec.ts), newest
 * first, then, after it, the stream an earlier version wrote (kept until it ages out).
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.js';
import type { CheckResult } from '../types.js';
import { safeJson } from './assets.js';
import { TOKEN_SEP, applyDiff, parseEntry, resultsFromTokens } from './results-codec.js';

export interface ResultEntry {
  /** `<ms>-<seq>`, ordered like the entries: the page cursor. */
  id: string;
  at: number;
  jobId: string;
  outcome: string;
  results: CheckResult[];
}

export interface ResultsQuery {
  from: number;
  to: number;
  /** Exclusive: only entries older than this id, as [ms, seq]. */
  before?: readonly [number, bigint] | undefined;
  limit: number;
  plugin?: string | undefined;
}

/** List entries read per round trip. */
const CHUNK = 200;

type Id = readonly [number, bigint];

function older(a: Id, b: Id): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

/** Collects one page; `add` returns false once the page is settled (full with one more found, or the scan bound hit). */
class Page {
  readonly items: ResultEntry[] = [];
  next: string | null = null;
  private scanned: string | null = null;
  private budget: number;
  constructor(private readonly q: ResultsQuery) {
    // Filtering by plugin may skip entries: the entries examined per call are bounded.
    this.budget = 50 * (q.limit + 1);
  }

  add(id: string, at: number, jobId: string, outcome: string, all: () => CheckResult[]): boolean {
    if (this.budget-- <= 0) {
      this.next = this.scanned;
      return false;
    }
    let results = all();
    if (this.q.plugin) {
      results = results.filter((r) => r.plugin === this.q.plugin);
      if (results.length === 0) {
        this.scanned = id;
        return true;
      }
    }
    if (this.items.length === this.q.limit) {
      this.next = this.items[this.items.length - 1]!.id;
      return false;
    }
    this.items.push({ id, at, jobId, outcome, results });
    this.scanned = id;
    return true;
  }
}

export async function readResults(redis: Redis, keys: Keys, assetId: string, q: ResultsQuery): Promise<{ items: ResultEntry[]; next: string | null }> {
  const page = new Page(q);
  if (q.to < 0) return { items: page.items, next: null };
  const walked = await walkList(redis, keys.assetHistory(assetId), q, page);
  if (walked.settled) return { items: page.items, next: page.next };
  if (walked.reachedFrom) return { items: page.items, next: null };
  await walkLegacy(redis, keys.assetHistoryLegacy(assetId), q, page, walked.oldest);
  return { items: page.items, next: page.next };
}

/**
 * Decodes the list from its head (each entry needs the one newer than it), in chunks. Between
 * two chunks a completion may push entries: the next chunk re-reads the last entry decoded and
 * resumes after wherever it moved.
 */
async function walkList(redis: Redis, key: string, q: ResultsQuery, page: Page): Promise<{ settled: boolean; reachedFrom: boolean; oldest: Id | null }> {
  let newer: string[] | null = null;
  let lastRaw: string | null = null;
  let oldest: Id | null = null;
  let index = 0;
  for (;;) {
    const start = lastRaw === null ? 0 : Math.max(0, index - 1);
    let rows = await redis.lrange(key, start, start + CHUNK);
    const ended = rows.length < CHUNK + 1;
    if (lastRaw !== null) {
      const at = rows.indexOf(lastRaw);
      if (at < 0) {
        // Moved out of reach (many completions, or trimmed): stop here; `next` resumes from it.
        page.next = page.items.length ? page.items[page.items.length - 1]!.id : null;
        return { settled: true, reachedFrom: false, oldest };
      }
      index = start + at + 1;
      rows = rows.slice(at + 1);
    }
    for (const raw of rows) {
      const e = parseEntry(raw);
      if (!e) return { settled: false, reachedFrom: false, oldest };
      let tokens: string[];
      try {
        tokens = newer === null ? (e.body === '' ? [] : e.body.split(TOKEN_SEP)) : applyDiff(e.body, newer);
      } catch {
        return { settled: false, reachedFrom: false, oldest };
      }
      newer = tokens;
      lastRaw = raw;
      index++;
      const id: Id = [e.meta.ms, BigInt(e.meta.seq)];
      oldest = id;
      if ((q.before && !older(id, q.before)) || e.meta.ms > q.to) continue;
      if (e.meta.ms < q.from) return { settled: false, reachedFrom: true, oldest };
      const { at, jobId, outcome } = e.meta;
      if (!page.add(`${id[0]}-${id[1]}`, at, jobId, outcome, () => resultsFromTokens(tokens))) return { settled: true, reachedFrom: false, oldest };
    }
    if (ended) return { settled: false, reachedFrom: false, oldest };
  }
}

/** The stream of earlier versions, older than every list entry (`below`). */
async function walkLegacy(redis: Redis, key: string, q: ResultsQuery, page: Page, below: Id | null): Promise<void> {
  let bound: Id | null = q.before ?? null;
  if (below && (!bound || older(below, bound))) bound = below;
  let end = bound ? `(${bound[0]}-${bound[1]}` : String(Math.floor(q.to));
  if (bound && bound[0] > q.to) end = String(Math.floor(q.to));
  const start = String(Math.max(0, Math.floor(q.from)));
  for (let round = 0; round < 50; round++) {
    const rows = await redis.xrevrange(key, end, start, 'COUNT', q.limit + 1);
    for (const [id, flat] of rows) {
      const f: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
      const all = () => (safeJson(f.results) as CheckResult[] | null) ?? [];
      if (!page.add(id, Number(f.at ?? id.split('-')[0]), f.job ?? '', f.outcome ?? '', all)) return;
      end = `(${id}`;
    }
    if (rows.length < q.limit + 1) {
      page.next = null;
      return;
    }
  }
}
