import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';

/**
 * Custom search attributes every delivery workflow carries, so the Web UI and `temporal workflow list --query`
 * can answer "what happened to event X?". The local runner and the worker register them on start.
 */
export const TenantIdKey = defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD);
export const EventIdKey = defineSearchAttributeKey('EventId', SearchAttributeType.KEYWORD);
export const EventTypeKey = defineSearchAttributeKey('EventType', SearchAttributeType.KEYWORD);
export const EndpointIdKey = defineSearchAttributeKey('EndpointId', SearchAttributeType.KEYWORD_LIST);
/**
 * The outcome of a delivery that was not delivered: `failed`, `skipped`, `cancelled` or `no_subscribers`, upserted
 * by the workflow when it ends. A delivered event has none, so the common case costs no upsert (one history event
 * and one billable action): it is `ExecutionStatus = 'Completed' AND DeliveryStatus IS NULL`, and a delivery in
 * flight is `ExecutionStatus = 'Running'`. Deliveries started before this rule carry `pending` from their start and
 * get their final status upserted whatever it is, `delivered` included.
 */
export const DeliveryStatusKey = defineSearchAttributeKey('DeliveryStatus', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTE_KEYS = [TenantIdKey, EventIdKey, EventTypeKey, EndpointIdKey, DeliveryStatusKey] as const;
