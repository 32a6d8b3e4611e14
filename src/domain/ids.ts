import { InternalError, ValidationError } from './errors';

/*
 * Branded ids. A tenant id, an endpoint id, an event id and an API key id are all strings at run time (in Redis
 * keys, Temporal payloads and search attributes, JSON bodies), but each has its own type here, so that a function
 * taking `(tenantId, endpointId)` cannot be called with the two swapped, nor with a string nobody checked.
 *
 * An id gets its brand in one of two ways only:
 * - parsed at an edge, where it enters the service: the stream entry parser (`stream-entry.ts`, which reports a
 *   dead-letter reason instead of throwing: {@link isTenantId}, {@link isEventId}) and the management API's path
 *   parameters and bodies ({@link parseTenantId} and friends, which throw `ValidationError` naming the field);
 * - minted by the service itself: {@link mintEndpointId}, {@link mintApiKeyId}, {@link eventIdFromEntryId}.
 *
 * Records the service wrote and reads back (an endpoint, a dead letter, a workflow's input) keep the brands their
 * types declare, so ids flow from one store call to the next without casts. Brands are types only: nothing is
 * added at run time, and this module stays sandbox-safe.
 */

declare const idBrand: unique symbol;

/** A string known to be a valid id of one kind. Assignable to `string`; a `string` is not assignable to it. */
export type Id<Kind extends string> = string & { readonly [idBrand]: Kind };

export type TenantId = Id<'TenantId'>;
export type EndpointId = Id<'EndpointId'>;
export type EventId = Id<'EventId'>;
export type ApiKeyId = Id<'ApiKeyId'>;

/** Tenant, endpoint and API key ids appear inside Redis keys and Temporal workflow ids, so their alphabet is closed. */
export const RESOURCE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Event ids come from producers; they may also contain `.` and `:` (e.g. ULIDs, `order:123:v2`). */
export const EVENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function isTenantId(value: unknown): value is TenantId {
  return isResourceId(value);
}

export function isEndpointId(value: unknown): value is EndpointId {
  return isResourceId(value);
}

export function isApiKeyId(value: unknown): value is ApiKeyId {
  return isResourceId(value);
}

export function isEventId(value: unknown): value is EventId {
  return typeof value === 'string' && EVENT_ID_PATTERN.test(value);
}

/**
 * @param field the name the error reports (`validation_failed`, `field`). Default `tenantId`.
 * @throws ValidationError when `value` is not a valid tenant id. The message never quotes the value.
 */
export function parseTenantId(value: string, field = 'tenantId'): TenantId {
  if (!isTenantId(value)) throw resourceIdError(field);
  return value;
}

/**
 * @param field the name the error reports. Default `endpointId`.
 * @throws ValidationError when `value` is not a valid endpoint id.
 */
export function parseEndpointId(value: string, field = 'endpointId'): EndpointId {
  if (!isEndpointId(value)) throw resourceIdError(field);
  return value;
}

/**
 * @param field the name the error reports. Default `keyId`.
 * @throws ValidationError when `value` is not a valid API key id.
 */
export function parseApiKeyId(value: string, field = 'keyId'): ApiKeyId {
  if (!isApiKeyId(value)) throw resourceIdError(field);
  return value;
}

/**
 * @param field the name the error reports. Default `eventId`.
 * @throws ValidationError when `value` is not a valid event id.
 */
export function parseEventId(value: string, field = 'eventId'): EventId {
  if (!isEventId(value)) throw new ValidationError(`${field}: not a valid event id`, field);
  return value;
}

/**
 * The event id a producer did not set: derived from the stream entry id, so re-reading the same entry after a
 * crash yields the same id (and the same workflow id). A stream id (`<ms>-<seq>`) keeps it inside the event id
 * alphabet.
 */
export function eventIdFromEntryId(entryId: string): EventId {
  const id = `evt_${entryId}`;
  if (!isEventId(id)) throw new InternalError('a stream entry id does not make a valid event id');
  return id;
}

/**
 * A new endpoint id: `ep_` and the creation time (base-36 milliseconds, fixed width) then randomness, so ids sort
 * by creation time and the tenant's index can be a lexically ordered sorted set whose pages stay stable while
 * endpoints are added. Pure: the caller passes the clock and the random part (lower-case hex).
 */
export function mintEndpointId(now: Date, randomHex: string): EndpointId {
  const time = now.getTime().toString(36).padStart(9, '0');
  const id = `ep_${time}${checkedRandomPart(randomHex)}`;
  if (!isEndpointId(id)) throw new InternalError('a minted endpoint id is not a valid endpoint id');
  return id;
}

/** A new API key id, `key_` and the random part (lower-case hex) the caller passes. */
export function mintApiKeyId(randomHex: string): ApiKeyId {
  const id = `key_${checkedRandomPart(randomHex)}`;
  if (!isApiKeyId(id)) throw new InternalError('a minted API key id is not a valid API key id');
  return id;
}

/**
 * One workflow per (tenant, event). Deterministic, so a duplicate XADD or a redelivered stream entry maps onto the
 * same workflow and Temporal's REJECT_DUPLICATE policy turns it into a no-op.
 */
export function deliveryWorkflowId(tenantId: TenantId, eventId: EventId): string {
  return `delivery:${tenantId}:${eventId}`;
}

function isResourceId(value: unknown): boolean {
  return typeof value === 'string' && RESOURCE_ID_PATTERN.test(value);
}

function resourceIdError(field: string): ValidationError {
  return new ValidationError(`${field} must match ${RESOURCE_ID_PATTERN.source}`, field);
}

function checkedRandomPart(randomHex: string): string {
  if (!/^[0-9a-f]{1,32}$/.test(randomHex)) throw new InternalError('the random part of an id must be 1-32 hex digits');
  return randomHex;
}
