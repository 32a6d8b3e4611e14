/**
 * The tenant's endpoints: the paged list, the form that creates an endpoint (showing its secret once), and the
 * enabled/disabled badge that the endpoint page shares.
 */
import { useState } from 'preact/hooks';
import { api } from '../api';
import type { Endpoint } from '../api';
import { go } from '../hooks';
import { ShowMore, usePaged } from '../paging';
import { splitTypes } from '../subscription-text';
import { ErrorBox, Loading, PageHeading, SecretOnce, Untrusted, messageOf, useFieldErrors } from '../ui';

export function EndpointState({ endpoint }: { endpoint: Endpoint }) {
  if (endpoint.enabled)
    return (
      <span class="badge ok" data-testid="endpoint-state">
        Enabled
      </span>
    );
  return (
    <span class="badge off" data-testid="endpoint-state">
      Disabled{endpoint.disabledReason ? ': ' : ''}
      {endpoint.disabledReason && <Untrusted text={reasonText(endpoint.disabledReason)} />}
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

export function EndpointList({ tenantId }: { tenantId: string }) {
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
      {list.error && <ErrorBox message={list.error.message} retry={list.error.retryable ? list.reload : undefined} />}
      {list.loaded && list.items.length === 0 && (
        <p class="empty">No endpoints yet. Create one to start receiving webhooks.</p>
      )}
      {list.items.length > 0 && (
        <ul class="cards" id="endpoint-cards">
          {list.items.map((e) => (
            <li key={e.id} class="card">
              <a href={`#/endpoints/${encodeURIComponent(e.id)}`}>
                <Untrusted text={e.description ?? e.url} />
              </a>
              <div class="muted break">
                <Untrusted text={e.url} />
              </div>
              <div class="row">
                <EndpointState endpoint={e} />
                <span class="muted">
                  <Untrusted text={e.eventTypes.join(', ')} />
                </span>
              </div>
            </li>
          ))}
        </ul>
      )}
      <ShowMore
        list={list}
        focusTarget={(at) => document.querySelectorAll<HTMLElement>('#endpoint-cards > li > a').item(at)}
      />
    </main>
  );
}

/** The API's field names, as the ids of the inputs that edit them, in the new endpoint form. */
const NEW_FIELDS = { url: 'new-url', eventTypes: 'new-types', description: 'new-description' };

export function NewEndpoint({ tenantId }: { tenantId: string }) {
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
