/**
 * The delivery log's records: value types that cross layers. The delivery activity writes them through its ports,
 * the store keeps them, and the API shows them.
 */

import type { EndpointId, EventId, TenantId } from './ids';

/** One HTTP attempt, as the activity saw it. */
export interface AttemptLogEntry {
  readonly endpointId: EndpointId;
  readonly attempt: number;
  /** ISO time the attempt finished. */
  readonly at: string;
  readonly outcome: 'delivered' | 'retry' | 'failed' | 'skipped';
  readonly statusCode?: number;
  readonly durationMs: number;
  /** Short reason (`http_503`, `timeout`, ...); never a payload or a secret. */
  readonly error?: string;
  /**
   * The start of the receiver's answer body, for an attempt that got an answer and was not delivered: what the
   * tenant's server said. It may echo the payload, so it is kept only here, shown only to the tenant, and never
   * copied into logs, failure messages, Temporal history or dead letters. At most
   * {@link MAX_RESPONSE_BODY_EXCERPT_LENGTH} characters.
   */
  readonly responseBodyExcerpt?: string;
}

/** Longest {@link AttemptLogEntry.responseBodyExcerpt}, in UTF-16 code units (the cut is marked with `…`). */
export const MAX_RESPONSE_BODY_EXCERPT_LENGTH = 1024;

/** A delivery that failed for good: kept until it is retried, replayed or expires. */
export interface DeadLetter {
  readonly tenantId: TenantId;
  readonly eventId: EventId;
  readonly eventType: string;
  readonly occurredAt: string;
  readonly endpointId: EndpointId;
  readonly failedAt: string;
  readonly attempts: number;
  readonly lastStatusCode?: number;
  readonly lastError: string;
  /**
   * What ended the delivery, a code of the error registry: the activity's own verdict (`retries_exhausted`,
   * `endpoint_gone`, ...) or Temporal's (`attempt_timed_out`, `worker_lost`, `retry_window_exhausted`,
   * `unexpected_error`). Absent on dead letters written before it was recorded.
   */
  readonly reason?: string;
}
