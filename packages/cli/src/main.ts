#!/usr/bin/env node
/**
 * The `webmon` command: runs roles (all in one process with `up`, or one each for multi-host
 * deployments) and talks to a running dispatcher's control channel.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { EXECUTOR_CHILD_COMMAND, ExecutorPool, type ChildStart } from './executors.js';
import {
  ConfigError,
  REDIS_INSTALL_HINT,
  Z85_KEY_PATTERN,
  configEnvVars,
  curveClientOptions,
  createLogger,
  loadConfig,
  redactUrl,
  startManagedRedis,
  validateConfig,
  type Config,
  type Logger,
  type ManagedRedis,
} from '@webmon/core';

const USAGE = `usage: webmon <command> [--config FILE]

commands:
  up            run api, dispatcher and executors; starts a local redis-server under
                <dataDir>/redis unless redis.url is configured. One executor per core
                (the first in the same process, the others as child processes);
                --executors N (or executor.processes) sets how many
  api           run the REST API only
  dispatcher    run the dispatcher only
  executor      run one executor only
  apply -f FILE monitors as code: make a client's assets exactly those in a YAML/JSON
                file (adds, updates, removes; idempotent). Options: --api URL,
                --key KEY (or $WEBMON_API_KEY; default: the admin key), --client ID
  status        ask a running dispatcher for its status (control channel; uses
                <dataDir>/curve.json, written by \`webmon up\`, when no zmq.curve keys are set)
  ping          check that a dispatcher answers on the control channel
  snapshot      make Redis write an RDB snapshot now (SNAPSHOT NOW on the control channel)
  keys          print a new CURVE key pair (for zmq.curve)
  env           list the environment variables webmon reads, with defaults

options:
  -c, --config FILE   YAML or JSON config file (default: $WEBMON_CONFIG, else ./webmon.yaml)
  -h, --help          show this help

Every option can also be set with an environment variable, e.g. WEBMON_API_PORT=9000;
see \`webmon env\`.`;

const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

type Stopper = () => Promise<void>;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
      file: { type: 'string', short: 'f' },
      api: { type: 'string' },
      key: { type: 'string' },
      client: { type: 'string' },
      executors: { type: 'string' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return command || values.help ? 0 : 2;
  }
  if (command === 'keys') {
    const { curveKeyPair } = await import('zeromq');
    const pair = curveKeyPair();
    process.stdout.write(`public: ${pair.publicKey}\nsecret: ${pair.secretKey}\n`);
    return 0;
  }
  if (command === 'env') {
    for (const v of configEnvVars()) process.stdout.write(`${v.env.padEnd(36)} ${v.default === undefined ? '(unset)' : JSON.stringify(v.default)}  ${v.description}\n`);
    return 0;
  }
  if (command === EXECUTOR_CHILD_COMMAND) return runExecutorChild();
  const config = loadConfig({ file: values.config });
  switch (command) {
    case 'up':
      return runRoles(config, ['dispatcher', 'executor', 'api'], executorCount(config, values.executors));
    case 'api':
    case 'dispatcher':
    case 'executor':
      return runRoles(config, [command]);
    case 'status':
    case 'ping':
      return control(await withLocalCurve(config, false), command.toUpperCase());
    case 'snapshot':
      return control(await withLocalCurve(config, false), 'SNAPSHOT NOW', 130_000);
    case 'apply':
      return apply(config, { file: values.file, api: values.api, key: values.key, client: values.client });
    default:
      process.stderr.write(`webmon: unknown command "${command}"\n\n${USAGE}\n`);
      return 2;
  }
}

/** Reads <dataDir>/admin.key, creating it (mode 0600) with a random key the first time. */
function localAdminKey(config: Readonly<Config>, log: Logger): string {
  const file = resolve(join(config.dataDir, 'admin.key'));
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(config.dataDir, { recursive: true });
  const key = `wm_admin_${randomBytes(24).toString('base64url')}`;
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  log.info({ file }, 'generated an admin API key');
  return key;
}

const CURVE_FILE = 'curve.json';

/** Whether no zmq.curve key of any kind is configured. */
function noCurveKeys(config: Readonly<Config>): boolean {
  const c = config.zmq.curve;
  return !c.serverPublicKey && !c.serverSecretKey && !c.clientPublicKey && !c.clientSecretKey;
}

/**
 * The local install's CURVE server pair, <dataDir>/curve.json (mode 0600): created once by
 * `webmon up` (`create`), read by `webmon status|ping|snapshot`. Used only when no zmq.curve keys
 * are configured; the process then holds the server pair and uses it as its client pair too.
 */
async function withLocalCurve(config: Readonly<Config>, create: boolean, log?: Logger): Promise<Readonly<Config>> {
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

/** Executors `webmon up` runs: --executors, else executor.processes, else one per core. */
function executorCount(config: Readonly<Config>, flag: string | undefined): number {
  if (flag === undefined) return config.executor.processes || availableParallelism();
  const n = Number(flag);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new ConfigError(`--executors: must be an integer from 1 to 1024 (got ${flag})`);
  return n;
}

async function runRoles(initial: Readonly<Config>, roles: Array<'api' | 'dispatcher' | 'executor'>, executors = 1): Promise<number> {
  let config = initial;
  const log = createLogger({ level: config.log.level, role: roles.length > 1 ? 'webmon' : roles[0]! });
  const roleLog = (role: string) => (roles.length > 1 ? createLogger({ level: config.log.level, role }) : log);
  const stoppers: Stopper[] = [];
  let managed: ManagedRedis | undefined;
  let stopping = false;

  /** Run first when a signal arrives, before the roles stop one by one. */
  const shutdownBegins: Array<() => void> = [];
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    for (const begin of shutdownBegins) begin();
    // Stop in reverse start order: api first (no new jobs), then executors, then the dispatcher.
    for (const stop of stoppers.reverse()) {
      try {
        await stop();
      } catch (err) {
        log.error({ err }, 'error while stopping');
      }
    }
    if (managed) {
      await managed.stop();
      log.info('local redis-server stopped');
    }
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  try {
    let redisUrl = config.redis.url;
    if (!redisUrl && roles.length > 1) {
      managed = await startManagedRedis({ binary: config.redis.serverBinary, dir: join(config.dataDir, 'redis') });
      redisUrl = managed.url;
      log.info({ url: redactUrl(redisUrl), port: managed.port, dir: managed.dir }, 'started local redis-server (password in redis.pass)');
    }
    if (roles.length > 1) config = await withLocalCurve(config, true, log);
    redisUrl ??= DEFAULT_REDIS_URL;
    if (roles.includes('api') && !config.api.adminKey && roles.length > 1) {
      config = { ...config, api: { ...config.api, adminKey: localAdminKey(config, log) } };
    } else if (roles.includes('api') && !config.api.adminKey) {
      log.warn('no admin key configured (api.adminKey / WEBMON_API_ADMIN_KEY): only client keys are accepted');
    }
    log.info({ redis: redactUrl(redisUrl) }, 'using redis');
    for (const role of roles) {
      // Roles load on demand: `webmon apply`, `status` and friends start fast.
      if (role === 'dispatcher') {
        const { startDispatcher } = await import('@webmon/dispatcher');
        const d = await startDispatcher(config, roleLog(role), redisUrl);
        stoppers.push(() => d.stop());
      } else if (role === 'executor') {
        const { startExecutor } = await import('@webmon/executor');
        const e = await startExecutor(config, roleLog(role), redisUrl);
        stoppers.push(() => e.stop());
        if (executors > 1) {
          const pool = new ExecutorPool(config, redisUrl, executors, roleLog(role));
          shutdownBegins.push(() => pool.beginStop());
          stoppers.push(() => pool.stop());
          await pool.start();
        }
      } else {
        const { startApi } = await import('@webmon/api');
        const a = await startApi(config, roleLog(role), redisUrl);
        stoppers.push(() => a.stop());
        if (roles.length > 1) {
          process.stdout.write(
            `\nwebmon is running: API ${a.url}  docs ${a.url}/docs\n` +
              `admin API key: in ${resolve(join(config.dataDir, 'admin.key'))}\n` +
              `try: curl -H "Authorization: Bearer $(cat ${join(config.dataDir, 'admin.key')})" ${a.url}/assets\n\n`,
          );
        }
      }
    }
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'start-up failed');
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    await managed?.stop();
    if (err instanceof ConfigError) throw err;
    process.stderr.write(`webmon: ${(err as Error).message}\n`);
    if (/redis/i.test((err as Error).message) && !config.redis.url) process.stderr.write(`${REDIS_INSTALL_HINT}\n`);
    return 1;
  }
  return new Promise<number>(() => undefined); // run until a signal arrives
}

/**
 * An extra executor of `webmon up` (see executors.ts): waits for its configuration on the IPC
 * channel, runs one executor, and stops on SIGTERM/SIGINT or when the parent goes away.
 */
async function runExecutorChild(): Promise<number> {
  if (!process.send) throw new ConfigError(`${EXECUTOR_CHILD_COMMAND} is started by webmon up, not by hand`);
  const start = await new Promise<ChildStart | null>((resolve) => {
    process.once('message', (m) => resolve(m as ChildStart));
    process.once('disconnect', () => resolve(null)); // the parent went away first
  });
  if (!start) return 0;
  const config = validateConfig(start.config);
  const log = createLogger({ level: config.log.level, role: `executor-${start.index}` });
  const { startExecutor } = await import('@webmon/executor');
  const executor = await startExecutor(config, log, start.redisUrl);
  process.send({ type: 'ready' });
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
    process.once('disconnect', () => resolve());
  });
  await executor.stop();
  return 0;
}

interface ApplyOptions {
  file: string | undefined;
  api: string | undefined;
  key: string | undefined;
  client: string | undefined;
}

/** `webmon apply -f FILE`: declarative sync of one client's assets through the REST API. */
async function apply(config: Readonly<Config>, opts: ApplyOptions): Promise<number> {
  if (!opts.file) throw new ConfigError('apply needs -f FILE (a YAML or JSON list of assets)');
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(opts.file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${opts.file}: ${(err as Error).message}`);
  }
  const spec = Array.isArray(doc) ? { assets: doc } : (doc as { client?: unknown; assets?: unknown } | null);
  if (!spec || !Array.isArray(spec.assets)) throw new ConfigError(`${opts.file}: expected a list of assets, or a mapping with "assets:" (and optionally "client:")`);
  const host = ['0.0.0.0', '::'].includes(config.api.host) ? '127.0.0.1' : config.api.host;
  const base = (opts.api ?? process.env.WEBMON_API_URL ?? `http://${host.includes(':') ? `[${host}]` : host}:${config.api.port}`).replace(/\/+$/, '');
  const keyFile = join(config.dataDir, 'admin.key');
  const key = opts.key ?? process.env.WEBMON_API_KEY ?? config.api.adminKey ?? (existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : undefined);
  if (!key) throw new ConfigError('apply needs an API key: --key, $WEBMON_API_KEY, api.adminKey, or <dataDir>/admin.key');
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    const json = text ? (JSON.parse(text) as Record<string, any>) : {};
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${json.code ?? ''} ${json.message ?? text}`);
    return json;
  };
  try {
    const client = opts.client ?? (typeof spec.client === 'string' ? spec.client : undefined) ?? String((await call('GET', '/whoami')).id);
    const r = await call('PUT', `/clients/${encodeURIComponent(client)}/assets`, { assets: spec.assets });
    process.stdout.write(`client ${client}: ${r.added} added, ${r.updated} updated, ${r.kept} kept, ${r.removed} removed, ${r.failed} failed\n`);
    for (const item of r.items as Array<{ index: number; error?: { code: string; message: string } }>) {
      if (item.error) process.stdout.write(`  item ${item.index}: ${item.error.code}: ${item.error.message}\n`);
    }
    if (!r.pruned) process.stdout.write('nothing was removed: fix the items above and apply again\n');
    return r.failed > 0 ? 1 : 0;
  } catch (err) {
    process.stderr.write(`webmon: ${(err as Error).message}\n`);
    return 1;
  }
}

async function control(config: Readonly<Config>, command: string, timeoutMs = 5000): Promise<number> {
  const { Request } = await import('zeromq');
  const sock = new Request({ receiveTimeout: timeoutMs, sendTimeout: 5000, linger: 0, ...curveClientOptions(config) });
  sock.connect(config.zmq.control);
  try {
    await sock.send(command);
    const [reply] = await sock.receive();
    const text = reply?.toString() ?? '';
    process.stdout.write(`${text}\n`);
    return text.startsWith('ERR') ? 1 : 0;
  } catch (err) {
    const how = config.zmq.curve.serverPublicKey ? ` (over CURVE to server key ${config.zmq.curve.serverPublicKey}: zmq.curve or ${join(config.dataDir, CURVE_FILE)})` : '';
    process.stderr.write(`webmon: no answer from the dispatcher at ${config.zmq.control}${how}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    sock.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`webmon: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`webmon: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
