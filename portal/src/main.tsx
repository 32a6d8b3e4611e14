import { render } from 'preact';
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, setToken, whenUnauthorized } from './api';
import type { Delivery, DeliverySummary, DryRun, Endpoint, Page, SentTest } from './api';

/* ---------- helpers ---------- */

const TIME_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;
const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** A time in the user's time zone, with the ISO value as the machine-readable form. */
function Time({ iso }: { iso: string }) {
  const date = new Date(iso);
  return <time dateTime={iso}>{Number.isNaN(date.getTime()) ? iso : timeFormat.format(date)}</time>;
}

function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.field ? `${err.message}` : err.message;
  return err instanceof Error ? err.message : String(err);
}

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
function useRoute(onLink: (token: string) => void): string[] {
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

const go = (hash: string) => {
  location.hash = hash;
};

/** Loads once per key; `reload` fetches again. */
function useLoad<T>(load: () => Promise<T>, key: string) {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (err: unknown) => live && setState({ error: messageOf(err), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [key, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

interface Paged<T> {
  items: T[];
  nextCursor?: string;
  /** The first page has been answered (for the current query). */
  loaded: boolean;
  loading: boolean;
  error?: string;
  loadingMore: boolean;
  moreError?: string;
}

/**
 * A cursor-paged list (`{items, nextCursor}`) at `url`, which holds the query (with `limit`), with "Show more". An
 * answer for a query that is no longer current (the filters changed while it was on its way) is dropped.
 */
function usePaged<T>(url: string) {
  const [state, setState] = useState<Paged<T>>({ items: [], loaded: false, loading: true, loadingMore: false });
  const [tick, setTick] = useState(0);
  // Bumped for every new first page: an answer carries the generation it was asked in.
  const generation = useRef(0);
  useEffect(() => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true, error: undefined, loadingMore: false, moreError: undefined }));
    api<Page<T>>('GET', url).then(
      (page) =>
        mine === generation.current &&
        setState({ items: page.items, nextCursor: page.nextCursor, loaded: true, loading: false, loadingMore: false }),
      (err: unknown) =>
        mine === generation.current &&
        setState({ items: [], loaded: false, loading: false, error: messageOf(err), loadingMore: false }),
    );
    return () => {
      generation.current++;
    };
  }, [url, tick]);
  const showMore = () => {
    const cursor = state.nextCursor;
    if (!cursor || state.loadingMore) return;
    const mine = generation.current;
    setState((s) => ({ ...s, loadingMore: true, moreError: undefined }));
    api<Page<T>>('GET', `${url}&cursor=${encodeURIComponent(cursor)}`).then(
      (page) =>
        mine === generation.current &&
        setState((s) => ({
          ...s,
          items: [...s.items, ...page.items],
          nextCursor: page.nextCursor,
          loadingMore: false,
        })),
      (err: unknown) =>
        mine === generation.current && setState((s) => ({ ...s, loadingMore: false, moreError: messageOf(err) })),
    );
  };
  return { ...state, reload: () => setTick((t) => t + 1), showMore };
}

/** "Show more" under a paged list, with the error of a failed page and its retry. */
function ShowMore({ list, label = 'Show more' }: { list: ReturnType<typeof usePaged>; label?: string }) {
  return (
    <>
      {/* A screen-high placeholder, shown as the button is clicked (a shift the user caused): the rows arriving
          later take its place without moving anything in view. */}
      {list.loadingMore && <Loading fill />}
      {list.moreError && <ErrorBox message={list.moreError} retry={list.showMore} />}
      {list.nextCursor && (
        <div class="actions">
          <button type="button" disabled={list.loadingMore} onClick={list.showMore}>
            {list.loadingMore ? 'Loading…' : label}
          </button>
        </div>
      )}
    </>
  );
}

/**
 * The page's main heading, focusable by script: focus moves here after sign-in and route changes. One that
 * replaces another (a loaded page after its placeholder) takes the focus the removed one had.
 */
function PageHeading({ children, class: className }: { children: ComponentChildren; class?: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (document.activeElement === document.body || document.activeElement === null) ref.current?.focus();
  }, []);
  return (
    <h1 ref={ref} tabIndex={-1} class={className}>
      {children}
    </h1>
  );
}

/** A table that may scroll sideways on a narrow screen: a named region a keyboard can reach and scroll. */
function TableWrap({ label, busy, children }: { label: string; busy?: boolean; children: ComponentChildren }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={label} aria-busy={busy}>
      {children}
    </div>
  );
}

/** Which input of a form an API error is about: its `field` (first segment), named by `ids` (field → input id). */
function invalidInput(err: unknown, ids: Record<string, string>): { id: string; message: string } | undefined {
  if (!(err instanceof ApiError)) return undefined;
  // A refused destination is always about the URL, though the API names no field for it.
  const field = err.field?.split('.')[0] ?? (err.code === 'destination_not_allowed' ? 'url' : undefined);
  const id = field === undefined ? undefined : ids[field];
  if (id === undefined) return undefined;
  const prefix = `${err.field ?? ''}: `;
  return { id, message: err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message };
}

/**
 * Field-level errors of a form: the message beside the input, `aria-invalid` and `aria-describedby` on it, and focus
 * moved to it.
 */
function useFieldErrors(ids: Record<string, string>) {
  const [invalid, setInvalid] = useState<{ id: string; message: string }>();
  useEffect(() => {
    if (invalid) document.getElementById(invalid.id)?.focus();
  }, [invalid]);
  return {
    clear: () => setInvalid(undefined),
    /** Shows the error beside its field; false when it names no field of this form. */
    show: (err: unknown): boolean => {
      const found = invalidInput(err, ids);
      setInvalid(found);
      return found !== undefined;
    },
    /** Attributes for the input `id` (keeping its own hint in `describedBy`). */
    props: (id: string, describedBy?: string) => {
      const described = [describedBy, invalid?.id === id ? `${id}-error` : undefined].filter(Boolean).join(' ');
      return { 'aria-invalid': invalid?.id === id ? true : undefined, 'aria-describedby': described || undefined };
    },
    message: (id: string) =>
      invalid?.id === id ? (
        <p id={`${id}-error`} class="field-error">
          {invalid.message}
        </p>
      ) : null,
  };
}

function ErrorBox({ message, retry }: { message: string; retry?: () => void }) {
  return (
    <div class="error" role="alert">
      <p>{message}</p>
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** A placeholder while loading; `fill`: at least a screen high. */
function Loading({ rows = 3, fill = false }: { rows?: number; fill?: boolean }) {
  return (
    <div class={fill ? 'skeleton fill' : 'skeleton'} aria-busy="true" aria-label="Loading">
      {Array.from({ length: rows }, (_, i) => (
        <div key={i} class="skeleton-row" />
      ))}
    </div>
  );
}

/** A modal dialog (native <dialog>: focus stays inside, Escape closes). */
function Modal({ title, children, onClose }: { title: string; children: ComponentChildren; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog ref={ref} aria-labelledby="modal-title" onClose={onClose}>
      <h2 id="modal-title">{title}</h2>
      {children}
    </dialog>
  );
}

/** A secret shown once, with a copy button. */
function SecretOnce({ secret, onDone }: { secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <Modal title="Signing secret" onClose={onDone}>
      <p>Copy it now: it is shown only once.</p>
      <code class="secret" data-testid="secret-value">
        {secret}
      </code>
      <div class="actions">
        <button
          type="button"
          onClick={() => {
            void navigator.clipboard?.writeText(secret).then(() => setCopied(true));
          }}
        >
          Copy
        </button>
        <span role="status">{copied ? 'Copied to the clipboard' : ''}</span>
        <button type="button" class="primary" onClick={onDone}>
          Done
        </button>
      </div>
    </Modal>
  );
}

/* ---------- sign in ---------- */

interface Session {
  tenantId: string;
  /** Signed in through a portal link: signing out ends the link on the server too. */
  link: boolean;
}

async function startSession(token: string): Promise<Session> {
  setToken(token);
  const tenants = await api<{ items: { id: string }[] }>('GET', '/v1/tenants');
  const tenant = tenants.items[0];
  if (!tenant || tenants.items.length !== 1) {
    setToken(undefined);
    throw new Error('Sign in with a tenant API key, not the admin token.');
  }
  return { tenantId: tenant.id, link: token.startsWith('wps_') };
}

function SignIn({ onSignedIn, notice }: { onSignedIn: (s: Session) => void; notice?: string }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>(notice);
  const [busy, setBusy] = useState(false);
  return (
    <main class="signin">
      <h1>Sign in to the webhook portal</h1>
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

/* ---------- endpoints ---------- */

function EndpointState({ endpoint }: { endpoint: Endpoint }) {
  if (endpoint.enabled)
    return (
      <span class="badge ok" data-testid="endpoint-state">
        Enabled
      </span>
    );
  return (
    <span class="badge off" data-testid="endpoint-state">
      Disabled{endpoint.disabledReason ? `: ${reasonText(endpoint.disabledReason)}` : ''}
    </span>
  );
}

function reasonText(reason: string): string {
  switch (reason) {
    case 'gone':
      return 'the receiver answered 410 Gone';
    case 'failing':
      return 'too many failed deliveries in a row';
    default:
      return reason;
  }
}

const ENDPOINT_PAGE_SIZE = 50;

function EndpointList({ tenantId }: { tenantId: string }) {
  const list = usePaged<Endpoint>(`/v1/tenants/${tenantId}/endpoints?limit=${ENDPOINT_PAGE_SIZE}`);
  return (
    <main>
      <div class="title-row">
        <PageHeading>Endpoints</PageHeading>
        <button type="button" class="primary" onClick={() => go('#/endpoints/new')}>
          New endpoint
        </button>
      </div>
      {list.loading && !list.loaded && <Loading />}
      {list.error && <ErrorBox message={list.error} retry={list.reload} />}
      {list.loaded && list.items.length === 0 && (
        <p class="empty">No endpoints yet. Create one to start receiving webhooks.</p>
      )}
      {list.items.length > 0 && (
        <ul class="cards">
          {list.items.map((e) => (
            <li key={e.id} class="card">
              <a href={`#/endpoints/${encodeURIComponent(e.id)}`}>{e.description ?? e.url}</a>
              <div class="muted break">{e.url}</div>
              <div class="row">
                <EndpointState endpoint={e} />
                <span class="muted">{e.eventTypes.join(', ')}</span>
              </div>
            </li>
          ))}
        </ul>
      )}
      <ShowMore list={list} />
    </main>
  );
}

function NewEndpoint({ tenantId }: { tenantId: string }) {
  const [url, setUrl] = useState('');
  const [types, setTypes] = useState('');
  const [description, setDescription] = useState('');
  const [error, setError] = useState<string>();
  const [created, setCreated] = useState<{ id: string; secret: string }>();
  const fields = useFieldErrors(NEW_FIELDS);
  return (
    <main>
      <PageHeading>New endpoint</PageHeading>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          setError(undefined);
          fields.clear();
          api<Endpoint & { secret: string }>('POST', `/v1/tenants/${tenantId}/endpoints`, {
            url: url.trim(),
            eventTypes: splitTypes(types),
            ...(description.trim() ? { description: description.trim() } : {}),
          }).then(
            (ep) => setCreated({ id: ep.id, secret: ep.secret }),
            (err: unknown) => {
              if (!fields.show(err)) setError(messageOf(err));
            },
          );
        }}
      >
        <label for="new-url">URL</label>
        <input
          id="new-url"
          type="url"
          required
          {...fields.props('new-url')}
          value={url}
          onInput={(e) => setUrl(e.currentTarget.value)}
        />
        {fields.message('new-url')}
        <label for="new-types">Event types</label>
        <input
          id="new-types"
          required
          {...fields.props('new-types', 'new-types-hint')}
          value={types}
          onInput={(e) => setTypes(e.currentTarget.value)}
        />
        {fields.message('new-types')}
        <p id="new-types-hint" class="hint">
          Comma-separated, e.g. <code>order.created, invoice.*</code>
        </p>
        <label for="new-description">Description</label>
        <input
          id="new-description"
          {...fields.props('new-description')}
          value={description}
          onInput={(e) => setDescription(e.currentTarget.value)}
        />
        {fields.message('new-description')}
        <div class="actions">
          <button type="submit" class="primary">
            Create endpoint
          </button>
          <a href="#/endpoints">Cancel</a>
        </div>
        <div class="reserve">{error && <ErrorBox message={error} />}</div>
      </form>
      {created && (
        <SecretOnce secret={created.secret} onDone={() => go(`#/endpoints/${encodeURIComponent(created.id)}`)} />
      )}
    </main>
  );
}

/** The API's field names, as the ids of the inputs that edit them, per form. */
const NEW_FIELDS = { url: 'new-url', eventTypes: 'new-types', description: 'new-description' };
const DETAIL_FIELDS = { url: 'ep-url', description: 'ep-description' };
const SUBSCRIPTION_FIELDS = { eventTypes: 'ep-types', filter: 'ep-filter', transform: 'ep-transform' };

/** Event ids of test events sent from this tab, with when: their delivery page waits a moment for them to start. */
const sentTests = new Map<string, number>();

function splitTypes(text: string): string[] {
  return text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
}

const KNOWN_FIELDS = new Set([
  'id',
  'tenantId',
  'url',
  'description',
  'eventTypes',
  'enabled',
  'disabledReason',
  'filter',
  'transform',
  'createdAt',
  'updatedAt',
]);

/** Parses the filter editor's text: empty is "no filter". */
function parseFilter(text: string): { ok: true; value: unknown } | { ok: false } {
  if (text.trim() === '') return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function EndpointPage({ tenantId, endpointId }: { tenantId: string; endpointId: string }) {
  const base = `/v1/tenants/${tenantId}/endpoints/${encodeURIComponent(endpointId)}`;
  const loaded = useLoad(() => api<Endpoint>('GET', base), base);
  const [endpoint, setEndpoint] = useState<Endpoint>();
  useEffect(() => {
    if (loaded.data) setEndpoint(loaded.data);
  }, [loaded.data]);
  if (loaded.error)
    return (
      <main>
        <PageHeading>Endpoint</PageHeading>
        <ErrorBox message={loaded.error} retry={loaded.reload} />
      </main>
    );
  if (!endpoint)
    return (
      <main>
        <PageHeading>Endpoint</PageHeading>
        <Loading rows={6} />
      </main>
    );
  return <EndpointEditor key={endpoint.id} base={base} endpoint={endpoint} onChange={setEndpoint} />;
}

function EndpointEditor({
  base,
  endpoint,
  onChange,
}: {
  base: string;
  endpoint: Endpoint;
  onChange: (e: Endpoint) => void;
}) {
  const [url, setUrl] = useState(endpoint.url);
  const [description, setDescription] = useState(endpoint.description ?? '');
  const [types, setTypes] = useState(endpoint.eventTypes.join(', '));
  const [filter, setFilter] = useState(endpoint.filter === undefined ? '' : JSON.stringify(endpoint.filter, null, 2));
  const [transform, setTransform] = useState(endpoint.transform ?? '');
  const firstType = endpoint.eventTypes.find((t) => !t.includes('*')) ?? 'test.event';
  const [sampleType, setSampleType] = useState(firstType);
  const [sampleData, setSampleData] = useState('{}');
  const [notice, setNotice] = useState<{ text: string; error?: boolean }>();
  const [sent, setSent] = useState<string>();
  const [secret, setSecret] = useState<string>();
  const [confirm, setConfirm] = useState<'rotate' | 'delete'>();
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');

  const detailFields = useFieldErrors(DETAIL_FIELDS);
  const subscriptionFields = useFieldErrors(SUBSCRIPTION_FIELDS);

  /** Runs an action; its error goes beside the field it names (on `fields`' form), or to the top. */
  const act = (promise: Promise<unknown>, done: string, fields?: ReturnType<typeof useFieldErrors>) => {
    setNotice(undefined);
    fields?.clear();
    promise.then(
      () => setNotice({ text: done }),
      (err: unknown) => {
        if (!fields?.show(err)) setNotice({ text: messageOf(err), error: true });
      },
    );
  };

  const saveDetails = (e: Event) => {
    e.preventDefault();
    act(
      api<Endpoint>('PATCH', base, { url: url.trim(), description: description.trim() || null }).then(onChange),
      'Details saved',
      detailFields,
    );
  };
  const saveSubscription = (e: Event) => {
    e.preventDefault();
    const parsed = parseFilter(filter);
    if (!parsed.ok) return setNotice({ text: 'The filter is not valid JSON.', error: true });
    act(
      api<Endpoint>('PATCH', base, {
        eventTypes: splitTypes(types),
        filter: parsed.value,
        transform: transform.trim() === '' ? null : transform,
      }).then(onChange),
      'Saved',
      subscriptionFields,
    );
  };
  const sendTest = () => {
    setNotice(undefined);
    try {
      JSON.parse(sampleData);
    } catch {
      return setNotice({ text: 'The sample data is not valid JSON.', error: true });
    }
    // The sample's text is sent as written, so the delivery carries exactly these bytes.
    const body = `{"type":${JSON.stringify(sampleType.trim())},"data":${sampleData}}`;
    // To this endpoint only (not every endpoint of the tenant subscribed to the type).
    api<SentTest>('POST', `${base}/send-test`, body).then(
      (res) => {
        sentTests.set(res.id, Date.now());
        setSent(res.id);
      },
      (err: unknown) => setNotice({ text: messageOf(err), error: true }),
    );
  };

  const others = Object.entries(endpoint).filter(([k]) => !KNOWN_FIELDS.has(k));

  return (
    <main>
      <p class="crumbs">
        <a href="#/endpoints">Endpoints</a> /
      </p>
      <div class="title-row">
        <PageHeading class="break">{endpoint.description ?? endpoint.url}</PageHeading>
        <EndpointState endpoint={endpoint} />
      </div>
      <div class="actions wrap">
        <button type="button" class="primary" aria-describedby="send-test-hint" onClick={sendTest}>
          Send test event
        </button>
        <button type="button" onClick={() => setConfirm('rotate')}>
          Rotate secret
        </button>
        {endpoint.enabled ? (
          <button
            type="button"
            onClick={() => act(api<Endpoint>('POST', `${base}/disable`).then(onChange), 'Endpoint disabled')}
          >
            Disable
          </button>
        ) : (
          <button
            type="button"
            onClick={() => act(api<Endpoint>('POST', `${base}/enable`, {}).then(onChange), 'Endpoint enabled')}
          >
            Enable
          </button>
        )}
        <button type="button" class="danger" onClick={() => setConfirm('delete')}>
          Delete
        </button>
      </div>
      <p id="send-test-hint" class="hint">
        Send test event delivers the dry run's sample to this endpoint only, as a real, signed delivery.
      </p>
      <div class="reserve" aria-live="polite">
        {notice && (notice.error ? <ErrorBox message={notice.text} /> : <p class="notice">{notice.text}</p>)}
        {sent && (
          <p class="notice">
            Test event <code>{sent}</code> sent. <a href={`#/deliveries/${encodeURIComponent(sent)}`}>View delivery</a>
          </p>
        )}
      </div>

      <div class="split">
        <form class="form panel" onSubmit={saveSubscription} aria-labelledby="sub-title">
          <h2 id="sub-title">Subscription</h2>
          <label for="ep-types">Event types</label>
          <input
            id="ep-types"
            {...subscriptionFields.props('ep-types')}
            value={types}
            onInput={(e) => setTypes(e.currentTarget.value)}
          />
          {subscriptionFields.message('ep-types')}
          <label for="ep-filter">Filter (JSON)</label>
          <textarea
            id="ep-filter"
            rows={5}
            spellcheck={false}
            {...subscriptionFields.props('ep-filter')}
            value={filter}
            placeholder='{"data.total": {"$gt": 100}}'
            onInput={(e) => setFilter(e.currentTarget.value)}
          />
          {subscriptionFields.message('ep-filter')}
          <label for="ep-transform">Transform (JSONata)</label>
          <textarea
            id="ep-transform"
            rows={4}
            spellcheck={false}
            {...subscriptionFields.props('ep-transform')}
            value={transform}
            onInput={(e) => setTransform(e.currentTarget.value)}
          />
          {subscriptionFields.message('ep-transform')}
          <div class="actions">
            <button type="submit" class="primary">
              Save subscription
            </button>
          </div>
        </form>
        <DryRunPanel
          base={base}
          types={types}
          filter={filter}
          transform={transform}
          sampleType={sampleType}
          setSampleType={setSampleType}
          sampleData={sampleData}
          setSampleData={setSampleData}
        />
      </div>

      <form class="form panel" onSubmit={saveDetails} aria-labelledby="details-title">
        <h2 id="details-title">Details</h2>
        <label for="ep-url">Receiver URL</label>
        <input
          id="ep-url"
          type="url"
          required
          {...detailFields.props('ep-url')}
          value={url}
          onInput={(e) => setUrl(e.currentTarget.value)}
        />
        {detailFields.message('ep-url')}
        <label for="ep-description">Name</label>
        <input
          id="ep-description"
          {...detailFields.props('ep-description')}
          value={description}
          onInput={(e) => setDescription(e.currentTarget.value)}
        />
        {detailFields.message('ep-description')}
        <p class="muted">
          Created <Time iso={endpoint.createdAt} />, updated <Time iso={endpoint.updatedAt} />
        </p>
        <div class="actions">
          <button type="submit">Save details</button>
        </div>
      </form>

      <form
        class="form panel"
        aria-labelledby="replay-title"
        onSubmit={(e) => {
          e.preventDefault();
          setNotice(undefined);
          api<{ replayed: number; skipped: number }>('POST', `${base}/replay`, {
            since: new Date(since).toISOString(),
            ...(until ? { until: new Date(until).toISOString() } : {}),
          }).then(
            (r) => setNotice({ text: `Replay started: ${r.replayed} failed deliveries (${r.skipped} skipped)` }),
            (err: unknown) => setNotice({ text: messageOf(err), error: true }),
          );
        }}
      >
        <h2 id="replay-title">Replay failed deliveries</h2>
        <p class="hint">Times are in your time zone ({TIME_ZONE}).</p>
        <label for="replay-since">From</label>
        <input
          id="replay-since"
          type="datetime-local"
          step={1}
          required
          value={since}
          onInput={(e) => setSince(e.currentTarget.value)}
        />
        <label for="replay-until">To (optional)</label>
        <input
          id="replay-until"
          type="datetime-local"
          step={1}
          value={until}
          onInput={(e) => setUntil(e.currentTarget.value)}
        />
        <div class="actions">
          <button type="submit">Replay range</button>
        </div>
      </form>

      {others.length > 0 && (
        <section class="panel" aria-labelledby="other-title">
          <h2 id="other-title">Other settings</h2>
          <dl class="fields">
            {others.map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>
                  <code class="break">{typeof v === 'string' ? v : JSON.stringify(v)}</code>
                </dd>
              </div>
            ))}
          </dl>
        </section>
      )}

      {confirm === 'rotate' && (
        <Modal title="Rotate the signing secret?" onClose={() => setConfirm(undefined)}>
          <p>The old secret keeps signing alongside the new one for a grace period, then stops.</p>
          <div class="actions">
            <button
              type="button"
              class="primary"
              onClick={() =>
                api<{ secret: string }>('POST', `${base}/secret/rotate`, {}).then(
                  (r) => {
                    setConfirm(undefined);
                    setSecret(r.secret);
                  },
                  (err: unknown) => {
                    setConfirm(undefined);
                    setNotice({ text: messageOf(err), error: true });
                  },
                )
              }
            >
              Rotate now
            </button>
            <button type="button" onClick={() => setConfirm(undefined)}>
              Cancel
            </button>
          </div>
        </Modal>
      )}
      {confirm === 'delete' && (
        <Modal title="Delete this endpoint?" onClose={() => setConfirm(undefined)}>
          <p>It stops receiving events at once. This cannot be undone.</p>
          <div class="actions">
            <button
              type="button"
              class="danger"
              onClick={() =>
                api('DELETE', base).then(
                  () => go('#/endpoints'),
                  (err: unknown) => {
                    setConfirm(undefined);
                    setNotice({ text: messageOf(err), error: true });
                  },
                )
              }
            >
              Delete endpoint
            </button>
            <button type="button" onClick={() => setConfirm(undefined)}>
              Cancel
            </button>
          </div>
        </Modal>
      )}
      {secret && <SecretOnce secret={secret} onDone={() => setSecret(undefined)} />}
    </main>
  );
}

const MISS_TEXT: Record<string, string> = {
  filter: 'Not delivered: the filter does not match',
  event_type: 'Not delivered: the endpoint is not subscribed to this event type',
  endpoint_disabled: 'Not delivered: the endpoint is disabled',
};

/** The dry run of the editor's unsaved subscription, refreshed as the user types. */
function DryRunPanel(props: {
  base: string;
  types: string;
  filter: string;
  transform: string;
  sampleType: string;
  setSampleType: (v: string) => void;
  sampleData: string;
  setSampleData: (v: string) => void;
}) {
  const { base, types, filter, transform, sampleType, sampleData } = props;
  const [result, setResult] = useState<{ run?: DryRun; error?: string; pending: boolean }>({ pending: true });
  const seq = useRef(0);
  useEffect(() => {
    const id = ++seq.current;
    setResult((r) => ({ ...r, pending: true }));
    const timer = setTimeout(() => {
      const parsed = parseFilter(filter);
      if (!parsed.ok) return setResult({ error: 'The filter is not valid JSON yet.', pending: false });
      try {
        JSON.parse(sampleData);
      } catch {
        return setResult({ error: 'The sample data is not valid JSON yet.', pending: false });
      }
      const draft = JSON.stringify({
        eventTypes: splitTypes(types),
        filter: parsed.value,
        transform: transform.trim() === '' ? null : transform,
      });
      const body = `{"type":${JSON.stringify(sampleType.trim())},"data":${sampleData},"draft":${draft}}`;
      api<DryRun>('POST', `${base}/test`, body).then(
        (run) => id === seq.current && setResult({ run, pending: false }),
        (err: unknown) => id === seq.current && setResult({ error: messageOf(err), pending: false }),
      );
    }, 250);
    return () => clearTimeout(timer);
  }, [base, types, filter, transform, sampleType, sampleData]);

  const { run, error } = result;
  return (
    <section class="panel" aria-labelledby="dry-title">
      <h2 id="dry-title">Dry run</h2>
      <label for="dry-type">Sample event type</label>
      <input id="dry-type" value={sampleType} onInput={(e) => props.setSampleType(e.currentTarget.value)} />
      <label for="dry-data">Sample data (JSON)</label>
      <textarea
        id="dry-data"
        rows={4}
        spellcheck={false}
        value={sampleData}
        onInput={(e) => props.setSampleData(e.currentTarget.value)}
      />
      <div role="status" aria-label="Dry run result" class="dry-result" aria-busy={result.pending}>
        {error && <p class="bad">{error}</p>}
        {run && !error && !run.matches && <p class="bad">{MISS_TEXT[run.reason] ?? `Not delivered: ${run.reason}`}</p>}
        {run && !error && run.matches && (
          <>
            <p class="good">Would be delivered</p>
            <h3>Body</h3>
            <pre data-testid="dry-run-body">{run.body}</pre>
            <h3>Signed headers</h3>
            <dl class="fields" data-testid="dry-run-headers">
              {Object.entries(run.headers).map(([k, v]) => (
                <div key={k}>
                  <dt>{k}</dt>
                  <dd>
                    <code class="break">{v}</code>
                  </dd>
                </div>
              ))}
            </dl>
          </>
        )}
      </div>
    </section>
  );
}

/* ---------- deliveries ---------- */

const TERMINAL = new Set(['delivered', 'failed', 'cancelled', 'skipped', 'no_subscribers']);

/** How long a delivery page waits for the delivery of a test event just sent from this tab to start. */
const START_WAIT_MS = 10_000;

/** Whether the delivery of `eventId` may still be about to start (a test event sent from this tab moments ago). */
function mayStillStart(eventId: string): boolean {
  const sentAt = sentTests.get(eventId);
  return sentAt !== undefined && Date.now() - sentAt < 60_000;
}

/** The delivery of one event, polled while it may still change. */
function useDelivery(path: string, eventId: string) {
  const [delivery, setDelivery] = useState<Delivery>();
  const [error, setError] = useState<string>();
  // Not found: `waiting` while a just-sent test event's delivery may still start, then `missing`.
  const [absent, setAbsent] = useState<'waiting' | 'missing'>();
  const [waitStartUntil] = useState(() => (mayStillStart(eventId) ? Date.now() + START_WAIT_MS : 0));
  // Poll while the delivery may still change: until it is final, and for a while after a retry.
  const [watchUntil, setWatchUntil] = useState(() => Date.now() + 60_000);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = () => {
      api<Delivery>('GET', path).then(
        (d) => {
          if (!live) return;
          setDelivery(d);
          setError(undefined);
          setAbsent(undefined);
          if (!TERMINAL.has(d.status) || Date.now() < watchUntil) timer = setTimeout(poll, 1000);
        },
        (err: unknown) => {
          if (!live) return;
          if (err instanceof ApiError && err.status === 404) {
            setError(undefined);
            const waiting = Date.now() < waitStartUntil;
            setAbsent(waiting ? 'waiting' : 'missing');
            if (waiting) timer = setTimeout(poll, 1000);
            return;
          }
          setError(messageOf(err));
        },
      );
    };
    poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [path, watchUntil, tick]);
  return {
    delivery,
    error,
    absent,
    retry: () => {
      setError(undefined);
      setTick((t) => t + 1);
    },
    watch: () => setWatchUntil(Date.now() + 60_000),
  };
}

function DeliveryPage({ tenantId, eventId }: { tenantId: string; eventId: string }) {
  const path = `/v1/tenants/${tenantId}/deliveries/${encodeURIComponent(eventId)}`;
  const { delivery, error, absent, retry, watch } = useDelivery(path, eventId);
  const [notice, setNotice] = useState<string>();

  const failed = delivery?.endpoints.some((e) => e.status === 'failed') ?? false;
  return (
    <main>
      <p class="crumbs">
        <a href="#/deliveries">Deliveries</a> /
      </p>
      <PageHeading class="break">Delivery {eventId}</PageHeading>
      {error && <ErrorBox message={error} retry={retry} />}
      {!delivery && !error && !absent && <Loading rows={4} />}
      {!delivery && absent === 'waiting' && (
        <p class="empty" role="status">
          Waiting for the delivery to start…
        </p>
      )}
      {!delivery && absent === 'missing' && (
        <p class="empty" role="status">
          No delivery found for event {eventId}. Check the event id: it may be mistyped, or not be one of this tenant's
          events.
        </p>
      )}
      {delivery && (
        <>
          <p data-testid="delivery-status">
            Status: <span class={`badge ${delivery.status}`}>{delivery.status}</span>
            {delivery.eventType && <span class="muted"> · {delivery.eventType}</span>}
          </p>
          <div class="actions">
            <button
              type="button"
              class="primary"
              disabled={!failed}
              onClick={() =>
                api('POST', `${path}/retry`).then(
                  () => {
                    setNotice('Retry started');
                    watch();
                  },
                  (err: unknown) => setNotice(messageOf(err)),
                )
              }
            >
              Retry failed deliveries
            </button>
          </div>
          <div class="reserve" aria-live="polite">
            {notice && <p class="notice">{notice}</p>}
          </div>
          {delivery.endpoints.length === 0 && <p class="empty">No endpoint was subscribed to this event.</p>}
          {delivery.endpoints.map((ep) => (
            <section key={ep.endpointId} class="panel">
              <h2 class="break">
                <a href={`#/endpoints/${encodeURIComponent(ep.endpointId)}`}>{ep.endpointId}</a>{' '}
                <span class={`badge ${ep.status}`}>{ep.status}</span>
              </h2>
              {ep.lastError && <p class="bad">{ep.lastError}</p>}
              <TableWrap label={`Attempts to ${ep.endpointId}`}>
                <table>
                  <caption>Attempts to {ep.endpointId}</caption>
                  <thead>
                    <tr>
                      <th scope="col">#</th>
                      <th scope="col">Time</th>
                      <th scope="col">Outcome</th>
                      <th scope="col">Status</th>
                      <th scope="col">Duration</th>
                      <th scope="col">Error</th>
                      <th scope="col">Response</th>
                    </tr>
                  </thead>
                  <tbody>
                    {ep.attempts.length === 0 && (
                      <tr>
                        <td colSpan={7}>No attempt yet</td>
                      </tr>
                    )}
                    {ep.attempts.map((a) => (
                      <tr key={a.attempt}>
                        <td>{a.attempt}</td>
                        <td>
                          <Time iso={a.at} />
                        </td>
                        <td>{a.outcome}</td>
                        <td>{a.statusCode ?? '—'}</td>
                        <td>{Math.round(a.durationMs)} ms</td>
                        <td class="break">{a.error ?? ''}</td>
                        <td>
                          <code class="break">{a.responseBodyExcerpt ?? ''}</code>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableWrap>
            </section>
          ))}
        </>
      )}
    </main>
  );
}

const STATUSES = ['pending', 'delivered', 'failed', 'cancelled', 'skipped', 'no_subscribers'];
const PAGE_SIZE = 25;

/** The list's filters, as the API's query string (times converted from the user's zone to UTC). */
function listQuery(f: { status: string; eventType: string; endpointId: string; since: string; until: string }) {
  const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (f.status) q.set('status', f.status);
  if (f.eventType.trim()) q.set('eventType', f.eventType.trim());
  if (f.endpointId) q.set('endpointId', f.endpointId);
  if (f.since) q.set('since', new Date(f.since).toISOString());
  if (f.until) q.set('until', new Date(f.until).toISOString());
  return q.toString();
}

function Deliveries({ tenantId }: { tenantId: string }) {
  const [lookup, setLookup] = useState('');
  const [filters, setFilters] = useState({ status: '', eventType: '', endpointId: '', since: '', until: '' });
  // The event type is applied when typing pauses, so each keystroke does not start a request.
  const [typed, setTyped] = useState('');
  useEffect(() => {
    const timer = setTimeout(() => setFilters((f) => ({ ...f, eventType: typed })), 400);
    return () => clearTimeout(timer);
  }, [typed]);
  const set = (key: keyof typeof filters) => (e: { currentTarget: { value: string } }) => {
    const value = e.currentTarget.value;
    setFilters((f) => ({ ...f, [key]: value }));
  };
  const query = listQuery(filters);
  // The endpoint filter lists the first 200 endpoints, and offers the rest a page at a time.
  const endpoints = usePaged<Endpoint>(`/v1/tenants/${tenantId}/endpoints?limit=200`);
  const list = usePaged<DeliverySummary>(`/v1/tenants/${tenantId}/deliveries?${query}`);
  const rows = list.items;
  const endpointName = (id: string) => {
    const e = endpoints.items.find((x) => x.id === id);
    return e ? (e.description ?? e.url) : id;
  };
  const filtered = Object.values(filters).some(Boolean);

  return (
    <main>
      <PageHeading>Deliveries</PageHeading>
      <form
        class="form panel inline"
        onSubmit={(e) => {
          e.preventDefault();
          if (lookup.trim()) go(`#/deliveries/${encodeURIComponent(lookup.trim())}`);
        }}
      >
        <label for="lookup">Event id</label>
        <input id="lookup" value={lookup} onInput={(e) => setLookup(e.currentTarget.value)} />
        <button type="submit">Look up</button>
      </form>

      <section class="panel" aria-labelledby="filters-title">
        <h2 id="filters-title">Filters</h2>
        <div class="filters">
          <div>
            <label for="f-status">Status</label>
            <select id="f-status" value={filters.status} onChange={set('status')}>
              <option value="">Any status</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s.replace('_', ' ')}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label for="f-type">Event type</label>
            <input
              id="f-type"
              placeholder="order.created"
              value={typed}
              onInput={(e) => setTyped(e.currentTarget.value)}
            />
          </div>
          <div>
            <label for="f-endpoint">Endpoint</label>
            <select
              id="f-endpoint"
              value={filters.endpointId}
              onChange={set('endpointId')}
              aria-describedby={endpoints.nextCursor ? 'f-endpoint-more' : undefined}
            >
              <option value="">All endpoints</option>
              {endpoints.items.map((e) => (
                <option key={e.id} value={e.id}>
                  {e.description ?? e.url}
                </option>
              ))}
            </select>
            {endpoints.nextCursor && (
              <p id="f-endpoint-more" class="hint">
                The first {endpoints.items.length} endpoints are listed.
              </p>
            )}
            <ShowMore list={endpoints} label="List more endpoints" />
          </div>
          <div>
            <label for="f-since">Started from</label>
            <input id="f-since" type="datetime-local" step={1} value={filters.since} onInput={set('since')} />
          </div>
          <div>
            <label for="f-until">Started until</label>
            <input id="f-until" type="datetime-local" step={1} value={filters.until} onInput={set('until')} />
          </div>
        </div>
        <p class="hint">
          Times are in your time zone ({TIME_ZONE}). The event type is matched exactly. Running deliveries are listed
          first, then the others, most recently finished first.
        </p>
      </section>

      <section class="panel" aria-labelledby="list-title">
        <h2 id="list-title">{filters.status ? `Deliveries: ${filters.status.replace('_', ' ')}` : 'All deliveries'}</h2>
        {list.loading && !list.loaded && <Loading rows={5} />}
        {list.error && <ErrorBox message={list.error} retry={list.reload} />}
        {list.loaded && rows.length === 0 && !list.nextCursor && (
          <p class="empty">{filtered ? 'No deliveries match these filters.' : 'No deliveries yet.'}</p>
        )}
        {rows.length > 0 && (
          <TableWrap label="Deliveries" busy={list.loading}>
            <table>
              <caption>Deliveries</caption>
              <thead>
                <tr>
                  <th scope="col">Started</th>
                  <th scope="col">Event</th>
                  <th scope="col">Type</th>
                  <th scope="col">Status</th>
                  <th scope="col">Endpoints</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((d) => (
                  <tr key={d.eventId}>
                    <td>
                      <Time iso={d.startedAt} />
                    </td>
                    <td>
                      <a class="break" href={`#/deliveries/${encodeURIComponent(d.eventId)}`}>
                        {d.eventId}
                      </a>
                    </td>
                    <td class="break">{d.eventType ?? '—'}</td>
                    <td>
                      <span class={`badge ${d.status}`}>{d.status.replace('_', ' ')}</span>
                    </td>
                    <td class="break">{d.endpointIds.map(endpointName).join(', ') || '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
        <ShowMore list={list} />
      </section>
    </main>
  );
}

/* ---------- shell ---------- */

const EXPIRED_LINK = 'This portal link has expired or is not valid. Ask for a new link, or sign in with an API key.';

/** Signing in with a portal link, at load or at any later time: the link's session replaces the tab's. */
function useLinkSignIn(setSession: (s: Session | undefined) => void, setNotice: (n: string | undefined) => void) {
  const [starting, setStarting] = useState(() => location.hash.startsWith('#session='));
  // The latest link wins when two are opened in a row.
  const latest = useRef(0);
  const signInWithLink = (token: string) => {
    const mine = ++latest.current;
    setStarting(true);
    setToken(undefined);
    setSession(undefined);
    const started = /^wps_[A-Za-z0-9_-]+$/.test(token)
      ? startSession(token)
      : Promise.reject(new Error('not a portal link'));
    started.then(
      (s) => {
        if (mine !== latest.current) return;
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

/** Moves focus to the page's main heading (else the content region) when `key` (sign-in, route) changes. */
function useFocusOnChange(key: string | undefined) {
  useEffect(() => {
    if (key === undefined) return;
    const content = document.getElementById('content');
    const heading = content?.querySelector<HTMLElement>('h1');
    (heading ?? content)?.focus();
  }, [key]);
}

function App() {
  const [session, setSession] = useState<Session>();
  const [notice, setNotice] = useState<string>();
  const { starting, signInWithLink } = useLinkSignIn(setSession, setNotice);
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
            const end = session.link
              ? api('DELETE', `/v1/tenants/${tenantId}/portal-sessions/current`).catch(() => undefined)
              : Promise.resolve();
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
