/**
 * Hooks shared by the shell and the pages: the hash route (and taking a portal link's token out of it), navigation,
 * loading one resource per key, and moving focus to the page's heading when the page changes.
 */
import { useEffect, useState } from 'preact/hooks';
import { loadErrorOf } from './ui';
import type { LoadError } from './ui';

const readRoute = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);

/**
 * Takes a portal link's token out of the address bar, if the hash is one (`#session=…`), and returns it. The token
 * sits in the fragment, which browsers never send to a server; it is removed at once, on a fresh load or later.
 */
function takeLinkToken(): string | undefined {
  if (!location.hash.startsWith('#session=')) return undefined;
  const token = location.hash.slice('#session='.length);
  history.replaceState(null, '', `${location.pathname}#/endpoints`);
  return token;
}

/** The route from the hash; a portal link in the hash (at load or later) goes to `onLink` instead. */
export function useRoute(onLink: (token: string) => void): string[] {
  const [route, setRoute] = useState(readRoute);
  useEffect(() => {
    const onChange = () => {
      const token = takeLinkToken();
      if (token !== undefined) onLink(token);
      setRoute(readRoute());
    };
    onChange();
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export const go = (hash: string) => {
  location.hash = hash;
};

/** Loads once per key; `reload` fetches again. */
export function useLoad<T>(load: () => Promise<T>, key: string) {
  const [state, setState] = useState<{ data?: T; error?: LoadError; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (err: unknown) => live && setState({ error: loadErrorOf(err), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [key, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

/** Moves focus to the page's main heading (else the content region) when `key` (sign-in, route) changes. */
export function useFocusOnChange(key: string | undefined) {
  useEffect(() => {
    if (key === undefined) return;
    const content = document.getElementById('content');
    const heading = content?.querySelector<HTMLElement>('h1');
    (heading ?? content)?.focus();
  }, [key]);
}
