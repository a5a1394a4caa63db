/** The caller's public status pages: create (slug, title, tags and/or asset ids), open, delete; badge snippets. */
import { useState } from 'preact/hooks';
import { del, get, messageOf, post } from '../api.js';
import { ActionButton, ErrorText, Section, useLoad } from '../components/ui.js';

interface StatusPage {
  slug: string;
  title: string;
  description?: string;
  assetIds?: string[];
  tags?: string[];
}

const list = (v: FormDataEntryValue | null) =>
  String(v ?? '')
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);

export function StatusPages() {
  const pages = useLoad(() => get<{ items: StatusPage[] }>('/status-pages'), []);
  const [error, setError] = useState<string | null>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    setError(null);
    try {
      const description = String(f.get('description') ?? '').trim();
      await post('/status-pages', { slug: String(f.get('slug') ?? '').trim(), title: String(f.get('title') ?? '').trim(), ...(description ? { description } : {}), tags: list(f.get('tags')), assetIds: list(f.get('assetIds')) });
      form.reset();
      pages.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const origin = location.origin;
  return (
    <>
      <h1>Status pages</h1>
      <p>
        A status page is public: anyone with its address sees the current state, 90-day uptime and open maintenance of the assets it lists (by tag
        or by id), and nothing else — no URL credentials, no options.
      </p>
      <Section title="Your status pages">
        <ErrorText error={pages.error} />
        {pages.data && pages.data.items.length === 0 && <p class="muted">None yet.</p>}
        <ul class="pages">
          {(pages.data?.items ?? []).map((p) => (
            <li key={p.slug}>
              <a href={`/status/${p.slug}`}>{p.title}</a> <code>/status/{p.slug}</code> {p.tags?.length ? `tags: ${p.tags.join(', ')}` : ''}{' '}
              {p.assetIds?.length ? `${p.assetIds.length} asset${p.assetIds.length === 1 ? '' : 's'}` : ''}
              <div class="muted small">
                <img src={`/badge/${p.slug}/state.svg`} alt={`State badge of ${p.title}`} height={20} /> Badge for a README:{' '}
                <code>{`![status](${origin}/badge/${p.slug}/state.svg)`}</code>
              </div>
              <ActionButton label="Delete" confirm="Confirm delete" class="danger" action={() => del(`/status-pages/${p.slug}`)} onDone={pages.reload} />
            </li>
          ))}
        </ul>
      </Section>
      <Section title="Publish a status page">
        <form class="edit" onSubmit={create}>
          <label for="sp-slug">Slug (lower-case letters, digits, dashes)</label>
          <input id="sp-slug" name="slug" required pattern="[a-z0-9][a-z0-9\-]{1,62}" />
          <label for="sp-title">Title</label>
          <input id="sp-title" name="title" required />
          <label for="sp-description">Description (optional)</label>
          <input id="sp-description" name="description" />
          <label for="sp-tags">Tags (comma-separated): assets with any of them are shown</label>
          <input id="sp-tags" name="tags" />
          <label for="sp-assets">Asset ids (comma-separated)</label>
          <input id="sp-assets" name="assetIds" />
          <button type="submit">Publish</button>
          <ErrorText error={error} />
        </form>
      </Section>
    </>
  );
}
