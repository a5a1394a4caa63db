/**
 * Baseline samples as stored (one list entry per sample, see PluginStorage.pushWindow):
 *
 *   ~<t>,<v1>,<v2>,…   time (ms) and the features' values in FEATURES order
 *
 * About 60 bytes a sample where the JSON object it replaces took about 250: a full window of 30
 * costs ~2 KB per asset. FEATURES only grows at its end, so an older, shorter sample simply lacks
 * the newer features (they are learnt, see scoreFeature). Samples written as JSON objects by
 * earlier versions are still read.
 */
import { FEATURES, type Features } from './features.js';

export interface Sample extends Partial<Features> {
  t?: number;
}

export function encodeSample(t: number, features: Features): string {
  return `~${t},${FEATURES.map((f) => features[f]).join(',')}`;
}

function decodeCompact(raw: string): Sample | null {
  const [time, ...fields] = raw.slice(1).split(',');
  const t = Number(time);
  if (!time || !Number.isFinite(t)) return null;
  const sample: Sample = { t };
  // Values past the features this version knows (written by a newer one) are left out.
  fields.slice(0, FEATURES.length).forEach((field, i) => {
    const v = Number(field);
    if (field !== '' && Number.isFinite(v)) sample[FEATURES[i]!] = v;
  });
  return sample;
}

/** Stored samples, skipping any that do not parse (never fails a check). */
export function parseSamples(raw: readonly string[]): Sample[] {
  const out: Sample[] = [];
  for (const r of raw) {
    if (r.startsWith('~')) {
      const s = decodeCompact(r);
      if (s) out.push(s);
      continue;
    }
    try {
      const v: unknown = JSON.parse(r);
      if (v && typeof v === 'object' && !Array.isArray(v)) out.push(v as Sample);
    } catch {
      // ignored: a corrupt entry counts as missing
    }
  }
  return out;
}
