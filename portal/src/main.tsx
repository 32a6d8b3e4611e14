import { render } from 'preact';
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, setToken, whenUnauthorized } from './api';
import type { Delivery, DeliveryPage, DeliverySummary, DryRun, Endpoint } from './api';

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

function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
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

function Loading({ rows = 3 }: { rows?: number }) {
  return (
    <div class="skeleton" aria-busy="true" aria-label="Loading">
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

function EndpointList({ tenantId }: { tenantId: string }) {
  const list = useLoad(
    () => api<{ items: Endpoint[] }>('GET', `/v1/tenants/${tenantId}/endpoints?limit=200`),
    tenantId,
  );
  return (
    <main>
      <div class="title-row">
        <h1>Endpoints</h1>
        <button type="button" class="primary" onClick={() => go('#/endpoints/new')}>
          New endpoint
        </button>
      </div>
      {list.loading && !list.data && <Loading />}
      {list.error && <ErrorBox message={list.error} retry={list.reload} />}
      {list.data && list.data.items.length === 0 && (
        <p class="empty">No endpoints yet. Create one to start receiving webhooks.</p>
      )}
      {list.data && list.data.items.length > 0 && (
        <ul class="cards">
          {list.data.items.map((e) => (
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
    </main>
  );
}

function NewEndpoint({ tenantId }: { tenantId: string }) {
  const [url, setUrl] = useState('');
  const [types, setTypes] = useState('');
  const [description, setDescription] = useState('');
  const [error, setError] = useState<string>();
  const [created, setCreated] = useState<{ id: string; secret: string }>();
  return (
    <main>
      <h1>New endpoint</h1>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          setError(undefined);
          api<Endpoint & { secret: string }>('POST', `/v1/tenants/${tenantId}/endpoints`, {
            url: url.trim(),
            eventTypes: splitTypes(types),
            ...(description.trim() ? { description: description.trim() } : {}),
          }).then(
            (ep) => setCreated({ id: ep.id, secret: ep.secret }),
            (err: unknown) => setError(messageOf(err)),
          );
        }}
      >
        <label for="new-url">URL</label>
        <input id="new-url" type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
        <label for="new-types">Event types</label>
        <input
          id="new-types"
          required
          aria-describedby="new-types-hint"
          value={types}
          onInput={(e) => setTypes(e.currentTarget.value)}
        />
        <p id="new-types-hint" class="hint">
          Comma-separated, e.g. <code>order.created, invoice.*</code>
        </p>
        <label for="new-description">Description</label>
        <input id="new-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
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
        <ErrorBox message={loaded.error} retry={loaded.reload} />
      </main>
    );
  if (!endpoint)
    return (
      <main>
        <h1>Endpoint</h1>
        <Loading rows={6} />
      </main>
    );
  return (
    <EndpointEditor key={endpoint.id} tenantId={tenantId} base={base} endpoint={endpoint} onChange={setEndpoint} />
  );
}

function EndpointEditor({
  tenantId,
  base,
  endpoint,
  onChange,
}: {
  tenantId: string;
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

  const act = (promise: Promise<unknown>, done: string) => {
    setNotice(undefined);
    promise.then(
      () => setNotice({ text: done }),
      (err: unknown) => setNotice({ text: messageOf(err), error: true }),
    );
  };

  const saveDetails = (e: Event) => {
    e.preventDefault();
    act(
      api<Endpoint>('PATCH', base, { url: url.trim(), description: description.trim() || null }).then(onChange),
      'Details saved',
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
    api<{ id: string }>('POST', `/v1/tenants/${tenantId}/events`, body).then(
      (res) => {
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
        <h1 class="break">{endpoint.description ?? endpoint.url}</h1>
        <EndpointState endpoint={endpoint} />
      </div>
      <div class="actions wrap">
        <button type="button" class="primary" onClick={sendTest}>
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
          <input id="ep-types" value={types} onInput={(e) => setTypes(e.currentTarget.value)} />
          <label for="ep-filter">Filter (JSON)</label>
          <textarea
            id="ep-filter"
            rows={5}
            spellcheck={false}
            value={filter}
            placeholder='{"data.total": {"$gt": 100}}'
            onInput={(e) => setFilter(e.currentTarget.value)}
          />
          <label for="ep-transform">Transform (JSONata)</label>
          <textarea
            id="ep-transform"
            rows={4}
            spellcheck={false}
            value={transform}
            onInput={(e) => setTransform(e.currentTarget.value)}
          />
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
        <input id="ep-url" type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
        <label for="ep-description">Name</label>
        <input id="ep-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
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

function DeliveryPage({ tenantId, eventId }: { tenantId: string; eventId: string }) {
  const path = `/v1/tenants/${tenantId}/deliveries/${encodeURIComponent(eventId)}`;
  const [delivery, setDelivery] = useState<Delivery>();
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  // Poll while the delivery may still change: until it is final, and for a while after a retry.
  const [watchUntil, setWatchUntil] = useState(() => Date.now() + 60_000);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = () => {
      api<Delivery>('GET', path).then(
        (d) => {
          if (!live) return;
          setDelivery(d);
          setError(undefined);
          if (!TERMINAL.has(d.status) || Date.now() < watchUntil) timer = setTimeout(poll, 1000);
        },
        (err: unknown) => {
          if (!live) return;
          // Just published: the delivery starts within moments.
          if (err instanceof ApiError && err.status === 404 && Date.now() < watchUntil) {
            timer = setTimeout(poll, 1000);
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
  }, [path, watchUntil]);

  const failed = delivery?.endpoints.some((e) => e.status === 'failed') ?? false;
  return (
    <main>
      <p class="crumbs">
        <a href="#/deliveries">Deliveries</a> /
      </p>
      <h1 class="break">Delivery {eventId}</h1>
      {error && <ErrorBox message={error} />}
      {!delivery && !error && <Loading rows={4} />}
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
                    setWatchUntil(Date.now() + 60_000);
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
              <div class="table-wrap">
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
              </div>
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
  const endpoints = useLoad(
    () => api<{ items: Endpoint[] }>('GET', `/v1/tenants/${tenantId}/endpoints?limit=200`),
    tenantId,
  );
  const first = useLoad(() => api<DeliveryPage>('GET', `/v1/tenants/${tenantId}/deliveries?${query}`), query);
  // Later pages ("Show more"), reset whenever the filters change.
  const [more, setMore] = useState<{ items: DeliverySummary[]; nextCursor?: string; error?: string }>();
  useEffect(() => setMore(undefined), [query, first.data]);
  const rows = [...(first.data?.items ?? []), ...(more?.items ?? [])];
  const nextCursor = more ? more.nextCursor : first.data?.nextCursor;
  const [loadingMore, setLoadingMore] = useState(false);
  const showMore = () => {
    if (!nextCursor) return;
    setLoadingMore(true);
    api<DeliveryPage>('GET', `/v1/tenants/${tenantId}/deliveries?${query}&cursor=${encodeURIComponent(nextCursor)}`)
      .then(
        (page) =>
          setMore((m) => ({
            items: [...(m?.items ?? []), ...page.items],
            ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
          })),
        (err: unknown) => setMore((m) => ({ items: m?.items ?? [], nextCursor, error: messageOf(err) })),
      )
      .finally(() => setLoadingMore(false));
  };
  const endpointName = (id: string) => {
    const e = endpoints.data?.items.find((x) => x.id === id);
    return e ? (e.description ?? e.url) : id;
  };
  const filtered = Object.values(filters).some(Boolean);

  return (
    <main>
      <h1>Deliveries</h1>
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
            <select id="f-endpoint" value={filters.endpointId} onChange={set('endpointId')}>
              <option value="">All endpoints</option>
              {(endpoints.data?.items ?? []).map((e) => (
                <option key={e.id} value={e.id}>
                  {e.description ?? e.url}
                </option>
              ))}
            </select>
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
        {first.loading && !first.data && <Loading rows={5} />}
        {first.error && <ErrorBox message={first.error} retry={first.reload} />}
        {first.data && rows.length === 0 && !nextCursor && (
          <p class="empty">{filtered ? 'No deliveries match these filters.' : 'No deliveries yet.'}</p>
        )}
        {rows.length > 0 && (
          <div class="table-wrap" aria-busy={first.loading}>
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
          </div>
        )}
        {more?.error && <ErrorBox message={more.error} retry={showMore} />}
        {nextCursor && (
          <div class="actions">
            <button type="button" disabled={loadingMore} onClick={showMore}>
              {loadingMore ? 'Loading…' : 'Show more'}
            </button>
          </div>
        )}
      </section>
    </main>
  );
}

/* ---------- shell ---------- */

const EXPIRED_LINK = 'This portal link has expired or is not valid. Ask for a new link, or sign in with an API key.';

function App() {
  const [session, setSession] = useState<Session>();
  const [notice, setNotice] = useState<string>();
  const [starting, setStarting] = useState(() => location.hash.startsWith('#session='));
  const route = useRoute();

  useEffect(() => {
    whenUnauthorized(() => {
      setToken(undefined);
      setSession(undefined);
      setNotice('Your session has ended. Sign in again.');
    });
    // A portal link: the token is in the fragment (never sent to the server); take it and clear the address bar.
    const match = /^#session=(wps_[A-Za-z0-9_-]+)$/.exec(location.hash);
    if (!match) return;
    history.replaceState(null, '', `${location.pathname}#/endpoints`);
    startSession(match[1] ?? '').then(
      (s) => {
        setSession(s);
        setStarting(false);
      },
      () => {
        setToken(undefined);
        setNotice(EXPIRED_LINK);
        setStarting(false);
      },
    );
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
