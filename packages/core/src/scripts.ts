/**
 * Loads the Lua scripts in ../lua and registers them on a Redis connection (EVALSHA with a
 * transparent EVAL fallback, pipelinable). Each script's header documents KEYS, ARGV and returns.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { LATENCY_EDGES_MS } from './rollup.js';

const SCRIPTS = ['asset_create', 'asset_update', 'asset_delete', 'asset_list', 'job_claim', 'job_extend', 'job_complete', 'jobs_sweep', 'schedule_claim', 'host_slot', 'host_backoff', 'job_defer', 'job_fail', 'job_retry'] as const;
export type ScriptName = (typeof SCRIPTS)[number];

const sources = new Map<ScriptName, string>();

function source(name: ScriptName): string {
  let text = sources.get(name);
  if (!text) {
    text = readFileSync(new URL(`../lua/${name}.lua`, import.meta.url), 'utf8').replace('{{LATENCY_EDGES}}', LATENCY_EDGES_MS.join(', '));
    sources.set(name, text);
  }
  return text;
}

type Arg = string | number | Buffer;
type ScriptFn = (numKeys: number, ...args: Arg[]) => Promise<unknown>;

const registered = new WeakSet<Redis>();

/** Registers every script on `redis` (idempotent) and returns a caller: run(name, keys, args). */
export function scripts(redis: Redis) {
  if (!registered.has(redis)) {
    for (const name of SCRIPTS) redis.defineCommand(name, { lua: source(name) });
    registered.add(redis);
  }
  return {
    run<T = unknown>(name: ScriptName, keys: readonly string[], args: readonly Arg[]): Promise<T> {
      const fn = (redis as unknown as Record<ScriptName, ScriptFn>)[name];
      return fn.call(redis, keys.length, ...keys, ...args) as Promise<T>;
    },
  };
}

export type Scripts = ReturnType<typeof scripts>;
