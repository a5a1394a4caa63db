/**
 * Running roles: `webmon up` (every role in one process, a managed redis-server unless redis.url
 * is set, extra executor processes), a single role (`webmon api|dispatcher|executor`), and the
 * internal executor child of `up`.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, REDIS_INSTALL_HINT, createLogger, redactUrl, startManagedRedis, validateConfig, type Config, type Logger, type ManagedRedis } from '@webmon/core';
import { withLocalCurve } from './curve.js';
import { EXECUTOR_CHILD_COMMAND, ExecutorPool, type ChildStart } from './executors.js';

export type Role = 'api' | 'dispatcher' | 'executor';

const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** How to stop one role, and its name for the logs. */
type Stopper = { role: string; stop: () => Promise<void> };

function logger(config: Readonly<Config>, role: string): Logger {
  return createLogger({ level: config.log.level, format: config.log.format, role });
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

/** Executors `webmon up` runs: --executors, else executor.processes, else one per core. */
export function executorCount(config: Readonly<Config>, flag: string | undefined): number {
  if (flag === undefined) return config.executor.processes || availableParallelism();
  const n = Number(flag);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new ConfigError(`--executors: must be an integer from 1 to 1024 (got ${flag})`);
  return n;
}

/** What the roles of one process share while they run, and how they stop. */
interface Running {
  stoppers: Stopper[];
  /** Run first when a signal arrives, before the roles stop one by one. */
  shutdownBegins: Array<() => void>;
  managed: ManagedRedis | undefined;
}

/** Runs `roles` until SIGINT/SIGTERM (then exits 0); resolves 1 when start-up fails. */
export async function runRoles(initial: Readonly<Config>, roles: Role[], executors = 1): Promise<number> {
  const log = logger(initial, roles.length > 1 ? 'webmon' : roles[0]!);
  const run: Running = { stoppers: [], shutdownBegins: [], managed: undefined };
  stopOnSignals(run, log);
  let config = initial;
  try {
    let redisUrl = config.redis.url;
    if (!redisUrl && roles.length > 1) {
      run.managed = await startManagedRedis({ binary: config.redis.serverBinary, dir: join(config.dataDir, 'redis') });
      // Its Unix socket when it has one: a round trip costs both sides less CPU than over TCP.
      redisUrl = run.managed.socketUrl ?? run.managed.url;
      log.info({ url: redactUrl(redisUrl), port: run.managed.port, dir: run.managed.dir }, 'started local redis-server (password in redis.pass)');
      // Its only save rule is an hourly safety net: the dispatcher takes the paced snapshots.
      if (!config.snapshots.everySec) config = { ...config, snapshots: { ...config.snapshots, everySec: MANAGED_SNAPSHOT_EVERY_SEC } };
    }
    if (roles.length > 1) config = await withLocalCurve(config, true, log);
    redisUrl ??= DEFAULT_REDIS_URL;
    if (roles.includes('api') && !config.api.adminKey && roles.length > 1) {
      config = { ...config, api: { ...config.api, adminKey: localAdminKey(config, log) } };
    } else if (roles.includes('api') && !config.api.adminKey) {
      log.warn('no admin key configured (api.adminKey / WEBMON_API_ADMIN_KEY): only client keys are accepted');
    }
    log.info({ redis: redactUrl(redisUrl) }, 'using redis');
    for (const role of roles) await startRole(role, { config, redisUrl, roles, executors, run, log });
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'start-up failed');
    for (const { stop } of run.stoppers.reverse()) await stop().catch(() => undefined);
    await run.managed?.stop();
    if (err instanceof ConfigError) throw err;
    process.stderr.write(`webmon: ${(err as Error).message}\n`);
    if (/redis/i.test((err as Error).message) && !config.redis.url) process.stderr.write(`${REDIS_INSTALL_HINT}\n`);
    return 1;
  }
  return new Promise<number>(() => undefined); // run until a signal arrives
}

/** Snapshots of the managed redis-server, when snapshots.everySec is not set. */
const MANAGED_SNAPSHOT_EVERY_SEC = 300;

/** Longest wait for one role to stop (an executor drains its checks for up to 10 s). */
const ROLE_STOP_MS = 15_000;

function stopOnSignals(run: Running, log: Logger): void {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    for (const begin of run.shutdownBegins) begin();
    // Stop in reverse start order: api first (no new jobs), then executors, then the dispatcher.
    for (const { role, stop } of run.stoppers.reverse()) {
      // A role waiting on a Redis that is gone (its commands queue until it is back) must not
      // keep the process from stopping: each role gets ROLE_STOP_MS, then the next one goes.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((done) => {
        timer = setTimeout(() => done('late'), ROLE_STOP_MS);
      });
      try {
        if ((await Promise.race([stop(), late])) === 'late') log.warn({ stopping: role, waitedMs: ROLE_STOP_MS }, 'a role did not stop in time; stopping the others');
      } catch (err) {
        log.error({ err }, 'error while stopping');
      } finally {
        clearTimeout(timer);
      }
    }
    if (run.managed) {
      log.info('stopping local redis-server (it saves its snapshot first)');
      await run.managed.stop();
      log.info('local redis-server stopped');
    }
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

interface RoleStart {
  config: Readonly<Config>;
  redisUrl: string;
  roles: Role[];
  executors: number;
  run: Running;
  /** The process's logger (a single role logs under its own name). */
  log: Logger;
}

/** Starts one role; roles load on demand, so `webmon apply`, `status` and friends start fast. */
async function startRole(role: Role, s: RoleStart): Promise<void> {
  const roleLog = s.roles.length > 1 ? logger(s.config, role) : s.log;
  if (role === 'dispatcher') {
    const { startDispatcher } = await import('@webmon/dispatcher');
    const d = await startDispatcher(s.config, roleLog, s.redisUrl);
    s.run.stoppers.push({ role: 'dispatcher', stop: () => d.stop() });
  } else if (role === 'executor') {
    const { startExecutor } = await import('@webmon/executor');
    const e = await startExecutor(s.config, roleLog, s.redisUrl);
    s.run.stoppers.push({ role: 'executor', stop: () => e.stop() });
    if (s.executors > 1) {
      const pool = new ExecutorPool(s.config, s.redisUrl, s.executors, roleLog);
      s.run.shutdownBegins.push(() => pool.beginStop());
      s.run.stoppers.push({ role: 'executor', stop: () => pool.stop() });
      await pool.start();
    }
  } else {
    const { startApi } = await import('@webmon/api');
    const a = await startApi(s.config, roleLog, s.redisUrl);
    s.run.stoppers.push({ role: 'api', stop: () => a.stop() });
    if (s.roles.length > 1) {
      process.stdout.write(
        `\nwebmon is running: dashboard ${a.url}/  API ${a.url}  docs ${a.url}/docs\n` +
          `admin API key (sign in with it): in ${resolve(join(s.config.dataDir, 'admin.key'))}\n` +
          `try: curl -H "Authorization: Bearer $(cat ${join(s.config.dataDir, 'admin.key')})" ${a.url}/assets\n\n`,
      );
    }
  }
}

/**
 * An extra executor of `webmon up` (see executors.ts): waits for its configuration on the IPC
 * channel, runs one executor, and stops on SIGTERM/SIGINT or when the parent goes away.
 */
export async function runExecutorChild(): Promise<number> {
  if (!process.send) throw new ConfigError(`${EXECUTOR_CHILD_COMMAND} is started by webmon up, not by hand`);
  const start = await new Promise<ChildStart | null>((resolve) => {
    process.once('message', (m) => resolve(m as ChildStart));
    process.once('disconnect', () => resolve(null)); // the parent went away first
  });
  if (!start) return 0;
  const config = validateConfig(start.config);
  const log = logger(config, `executor-${start.index}`);
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
