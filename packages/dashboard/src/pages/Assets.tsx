/**
 * Assets: one server-side page at a time (filters by state, tag and text go to GET /assets; a
 * cursor pages on), rows follow live state changes, bulk add by pasting URLs, bulk actions.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { del, get, messageOf, patch, post, qs } from '../api.js';
import { ago, assetsHash, ms, pastedUrls, percent } from '../format.js';
import { onStateEvent } from '../live.js';
import { STATES, type Asset, type BatchItem, type Page } from '../types.js';
import { ActionButton, ErrorText, type Loaded, StateBadge, useLoad } from '../components/ui.js';

const PAGE_SIZE = 50;
const FIELDS = 'id,url,state,stateReason,stateChangedAt,lastCheckAt,tags,paused,plugins';
type SortKey = 'url' | 'state' | 'lastCheckAt' | 'uptime' | 'p95';

export interface AssetFilter {
  state: string;
  tag: string;
  q: string;
}

/**
 * Follows live state changes: a row on this page changes state at once; then the page is fetched
 * again (at most once a second) for the 24 h numbers and for assets that now match the filter.
 */
function useLiveRows(page: Loaded<Page<Asset>>) {
  const { set, reload } = page;
  useEffect(() => {
    let pending: ReturnType<typeof setTimeout> | undefined;
    const off = onStateEvent((e) => {
      set((p) => {
        if (!p?.items.some((a) => a.id === e.assetId)) return p;
        const at = new Date(e.at).toISOString();
        return { ...p, items: p.items.map((a) => (a.id === e.assetId ? { ...a, state: e.to, stateReason: e.reason || null, stateChangedAt: at, lastCheckAt: at } : a)) };
      });
      pending ??= setTimeout(() => {
        pending = undefined;
        reload();
      }, 1000);
    });
    return () => {
      off();
      clearTimeout(pending);
    };
  }, [set, reload]);
}

function sortRows(rows: Asset[], key: SortKey | null, desc: boolean): Asset[] {
  if (!key) return rows;
  const value = (a: Asset): string | number => {
    if (key === 'uptime') return a.stats24h?.uptimePercent ?? -1;
    if (key === 'p95') return a.stats24h?.p95Ms ?? -1;
    if (key === 'lastCheckAt') return a.lastCheckAt ?? '';
    if (key === 'state') return STATES.indexOf(a.state);
    return a.url;
  };
  const sorted = [...rows].sort((x, y) => {
    const a = value(x);
    const b = value(y);
    return a < b ? -1 : a > b ? 1 : 0;
  });
  return desc ? sorted.reverse() : sorted;
}

export function Assets({ filter }: { filter: AssetFilter }) {
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const key = `${filter.state}|${filter.tag}|${filter.q}`;
  useEffect(() => setCursors([]), [key]);
  const page = useLoad(
    () => get<Page<Asset>>(`/assets${qs({ state: filter.state, tag: filter.tag, q: filter.q, limit: PAGE_SIZE, cursor, fields: FIELDS, include: 'stats24h' })}`),
    [key, cursor],
  );
  useLiveRows(page);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [sort, setSort] = useState<{ key: SortKey | null; desc: boolean }>({ key: null, desc: false });
  const rows = useMemo(() => sortRows(page.data?.items ?? [], sort.key, sort.desc), [page.data, sort]);
  const ids = [...selected].filter((id) => rows.some((r) => r.id === id));
  const done = () => {
    setSelected(new Set());
    page.reload();
  };

  return (
    <>
      <h1>Assets</h1>
      <AddAssets onAdded={page.reload} />
      <Filters filter={filter} />
      <div class="toolbar" role="toolbar" aria-label="Selected assets">
        <span>{ids.length} selected</span>
        <ActionButton label="Check now" action={() => post('/jobs', { assetIds: ids })} onDone={done} />
        <ActionButton label="Pause" action={() => Promise.all(ids.map((id) => patch(`/assets/${id}`, { paused: true })))} onDone={done} />
        <ActionButton label="Resume" action={() => Promise.all(ids.map((id) => patch(`/assets/${id}`, { paused: false })))} onDone={done} />
        <ActionButton label="Delete" confirm={`Really delete ${ids.length}?`} class="danger" action={() => Promise.all(ids.map((id) => del(`/assets/${id}`)))} onDone={done} />
      </div>
      <ErrorText error={page.error} />
      <table class="assets" aria-busy={page.loading}>
        <caption class="muted">Sorting orders the assets of this page; filters and paging are done by the server.</caption>
        <thead>
          <tr>
            <th scope="col">
              <input
                type="checkbox"
                aria-label="Select all on this page"
                checked={rows.length > 0 && ids.length === rows.length}
                onChange={(e) => setSelected(new Set((e.currentTarget as HTMLInputElement).checked ? rows.map((r) => r.id) : []))}
              />
            </th>
            <SortHeader label="State" k="state" sort={sort} setSort={setSort} />
            <SortHeader label="URL" k="url" sort={sort} setSort={setSort} />
            <th scope="col">Tags</th>
            <SortHeader label="Last check" k="lastCheckAt" sort={sort} setSort={setSort} />
            <SortHeader label="Uptime 24 h" k="uptime" sort={sort} setSort={setSort} />
            <SortHeader label="p95 24 h" k="p95" sort={sort} setSort={setSort} />
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((a) => (
            <AssetRow key={a.id} a={a} selected={selected.has(a.id)} onSelect={(on) => setSelected((s) => toggle(s, a.id, on))} onChanged={page.reload} />
          ))}
        </tbody>
      </table>
      {page.data && rows.length === 0 && <p class="muted">No asset matches.</p>}
      <nav class="pager" aria-label="Pages">
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors((c) => c.slice(0, -1))}>
          Previous page
        </button>
        <button type="button" disabled={!page.data?.nextCursor} onClick={() => page.data?.nextCursor && setCursors((c) => [...c, page.data!.nextCursor!])}>
          Next page
        </button>
      </nav>
    </>
  );
}

function toggle(s: Set<string>, id: string, on: boolean): Set<string> {
  const n = new Set(s);
  if (on) n.add(id);
  else n.delete(id);
  return n;
}

function SortHeader({ label, k, sort, setSort }: { label: string; k: SortKey; sort: { key: SortKey | null; desc: boolean }; setSort: (s: { key: SortKey; desc: boolean }) => void }) {
  const active = sort.key === k;
  return (
    <th scope="col" aria-sort={active ? (sort.desc ? 'descending' : 'ascending') : 'none'}>
      <button type="button" class="link" onClick={() => setSort({ key: k, desc: active ? !sort.desc : false })}>
        {label}
        {active ? (sort.desc ? ' ▼' : ' ▲') : ''}
      </button>
    </th>
  );
}

function AssetRow({ a, selected, onSelect, onChanged }: { a: Asset; selected: boolean; onSelect: (on: boolean) => void; onChanged: () => void }) {
  return (
    <tr data-asset-id={a.id} data-state={a.state}>
      <td>
        <input type="checkbox" aria-label={`Select ${a.url}`} checked={selected} onChange={(e) => onSelect((e.currentTarget as HTMLInputElement).checked)} />
      </td>
      <td>
        <StateBadge state={a.state} />
        {a.stateReason && <span class="muted small"> {a.stateReason}</span>}
      </td>
      <td class="url">
        <a href={`#/assets/${a.id}`}>{a.url}</a>
      </td>
      <td>{a.tags.join(', ')}</td>
      <td>{ago(a.lastCheckAt)}</td>
      <td class="num">{percent(a.stats24h?.uptimePercent)}</td>
      <td class="num">{ms(a.stats24h?.p95Ms)}</td>
      <td class="row-actions">
        <ActionButton label="Check now" action={() => post('/jobs', { assetIds: [a.id] })} />
        <ActionButton label={a.paused ? 'Resume' : 'Pause'} action={() => patch(`/assets/${a.id}`, { paused: !a.paused })} onDone={onChanged} />
        <ActionButton label="Delete" confirm="Confirm delete" class="danger" action={() => del(`/assets/${a.id}`)} onDone={onChanged} />
      </td>
    </tr>
  );
}

function Filters({ filter }: { filter: AssetFilter }) {
  const submit = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    location.hash = assetsHash({ state: String(f.get('state') ?? ''), tag: String(f.get('tag') ?? '').trim(), q: String(f.get('q') ?? '').trim() });
  };
  return (
    <form class="filters" onSubmit={submit} aria-label="Filter assets" key={`${filter.state}|${filter.tag}|${filter.q}`}>
      <label>
        State
        <select name="state" value={filter.state}>
          <option value="">any</option>
          {STATES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label>
        Tag
        <input name="tag" value={filter.tag} />
      </label>
      <label>
        URL contains
        <input name="q" type="search" value={filter.q} />
      </label>
      <button type="submit">Filter</button>
    </form>
  );
}

interface LineResult {
  line: number;
  url: string;
  error?: string;
  id?: string;
  created?: boolean;
}

/** Pastes URLs, one per line, into POST /assets/batch; each line gets the API's verdict. */
function AddAssets({ onAdded }: { onAdded: () => void }) {
  const [results, setResults] = useState<LineResult[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const text = (form.elements.namedItem('urls') as HTMLTextAreaElement).value;
    const tags = (form.elements.namedItem('tags') as HTMLInputElement).value.split(',').map((t) => t.trim()).filter(Boolean);
    const lines = pastedUrls(text);
    if (lines.length === 0) return setError('Paste at least one URL.');
    setBusy(true);
    setError(null);
    try {
      const res = await post<{ items: BatchItem[] }>('/assets/batch', { assets: lines.map((l) => (tags.length ? { url: l.url, tags } : { url: l.url })) });
      const out = lines.map((l, i) => {
        const item = res.items.find((it) => it.index === i);
        // The API names the batch index (`assets.3.url`); the page names the line instead.
        return { ...l, error: item?.error?.message.replace(/^assets\.\d+\./, ''), id: item?.id, created: item?.created };
      });
      setResults(out);
      const ids = out.flatMap((r) => (r.id ? [r.id] : []));
      // New assets are checked at once, so they turn up (or down) without waiting for their interval.
      if (ids.length) await post('/jobs', { assetIds: ids });
      (form.elements.namedItem('urls') as HTMLTextAreaElement).value = out.filter((r) => r.error).map((r) => r.url).join('\n');
      onAdded();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <details class="card add">
      <summary>Add assets</summary>
      <form onSubmit={submit}>
        <label for="add-urls">URLs, one per line</label>
        <textarea id="add-urls" name="urls" rows={5} placeholder={'https://example.com/\nhttps://shop.example.com/health'} spellcheck={false} />
        <label for="add-tags">Tags (comma-separated, optional)</label>
        <input id="add-tags" name="tags" />
        <button type="submit" disabled={busy}>
          {busy ? 'Adding…' : 'Add'}
        </button>
      </form>
      <ErrorText error={error} />
      {results && (
        <ul class="add-results" aria-live="polite">
          {results.map((r) => (
            <li key={r.line} class={r.error ? 'error' : 'ok'} data-line={r.line}>
              line {r.line}: {r.url} — {r.error ?? (r.created ? 'added' : 'already monitored')}
            </li>
          ))}
        </ul>
      )}
    </details>
  );
}
