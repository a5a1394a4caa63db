/**
 * Loads Lua scripts from a folder and registers them on a Redis connection (EVALSHA with a
 * transparent EVAL fallback, pipelinable). Each script's header documents KEYS, ARGV and
 * returns. `{{LATENCY_EDGES}}` in a source is replaced by the roll-up latency bins.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { LATENCY_EDGES_MS } from './rollup.js';

type Arg = string | number | Buffer;
type ScriptFn = (numKeys: number, ...args: Arg[]) => Promise<unknown>;

export interface ScriptRunner<Name extends string> {
  run<T = unknown>(name: Name, keys: readonly string[], args: readonly Arg[]): Promise<T>;
}

/**
 * A loader for the scripts `names` in the folder `dir` (`<dir>/<name>.lua`). Script names are
 * Redis connection commands: give each package its own prefix so they never clash.
 */
export function scriptLoader<const Name extends string>(dir: URL, names: readonly Name[]): (redis: Redis) => ScriptRunner<Name> {
  const sources = new Map<Name, string>();
  const source = (name: Name) => {
    let text = sources.get(name);
    if (!text) {
      text = readFileSync(new URL(`${name}.lua`, dir), 'utf8').replace('{{LATENCY_EDGES}}', LATENCY_EDGES_MS.join(', '));
      sources.set(name, text);
    }
    return text;
  };
  const registered = new WeakSet<Redis>();
  return (redis) => {
    if (!registered.has(redis)) {
      for (const name of names) redis.defineCommand(name, { lua: source(name) });
      registered.add(redis);
    }
    return {
      run<T = unknown>(name: Name, keys: readonly string[], args: readonly Arg[]): Promise<T> {
        const fn = (redis as unknown as Record<Name, ScriptFn>)[name];
        return fn.call(redis, keys.length, ...keys, ...args) as Promise<T>;
      },
    };
  };
}

const CORE_SCRIPTS = [
  'asset_create', 'asset_update', 'asset_delete', 'asset_list',
  'job_claim', 'job_extend', 'job_complete', 'jobs_sweep', 'schedule_claim',
  'host_slot', 'host_backoff', 'job_defer', 'job_fail', 'job_retry',
] as const;
export type ScriptName = (typeof CORE_SCRIPTS)[number];

/** Registers core's scripts (../lua) on `redis` (idempotent) and returns run(name, keys, args). */
export const scripts = scriptLoader(new URL('../lua/', import.meta.url), CORE_SCRIPTS);

export type Scripts = ScriptRunner<ScriptName>;
