import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { progressLine, styleFor } from './term.js';

function stream(tty: boolean) {
  const writes: string[] = [];
  const s = new Writable({
    write(chunk: Buffer, _enc, done) {
      writes.push(chunk.toString());
      done();
    },
  });
  Object.assign(s, { isTTY: tty });
  return { s: s as unknown as NodeJS.WriteStream, writes };
}

describe('styleFor', () => {
  it('colours on a colour terminal, plain text anywhere else', () => {
    expect(styleFor({ isTTY: true, hasColors: () => true }).red('x')).toBe('\x1b[31mx\x1b[39m');
    expect(styleFor({ isTTY: true, hasColors: () => false }).red('x')).toBe('x');
    expect(styleFor({ isTTY: false, hasColors: () => true }).bold('x')).toBe('x');
  });
});

describe('progressLine', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes nothing when the stream is not a terminal', () => {
    const { s, writes } = stream(false);
    const p = progressLine(s, 'applying 3 assets');
    vi.advanceTimersByTime(5000);
    p.stop();
    expect(writes).toEqual([]);
  });

  it('on a terminal: nothing for a short run', () => {
    const { s, writes } = stream(true);
    const p = progressLine(s, 'applying 3 assets');
    vi.advanceTimersByTime(300);
    p.stop();
    vi.advanceTimersByTime(5000);
    expect(writes).toEqual([]);
  });

  it('on a terminal: a line redrawn in place for a long run, cleared when it ends', () => {
    const { s, writes } = stream(true);
    const p = progressLine(s, 'applying 3 assets');
    vi.advanceTimersByTime(1400);
    expect(writes.length).toBeGreaterThan(5);
    expect(writes[0]).toBe('\r\x1b[2K- applying 3 assets (0.4 s)');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal escape sequence is what is tested
    for (const w of writes) expect(w).toMatch(/^\r\x1b\[2K[-\\|/] applying 3 assets \(\d\.\d s\)$/);
    expect(writes.at(-1)).toMatch(/\(1\.4 s\)$/);
    p.stop();
    expect(writes.at(-1)).toBe('\r\x1b[2K');
    const count = writes.length;
    vi.advanceTimersByTime(5000);
    p.stop();
    expect(writes.length).toBe(count);
  });
});
