import { describe, expect, it } from 'vitest';
import { z85Decode, z85Encode } from './z85.js';

describe('z85', () => {
  it('matches the RFC 32 test vector and round-trips', () => {
    const bytes = Uint8Array.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    expect(z85Encode(bytes)).toBe('HelloWorld');
    expect([...z85Decode('HelloWorld')]).toEqual([...bytes]);
    const key = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37) & 255));
    expect(z85Decode(z85Encode(key)).equals(key)).toBe(true);
    // A length that is not a multiple of 5 decodes its whole groups (5 characters → 4 bytes).
    expect([...z85Decode('Hello')]).toEqual([0x86, 0x4f, 0xd2, 0x6f]);
    expect(() => z85Decode('Hell~')).toThrow(/invalid character/);
    expect(() => z85Encode(Uint8Array.of(1, 2, 3))).toThrow(/multiple of 4/);
  });
});
