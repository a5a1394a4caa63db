/** Small clients for tests: a raw TCP exchange and one request on the control channel. */
import { createConnection } from 'node:net';
import { Request } from 'zeromq';

/** Sends raw bytes to 127.0.0.1:port and resolves with the first reply line (e.g. Redis's `-NOAUTH …`). */
export function firstReplyLine(port: number, text: string, timeoutMs = 3000): Promise<string> {
  return new Promise((res, rej) => {
    const s = createConnection({ host: '127.0.0.1', port });
    let got = '';
    s.setTimeout(timeoutMs, () => {
      s.destroy();
      rej(new Error('no reply'));
    });
    s.once('error', rej);
    s.once('connect', () => s.write(text));
    s.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n')) {
        s.destroy();
        res(got.split('\r\n')[0]!);
      }
    });
  });
}

/** One request on a control channel; `no answer (…)` when none comes within the timeout. */
export async function askControl(endpoint: string, command: string, timeoutMs = 3000, options: object = {}): Promise<string> {
  const req = new Request({ receiveTimeout: timeoutMs, linger: 0, ...options });
  req.connect(endpoint);
  try {
    await req.send(command);
    const [reply] = await req.receive();
    return reply!.toString();
  } catch (err) {
    return `no answer (${(err as { code?: string }).code ?? (err as Error).message})`;
  } finally {
    req.close();
  }
}
