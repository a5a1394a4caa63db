/** Operations (admin): failed jobs with retry, clients with their webhook status, snapshots. */
import { ApiError, get, post, qs } from '../api.js';
import { ago, dateTime } from '../format.js';
import { ActionButton, ErrorText, Section, TableHead, useLoad } from '../components/ui.js';

interface Job {
  id: string;
  assetId: string;
  attempts: number;
  createdAt: string;
  finishedAt: string | null;
  error: string | null;
}
interface Client {
  id: string;
  name: string;
  createdAt: string;
}
interface Webhook {
  url: string;
  enabled: boolean;
  failures: number;
  disabledReason: string | null;
  lastDeliveryAt: string | null;
  lastError: string | null;
  pending: number;
}
interface Snapshots {
  lastSaveAt: string | number | null;
  lastOk: boolean | null;
  inProgress: boolean;
}

export function Ops() {
  return (
    <>
      <h1>Operations</h1>
      <Snapshot />
      <FailedJobs />
      <Clients />
    </>
  );
}

function Snapshot() {
  const snap = useLoad(() => get<Snapshots>('/snapshots'), []);
  const s = snap.data;
  return (
    <Section title="Snapshots">
      <ErrorText error={snap.error} />
      {s && (
        <p>
          Last save: {s.lastSaveAt ? `${dateTime(s.lastSaveAt)} (${ago(s.lastSaveAt)})` : 'never'}, {s.lastOk === false ? 'FAILED' : s.lastOk ? 'ok' : 'status unknown'}
          {s.inProgress ? ', a save is in progress' : ''}.
        </p>
      )}
      <ActionButton
        label="Snapshot now"
        action={async () => {
          // POST /snapshots answers when Redis has saved, with the new status.
          const done = await post<Snapshots>('/snapshots');
          snap.set(() => done);
        }}
      />
    </Section>
  );
}

function FailedJobs() {
  const jobs = useLoad(() => get<{ items: Job[]; more: boolean }>(`/jobs/failed${qs({ limit: 50 })}`), []);
  const items = jobs.data?.items ?? [];
  return (
    <Section title="Failed jobs">
      <ErrorText error={jobs.error} />
      {jobs.data && items.length === 0 && <p class="muted">No failed job.</p>}
      {items.length > 0 && (
        <table>
          <TableHead cols={['Job', 'Asset', 'Attempts', 'Failed', 'Error', 'Action']} />
          <tbody>
            {items.map((j) => (
              <tr key={j.id}>
                <td>
                  <code>{j.id}</code>
                </td>
                <td>
                  <a href={`#/assets/${j.assetId}`}>{j.assetId}</a>
                </td>
                <td class="num">{j.attempts}</td>
                <td>{ago(j.finishedAt ?? j.createdAt)}</td>
                <td>{j.error}</td>
                <td>
                  <ActionButton label="Retry" action={() => post(`/jobs/${j.id}/retry`)} onDone={jobs.reload} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {jobs.data?.more && <p class="muted">Showing the 50 newest.</p>}
    </Section>
  );
}

function Clients() {
  const clients = useLoad(() => get<{ items: Client[] }>('/clients'), []);
  const items = clients.data?.items ?? [];
  return (
    <Section title="Clients and webhooks">
      <ErrorText error={clients.error} />
      {clients.data && items.length === 0 && <p class="muted">No client yet (POST /clients creates one).</p>}
      {items.length > 0 && (
        <table>
          <TableHead cols={['Client', 'Id', 'Created', 'Webhook']} />
          <tbody>
            {items.map((c) => (
              <tr key={c.id}>
                <th scope="row">{c.name}</th>
                <td>
                  <code>{c.id}</code>
                </td>
                <td>{dateTime(c.createdAt)}</td>
                <td>
                  <WebhookStatus clientId={c.id} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}

/** A client's webhook: none (404), healthy, or disabled with its reason and a re-enable button. */
function WebhookStatus({ clientId }: { clientId: string }) {
  const hook = useLoad(
    () =>
      get<Webhook>(`/clients/${clientId}/webhook`).catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 404) return null;
        throw e;
      }),
    [clientId],
  );
  const w = hook.data;
  if (hook.error) return <ErrorText error={hook.error} />;
  if (w === undefined) return <span class="muted">…</span>;
  if (w === null) return <span class="muted">none</span>;
  return (
    <span>
      {w.url} — {w.enabled ? 'enabled' : <strong>disabled{w.disabledReason ? `: ${w.disabledReason}` : ''}</strong>}, {w.failures} failures, {w.pending} pending
      {w.lastError ? `, last error: ${w.lastError}` : ''}
      {!w.enabled && <ActionButton label="Re-enable" action={() => post(`/clients/${clientId}/webhook/enable`)} onDone={hook.reload} />}
    </span>
  );
}
