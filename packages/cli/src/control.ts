/** `webmon status|ping|snapshot`: one request on a running dispatcher's control channel. */
import { join } from 'node:path';
import { curveClientOptions, type Config } from '@webmon/core';
import { CURVE_FILE } from './curve.js';
import { formatStatus } from './status.js';
import { styleFor } from './term.js';

/**
 * How a STATUS reply is printed: `json` is the dispatcher's reply unchanged (one line, for
 * scripts), `table` is for people; `auto` is the table on a terminal, else JSON.
 */
export type StatusOutput = 'auto' | 'json' | 'table';

/** Sends `command`, prints the reply; 1 when the dispatcher answers ERR or does not answer. */
export async function control(config: Readonly<Config>, command: string, timeoutMs = 5000, output: StatusOutput = 'json'): Promise<number> {
  const { Request } = await import('zeromq');
  const sock = new Request({ receiveTimeout: timeoutMs, sendTimeout: 5000, linger: 0, ...curveClientOptions(config) });
  sock.connect(config.zmq.control);
  try {
    await sock.send(command);
    const [reply] = await sock.receive();
    const text = reply?.toString() ?? '';
    process.stdout.write(render(text, output));
    return text.startsWith('ERR') ? 1 : 0;
  } catch (err) {
    const how = config.zmq.curve.serverPublicKey ? ` (over CURVE to server key ${config.zmq.curve.serverPublicKey}: zmq.curve or ${join(config.dataDir, CURVE_FILE)})` : '';
    process.stderr.write(`webmon: no answer from the dispatcher at ${config.zmq.control}${how}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    sock.close();
  }
}

function render(text: string, output: StatusOutput): string {
  const table = output === 'table' || (output === 'auto' && process.stdout.isTTY === true);
  if (!table) return `${text}\n`;
  let status: unknown;
  try {
    status = JSON.parse(text);
  } catch {
    return `${text}\n`; // not a STATUS object (an ERR line): shown as it came
  }
  if (status === null || typeof status !== 'object' || Array.isArray(status)) return `${text}\n`;
  return formatStatus(status as Record<string, unknown>, styleFor(process.stdout));
}
