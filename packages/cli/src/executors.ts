/**
 * Extra executor processes for `webmon up`. A JavaScript executor runs on one thread, so using
 * every core takes processes: each is this CLI's internal `executor-child` role, handed the
 * configuration `up` resolved (managed Redis URL with its password, the install's CURVE keys,
 * its own metrics port) over the IPC channel, never through argv or the environment.
 *
 * Supervised: a child that exits while webmon runs is logged and started again after a backoff
 * (1 s, doubling up to 30 s, back to 1 s once a child has run for a minute). On stop, each gets
 * SIGTERM (it drains its checks like a lone executor) and SIGKILL after the grace period. A child
 * whose parent goes away (the IPC channel closes) stops by itself.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Config, Logger } from '@webmon/core';
import { withNodeFlags } from './node-flags.js';

/** The internal command a forked executor runs. */
export const EXECUTOR_CHILD_COMMAND = 'executor-child';

/** What the parent sends a child once it is forked. */
export interface ChildStart {
  type: 'start';
  config: Config;
  redisUrl: string;
  index: number;
}

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const BACKOFF_START_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
const HEALTHY_AFTER_MS = 60_000;
const READY_TIMEOUT_MS = 20_000;

/** The metrics port of executor `index` (0 is the in-process one): base + index, or 0 (off). */
export function executorMetricsPort(base: number, index: number): number {
  if (base <= 0) return 0;
  const port = base + index;
  return port <= 65535 ? port : 0;
}

/** The configuration of extra executor `index`: the resolved one with its own metrics port. */
export function childConfig(config: Readonly<Config>, index: number): Config {
  const copy = JSON.parse(JSON.stringify(config)) as Config;
  copy.executor.metricsPort = executorMetricsPort(config.executor.metricsPort, index);
  return copy;
}

interface Slot {
  index: number;
  child: ChildProcess | null;
  startedAt: number;
  backoffMs: number;
  restartTimer: NodeJS.Timeout | undefined;
}

export class ExecutorPool {
  private readonly slots: Slot[];
  private stopping = false;

  /** Executors 1..count-1 (executor 0 runs in the `up` process itself). */
  constructor(
    private readonly config: Readonly<Config>,
    private readonly redisUrl: string,
    count: number,
    private readonly log: Logger,
  ) {
    this.slots = Array.from({ length: Math.max(0, count - 1) }, (_, i) => ({ index: i + 1, child: null, startedAt: 0, backoffMs: BACKOFF_START_MS, restartTimer: undefined }));
  }

  /** Starts every child; resolves when each said it is ready, or failed (it is then restarted). */
  async start(): Promise<void> {
    await Promise.all(this.slots.map((s) => this.spawn(s)));
  }

  /** Pids of the running children, by index. */
  pids(): Array<number | undefined> {
    return this.slots.map((s) => s.child?.pid);
  }

  /**
   * No more restarts from now on: called as shutdown begins, since a terminal's Ctrl-C reaches
   * the children too and their exits must not look like crashes while the api stops first.
   */
  beginStop(): void {
    this.stopping = true;
    for (const s of this.slots) clearTimeout(s.restartTimer);
  }

  async stop(graceMs = 15_000): Promise<void> {
    this.beginStop();
    await Promise.all(
      this.slots.map(async (s) => {
        clearTimeout(s.restartTimer);
        const child = s.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  private spawn(slot: Slot): Promise<void> {
    const child = fork(MAIN, [EXECUTOR_CHILD_COMMAND], { execArgv: withNodeFlags(process.execArgv), stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    slot.child = child;
    slot.startedAt = Date.now();
    this.log.info({ executor: slot.index, childPid: child.pid }, 'executor process started');
    const start: ChildStart = { type: 'start', config: childConfig(this.config, slot.index), redisUrl: this.redisUrl, index: slot.index };
    // A child that dies at once closes the channel under send(): its exit is handled below.
    child.on('error', (err) => this.log.warn({ executor: slot.index, err: err.message }, 'executor process channel error'));
    child.send(start);
    child.once('exit', (code, signal) => this.exited(slot, child, code, signal));
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, READY_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      child.once('message', done);
      child.once('exit', done);
    });
  }

  private exited(slot: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.child !== child) return;
    slot.child = null;
    if (this.stopping) return;
    const ranMs = Date.now() - slot.startedAt;
    if (ranMs >= HEALTHY_AFTER_MS) slot.backoffMs = BACKOFF_START_MS;
    const delayMs = slot.backoffMs;
    slot.backoffMs = Math.min(BACKOFF_MAX_MS, slot.backoffMs * 2);
    this.log.warn({ executor: slot.index, childPid: child.pid, code, signal, restartInMs: delayMs }, 'executor process exited; restarting it');
    slot.restartTimer = setTimeout(() => {
      if (!this.stopping) void this.spawn(slot);
    }, delayMs);
  }
}
