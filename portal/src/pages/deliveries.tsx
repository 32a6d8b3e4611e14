/**
 * The tenant's deliveries: look-up by event id, the filters (status, event type, endpoint, time range) as the API's
 * query (a time range that ends before it starts is said beside "Started from" and not asked), and the paged list.
 */
import { useEffect, useState } from 'preact/hooks';
import type { DeliverySummary, Endpoint } from '../api';
import { go } from '../hooks';
import { ShowMore, usePaged } from '../paging';
import { ErrorBox, Loading, PageHeading, TIME_ZONE, TableWrap, Time, Untrusted, visibleBidi } from '../ui';

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

/** The time range's mistake, if "Started from" is after "Started until" (the API would refuse it: 400, `since`). */
function rangeError(f: { since: string; until: string }): string | undefined {
  if (!f.since || !f.until) return undefined;
  return new Date(f.since).getTime() > new Date(f.until).getTime()
    ? 'Must be before "Started until" (or the same time).'
    : undefined;
}

export function Deliveries({ tenantId }: { tenantId: string }) {
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
  const sinceError = rangeError(filters);
  // The endpoint filter lists the first 200 endpoints, and offers the rest a page at a time.
  const endpoints = usePaged<Endpoint>(`/v1/tenants/${tenantId}/endpoints?limit=200`);
  const list = usePaged<DeliverySummary>(sinceError ? undefined : `/v1/tenants/${tenantId}/deliveries?${query}`);
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
                  {visibleBidi(e.description ?? e.url)}
                </option>
              ))}
            </select>
            {endpoints.nextCursor && (
              <p id="f-endpoint-more" class="hint">
                The first {endpoints.items.length} endpoints are listed.
              </p>
            )}
            <ShowMore
              list={endpoints}
              label="List more endpoints"
              focusTarget={() => document.getElementById('f-endpoint')}
            />
          </div>
          <div>
            <label for="f-since">Started from</label>
            <input
              id="f-since"
              type="datetime-local"
              step={1}
              value={filters.since}
              onInput={set('since')}
              aria-invalid={sinceError ? true : undefined}
              aria-describedby={sinceError ? 'f-since-error' : undefined}
            />
            {sinceError && (
              <p id="f-since-error" class="field-error">
                {sinceError}
              </p>
            )}
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
        {sinceError && <p class="empty">Correct the time range to list deliveries.</p>}
        {!sinceError && list.error && (
          <ErrorBox message={list.error.message} retry={list.error.retryable ? list.reload : undefined} />
        )}
        {!sinceError && list.loaded && rows.length === 0 && !list.nextCursor && (
          <p class="empty">{filtered ? 'No deliveries match these filters.' : 'No deliveries yet.'}</p>
        )}
        {!sinceError && rows.length > 0 && (
          <TableWrap label="Deliveries" busy={list.loading}>
            <table id="delivery-rows">
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
                        <Untrusted text={d.eventId} />
                      </a>
                    </td>
                    <td class="break">{d.eventType ? <Untrusted text={d.eventType} /> : '—'}</td>
                    <td>
                      <span class={`badge ${d.status}`}>{d.status.replace('_', ' ')}</span>
                    </td>
                    <td class="break">
                      {d.endpointIds.length ? <Untrusted text={d.endpointIds.map(endpointName).join(', ')} /> : '—'}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
        {!sinceError && (
          <ShowMore
            list={list}
            focusTarget={(at) => document.querySelectorAll<HTMLElement>('#delivery-rows tbody tr a').item(at)}
          />
        )}
      </section>
    </main>
  );
}
