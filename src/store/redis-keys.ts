import type { EndpointId, EventId, TenantId } from '../domain/ids';

/**
 * Every Redis key name the service uses, in one place, streams included. Nothing else builds key strings; the
 * stores and the entry points ask this module for them.
 *
 * Ids that appear in keys are validated against closed alphabets (see domain/ids.ts), so a tenant or endpoint id
 * can never smuggle a `:` and reach another tenant's keys.
 */
export interface RedisKeys {
  /** The stream producers XADD events to (`WSS_STREAM`, configured as a whole name, not under the prefix). */
  eventStream(): string;
  /** The stream of entries the consumer could not accept (`WSS_DEAD_LETTER_STREAM`). */
  rejectedEntryStream(): string;
  /** Set of all tenant ids. */
  tenants(): string;
  /** JSON record of one tenant. */
  tenant(tenantId: TenantId): string;
  /** Sorted set of a tenant's endpoint ids, scored by creation time (stable pagination). */
  tenantEndpoints(tenantId: TenantId): string;
  /** JSON record of one endpoint (secrets inside are encrypted). */
  endpoint(tenantId: TenantId, endpointId: EndpointId): string;
  /** Event payload (`data` JSON text) kept for attempts, retries and replays. */
  payload(tenantId: TenantId, eventId: EventId): string;
  /**
   * Dedupe record of an event id: the stream entry id that claimed `(tenant, eventId)`, expiring with the dedupe
   * window. Written together with the payload.
   */
  eventClaim(tenantId: TenantId, eventId: EventId): string;
  /** Hash of ingest counters (`duplicates`: republished event ids ignored within the dedupe window). */
  ingestStats(): string;
  /** JSON of the last consumer-group recreation, kept while health reports it. */
  consumerGroupRecovery(group: string): string;
  /** Hash of API key digest → tenant id. */
  apiKeys(): string;
  /** Hash of a tenant's API key id → key record (no key material, only its digest). */
  tenantApiKeys(tenantId: TenantId): string;
  /** Stream of operational events (endpoint disabled, ...). */
  operationalEvents(): string;
  /** Hash `{count, since}`: consecutive failed deliveries of an endpoint and when the streak began. */
  endpointFailures(tenantId: TenantId, endpointId: EndpointId): string;
  /** List of attempt records of one event's deliveries (Temporal history keeps only the last attempt). */
  attempts(tenantId: TenantId, eventId: EventId): string;
  /** Hash `<eventId>/<endpointId>` → dead-letter record. */
  deadLetters(tenantId: TenantId): string;
  /** Sorted set of `<eventId>/<endpointId>` by failure time, per endpoint, for time-range replays. */
  endpointDeadLetters(tenantId: TenantId, endpointId: EndpointId): string;
}

/** Names of the streams, which are configured whole (producers and operators know them), not derived. */
export interface StreamNames {
  readonly events: string;
  readonly rejectedEntries: string;
}

/**
 * @param prefix `WSS_KEY_PREFIX`, in front of every key but the configured streams.
 * @param streams `WSS_STREAM` and `WSS_DEAD_LETTER_STREAM`.
 */
export function createRedisKeys(prefix: string, streams: StreamNames): RedisKeys {
  return {
    eventStream: () => streams.events,
    rejectedEntryStream: () => streams.rejectedEntries,
    tenants: () => `${prefix}:tenants`,
    tenant: (tenantId) => `${prefix}:tenant:${tenantId}`,
    tenantEndpoints: (tenantId) => `${prefix}:tenant:${tenantId}:endpoints`,
    endpoint: (tenantId, endpointId) => `${prefix}:endpoint:${tenantId}:${endpointId}`,
    payload: (tenantId, eventId) => `${prefix}:payload:${tenantId}:${eventId}`,
    eventClaim: (tenantId, eventId) => `${prefix}:claim:${tenantId}:${eventId}`,
    ingestStats: () => `${prefix}:stats:ingest`,
    consumerGroupRecovery: (group) => `${prefix}:consumer-group-recovered:${group}`,
    apiKeys: () => `${prefix}:apikeys`,
    tenantApiKeys: (tenantId) => `${prefix}:tenant:${tenantId}:apikeys`,
    operationalEvents: () => `${prefix}:ops`,
    endpointFailures: (tenantId, endpointId) => `${prefix}:endpoint:${tenantId}:${endpointId}:failures`,
    attempts: (tenantId, eventId) => `${prefix}:attempts:${tenantId}:${eventId}`,
    deadLetters: (tenantId) => `${prefix}:tenant:${tenantId}:dead`,
    endpointDeadLetters: (tenantId, endpointId) => `${prefix}:endpoint:${tenantId}:${endpointId}:dead`,
  };
}
