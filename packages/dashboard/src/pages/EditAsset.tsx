/** Edits an asset's plugins, options, interval and tags with PATCH; the API's validation message is shown as is. */
import { useState } from 'preact/hooks';
import { get, messageOf, patch } from '../api.js';
import type { Asset } from '../types.js';
import { ErrorText, Section, useLoad } from '../components/ui.js';

interface PluginInfo {
  name: string;
  description: string;
}

export function EditAsset({ asset, onSaved }: { asset: Asset; onSaved: () => void }) {
  const plugins = useLoad(() => get<PluginInfo[]>('/plugins'), []);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    setError(null);
    setSaved(false);
    let config: unknown;
    try {
      config = JSON.parse(String(f.get('config') ?? '{}'));
    } catch (err) {
      return setError(`config: not valid JSON (${messageOf(err)})`);
    }
    try {
      await patch(`/assets/${asset.id}`, {
        plugins: f.getAll('plugins').map(String),
        interval: Number(f.get('interval')),
        tags: String(f.get('tags') ?? '').split(',').map((t) => t.trim()).filter(Boolean),
        config,
      });
      setSaved(true);
      onSaved();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <Section title="Edit">
      <form class="edit" onSubmit={submit} key={asset.id}>
        <fieldset>
          <legend>Plugins</legend>
          {(plugins.data ?? asset.plugins.map((name) => ({ name, description: '' }))).map((p) => (
            <label key={p.name} title={p.description} class="inline">
              <input type="checkbox" name="plugins" value={p.name} defaultChecked={asset.plugins.includes(p.name)} /> {p.name}
            </label>
          ))}
        </fieldset>
        <label for="edit-interval">Interval (seconds)</label>
        <input id="edit-interval" name="interval" type="number" min={1} defaultValue={String(asset.interval)} />
        <label for="edit-tags">Tags (comma-separated)</label>
        <input id="edit-tags" name="tags" defaultValue={asset.tags.join(', ')} />
        <label for="edit-config">Options per plugin (JSON; see GET /plugins for each plugin's schema)</label>
        <textarea id="edit-config" name="config" rows={10} spellcheck={false} defaultValue={JSON.stringify(asset.config, null, 2)} />
        <button type="submit">Save</button>
        {saved && (
          <span role="status" class="ok">
            Saved.
          </span>
        )}
        <ErrorText error={error} />
      </form>
    </Section>
  );
}
