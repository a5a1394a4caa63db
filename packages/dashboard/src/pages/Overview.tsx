/** Overview: the fleet by state, throughput, queue, executors, the assets failing most, recent changes. */
import { useEffect, useState } from 'preact/hooks';
import { get } from '../api.js';
import { ago, assetsHash, stateColour } from '../format.js';
import { onStateEvent, recentStateEvents, seedStateEvents } from '../live.js';
import { STATES, type FleetStats, type StateEvent } from '../types.js';
import { ErrorText, Section, StateBadge, TableHead, useLoad } from '../components/ui.js';

const REFRESH_MS = 10_000;

/** Reloads `reload` after live changes (coalesced) and on a slow timer for the throughput numbers. */
function useRefresh(reload: () => void) {
  useEffect(() => {
    let pending: ReturnType<typeof setTimeout> | undefined;
    const off = onStateEvent(() => {
      pending ??= setTimeout(() => {
        pending = undefined;
        reload();
      }, 300);
    });
    const timer = setInterval(reload, REFRESH_MS);
    return () => {
      off();
      clearInterval(timer);
      clearTimeout(pending);
    };
  }, [reload]);
}

function useRecentEvents(): readonly StateEvent[] {
  const [events, setEvents] = useState<readonly StateEvent[]>(() => [...recentStateEvents()]);
  useEffect(() => onStateEvent(() => setEvents([...recentStateEvents()])), []);
  useEffect(() => {
    get<{ items: Array<Omit<StateEvent, 'at'> & { at: string }> }>('/events?limit=20').then(
      (r) => {
        seedStateEvents(r.items.map((e) => ({ ...e, at: Date.parse(e.at) })));
        setEvents([...recentStateEvents()]);
      },
      () => undefined, // the live list still fills as changes arrive
    );
  }, []);
  return events;
}

/** The URLs of the assets named by recent events, fetched once per id. */
function useUrls(ids: string[]): Record<string, string> {
  const [urls, setUrls] = useState<Record<string, string>>({});
  const missing = ids.filter((id) => !(id in urls));
  const key = missing.join(',');
  useEffect(() => {
    for (const id of missing.slice(0, 20))
      get<{ url: string }>(`/assets/${encodeURIComponent(id)}`).then(
        (a) => setUrls((u) => ({ ...u, [id]: a.url })),
        () => setUrls((u) => ({ ...u, [id]: '(deleted)' })),
      );
  }, [key]);
  return urls;
}

export function Overview() {
  const stats = useLoad(() => get<FleetStats>('/stats'), []);
  useRefresh(stats.reload);
  const events = useRecentEvents();
  const urls = useUrls(events.map((e) => e.assetId));
  const s = stats.data;
  const total = s ? Object.values(s.assetsByState).reduce((a, b) => a + b, 0) : 0;
  return (
    <>
      <h1>Overview</h1>
      <ErrorText error={stats.error} />
      {s && (
        <>
          <section class="tiles" aria-label="Assets by state">
            {STATES.map((st) => (
              <a key={st} class="tile" href={assetsHash({ state: st })} style={{ borderTopColor: stateColour(st) }} data-state={st}>
                <span class="tile-n">{s.assetsByState[st] ?? 0}</span>
                <span class="tile-label">
                  <span class="dot" style={{ background: stateColour(st) }} aria-hidden="true" />
                  {st}
                </span>
              </a>
            ))}
          </section>
          <StateBar byState={s.assetsByState} total={total} />
          <section class="tiles" aria-label="Throughput">
            <Metric label="checks / s" value={s.checksPerSecond.toFixed(2)} />
            <Metric label="checks last hour" value={String(s.checksLastHour)} />
            <Metric label="queued" value={String(s.queue.queued)} />
            <Metric label="running" value={String(s.queue.running)} />
            <Metric label="failed jobs" value={String(s.queue.failed)} />
            <Metric label="executors alive" value={String(s.executorsAlive)} />
          </section>
          <div class="columns">
            <Section title="Failing most (today and yesterday)">
              {s.failingMost.length === 0 ? (
                <p class="muted">No failed checks.</p>
              ) : (
                <table>
                  <TableHead cols={['Asset', 'Failures']} />
                  <tbody>
                    {s.failingMost.map((f) => (
                      <tr key={f.assetId}>
                        <td>{f.url ? <a href={`#/assets/${f.assetId}`}>{f.url}</a> : <span class="muted">deleted asset</span>}</td>
                        <td class="num">{f.failures}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </Section>
            <Section title="Recent state changes">
              {events.length === 0 ? (
                <p class="muted">No state change since this page opened; changes appear here live.</p>
              ) : (
                <ul class="events" aria-live="polite">
                  {events.slice(0, 20).map((e) => (
                    <li key={`${e.assetId}-${e.at}-${e.to}`}>
                      <StateBadge state={e.from || 'unknown'} /> → <StateBadge state={e.to} /> <a href={`#/assets/${e.assetId}`}>{urls[e.assetId] ?? e.assetId}</a>{' '}
                      <span class="muted">
                        {e.reason} {ago(e.at)}
                      </span>
                    </li>
                  ))}
                </ul>
              )}
            </Section>
          </div>
        </>
      )}
    </>
  );
}

function Metric({ label, value }: { label: string; value: string }) {
  return (
    <div class="tile metric">
      <span class="tile-n">{value}</span>
      <span class="tile-label">{label}</span>
    </div>
  );
}

function StateBar({ byState, total }: { byState: Record<string, number>; total: number }) {
  if (total === 0) return <p class="muted">No assets yet. Add some on the <a href="#/assets">Assets</a> page.</p>;
  return (
    <div class="statebar" role="img" aria-label={STATES.map((st) => `${st} ${byState[st] ?? 0}`).join(', ')}>
      {STATES.filter((st) => (byState[st] ?? 0) > 0).map((st) => (
        <span key={st} style={{ flexGrow: byState[st], background: stateColour(st) }} />
      ))}
    </div>
  );
}
