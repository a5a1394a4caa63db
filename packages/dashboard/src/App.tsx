/** The shell: session, navigation, the live-update stream and the page for the current route. */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, del, get, request, setCsrfToken, setUnauthorizedHandler } from './api.js';
import { parseRoute, type Route } from './format.js';
import { emitStateEvent, parseStateEvent } from './live.js';
import type { Session } from './types.js';
import { AssetDetail } from './pages/AssetDetail.js';
import { Assets } from './pages/Assets.js';
import { Ops } from './pages/Ops.js';
import { Overview } from './pages/Overview.js';
import { PublicStatus } from './pages/PublicStatus.js';
import { SignIn } from './pages/SignIn.js';
import { StatusPages } from './pages/StatusPages.js';

function currentRoute(): Route {
  return parseRoute(location.pathname, location.hash);
}

type LiveState = 'connecting' | 'live' | 'reconnecting';
const RETRY_MS = 3000;

/**
 * One EventSource per signed-in page. The browser reconnects by itself (with Last-Event-ID) after
 * a dropped connection; an answer other than 200 closes it for good, so then the session is
 * checked (a 401 returns to sign-in) and a new stream is opened a little later.
 */
function useLiveStream(enabled: boolean): LiveState {
  const [state, setState] = useState<LiveState>('connecting');
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    if (!enabled) return;
    const es = new EventSource('/events/stream', { withCredentials: true });
    let retry: ReturnType<typeof setTimeout> | undefined;
    es.onopen = () => setState('live');
    es.onerror = () => {
      setState('reconnecting');
      if (es.readyState !== EventSource.CLOSED || retry) return;
      retry = setTimeout(() => {
        get('/session').then(
          () => setAttempt((n) => n + 1),
          () => {},
        );
      }, RETRY_MS);
    };
    es.addEventListener('state', (m) => {
      const e = parseStateEvent((m as MessageEvent<string>).data);
      if (e) emitStateEvent(e);
    });
    return () => {
      clearTimeout(retry);
      es.close();
    };
  }, [enabled, attempt]);
  return state;
}

export function App() {
  const [route, setRoute] = useState<Route>(currentRoute);
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const isPublic = route.page === 'status';

  useEffect(() => {
    const onHash = () => setRoute(currentRoute());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    if (isPublic) return;
    setUnauthorizedHandler(() => {
      setCsrfToken(null);
      setSession(null);
    });
    request<Session>('GET', '/session', undefined, { quiet401: true }).then(
      (s) => {
        setCsrfToken(s.csrfToken);
        setSession(s);
      },
      (e: unknown) => {
        if (!(e instanceof ApiError && e.status === 401)) console.warn('session check failed', e);
        setSession(null);
      },
    );
  }, [isPublic]);

  const live = useLiveStream(!isPublic && !!session);

  if (route.page === 'status') return <PublicStatus slug={route.slug} />;
  if (session === undefined) return <main class="centered" aria-busy="true" />;
  if (session === null)
    return (
      <SignIn
        onSignedIn={(s) => {
          setCsrfToken(s.csrfToken);
          setSession(s);
        }}
      />
    );

  const signOut = async () => {
    try {
      await del('/session');
    } finally {
      setCsrfToken(null);
      setSession(null);
    }
  };
  const admin = session.principal.admin;
  const nav: Array<[string, string, boolean]> = [
    ['#/', 'Overview', route.page === 'overview'],
    ['#/assets', 'Assets', route.page === 'assets' || route.page === 'asset'],
    ['#/pages', 'Status pages', route.page === 'pages'],
  ];
  if (admin) nav.push(['#/ops', 'Operations', route.page === 'ops']);

  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href="#/">
          webmon
        </a>
        <nav aria-label="Main">
          {nav.map(([href, label, current]) => (
            <a key={href} href={href} aria-current={current ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span class={`live live-${live}`} role="status" title="Live updates from /events/stream">
          {live === 'live' ? '● live' : live}
        </span>
        <span class="who">
          {admin ? 'admin' : `client ${session.principal.id}`}
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main">
        <Page route={route} admin={admin} />
      </main>
    </div>
  );
}

function Page({ route, admin }: { route: Route; admin: boolean }) {
  switch (route.page) {
    case 'assets':
      return <Assets filter={route} />;
    case 'asset':
      return <AssetDetail id={route.id} />;
    case 'ops':
      return admin ? <Ops /> : <p>Operations are for the admin.</p>;
    case 'pages':
      return <StatusPages />;
    default:
      return <Overview />;
  }
}
