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
}

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
}
