/**
 * Redis Cluster hash slots, computed as Redis does (CRC16/XMODEM of the key, or of its first
 * non-empty `{…}` hash tag, modulo 16384), and a guard that records every script call whose
 * keys span more than one slot.
 */
import type { Redis } from '@webmon/core';

const TABLE = Array.from({ length: 256 }, (_, i) => {
  let crc = i << 8;
  for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  return crc;
});

export function slotOf(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key)) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc % 16384;
}

/**
 * Wraps every script registered on `redis` from now on: a call whose KEYS, and whose ARGV
 * strings that are key names or key prefixes (they start with `<prefix>:`), are not all in one
 * slot is recorded in `violations` (then still sent: Redis may refuse it too). Returns the
 * names of the scripts called, with how often.
 */
export function guardScriptSlots(redis: Redis, prefix: string, violations: string[]): Map<string, number> {
  const calls = new Map<string, number>();
  const target = redis as unknown as Record<string, unknown> & { defineCommand: Redis['defineCommand'] };
  const define = target.defineCommand.bind(redis);
  target.defineCommand = (name: string, def: { lua: string; numberOfKeys?: number }) => {
    define(name, def);
    const run = (target[name] as (...args: unknown[]) => Promise<unknown>).bind(redis);
    target[name] = (numKeys: number, ...args: unknown[]) => {
      calls.set(name, (calls.get(name) ?? 0) + 1);
      const named = [...args.slice(0, numKeys), ...args.slice(numKeys).filter((a) => typeof a === 'string' && a.startsWith(`${prefix}:`))] as string[];
      const slots = new Set(named.map(slotOf));
      if (slots.size > 1) violations.push(`${name}: ${named.join(' ')}`);
      return run(numKeys, ...args);
    };
  };
  return calls;
}
