/** Z85 (ZeroMQ RFC 32): the text form of CURVE keys. Lengths must be multiples of 4 / 5. */

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const DECODE = new Map([...ALPHABET].map((c, i) => [c, i]));

export const Z85_KEY_PATTERN = '^[0-9a-zA-Z.\\-:+=^!/*?&<>()\\[\\]{}@%$#]{40}$';

export function z85Encode(data: Uint8Array): string {
  if (data.length % 4 !== 0) throw new Error('z85: length must be a multiple of 4');
  let out = '';
  for (let i = 0; i < data.length; i += 4) {
    let value = ((data[i]! << 24) | (data[i + 1]! << 16) | (data[i + 2]! << 8) | data[i + 3]!) >>> 0;
    const chunk: string[] = [];
    for (let j = 0; j < 5; j++) {
      chunk.unshift(ALPHABET[value % 85]!);
      value = Math.floor(value / 85);
    }
    out += chunk.join('');
  }
  return out;
}

export function z85Decode(text: string): Buffer {
  if (text.length % 5 !== 0) throw new Error('z85: length must be a multiple of 5');
  const out = Buffer.alloc((text.length / 5) * 4);
  for (let i = 0; i < text.length; i += 5) {
    let value = 0;
    for (let j = 0; j < 5; j++) {
      const digit = DECODE.get(text[i + j]!);
      if (digit === undefined) throw new Error(`z85: invalid character ${JSON.stringify(text[i + j])}`);
      value = value * 85 + digit;
    }
    out.writeUInt32BE(value >>> 0, (i / 5) * 4);
  }
  return out;
}
