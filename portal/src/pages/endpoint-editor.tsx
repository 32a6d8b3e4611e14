/**
 * One endpoint's page: loading it, then the editor with its actions (send a test event, rotate the secret,
 * enable/disable, delete), the subscription and details forms, the replay of failed deliveries, and the settings
 * the portal does not edit. The live dry run beside the subscription form is in dry-run.tsx.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import type { Endpoint, SentTest } from '../api';
import { go, useLoad } from '../hooks';
import { sentTests } from '../sent-tests';
import { parseFilter, splitTypes } from '../subscription-text';
import {
  ErrorBox,
  Loading,
  Modal,
  PageHeading,
  SecretOnce,
  TIME_ZONE,
  Time,
  Untrusted,
  messageOf,
  useFieldErrors,
} from '../ui';
import { DryRunPanel } from './dry-run';
import { EndpointState } from './endpoints';

/** The API's field names, as the ids of the inputs that edit them, per form. */
const DETAIL_FIELDS = { url: 'ep-url', description: 'ep-description' };
const SUBSCRIPTION_FIELDS = { eventTypes: 'ep-types', filter: 'ep-filter', transform: 'ep-transform' };

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

export function EndpointPage({ tenantId, endpointId }: { tenantId: string; endpointId: string }) {
  const base = `/v1/tenants/${tenantId}/endpoints/${encodeURIComponent(endpointId)}`;
  const loaded = useLoad(() => api<Endpoint>('GET', base), base);
  const [endpoint, setEndpoint] = useState<Endpoint>();
  useEffect(() => {
    if (loaded.data) setEndpoint(loaded.data);
  }, [loaded.data]);
  if (loaded.error?.status === 404)
    return (
      <main>
        <PageHeading>Endpoint not found</PageHeading>
        <p class="empty">
          No endpoint <Untrusted text={endpointId} /> in this tenant. It may have been deleted, or the address may be
          mistyped.
        </p>
        <p>
          <a href="#/endpoints">Back to endpoints</a>
        </p>
      </main>
    );
  if (loaded.error)
    return (
      <main>
        <PageHeading>Endpoint</PageHeading>
        <ErrorBox message={loaded.error.message} retry={loaded.error.retryable ? loaded.reload : undefined} />
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
        <PageHeading class="break">
          <Untrusted text={endpoint.description ?? endpoint.url} />
        </PageHeading>
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
                  <code class="break">
                    <Untrusted text={typeof v === 'string' ? v : JSON.stringify(v)} />
                  </code>
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
