/**
 * State changes pushed by GET /events/stream, fanned out to the pages that show them. The App
 * owns the one EventSource; pages subscribe and keep only what concerns them.
 */
import type { StateEvent } from './types.js';

type Listener = (e: StateEvent) => void;
const listeners = new Set<Listener>();
const recent: StateEvent[] = [];
const KEEP = 50;

export function onStateEvent(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function emitStateEvent(e: StateEvent): void {
  recent.unshift(e);
  if (recent.length > KEEP) recent.length = KEEP;
  for (const fn of listeners) fn(e);
}

const identity = (e: StateEvent) => `${e.assetId} ${e.at} ${e.to}`;

/**
 * Adds state changes read from GET /events (the ones before the page opened) to those seen
 * live, without telling the listeners (nothing new happened).
 */
export function seedStateEvents(events: readonly StateEvent[]): void {
  const seen = new Set(recent.map(identity));
  for (const e of events) if (!seen.has(identity(e))) recent.push(e);
  recent.sort((a, b) => b.at - a.at);
  if (recent.length > KEEP) recent.length = KEEP;
}

/** The latest state changes seen, newest first (at most 50). */
export function recentStateEvents(): readonly StateEvent[] {
  return recent;
}

/** Parses one `event: state` data line; null for anything malformed. */
export function parseStateEvent(data: string): StateEvent | null {
  try {
    const e = JSON.parse(data) as Partial<StateEvent>;
    if (typeof e.assetId !== 'string' || typeof e.to !== 'string') return null;
    return { assetId: e.assetId, from: String(e.from ?? ''), to: e.to, reason: String(e.reason ?? ''), at: Number(e.at ?? Date.now()) };
  } catch {
    return null;
  }
}
