/**
 * Loads Lua scripts from a folder and registers them on a Redis connection (EVALSHA with a
 * transparent EVAL fallback, pipelinable). Each script's header documents KEYS, ARGV and
 * returns. A line `--- @include "path"` splices in a shared fragment (see loadScript), and
 * `{{LATENCY_EDGES}}` in a source is replaced by the roll-up latency bins; both happen once,
 * when the loader is made, before Redis sees the script (its SHA is that of the result).
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { LATENCY_EDGES_MS } from './rollup.js';

type Arg = string | number | Buffer;
type ScriptFn = (numKeys: number, ...args: Arg[]) => Promise<unknown>;

export interface ScriptRunner<Name extends string> {
  run<T = unknown>(name: Name, keys: readonly string[], args: readonly Arg[]): Promise<T>;
}

/** `--- @include "path"` alone on a line (BullMQ's syntax). */
const INCLUDE = /^---[ \t]*@include[ \t]+"([^"]+)"[ \t]*$/gm;

/**
 * The source of `<dir>/<name>.lua`, ready to send to Redis. Each `--- @include "path"` line is
 * replaced by the file `path` (`.lua` appended), resolved against the folder of the file that
 * names it, its own includes spliced in first. A file is spliced at most once per script: a
 * later include of it is dropped, so fragments may include what they use. A missing include or
 * a cycle throws, naming the chain of files.
 */
export function loadScript(dir: URL, name: string): string {
  const spliced = new Set<string>();
  const label = (file: URL) => (file.href.startsWith(dir.href) ? file.href.slice(dir.href.length) : file.pathname);
  const splice = (file: URL, chain: readonly URL[]): string => {
    spliced.add(file.href);
    const names = () => chain.map(label).join(' -> ');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || chain.length === 1) throw err;
      throw new Error(`Lua script ${name}: include not found: ${names()} (${file.pathname})`);
    }
    return text.replace(INCLUDE, (_line, path: string) => {
      const inc = new URL(path.endsWith('.lua') ? path : `${path}.lua`, file);
      if (chain.some((f) => f.href === inc.href)) throw new Error(`Lua script ${name}: include cycle ${names()} -> ${label(inc)}`);
      return spliced.has(inc.href) ? '' : splice(inc, [...chain, inc]);
    });
  };
  const root = new URL(`${name}.lua`, dir);
  return splice(root, [root]).replaceAll('{{LATENCY_EDGES}}', LATENCY_EDGES_MS.join(', '));
}

/**
 * A loader for the scripts `names` in the folder `dir` (`<dir>/<name>.lua`). Script names are
 * Redis connection commands: give each package its own prefix so they never clash. Every
 * script is read and its includes resolved here, once: a missing file or include, or an
 * include cycle, throws now rather than at the first call.
 */
export function scriptLoader<const Name extends string>(dir: URL, names: readonly Name[]): (redis: Redis) => ScriptRunner<Name> {
  const sources = new Map<Name, string>(names.map((name) => [name, loadScript(dir, name)]));
  const registered = new WeakSet<Redis>();
  return (redis) => {
    if (!registered.has(redis)) {
      for (const [name, lua] of sources) redis.defineCommand(name, { lua });
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

/** The scripts of ../lua that the stores run (benches load other copies of them by these names). */
export const CORE_SCRIPTS = [
  'asset_create', 'asset_update', 'asset_delete', 'asset_list', 'asset_owners',
  'job_enqueue', 'job_claim', 'job_extend', 'job_complete', 'jobs_sweep', 'schedule_claim',
  'host_slot', 'host_backoff', 'job_defer', 'job_fail', 'job_retry', 'shard_lease',
] as const;
export type ScriptName = (typeof CORE_SCRIPTS)[number];

/** Registers core's scripts (../lua) on `redis` (idempotent) and returns run(name, keys, args). */
export const scripts = scriptLoader(new URL('../lua/', import.meta.url), CORE_SCRIPTS);

export type Scripts = ScriptRunner<ScriptName>;
