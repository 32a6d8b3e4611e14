/**
 * The portal's entry point: the App shell (sign-in or the signed-in layout with its header, navigation and sign-out),
 * the hash routing to the pages in pages/, and the render call. Shared pieces live in ui.tsx, hooks.ts, paging.tsx
 * and session.ts.
 */
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { endLinkSession, setToken, whenUnauthorized } from './api';
import { go, useFocusOnChange, useRoute } from './hooks';
import { Deliveries } from './pages/deliveries';
import { DeliveryPage } from './pages/delivery';
import { EndpointPage } from './pages/endpoint-editor';
import { EndpointList, NewEndpoint } from './pages/endpoints';
import { SignIn } from './pages/sign-in';
import { useLinkSignIn } from './session';
import type { Session } from './session';
import { Loading, TIME_ZONE } from './ui';

function App() {
  const [session, setSession] = useState<Session>();
  const [notice, setNotice] = useState<string>();
  // The session as it is when a link arrives (the route's listener is set up once, with the first render's values).
  const current = useRef(session);
  current.current = session;
  const { starting, signInWithLink } = useLinkSignIn(() => current.current, setSession, setNotice);
  const route = useRoute(signInWithLink);
  useFocusOnChange(session && !starting ? `${session.tenantId} ${route.join('/')}` : undefined);

  useEffect(() => {
    whenUnauthorized(() => {
      setToken(undefined);
      setSession(undefined);
      setNotice('Your session has ended. Sign in again.');
    });
  }, []);

  if (starting)
    return (
      <main aria-busy="true">
        <Loading />
      </main>
    );
  if (!session) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(s) => {
          setNotice(undefined);
          setSession(s);
          if (!location.hash.startsWith('#/')) go('#/endpoints');
        }}
      />
    );
  }
  const { tenantId } = session;
  const [section = 'endpoints', id] = route;
  let page;
  if (section === 'deliveries' && id) page = <DeliveryPage key={id} tenantId={tenantId} eventId={id} />;
  else if (section === 'deliveries') page = <Deliveries tenantId={tenantId} />;
  else if (id === 'new') page = <NewEndpoint tenantId={tenantId} />;
  else if (id) page = <EndpointPage key={id} tenantId={tenantId} endpointId={id} />;
  else page = <EndpointList tenantId={tenantId} />;
  return (
    <>
      <a
        class="skip"
        href="#content"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('content')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Webhook portal</span>
        <nav aria-label="Main">
          <a href="#/endpoints" aria-current={section === 'endpoints' ? 'page' : undefined}>
            Endpoints
          </a>
          <a href="#/deliveries" aria-current={section === 'deliveries' ? 'page' : undefined}>
            Deliveries
          </a>
        </nav>
        <span class="muted tenant">{tenantId}</span>
        <button
          type="button"
          onClick={() => {
            const end = session.link ? endLinkSession(tenantId) : Promise.resolve();
            void end.finally(() => {
              setToken(undefined);
              setSession(undefined);
            });
          }}
        >
          Sign out
        </button>
      </header>
      <div id="content" tabIndex={-1}>
        {page}
      </div>
      <footer class="muted">Times in {TIME_ZONE}</footer>
    </>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
