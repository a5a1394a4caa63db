import { describe, expect, it } from 'vitest';
import { Z85_KEY_PATTERN, z85Encode } from './z85.js';

describe('z85', () => {
  it('matches the RFC 32 test vector', () => {
    expect(z85Encode(Uint8Array.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]))).toBe('HelloWorld');
    expect(z85Encode(new Uint8Array(4))).toBe('00000');
    expect(z85Encode(Uint8Array.of(255, 255, 255, 255))).toBe('%nSc0');
  });

  it('writes a 32-byte CURVE key as 40 characters of the key pattern', () => {
    const key = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37) & 255));
    expect(z85Encode(key)).toMatch(new RegExp(Z85_KEY_PATTERN));
    expect(() => z85Encode(Uint8Array.of(1, 2, 3))).toThrow(/multiple of 4/);
  });
});
