/**
 * One event's delivery page: the delivery polled while it may still change (or waited for, after a test event sent
 * from this tab), its retry, and each endpoint's attempts.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import type { Delivery } from '../api';
import { mayStillStart } from '../sent-tests';
import { ErrorBox, Loading, PageHeading, TableWrap, Time, Untrusted, loadErrorOf, messageOf } from '../ui';
import type { LoadError } from '../ui';

const TERMINAL = new Set(['delivered', 'failed', 'cancelled', 'skipped', 'no_subscribers']);

/** How long a delivery page waits for the delivery of a test event just sent from this tab to start. */
const START_WAIT_MS = 10_000;

/** The delivery of one event, polled while it may still change. */
function useDelivery(path: string, eventId: string) {
  const [delivery, setDelivery] = useState<Delivery>();
  const [error, setError] = useState<LoadError>();
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
          setError(loadErrorOf(err));
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

export function DeliveryPage({ tenantId, eventId }: { tenantId: string; eventId: string }) {
  const path = `/v1/tenants/${tenantId}/deliveries/${encodeURIComponent(eventId)}`;
  const { delivery, error, absent, retry, watch } = useDelivery(path, eventId);
  const [notice, setNotice] = useState<string>();

  const failed = delivery?.endpoints.some((e) => e.status === 'failed') ?? false;
  return (
    <main>
      <p class="crumbs">
        <a href="#/deliveries">Deliveries</a> /
      </p>
      <PageHeading class="break">
        Delivery <Untrusted text={eventId} />
      </PageHeading>
      {error && <ErrorBox message={error.message} retry={error.retryable ? retry : undefined} />}
      {!delivery && !error && !absent && <Loading rows={4} />}
      {!delivery && absent === 'waiting' && (
        <p class="empty" role="status">
          Waiting for the delivery to start…
        </p>
      )}
      {!delivery && absent === 'missing' && (
        <p class="empty" role="status">
          No delivery found for event <Untrusted text={eventId} />. Check the event id: it may be mistyped, or not be
          one of this tenant's events.
        </p>
      )}
      {delivery && (
        <>
          <p data-testid="delivery-status">
            Status: <span class={`badge ${delivery.status}`}>{delivery.status}</span>
            {delivery.eventType && (
              <span class="muted">
                {' '}
                · <Untrusted text={delivery.eventType} />
              </span>
            )}
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
            {notice && (
              <p class="notice">
                <Untrusted text={notice} />
              </p>
            )}
          </div>
          {delivery.endpoints.length === 0 && <p class="empty">No endpoint was subscribed to this event.</p>}
          {delivery.endpoints.map((ep) => (
            <section key={ep.endpointId} class="panel">
              <h2 class="break">
                <a href={`#/endpoints/${encodeURIComponent(ep.endpointId)}`}>
                  <Untrusted text={ep.endpointId} />
                </a>{' '}
                <span class={`badge ${ep.status}`}>{ep.status}</span>
              </h2>
              {ep.lastError && (
                <p class="bad">
                  <Untrusted text={ep.lastError} />
                </p>
              )}
              <TableWrap label={`Attempts to ${ep.endpointId}`}>
                <table>
                  <caption>
                    Attempts to <Untrusted text={ep.endpointId} />
                  </caption>
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
                        <td class="break">{a.error && <Untrusted text={a.error} />}</td>
                        <td>
                          <code class="break">
                            {a.responseBodyExcerpt && <Untrusted text={a.responseBodyExcerpt} />}
                          </code>
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
