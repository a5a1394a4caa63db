/**
 * One asset: uptime over 90 days, latency over a chosen window, failures by reason, the event
 * timeline, latest results, what htmlstats learned, maintenance windows, and an editor.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { del, get, patch, post, qs } from '../api.js';
import { ago, dateTime, ms, percent } from '../format.js';
import { onStateEvent } from '../live.js';
import type { Asset, AssetStats, MaintenanceWindow, Page, ResultRow } from '../types.js';
import { colourAt, LatencyChart, type Line, UptimeBar } from '../components/charts.js';
import { ActionButton, ErrorText, Section, StateBadge, TableHead, useLoad } from '../components/ui.js';
import { EditAsset } from './EditAsset.js';

const WINDOWS = ['1h', '24h', '7d', '30d', '365d'] as const;
const DAY = 86_400_000;

/** 90 whole UTC days ending today: `points=90` makes each series point one day. */
function ninetyDays(now = Date.now()): { from: string; to: string } {
  const end = Math.floor(now / DAY) * DAY + DAY;
  return { from: new Date(end - 90 * DAY).toISOString(), to: new Date(end).toISOString() };
}

export function AssetDetail({ id }: { id: string }) {
  const path = `/assets/${encodeURIComponent(id)}`;
  const [win, setWin] = useState<(typeof WINDOWS)[number]>('24h');
  const asset = useLoad(() => get<Asset>(path), [path]);
  const stats = useLoad(() => get<AssetStats>(`${path}/stats${qs({ window: win, points: 120 })}`), [path, win]);
  const days = useLoad(() => get<AssetStats>(`${path}/stats${qs({ ...ninetyDays(), points: 90 })}`), [path]);
  const results = useLoad(() => get<Page<ResultRow>>(`${path}/results${qs({ limit: 10 })}`), [path]);
  useEffect(
    () =>
      onStateEvent((e) => {
        if (e.assetId !== id) return;
        asset.reload();
        stats.reload();
        results.reload();
      }),
    [id, asset.reload, stats.reload, results.reload],
  );
  const a = asset.data;
  if (asset.error) return <ErrorText error={asset.error} />;
  if (!a) return <p aria-busy="true">Loading…</p>;
  return (
    <>
      <p>
        <a href="#/assets">← Assets</a>
      </p>
      <h1 class="url">{a.url}</h1>
      <div class="toolbar">
        <StateBadge state={a.state} />
        <span class="muted">
          {a.stateReason ? `${a.stateReason} · ` : ''}last check {ago(a.lastCheckAt)}, every {a.interval} s, plugins {a.plugins.join(', ')}
          {a.tags.length ? `, tags ${a.tags.join(', ')}` : ''}
        </span>
        <ActionButton label="Check now" action={() => post('/jobs', { assetIds: [a.id] })} />
        <ActionButton label={a.paused ? 'Resume' : 'Pause'} action={() => patch(path, { paused: !a.paused })} onDone={asset.reload} />
        <ActionButton
          label="Delete"
          confirm="Confirm delete"
          class="danger"
          action={() => del(path)}
          onDone={() => {
            location.hash = '#/assets';
          }}
        />
      </div>
      <Section title="Uptime, last 90 days">
        <ErrorText error={days.error} />
        {days.data && <UptimeBar label={`Uptime per day over 90 days, ${percent(days.data.window.uptimePercent)} overall`} days={days.data.window.series.map((p) => ({ day: p.t.slice(0, 10), uptimePercent: p.uptimePercent, checks: p.checks, failures: p.failures }))} />}
      </Section>
      <Section title="Latency">
        <fieldset class="segmented">
          <legend class="sr-only">Window</legend>
          {WINDOWS.map((w) => (
            <button key={w} type="button" aria-pressed={w === win} onClick={() => setWin(w)}>
              {w}
            </button>
          ))}
        </fieldset>
        <ErrorText error={stats.error} />
        {stats.data && <Latency s={stats.data} />}
      </Section>
      {stats.data && (
        <div class="columns">
          <Failures s={stats.data} />
          <Timeline s={stats.data} />
        </div>
      )}
      {stats.data && <Latest s={stats.data} />}
      <RecentResults rows={results.data?.items ?? []} />
      {stats.data && <HtmlStats s={stats.data} />}
      <Maintenance asset={a} />
      <Badges id={a.id} />
      <EditAsset asset={a} onSaved={() => asset.reload()} />
    </>
  );
}

/** p50/p95 per plugin when the series carries them; otherwise the series' mean and p95 over all plugins. */
function latencyLines(s: AssetStats): Line[] {
  const series = s.window.series;
  const names = [...new Set(series.flatMap((p) => Object.keys(p.plugins ?? {})))];
  if (names.length > 0)
    return names.flatMap((n, i) => [
      { label: `${n} p50`, colour: colourAt(i), dash: [4, 4], values: series.map((p) => p.plugins?.[n]?.p50Ms ?? null) },
      { label: `${n} p95`, colour: colourAt(i), values: series.map((p) => p.plugins?.[n]?.p95Ms ?? null) },
    ]);
  const hasP50 = series.some((p) => p.p50Ms !== undefined);
  return [
    hasP50 ? { label: 'p50', colour: colourAt(0), dash: [4, 4], values: series.map((p) => p.p50Ms ?? null) } : { label: 'mean', colour: colourAt(0), dash: [4, 4], values: series.map((p) => p.meanMs) },
    { label: 'p95', colour: colourAt(1), values: series.map((p) => p.p95Ms) },
  ];
}

function Latency({ s }: { s: AssetStats }) {
  const times = useMemo(() => s.window.series.map((p) => Date.parse(p.t)), [s]);
  const lines = useMemo(() => latencyLines(s), [s]);
  const plugins = Object.entries(s.window.latency);
  return (
    <>
      <LatencyChart times={times} lines={lines} title={`Latency from ${dateTime(s.window.from)} to ${dateTime(s.window.to)}: ${lines.map((l) => l.label).join(', ')}`} />
      <table>
        <caption>Per plugin over the window ({s.window.checks} checks, uptime {percent(s.window.uptimePercent)})</caption>
        <TableHead cols={['Plugin', 'Checks', 'p50', 'p95', 'p99', 'max']} />
        <tbody>
          {plugins.map(([name, l]) => (
            <tr key={name}>
              <th scope="row">{name}</th>
              <td class="num">{l.count}</td>
              <td class="num">{ms(l.p50Ms)}</td>
              <td class="num">{ms(l.p95Ms)}</td>
              <td class="num">{ms(l.p99Ms)}</td>
              <td class="num">{ms(l.maxMs)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function Failures({ s }: { s: AssetStats }) {
  const reasons = Object.entries(s.window.failuresByReason).sort((a, b) => b[1] - a[1]);
  return (
    <Section title="Failures by reason">
      {reasons.length === 0 ? (
        <p class="muted">No failures in this window.</p>
      ) : (
        <table>
          <tbody>
            {reasons.map(([r, n]) => (
              <tr key={r}>
                <th scope="row">{r}</th>
                <td class="num">{n}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}

function Timeline({ s }: { s: AssetStats }) {
  const events = [...s.window.transitions].reverse();
  return (
    <Section title="Event timeline">
      {events.length === 0 ? (
        <p class="muted">No state change in this window.</p>
      ) : (
        <ol class="timeline">
          {events.map((t) => (
            <li key={`${t.at}-${t.to}`} data-to={t.to}>
              <time dateTime={t.at}>{dateTime(t.at)}</time> <StateBadge state={t.from} /> → <StateBadge state={t.to} /> <span class="muted">{t.reason}</span>
            </li>
          ))}
        </ol>
      )}
    </Section>
  );
}

function Latest({ s }: { s: AssetStats }) {
  const latest = Object.values(s.latest);
  return (
    <Section title="Latest results">
      {latest.length === 0 ? (
        <p class="muted">Not checked yet.</p>
      ) : (
        <table>
          <TableHead cols={['Plugin', 'Status', 'Reason', 'Message', 'Duration']} />
          <tbody>
            {latest.map((r) => (
              <tr key={r.plugin}>
                <th scope="row">{r.plugin}</th>
                <td>{r.status}</td>
                <td>{r.reason ?? ''}</td>
                <td>{r.message}</td>
                <td class="num">{ms(r.durationMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}

function RecentResults({ rows }: { rows: ResultRow[] }) {
  if (rows.length === 0) return null;
  return (
    <Section title="Recent checks">
      <table>
        <TableHead cols={['When', 'Outcome', 'Results']} />
        <tbody>
          {rows.map((r) => (
            <tr key={r.jobId}>
              <td>
                <time dateTime={r.at}>{dateTime(r.at)}</time>
              </td>
              <td>{r.outcome}</td>
              <td>{r.results.map((x) => `${x.plugin}: ${x.status}${x.reason ? ` (${x.reason})` : ''} ${x.message}`).join(' · ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}

function HtmlStats({ s }: { s: AssetStats }) {
  const h = s.plugins.htmlstats;
  if (!h?.features) return null;
  const features = Object.entries(h.features);
  return (
    <Section title="HtmlStats features">
      <p class="muted">{h.samples ?? 0} samples learned. z is how many σ the latest page is from the mean.</p>
      {features.length > 0 && (
        <table>
          <TableHead cols={['Feature', 'Mean', 'σ', 'Latest z']} />
          <tbody>
            {features.map(([name, f]) => {
              const z = h.latestZ?.[name];
              return (
                <tr key={name} class={z !== undefined && Math.abs(z) >= 3 ? 'warn' : undefined}>
                  <th scope="row">{name}</th>
                  <td class="num">{f.mean.toFixed(1)}</td>
                  <td class="num">{f.sd.toFixed(2)}</td>
                  <td class="num">{z === undefined ? '–' : z.toFixed(2)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </Section>
  );
}

function Maintenance({ asset }: { asset: Asset }) {
  const list = useLoad(() => get<{ items: MaintenanceWindow[] }>('/maintenance'), [asset.id]);
  const mine = (list.data?.items ?? []).filter((w) => w.assetIds.includes(asset.id) || w.tags.some((t) => asset.tags.includes(t)));
  return (
    <Section title="Maintenance windows">
      <ErrorText error={list.error} />
      {mine.length === 0 ? (
        <p class="muted">None covers this asset.</p>
      ) : (
        <ul>
          {mine.map((w) => (
            <li key={w.id}>
              {w.open ? <strong>open now: </strong> : null}
              {w.reason} —{' '}
              {w.recurring ? `every ${w.recurring.days.join(',')} at ${w.recurring.start} for ${w.recurring.durationMinutes} min` : `${w.start ? dateTime(w.start) : '…'} to ${w.end ? dateTime(w.end) : '…'}`}
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}

/** Badge links with a new badge token (shown once; a new one replaces the earlier token). */
function Badges({ id }: { id: string }) {
  const [token, setToken] = useState<string | null>(null);
  const base = `${location.origin}/badge/${id}`;
  return (
    <Section title="Badges">
      <p class="muted">
        Badges of an asset on a public status page need no token. For any other asset, create a badge token: it is shown once, and a new one replaces
        it.
      </p>
      <ActionButton
        label="Create a badge token"
        action={async () => setToken((await post<{ token: string }>(`/assets/${id}/badge-token`)).token)}
      />
      {token && (
        <ul class="badges">
          {(['state', 'uptime', 'latency'] as const).map((kind) => {
            const url = `${base}/${kind}.svg?window=24h&token=${encodeURIComponent(token)}`;
            return (
              <li key={kind}>
                <img src={url} alt={`${kind} badge`} height={20} /> <code>{`![${kind}](${url})`}</code>
              </li>
            );
          })}
        </ul>
      )}
    </Section>
  );
}
