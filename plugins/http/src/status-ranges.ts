/** Parses expected-status specs such as `200-399` or `200, 301-302, 404`. */

export const STATUS_SPEC_PATTERN = '^\\s*[1-5]\\d\\d(\\s*-\\s*[1-5]\\d\\d)?(\\s*,\\s*[1-5]\\d\\d(\\s*-\\s*[1-5]\\d\\d)?)*\\s*$';

export type StatusRanges = ReadonlyArray<readonly [number, number]>;

const cache = new Map<string, StatusRanges>();

export function parseStatusSpec(spec: string): StatusRanges {
  let ranges = cache.get(spec);
  if (ranges) return ranges;
  ranges = spec.split(',').map((part) => {
    const [lo, hi] = part.split('-').map((s) => Number(s.trim()));
    return [lo!, hi ?? lo!] as const;
  });
  if (cache.size > 1000) cache.clear();
  cache.set(spec, ranges);
  return ranges;
}

export function statusMatches(status: number, ranges: StatusRanges): boolean {
  for (const [lo, hi] of ranges) if (status >= lo && status <= hi) return true;
  return false;
}
