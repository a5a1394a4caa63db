/**
 * The notifier's Lua scripts (../lua). Names start with `notify_` so they never clash with
 * core's on a shared connection. Each touches notifier keys only (keys.ts, notifications). Each script's header documents KEYS, ARGV and returns.
 */
import { scriptLoader, type ScriptRunner } from '@webmon/core';

const SCRIPTS = ['notify_channel_set', 'notify_enable', 'notify_fanout', 'notify_remind', 'notify_timer', 'notify_claim', 'notify_ack', 'notify_fail', 'notify_release'] as const;
export type NotifierScriptName = (typeof SCRIPTS)[number];

/** Registers the notifier's scripts on `redis` (idempotent) and returns run(name, keys, args). */
export const notifierScripts = scriptLoader(new URL('../lua/', import.meta.url), SCRIPTS);

export type NotifierScripts = ScriptRunner<NotifierScriptName>;
