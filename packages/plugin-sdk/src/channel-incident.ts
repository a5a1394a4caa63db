/** How incident tools (PagerDuty, Opsgenie) read a state change: open an incident, close it, or neither. */

/**
 * `open` for down (and degraded when `openOnDegraded`); `close` for up, for degraded otherwise,
 * and for paused (a paused asset sends no recovery, so its incident would stay open); null for
 * unknown and unsupported, which say nothing about an outage.
 */
export function incidentAction(to: string, openOnDegraded: boolean): 'open' | 'close' | null {
  if (to === 'down' || (to === 'degraded' && openOnDegraded)) return 'open';
  if (to === 'up' || to === 'degraded' || to === 'paused') return 'close';
  return null;
}
