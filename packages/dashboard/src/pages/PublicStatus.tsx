/** The public status page at /status/<slug>: no session, only what GET /public/status/:slug returns. */
import { useEffect } from 'preact/hooks';
import { get } from '../api.js';
import { dateTime, percent } from '../format.js';
import type { PublicStatus as Status } from '../types.js';
import { UptimeBar } from '../components/charts.js';
import { ErrorText, StateBadge, useLoad } from '../components/ui.js';

const REFRESH_MS = 60_000;

function summary(s: Status): { text: string; state: string } {
  const states = s.assets.map((a) => a.state);
  if (states.includes('down')) return { text: 'Some systems are down', state: 'down' };
  if (states.includes('degraded')) return { text: 'Some systems are degraded', state: 'degraded' };
  if (states.includes('maintenance')) return { text: 'Maintenance in progress', state: 'maintenance' };
  return { text: 'All systems operational', state: 'up' };
}

export function PublicStatus({ slug }: { slug: string }) {
  const page = useLoad(() => get<Status>(`/public/status/${slug}`), [slug]);
  useEffect(() => {
    const t = setInterval(page.reload, REFRESH_MS);
    return () => clearInterval(t);
  }, [page.reload]);
  const s = page.data;
  useEffect(() => {
    if (s) document.title = `${s.title} — status`;
  }, [s]);
  return (
    <main class="public">
      <ErrorText error={page.error} />
      {s && (
        <>
          <h1>{s.title}</h1>
          {s.description && <p>{s.description}</p>}
          <p class={`banner banner-${summary(s).state}`} role="status">
            {summary(s).text}
          </p>
          {s.maintenance.length > 0 && (
            <section aria-labelledby="maint">
              <h2 id="maint">Maintenance</h2>
              <ul>
                {s.maintenance.map((m) => (
                  <li key={`${m.title}-${m.from}`}>
                    {m.title}: {dateTime(m.from)} to {dateTime(m.to)}
                  </li>
                ))}
              </ul>
            </section>
          )}
          <ul class="public-assets">
            {s.assets.map((a) => (
              <li key={a.id} data-asset-id={a.id}>
                <div class="public-row">
                  <strong>{a.name}</strong> <StateBadge state={a.state} /> <span class="muted">{percent(a.uptime90dPercent)} over 90 days</span>
                </div>
                <UptimeBar label={`${a.name}: uptime per day over 90 days`} days={a.uptimeDays} />
              </li>
            ))}
          </ul>
          <p class="muted small">Updated {dateTime(s.updatedAt)} · powered by webmon</p>
        </>
      )}
    </main>
  );
}
