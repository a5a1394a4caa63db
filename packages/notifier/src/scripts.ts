/**
 * The notifier's Lua scripts (../lua), registered on a connection like core's scripts.ts does
 * (EVALSHA with a transparent EVAL fallback, pipelinable). Names start with `notify_` so they
 * never clash with core's on a shared connection. Each script's header documents KEYS, ARGV
 * and returns.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

const SCRIPTS = ['notify_set', 'notify_enable', 'notify_fanout', 'notify_remind', 'notify_claim', 'notify_ack', 'notify_fail', 'notify_release'] as const;
export type NotifierScriptName = (typeof SCRIPTS)[number];

const sources = new Map<NotifierScriptName, string>();

function source(name: NotifierScriptName): string {
  let text = sources.get(name);
  if (!text) {
    text = readFileSync(new URL(`../lua/${name}.lua`, import.meta.url), 'utf8');
    sources.set(name, text);
  }
  return text;
}

type Arg = string | number | Buffer;
type ScriptFn = (numKeys: number, ...args: Arg[]) => Promise<unknown>;

const registered = new WeakSet<Redis>();

/** Registers the notifier's scripts on `redis` (idempotent) and returns run(name, keys, args). */
export function notifierScripts(redis: Redis) {
  if (!registered.has(redis)) {
    for (const name of SCRIPTS) redis.defineCommand(name, { lua: source(name) });
    registered.add(redis);
  }
  return {
    run<T = unknown>(name: NotifierScriptName, keys: readonly string[], args: readonly Arg[]): Promise<T> {
      const fn = (redis as unknown as Record<NotifierScriptName, ScriptFn>)[name];
      return fn.call(redis, keys.length, ...keys, ...args) as Promise<T>;
    },
  };
}

export type NotifierScripts = ReturnType<typeof notifierScripts>;
