import { ValidationError } from './errors';

/** Tenant and endpoint ids appear inside Redis keys and Temporal workflow ids, so their alphabet is closed. */
export const RESOURCE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Event ids come from producers; they may also contain `.` and `:` (e.g. ULIDs, `order:123:v2`). */
export const EVENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function assertResourceId(value: string, field: string): string {
  if (!RESOURCE_ID_PATTERN.test(value)) {
    throw new ValidationError(`${field} must match ${RESOURCE_ID_PATTERN.source}`, field);
  }
  return value;
}

/**
 * The event id a producer did not set: derived from the stream entry id, so re-reading the same entry after a
 * crash yields the same id (and the same workflow id).
 */
export function eventIdFromEntryId(entryId: string): string {
  return `evt_${entryId}`;
}

/**
 * One workflow per (tenant, event). Deterministic, so a duplicate XADD or a redelivered stream entry maps onto the
 * same workflow and Temporal's REJECT_DUPLICATE policy turns it into a no-op.
 */
export function deliveryWorkflowId(tenantId: string, eventId: string): string {
  return `delivery:${tenantId}:${eventId}`;
}
