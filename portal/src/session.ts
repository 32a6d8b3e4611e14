/**
 * The tab's session: starting one from an API key or a portal link (checking it names exactly one tenant), and
 * signing in with a portal link at load or later, where the latest link wins and an expired one says so. A link's
 * session that another link replaces is ended on the server, as Sign out does.
 */
import { useRef, useState } from 'preact/hooks';
import { api, endLinkSession, setToken } from './api';

export interface Session {
  tenantId: string;
  /** Signed in through a portal link: signing out ends the link on the server too. */
  link: boolean;
}

export async function startSession(token: string): Promise<Session> {
  setToken(token);
  const tenants = await api<{ items: { id: string }[] }>('GET', '/v1/tenants');
  const tenant = tenants.items[0];
  if (!tenant || tenants.items.length !== 1) {
    setToken(undefined);
    throw new Error('Sign in with a tenant API key, not the admin token.');
  }
  return { tenantId: tenant.id, link: token.startsWith('wps_') };
}

const EXPIRED_LINK = 'This portal link has expired or is not valid. Ask for a new link, or sign in with an API key.';

/**
 * Signing in with a portal link, at load or at any later time: the link's session replaces the tab's (`current`),
 * which is ended on the server first when it is a link's (an API key's session is not a link: nothing to end).
 */
export function useLinkSignIn(
  current: () => Session | undefined,
  setSession: (s: Session | undefined) => void,
  setNotice: (n: string | undefined) => void,
) {
  const [starting, setStarting] = useState(() => location.hash.startsWith('#session='));
  // The latest link wins when two are opened in a row.
  const latest = useRef(0);
  const signInWithLink = (token: string) => {
    const mine = ++latest.current;
    const replaced = current();
    const ended = replaced?.link ? endLinkSession(replaced.tenantId) : Promise.resolve();
    setStarting(true);
    setToken(undefined);
    setSession(undefined);
    const started = ended.then(() => {
      // A later link won meanwhile: this one must not set the tab's token.
      if (mine !== latest.current) return Promise.reject(new Error('replaced by a later link'));
      return /^wps_[A-Za-z0-9_-]+$/.test(token) ? startSession(token) : Promise.reject(new Error('not a portal link'));
    });
    started.then(
      (s) => {
        if (mine !== latest.current) {
          // A later link won while this one was starting: this one's session is never used, so it is ended too.
          if (s.link) void endLinkSession(s.tenantId, token);
          return;
        }
        setNotice(undefined);
        setSession(s);
        setStarting(false);
      },
      () => {
        if (mine !== latest.current) return;
        setToken(undefined);
        setNotice(EXPIRED_LINK);
        setStarting(false);
      },
    );
  };
  return { starting, signInWithLink };
}
