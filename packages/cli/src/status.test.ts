import { describe, expect, it } from 'vitest';
import { formatStatus } from './status.js';
import { styleFor } from './term.js';

const PLAIN = styleFor({});
const COLOURS = styleFor({ isTTY: true, hasColors: () => true });
const NOW = Date.parse('2026-12-06T12:00:30Z');

/** A STATUS reply as the dispatcher sends it (dispatcher/src/index.ts). */
const STATUS = {
  instance: 'd-7f3a',
  queue: 3,
  queuedInRedis: 12,
  running: 4,
  failed: 1,
  executors: 2,
  lastSnapshot: { at: Date.parse('2026-12-06T12:00:00Z') / 1000, status: 'ok', inProgress: false, changesSince: 7 },
  received: 120,
  scheduled: 80,
  scheduler: { bound: 400, executors: 2, concurrency: 40, takenPerSec: 12.5, skippedLate: 0, skippedPending: 5 },
  sent: 118,
  dropped: 0,
};

describe('formatStatus', () => {
  it('shows every field with a label, nested objects indented under a heading', () => {
    expect(formatStatus(STATUS, PLAIN, NOW)).toBe(
      [
        'dispatcher            d-7f3a',
        'executors             2',
        'queued in dispatcher  3',
        'queued in Redis       12',
        'running               4',
        'failed                1',
        'jobs received         120',
        'jobs sent             118',
        'messages dropped      0',
        'scheduled             80',
        'scheduler',
        '  executors           2',
        '  queue bound         400',
        '  concurrency         40',
        '  taken per second    12.5',
        '  skipped (late)      0',
        '  skipped (pending)   5',
        'last snapshot',
        '  at                  2026-12-06T12:00:00Z (30 s ago)',
        '  status              ok',
        '  in progress         no',
        '  changes since       7',
        '',
      ].join('\n'),
    );
  });

  it('keeps fields it has no label for, and says when the scheduler is off', () => {
    const text = formatStatus({ ...STATUS, scheduler: null, newCounter: 9, lastSnapshot: { ...STATUS.lastSnapshot, at: 0 } }, PLAIN, NOW);
    expect(text).toMatch(/^scheduler +off$/m);
    expect(text).toMatch(/^new counter +9$/m);
    expect(text).toMatch(/^ {2}at +0$/m);
  });

  it('colours what needs attention only when given colours', () => {
    expect(formatStatus(STATUS, PLAIN, NOW)).not.toContain('\x1b[');
    const coloured = formatStatus({ ...STATUS, lastSnapshot: { ...STATUS.lastSnapshot, status: 'err' } }, COLOURS, NOW);
    expect(coloured).toContain('\x1b[31m1\x1b[39m'); // failed > 0
    expect(coloured).toContain('\x1b[31merr\x1b[39m'); // a failed snapshot
    expect(coloured).toContain('\x1b[1mscheduler\x1b[22m');
  });
});
