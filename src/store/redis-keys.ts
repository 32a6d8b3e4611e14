import type { EndpointId, EventId, TenantId } from '../domain/ids';

/**
 * Every Redis key name the service uses, in one place, streams included. Nothing else builds key strings; the
 * stores and the entry points ask this module for them.
 *
 * Ids that appear in keys are validated against closed alphabets (see domain/ids.ts), so a tenant or endpoint id
 * can never smuggle a `:` and reach another tenant's keys.
 *
 * **Hash tags, by design.** Redis Cluster keeps a MULTI, a Lua script or a multi-key command only when all its
 * keys hash to one slot, and only the part of a key between the first `{` and the next `}` is hashed. So every key
 * starts with the hash tag of its {@link KeyScope}, and keys that an operation touches together share a scope
 * ({@link KEYS_USED_TOGETHER}, checked by test/unit/redis-keys.test.ts against `cluster-key-slot`):
 * - `service` `{<prefix>}`: the few service-wide keys and the tenant registry and API keys, which must change
 *   atomically with them (tenant set + tenant record; key digest index + tenant's key list);
 * - `tenant` `{<prefix>:<tenant>}`: a tenant's endpoints and dead letters;
 * - `event` `{<prefix>:<tenant>:<event>}`: the per-event data (payload, dedupe claim, attempt log), the bulk of
 *   what is stored, spread over the whole cluster even when one tenant sends most events;
 * - `stream`: the streams, named whole by the operator (`WSS_STREAM`, `WSS_DEAD_LETTER_STREAM`); nothing touches
 *   them together with another key.
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
  /** A tenant portal session by the SHA-256 of its token (expires with the session). */
  portalSession(tokenDigest: string): string;
  /** Epoch ms: the tenant's portal sessions minted at or before it are revoked (expires after the longest TTL). */
  portalSessionsRevoked(tenantId: TenantId): string;
  /** Stream of operational events (endpoint disabled, ...). */
  operationalEvents(): string;
  /** Hash `{count, since}`: consecutive failed deliveries of an endpoint and when the streak began. */
  endpointFailures(tenantId: TenantId, endpointId: EndpointId): string;
  /** Hash: an endpoint's flow control state (GCRA, AIMD, pause, ticket counters); see store/flow-control-store.ts. */
  endpointFlowControl(tenantId: TenantId, endpointId: EndpointId): string;
  /** Sorted set: an endpoint's in-flight leases, scored by expiry. */
  endpointLeases(tenantId: TenantId, endpointId: EndpointId): string;
  /** List of attempt records of one event's deliveries (Temporal history keeps only the last attempt). */
  attempts(tenantId: TenantId, eventId: EventId): string;
  /** Hash `<eventId>/<endpointId>` → dead-letter record. */
  deadLetters(tenantId: TenantId): string;
  /** Sorted set of `<eventId>/<endpointId>` by failure time, per endpoint, for time-range replays. */
  endpointDeadLetters(tenantId: TenantId, endpointId: EndpointId): string;
  /** JSON list of a tenant's ed25519 signing keys for `v1a` (private keys encrypted), newest first. */
  tenantSigningKeys(tenantId: TenantId): string;
  /**
   * An OAuth2 access token shared by every worker (sealed, expires before the token does), or its refresh lock.
   * `digest` is the token source's base64url digest of the credentials, so changed credentials get a new key.
   */
  oauth2Token(digest: string, part?: 'token' | 'lock'): string;
}

/** Names of the streams, which are configured whole (producers and operators know them), not derived. */
export interface StreamNames {
  readonly events: string;
  readonly rejectedEntries: string;
}

/** Which hash tag a key carries: which keys share its Redis Cluster slot. */
export type KeyScope = 'stream' | 'service' | 'tenant' | 'event';

/**
 * @param prefix `WSS_KEY_PREFIX`, in every key but the configured streams.
 * @param streams `WSS_STREAM` and `WSS_DEAD_LETTER_STREAM`.
 */
export function createRedisKeys(prefix: string, streams: StreamNames): RedisKeys {
  const service = `{${prefix}}`;
  const tenant = (tenantId: TenantId): string => `{${prefix}:${tenantId}}`;
  const event = (tenantId: TenantId, eventId: EventId): string => `{${prefix}:${tenantId}:${eventId}}`;
  return {
    eventStream: () => streams.events,
    rejectedEntryStream: () => streams.rejectedEntries,
    tenants: () => `${service}:tenants`,
    tenant: (tenantId) => `${service}:tenant:${tenantId}`,
    apiKeys: () => `${service}:apikeys`,
    tenantApiKeys: (tenantId) => `${service}:tenant:${tenantId}:apikeys`,
    portalSession: (tokenDigest) => `${service}:portal-session:${tokenDigest}`,
    portalSessionsRevoked: (tenantId) => `${service}:tenant:${tenantId}:portal-revoked-before`,
    ingestStats: () => `${service}:stats:ingest`,
    consumerGroupRecovery: (group) => `${service}:consumer-group-recovered:${group}`,
    operationalEvents: () => `${service}:ops`,
    tenantEndpoints: (tenantId) => `${tenant(tenantId)}:endpoints`,
    endpoint: (tenantId, endpointId) => `${tenant(tenantId)}:endpoint:${endpointId}`,
    endpointFailures: (tenantId, endpointId) => `${tenant(tenantId)}:endpoint:${endpointId}:failures`,
    endpointFlowControl: (tenantId, endpointId) => `${tenant(tenantId)}:endpoint:${endpointId}:flow`,
    endpointLeases: (tenantId, endpointId) => `${tenant(tenantId)}:endpoint:${endpointId}:leases`,
    deadLetters: (tenantId) => `${tenant(tenantId)}:dead`,
    endpointDeadLetters: (tenantId, endpointId) => `${tenant(tenantId)}:endpoint:${endpointId}:dead`,
    tenantSigningKeys: (tenantId) => `${tenant(tenantId)}:signing-keys`,
    payload: (tenantId, eventId) => `${event(tenantId, eventId)}:payload`,
    eventClaim: (tenantId, eventId) => `${event(tenantId, eventId)}:claim`,
    attempts: (tenantId, eventId) => `${event(tenantId, eventId)}:attempts`,
    oauth2Token: (digest, part = 'token') => `${service}:oauth2-${part}:${digest}`,
  };
}

/** Each key's scope and what it holds, in the order the README's key table lists them. */
export const KEY_LAYOUT: Readonly<Record<keyof RedisKeys, { readonly scope: KeyScope; readonly holds: string }>> = {
  eventStream: { scope: 'stream', holds: 'The event stream producers XADD to (`WSS_STREAM`).' },
  rejectedEntryStream: {
    scope: 'stream',
    holds: 'Entries the consumer could not accept, with the reason (`WSS_DEAD_LETTER_STREAM`).',
  },
  tenants: { scope: 'service', holds: 'Set of tenant ids.' },
  tenant: { scope: 'service', holds: 'A tenant (JSON).' },
  apiKeys: { scope: 'service', holds: 'Hash: API key digest → tenant and key id.' },
  tenantApiKeys: { scope: 'service', holds: "Hash: a tenant's API key id → key record (digest, no key)." },
  portalSession: { scope: 'service', holds: 'A tenant portal session (tenant, expiry) by token digest (expires).' },
  portalSessionsRevoked: {
    scope: 'service',
    holds: "Epoch ms before which the tenant's portal sessions are revoked (expires after the longest session).",
  },
  ingestStats: { scope: 'service', holds: 'Hash of ingest counters (`duplicates`).' },
  consumerGroupRecovery: { scope: 'service', holds: 'The last recreation of a lost consumer group (expires).' },
  operationalEvents: { scope: 'service', holds: 'Stream of operational events (endpoint disabled, ...), capped.' },
  tenantEndpoints: { scope: 'tenant', holds: "Sorted set of a tenant's endpoint ids." },
  endpoint: { scope: 'tenant', holds: 'An endpoint (JSON; signing secrets encrypted).' },
  endpointFailures: { scope: 'tenant', holds: "Hash: an endpoint's failure streak (`count`, `since`)." },
  endpointFlowControl: {
    scope: 'tenant',
    holds: "Hash: an endpoint's flow control (rate slot, AIMD rate, pause, ticket counters; expires a day after use).",
  },
  endpointLeases: { scope: 'tenant', holds: "Sorted set: an endpoint's requests in flight, by lease expiry." },
  deadLetters: { scope: 'tenant', holds: "Hash: a tenant's dead letters by `<event>/<endpoint>`." },
  endpointDeadLetters: { scope: 'tenant', holds: "Sorted set: an endpoint's dead letters by failure time." },
  tenantSigningKeys: {
    scope: 'tenant',
    holds: "A tenant's ed25519 signing keys for `v1a` (JSON; private keys encrypted), newest first.",
  },
  payload: { scope: 'event', holds: "An event's `data` (expires: `WSS_PAYLOAD_TTL_SECONDS`)." },
  eventClaim: { scope: 'event', holds: 'Dedupe claim: the stream entry that owns the event id (expires).' },
  attempts: { scope: 'event', holds: "List of an event's attempt records (expires with the payload)." },
  oauth2Token: {
    scope: 'service',
    holds: 'An OAuth2 access token shared by the workers (sealed; expires before the token), or its refresh lock.',
  },
};

/**
 * The keys that one MULTI, Lua script or multi-key command touches together, by the operation that does it. Each
 * group must share one scope (and so one slot); any other operation on several keys is split into single-slot
 * steps, each explained where it is done.
 */
export const KEYS_USED_TOGETHER: Readonly<Record<string, readonly (keyof RedisKeys)[]>> = {
  'tenant create / delete (MULTI)': ['tenant', 'tenants'],
  'tenant list (MGET)': ['tenant'],
  'API key create / revoke / revoke all (MULTI)': ['apiKeys', 'tenantApiKeys'],
  'endpoint create / delete / delete all (MULTI)': ['endpoint', 'tenantEndpoints', 'endpointFailures'],
  'endpoint list (MGET)': ['endpoint'],
  'dead letter add / remove (MULTI), list (HMGET after ZRANGEBYSCORE)': ['deadLetters', 'endpointDeadLetters'],
  'event claim (Lua)': ['eventClaim', 'payload'],
  'payload touch on replay (Lua)': ['payload', 'eventClaim'],
  'attempt record (MULTI), final attempt of a failed delivery (Lua)': ['attempts'],
  'failed delivery: dead letter + failure streak (Lua)': ['deadLetters', 'endpointDeadLetters', 'endpointFailures'],
  'flow control take / release / state (Lua)': ['endpointFlowControl', 'endpointLeases'],
};

/** Placeholder ids that show a key's pattern in documentation. */
const PATTERN_IDS = {
  tenant: '<tenant>' as TenantId,
  endpoint: '<endpoint>' as EndpointId,
  event: '<event>' as EventId,
};

/** Every key as a pattern (`{<prefix>:<tenant>}:endpoint:<endpoint>`), built by the builders themselves. */
export function keyPatterns(): Record<keyof RedisKeys, string> {
  const keys = createRedisKeys('<prefix>', { events: '<WSS_STREAM>', rejectedEntries: '<WSS_DEAD_LETTER_STREAM>' });
  const { tenant, endpoint, event } = PATTERN_IDS;
  return {
    eventStream: keys.eventStream(),
    rejectedEntryStream: keys.rejectedEntryStream(),
    tenants: keys.tenants(),
    tenant: keys.tenant(tenant),
    apiKeys: keys.apiKeys(),
    tenantApiKeys: keys.tenantApiKeys(tenant),
    portalSession: keys.portalSession('<sha256 of token>'),
    portalSessionsRevoked: keys.portalSessionsRevoked(tenant),
    ingestStats: keys.ingestStats(),
    consumerGroupRecovery: keys.consumerGroupRecovery('<WSS_CONSUMER_GROUP>'),
    operationalEvents: keys.operationalEvents(),
    tenantEndpoints: keys.tenantEndpoints(tenant),
    endpoint: keys.endpoint(tenant, endpoint),
    endpointFailures: keys.endpointFailures(tenant, endpoint),
    endpointFlowControl: keys.endpointFlowControl(tenant, endpoint),
    endpointLeases: keys.endpointLeases(tenant, endpoint),
    deadLetters: keys.deadLetters(tenant),
    endpointDeadLetters: keys.endpointDeadLetters(tenant, endpoint),
    tenantSigningKeys: keys.tenantSigningKeys(tenant),
    payload: keys.payload(tenant, event),
    eventClaim: keys.eventClaim(tenant, event),
    attempts: keys.attempts(tenant, event),
    oauth2Token: keys.oauth2Token('<credentials digest>'),
  };
}

/** The README's key table: pattern, hash-tag scope, contents. */
export function keyLayoutTable(): string {
  const patterns = keyPatterns();
  const rows = (Object.keys(KEY_LAYOUT) as (keyof RedisKeys)[]).map(
    (name) => `| \`${patterns[name]}\` | ${KEY_LAYOUT[name].scope} | ${KEY_LAYOUT[name].holds} |`,
  );
  return ['| Key | Slot (hash tag) | Holds |', '| --- | --- | --- |', ...rows].join('\n');
}
