import { describe, expect, it } from 'vitest';
import { FEATURES, type Features } from './features.js';
import { encodeSample, parseSamples } from './samples.js';

const features = Object.fromEntries(FEATURES.map((f, i) => [f, i * 1000 + 7])) as Features;

describe('baseline samples', () => {
  it('round-trip in the compact form, far smaller than JSON', () => {
    const raw = encodeSample(1_765_000_000_000, features);
    expect(raw.startsWith('~1765000000000,7,1007,')).toBe(true);
    expect(parseSamples([raw])).toEqual([{ t: 1_765_000_000_000, ...features }]);
    expect(raw.length * 2).toBeLessThan(JSON.stringify({ t: 1_765_000_000_000, ...features }).length);
  });

  it('read samples written as JSON, and older compact ones that lack newer features', () => {
    const json = JSON.stringify({ t: 5, bytes: 100, elements: 9 });
    const short = `~6,${FEATURES.slice(0, 3).map(() => 2).join(',')}`;
    const [a, b] = parseSamples([json, short]);
    expect(a).toEqual({ t: 5, bytes: 100, elements: 9 });
    expect(b).toEqual({ t: 6, bytes: 2, elements: 2, tag_a: 2 });
    expect(b).not.toHaveProperty(FEATURES[3]!);
  });

  it('skip what does not parse, and read what they know of samples from a newer version', () => {
    const longer = `~2,${[...FEATURES, 'x', 'y'].map(() => 1).join(',')}`;
    expect(parseSamples(['{oops', '[1,2]', '~x,1', '~,1', encodeSample(1, features)])).toEqual([{ t: 1, ...features }]);
    expect(parseSamples([longer])).toEqual([{ t: 2, ...Object.fromEntries(FEATURES.map((f) => [f, 1])) }]);
    expect(parseSamples(['~3,,5'])).toEqual([{ t: 3, [FEATURES[1]!]: 5 }]); // an empty field is missing, not 0
  });
});
