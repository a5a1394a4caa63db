/**
 * Scores one feature value against the window of earlier values: z = (x − mean) / σ_eff with
 * σ_eff = max(σ, minRelativeChange·|mean|, minAbsoluteChange), σ the sample standard deviation.
 * The floor keeps scores finite on constant history (σ = 0) and stops tiny absolute changes of
 * very stable pages from alarming; since minAbsoluteChange > 0, σ_eff > 0 always.
 */
import { mean as meanOf, sampleStandardDeviation } from 'simple-statistics';

export interface ScoreOptions {
  /** Earlier values needed before a value is scored (≥ 2: σ needs two values). */
  minSamples: number;
  warnZ: number;
  errorZ: number;
  minRelativeChange: number;
  /** > 0. */
  minAbsoluteChange: number;
}

export type Level = 'ok' | 'warn' | 'error';

export interface Score {
  feature: string;
  value: number;
  /** Earlier values the score is based on. */
  samples: number;
  mean: number;
  /** Sample standard deviation of the earlier values. */
  sd: number;
  /** The deviation used: sd raised to the floor when it is smaller. */
  sdEff: number;
  /** Signed: negative when the value is below the mean. Always finite. */
  z: number;
  level: Level;
}

/** The deviation used for scoring (see the module comment). */
export function effectiveDeviation(sd: number, mean: number, opts: Pick<ScoreOptions, 'minRelativeChange' | 'minAbsoluteChange'>): number {
  return Math.max(sd, opts.minRelativeChange * Math.abs(mean), opts.minAbsoluteChange);
}

/** `|z| ≥ errorZ` is an error, else `|z| ≥ warnZ` a warning. */
export function levelOf(z: number, opts: Pick<ScoreOptions, 'warnZ' | 'errorZ'>): Level {
  const a = Math.abs(z);
  if (a >= opts.errorZ) return 'error';
  if (a >= opts.warnZ) return 'warn';
  return 'ok';
}

/** Scores `value` against `history` (earlier values), or null while history is too short. */
export function scoreFeature(feature: string, value: number, history: readonly number[], opts: ScoreOptions): Score | null {
  if (history.length < Math.max(2, opts.minSamples)) return null;
  const mean = meanOf(history as number[]);
  const sd = sampleStandardDeviation(history as number[]);
  const sdEff = effectiveDeviation(sd, mean, opts);
  const z = (value - mean) / sdEff;
  return { feature, value, samples: history.length, mean, sd, sdEff, z, level: levelOf(z, opts) };
}
