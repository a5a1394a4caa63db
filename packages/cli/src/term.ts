/**
 * Terminal output of the CLI: colours only on a terminal that takes them (NO_COLOR, FORCE_COLOR
 * and TERM=dumb are honoured through tty.WriteStream.hasColors), and a progress line that only a
 * terminal sees. Piped output stays plain text, byte for byte what scripts parse.
 */
import { terminalColors } from '@webmon/core';

export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
}

const sgr = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`;

const COLOURS: Style = { bold: sgr(1, 22), dim: sgr(2, 22), red: sgr(31, 39), green: sgr(32, 39), yellow: sgr(33, 39) };
const PLAIN: Style = { bold: String, dim: String, red: String, green: String, yellow: String };

/** The style for text written to `stream`: colours on a colour terminal, plain text elsewhere. */
export function styleFor(stream: { isTTY?: boolean; hasColors?: () => boolean }): Style {
  return terminalColors(stream) ? COLOURS : PLAIN;
}

export interface Progress {
  /** Clears the line; idempotent. */
  stop(): void;
}

/** How long a run goes quietly before its progress line appears, and how often it is redrawn. */
const PROGRESS_DELAY_MS = 400;
const PROGRESS_EVERY_MS = 100;
const SPINNER = ['-', '\\', '|', '/'];

/**
 * A one-line progress indicator on `stream` (`label`, a spinner and the seconds elapsed),
 * redrawn in place, shown only when `stream` is a terminal and the run lasts more than
 * PROGRESS_DELAY_MS. Elsewhere it writes nothing.
 */
export function progressLine(stream: NodeJS.WriteStream, label: string): Progress {
  if (!stream.isTTY) return { stop: () => undefined };
  const started = Date.now();
  let frame = 0;
  let shown = false;
  const draw = () => {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    stream.write(`\r\x1b[2K${SPINNER[frame++ % SPINNER.length]} ${label} (${seconds} s)`);
    shown = true;
  };
  let timer: NodeJS.Timeout | undefined = setTimeout(() => {
    draw();
    timer = setInterval(draw, PROGRESS_EVERY_MS);
  }, PROGRESS_DELAY_MS);
  return {
    stop() {
      clearTimeout(timer);
      clearInterval(timer);
      timer = undefined;
      if (shown) stream.write('\r\x1b[2K');
      shown = false;
    },
  };
}
