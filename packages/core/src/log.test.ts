import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, prettyLogs, terminalColors } from './log.js';

/** A destination that keeps what it is given; `tty` makes it look like a terminal. */
function sink(tty?: { colors: boolean }) {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  if (tty) Object.assign(stream, { isTTY: true, hasColors: () => tty.colors });
  return { stream, text: () => chunks.join('') };
}

describe('createLogger', () => {
  it('writes JSON lines to a destination that is not a terminal', () => {
    const out = sink();
    createLogger({ level: 'info', role: 'api', destination: out.stream }).info({ assetId: 'a1', password: 'hunter22' }, 'checked');
    const line = JSON.parse(out.text().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, role: 'api', assetId: 'a1', password: '[redacted]', msg: 'checked' });
  });

  it('pretty-prints to a terminal: time, level, role and message on one readable line, colours as the terminal allows', () => {
    for (const colors of [true, false]) {
      const out = sink({ colors });
      createLogger({ level: 'info', role: 'dispatcher', destination: out.stream }).warn({ jobId: 'j9', secret: 's3cret-value' }, 'job requeued');
      const text = out.text();
      expect(() => JSON.parse(text)).toThrow();
      // biome-ignore lint/suspicious/noControlCharactersInRegex: colour escape sequences are stripped
      const plain = text.replace(/\u001b\[[0-9;]*m/g, '');
      expect(plain).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] WARN: dispatcher: job requeued \{"jobId":"j9","secret":"\[redacted\]"\}\n$/);
      expect(text.includes('\x1b[')).toBe(colors);
      expect(text).not.toContain('s3cret-value');
    }
  });

  it('format forces either way', () => {
    const json = sink({ colors: true });
    createLogger({ level: 'info', role: 'api', destination: json.stream, format: 'json' }).info('hello');
    expect(JSON.parse(json.text())).toMatchObject({ msg: 'hello', role: 'api' });
    const pretty = sink();
    createLogger({ level: 'info', role: 'api', destination: pretty.stream, format: 'pretty' }).info('hello');
    expect(pretty.text()).toMatch(/INFO: api: hello\n$/);
    expect(pretty.text()).not.toContain('\x1b[');
  });

  it('keeps the level in pretty mode', () => {
    const out = sink({ colors: false });
    const log = createLogger({ level: 'warn', role: 'api', destination: out.stream });
    log.info('not shown');
    log.error('shown');
    expect(out.text()).not.toContain('not shown');
    expect(out.text()).toMatch(/ERROR: api: shown/);
  });
});

describe('prettyLogs and terminalColors', () => {
  it('auto follows the terminal; json and pretty are forced', () => {
    expect(prettyLogs('auto', { isTTY: true })).toBe(true);
    expect(prettyLogs('auto', {})).toBe(false);
    expect(prettyLogs('json', { isTTY: true })).toBe(false);
    expect(prettyLogs('pretty', {})).toBe(true);
  });

  it('colours need a terminal that takes them', () => {
    expect(terminalColors({ isTTY: true, hasColors: () => true })).toBe(true);
    expect(terminalColors({ isTTY: true, hasColors: () => false })).toBe(false);
    expect(terminalColors({ hasColors: () => true })).toBe(false);
  });
});
