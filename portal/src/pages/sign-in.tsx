/** The sign-in page: an API key form that starts a session, with the notice of a session that ended or a bad link. */
import { useState } from 'preact/hooks';
import { ApiError, setToken } from '../api';
import { startSession } from '../session';
import type { Session } from '../session';
import { ErrorBox, PageHeading, messageOf } from '../ui';

export function SignIn({ onSignedIn, notice }: { onSignedIn: (s: Session) => void; notice?: string }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>(notice);
  const [busy, setBusy] = useState(false);
  return (
    <main class="signin">
      {/* Focused when it appears in place of the signed-in page (after Sign out), not left on <body>. */}
      <PageHeading>Sign in to the webhook portal</PageHeading>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          setError(undefined);
          startSession(key.trim()).then(onSignedIn, (err: unknown) => {
            setToken(undefined);
            setError(err instanceof ApiError && err.status === 401 ? 'That API key is not valid.' : messageOf(err));
            setBusy(false);
          });
        }}
      >
        <label for="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autoComplete="off"
          spellcheck={false}
          required
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
        />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <div class="reserve">{error && <ErrorBox message={error} />}</div>
      <p class="hint">Your key is kept in this tab's memory only; closing the tab signs you out.</p>
    </main>
  );
}
