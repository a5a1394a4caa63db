/** Sign-in: the API key is sent once to POST /session and never kept by the page. */
import { useState } from 'preact/hooks';
import { messageOf, request } from '../api.js';
import type { Session } from '../types.js';
import { ErrorText } from '../components/ui.js';

export function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const input = form.elements.namedItem('key') as HTMLInputElement;
    setBusy(true);
    setError(null);
    try {
      const s = await request<Session>('POST', '/session', { key: input.value.trim() }, { quiet401: true });
      input.value = '';
      onSignedIn(s);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="centered">
      <form class="card signin" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to webmon</h1>
        <p>
          Use the admin key (the file <code>data/admin.key</code>; <code>npm start</code> prints where it is) or a client's API key. The key is exchanged for a session
          cookie; the page never stores it.
        </p>
        <label for="key">API key</label>
        <input id="key" name="key" type="password" autocomplete="off" required spellcheck={false} />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <ErrorText error={error} />
      </form>
    </main>
  );
}
