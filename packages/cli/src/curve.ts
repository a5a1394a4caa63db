/**
 * The local install's CURVE server pair, <dataDir>/curve.json (mode 0600): created once by
 * `webmon up`, read by `webmon status|ping|snapshot`. Used only when no zmq.curve keys are
 * configured; the process then holds the server pair and uses it as its client pair too.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, Z85_KEY_PATTERN, type Config, type Logger } from '@webmon/core';

export const CURVE_FILE = 'curve.json';

/** Whether no zmq.curve key of any kind is configured. */
function noCurveKeys(config: Readonly<Config>): boolean {
  const c = config.zmq.curve;
  return !c.serverPublicKey && !c.serverSecretKey && !c.clientPublicKey && !c.clientSecretKey;
}

/** `config` with the local pair as its server keys (`create`: make the pair when missing). */
export async function withLocalCurve(config: Readonly<Config>, create: boolean, log?: Logger): Promise<Readonly<Config>> {
  if (!noCurveKeys(config)) return config;
  const file = resolve(join(config.dataDir, CURVE_FILE));
  if (!existsSync(file)) {
    if (!create) return config;
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const { curveKeyPair } = await import('zeromq');
    const { publicKey, secretKey } = curveKeyPair();
    writeFileSync(file, `${JSON.stringify({ publicKey, secretKey })}\n`, { mode: 0o600, flag: 'wx' });
    log?.info({ file }, 'generated a CURVE key pair: every dispatcher socket requires CURVE');
  }
  chmodSync(file, 0o600);
  const pair = readCurvePair(file);
  return { ...config, zmq: { ...config.zmq, curve: { ...config.zmq.curve, serverPublicKey: pair.publicKey, serverSecretKey: pair.secretKey } } };
}

function readCurvePair(file: string): { publicKey: string; secretKey: string } {
  let pair: { publicKey?: unknown; secretKey?: unknown } | null;
  try {
    pair = JSON.parse(readFileSync(file, 'utf8')) as { publicKey?: unknown; secretKey?: unknown } | null;
  } catch {
    pair = null;
  }
  const key = new RegExp(Z85_KEY_PATTERN);
  const { publicKey, secretKey } = pair ?? {};
  if (typeof publicKey !== 'string' || typeof secretKey !== 'string' || !key.test(publicKey) || !key.test(secretKey)) {
    throw new ConfigError(`${file} does not hold a CURVE key pair ({"publicKey", "secretKey"} in Z85); delete it to generate a new one with webmon up`);
  }
  return { publicKey, secretKey };
}
