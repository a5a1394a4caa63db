/**
 * Roll-ups: per-asset aggregates per minute, hour and day, updated by job_complete.lua on the
 * write path. This module holds their shared definition: the latency bins (a check's bins are
 * computed here, rollupDurations), the bucket shape, and the reader of the stored ring.
 *
 * Storage: one Redis string per asset and resolution (keys.assetRollup), a ring of
 * fixed-width cells, one per bucket that saw a check (bucket = floor(epoch s / size)):
 *
 *   offset 0   'W', version: 1, or 2 for a minute ring the hour and day rings are folded from
 *              (below)
 *          2   cap    u32  buckets kept: (newest - cap, newest] (retention / size + 1)
 *          6   K      u32  cells allocated (grows by 1/8 up to cap as buckets fill it)
 *         10   n      u32  cells in use, oldest first from `start`, wrapping at K
 *         14   start  u32  slot of the oldest cell
 *         18   head   u32  newest bucket
 *         22   len    u16  length of the layout text
 *         24   layout text "sw,c,t,d,x|outcomes|reasons|states|plugin:bin.bin;plugin:bin"
 *              (names sorted, bytes outside [A-Za-z0-9_-] written %XX)
 *   24 + len   K cells of the same width
 *
 * A cell is, all unsigned big-endian: the bucket modulo 256^sw (sw bytes: cells of one ring
 * are less than cap ≤ 256^sw buckets apart, so the stamp tells them apart and names their
 * bucket); one c-byte count per outcome, then per reason (failed or warning checks); one
 * t-byte ms total per state (time in state, 'gap' for unmonitored stretches); then per
 * plugin the sum (d bytes) and maximum (x bytes) of its durations in µs and one c-byte count
 * per latency bin of that plugin. A ring has a column only for what one of its cells held
 * since the key was created (columns are added, and widths grow, when a check needs them, by
 * re-laying the ring out; they are dropped only when the key expires or the asset is
 * deleted): a healthy asset has one outcome, one or two states and a few bins per plugin, so
 * its cells are ~16-20 bytes with one plugin and ~30-36 with two. Every resolution keeps the full
 * LATENCY_EDGES_MS histogram (exact to the bin), stored sparsely. Re-laying out rewrites the
 * whole ring, so a ring written at every check (the minute ring; every ring under short
 * retentions) is laid out with room for what usually comes next: a plugin's bins are one run,
 * from the fastest bin a run fell in to one above the slowest, and duration columns (d, x)
 * are at least 3 bytes (16.7 s in µs); time-in-state columns (t) hold one check's most in every
 * ring. A latency moving to a neighbouring bin or rising a step, or a slower check than any
 * before, is then written in place. Rings folded into once a period (hour and day) have a bin
 * column once a run fell in it. A full ring grows by an eighth, but a minute ring no further
 * than the cells its asset's interval fills (and 3 more) until more checks come.
 *
 * Folding (job_complete.lua, includes/rollups.lua): a check is written to the minute ring; an
 * hour cell is the sum of the hour's minute cells and a day cell the sum of the day's hour
 * cells, written once the period has closed (by the asset's first check past its fold point, 0
 * to 59 minutes into a later hour, spread by the asset's seq). A late check of a closed period
 * is also recorded in its coarse cell directly. A coarse ring therefore holds its periods up to
 * its head; the periods after it are in the finer rings alone (`composeRings`). A minute ring of
 * version 1 (written before folding, or kept under two hours) has every check in all three
 * rings.
 */
/** Upper edges (ms) of the latency bins; a last, open bin holds anything slower. */
export const LATENCY_EDGES_MS = [
  1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000, 1500, 2000, 3000, 5000, 7000, 10_000, 15_000, 20_000, 30_000, 60_000,
] as const;

/** Largest value a roll-up cell holds (6 bytes); sums saturate there. */
const CELL_MAX = 2 ** 48 - 1;

/**
 * What a check adds to the roll-ups per plugin, as job_complete.lua takes it (field
 * `durations`): a flat list `plugin, duration in µs (rounded, capped at CELL_MAX), latency bin`
 * (bin i: the first edge of LATENCY_EDGES_MS the duration is at most; the last, open bin past
 * them all). A negative or non-numeric duration counts as 0.
 */
export function rollupDurations(results: ReadonlyArray<{ plugin: string; durationMs: number }>): Array<string | number> {
  const out: Array<string | number> = [];
  for (const r of results) {
    const ms = Math.max(Number(r.durationMs) || 0, 0);
    const bin = LATENCY_EDGES_MS.findIndex((edge) => ms <= edge);
    out.push(r.plugin, Math.min(Math.floor(ms * 1000 + 0.5), CELL_MAX), bin === -1 ? LATENCY_EDGES_MS.length : bin);
  }
  return out;
}

export type Resolution = 'minute' | 'hour' | 'day';

export const RESOLUTION_SECONDS: Record<Resolution, number> = { minute: 60, hour: 3600, day: 86_400 };

export interface PluginBucket {
  /** Runs. */
  n: number;
  /** Sum of durations, ms. */
  s: number;
  /** Longest duration, ms. */
  x: number;
  /** Latency histogram: bin index (as a string) → runs. */
  h: Record<string, number>;
}

export interface Bucket {
  /** Checks. */
  n: number;
  /** Checks by outcome (ok, warn, error, unsupported). */
  o: Record<string, number>;
  /** Failed or warning checks by reason. */
  r: Record<string, number>;
  /** Per plugin. */
  p: Record<string, PluginBucket>;
  /** Time spent in each state, ms (and 'gap' for unmonitored stretches). */
  t: Record<string, number>;
}

/** Parses a stored bucket; cjson writes an empty table as {} or [], both mean empty. */
export function parseBucket(json: string): Bucket {
  const raw = JSON.parse(json) as Partial<Bucket>;
  const obj = <T>(v: unknown): Record<string, T> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, T>) : {});
  const p: Record<string, PluginBucket> = {};
  for (const [name, b] of Object.entries(obj<PluginBucket>(raw.p))) p[name] = { n: b.n ?? 0, s: b.s ?? 0, x: b.x ?? 0, h: obj<number>(b.h) };
  return { n: raw.n ?? 0, o: obj(raw.o), r: obj(raw.r), p, t: obj(raw.t) };
}

/** One bucket of a ring with its number (start = bucket × resolution seconds). */
export interface RingCell {
  bucket: number;
  value: Bucket;
}

export interface Ring {
  cap: number;
  head: number;
  /** Oldest first; only buckets in (head - cap, head]. */
  cells: RingCell[];
}

interface Layout {
  sw: number;
  c: number;
  t: number;
  d: number;
  x: number;
  o: string[];
  r: string[];
  s: string[];
  p: Array<{ name: string; bins: number[] }>;
  width: number;
}

const RING_PREFIX = 24;

/** Bytes at the start of a ring that hold its header (read alone by `ringHorizon`). */
export const RING_HEADER_BYTES = RING_PREFIX;

/**
 * The oldest bucket number a ring still holds (its newest minus its capacity, exclusive), from
 * its header alone; null when there is no ring.
 */
export function ringHorizon(header: Buffer | null): number | null {
  if (!isRing(header)) return null;
  return header.readUInt32BE(18) - header.readUInt32BE(2);
}

function isRing(buf: Buffer | null): buf is Buffer {
  return !!buf && buf.length >= RING_PREFIX && buf[0] === 0x57 && (buf[1] === 1 || buf[1] === 2);
}

/**
 * Reads a stored ring (see the format above); null for an absent or unreadable one. Cells of
 * buckets before `fromBucket` are left out without being decoded.
 */
export function decodeRing(buf: Buffer | null, fromBucket = -Infinity): Ring | null {
  if (!isRing(buf)) return null;
  const [cap, K, n, start, head] = [2, 6, 10, 14, 18].map((o) => buf.readUInt32BE(o)) as [number, number, number, number, number];
  const base = RING_PREFIX + buf.readUInt16BE(22);
  const layout = parseLayout(buf.toString('latin1', RING_PREFIX, base));
  if (!layout || K === 0) return null;
  const modulo = 256 ** layout.sw;
  const cells: RingCell[] = [];
  for (let i = 0; i < Math.min(n, K); i++) {
    const off = base + ((start + i) % K) * layout.width;
    if (off + layout.width > buf.length) break;
    const bucket = head - (((head - buf.readUIntBE(off, layout.sw)) % modulo) + modulo) % modulo;
    if (bucket > head - cap && bucket >= fromBucket) cells.push({ bucket, value: decodeCell(layout, buf, off).value });
  }
  return { cap, head, cells };
}

function parseLayout(text: string): Layout | null {
  const sec = text.split('|');
  const widths = (sec[0] ?? '').split(',').map(Number);
  if (sec.length !== 5 || widths.length !== 5 || widths.some((w) => !(w >= 1 && w <= 6))) return null;
  const names = (part: string) => (part ? part.split(',').map(unescapeName) : []);
  const [sw, c, t, d, x] = widths as [number, number, number, number, number];
  const p = sec[4] ? sec[4].split(';').map((item) => {
    const at = item.lastIndexOf(':');
    return { name: unescapeName(item.slice(0, at)), bins: item.slice(at + 1).split('.').filter(Boolean).map(Number) };
  }) : [];
  const o = names(sec[1]!);
  const r = names(sec[2]!);
  const s = names(sec[3]!);
  const width = sw + c * (o.length + r.length) + t * s.length + p.reduce((sum, pl) => sum + d + x + c * pl.bins.length, 0);
  return { sw, c, t, d, x, o, r, s, p, width };
}

function unescapeName(escaped: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < escaped.length; i++) {
    if (escaped[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(escaped.slice(i + 1, i + 3))) {
      bytes.push(parseInt(escaped.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(escaped.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodeCell(l: Layout, buf: Buffer, offset: number): { stamp: number; value: Bucket } {
  let pos = offset;
  const take = (w: number) => {
    const v = buf.readUIntBE(pos, w);
    pos += w;
    return v;
  };
  const stamp = take(l.sw);
  const column = (names: readonly string[], w: number) => {
    const out: Record<string, number> = {};
    for (const name of names) {
      const v = take(w);
      if (v > 0) out[name] = v;
    }
    return out;
  };
  const o = column(l.o, l.c);
  const r = column(l.r, l.c);
  const t = column(l.s, l.t);
  const p: Record<string, PluginBucket> = {};
  for (const pl of l.p) {
    const s = take(l.d);
    const x = take(l.x);
    const h = column(pl.bins.map(String), l.c);
    const runs = Object.values(h).reduce((a, b) => a + b, 0);
    if (runs > 0 || s > 0 || x > 0) p[pl.name] = { n: runs, s: s / 1000, x: x / 1000, h };
  }
  return { stamp, value: { n: Object.values(o).reduce((a, b) => a + b, 0), o, r, p, t } };
}

/**
 * The cells of a resolution's ring with, summed into cells of that resolution, the finer rings'
 * cells of the periods it does not hold yet (see Folding above). `rings` are the stored rings
 * from the minute one up to the resolution's (null for an absent one). Cells start at
 * `bucket × resolution seconds`; order is not kept.
 */
export function composeRings(rings: ReadonlyArray<Buffer | null>): RingCell[] {
  const order: Resolution[] = ['minute', 'hour', 'day'];
  const top = rings.length - 1;
  const heads = rings.map((buf) => (isRing(buf) ? buf.readUInt32BE(18) : -Infinity));
  const byBucket = new Map<number, Bucket>();
  const add = (bucket: number, value: Bucket) => {
    const prev = byBucket.get(bucket);
    byBucket.set(bucket, prev ? mergeBuckets(prev, value) : value);
  };
  for (let level = top; level >= 0; level--) {
    const size = RESOLUTION_SECONDS[order[level]!];
    // A cell counts here when every coarser ring up to the resolution's ends before its period.
    let from = -Infinity;
    for (let g = level + 1; g <= top; g++) from = Math.max(from, (heads[g]! + 1) * (RESOLUTION_SECONDS[order[g]!] / size));
    const ring = decodeRing(rings[level] ?? null, from);
    for (const cell of ring?.cells ?? []) add(Math.floor((cell.bucket * size) / RESOLUTION_SECONDS[order[top]!]), cell.value);
  }
  // The resolution's retention counts back from its newest period, which may be in a finer ring.
  const newest = Math.max(...byBucket.keys());
  const cap = isRing(rings[top] ?? null) ? rings[top]!.readUInt32BE(2) : Infinity;
  return [...byBucket].filter(([bucket]) => bucket > newest - cap).map(([bucket, value]) => ({ bucket, value }));
}

/** The sum of two buckets of the same period (a legacy bucket and its ring cell). */
export function mergeBuckets(a: Bucket, b: Bucket): Bucket {
  const sum = (x: Record<string, number>, y: Record<string, number>) => {
    const out = { ...x };
    for (const [k, v] of Object.entries(y)) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  const p: Record<string, PluginBucket> = { ...a.p };
  for (const [name, q] of Object.entries(b.p)) {
    const o = p[name];
    // Sums are whole µs: added as such, they stay exact.
    p[name] = o ? { n: o.n + q.n, s: Math.round((o.s + q.s) * 1000) / 1000, x: Math.max(o.x, q.x), h: sum(o.h, q.h) } : q;
  }
  return { n: a.n + b.n, o: sum(a.o, b.o), r: sum(a.r, b.r), p, t: sum(a.t, b.t) };
}
