import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import calculateSlot from 'cluster-key-slot';
import type { EndpointId, EventId, TenantId } from '../../src/domain/ids';
import { parseEndpointId, parseEventId, parseTenantId } from '../../src/domain/ids';
import type { KeyScope, RedisKeys } from '../../src/store/redis-keys';
import { KEYS_USED_TOGETHER, KEY_LAYOUT, createRedisKeys, keyPatterns } from '../../src/store/redis-keys';

/** Ids as the service meets them, odd ones included (event ids may hold `:` and `.`; a tenant may be one letter). */
const SAMPLES: { tenant: TenantId; endpoint: EndpointId; event: EventId }[] = [
  ['acme', 'ep_01hx2y3z4a5b6c7d', 'evt-1'],
  ['a', 'ep_0', 'order:42:created'],
  ['Tenant_With-Dashes_9', 'ep_zzzzzzzzzzzzzzzz', '0123456789.abc:def-ghi'],
  ['wss', 'ep_1', 'wss'],
].map(([tenant, endpoint, event]) => ({
  tenant: parseTenantId(tenant!, 'tenant'),
  endpoint: parseEndpointId(endpoint!, 'endpoint'),
  event: parseEventId(event!, 'event'),
}));

const PREFIXES = ['wss', 'prod-eu_1'];

/** Every builder called with one sample's ids. */
function allKeys(keys: RedisKeys, s: (typeof SAMPLES)[number]): Record<keyof RedisKeys, string> {
  return {
    eventStream: keys.eventStream(),
    rejectedEntryStream: keys.rejectedEntryStream(),
    tenants: keys.tenants(),
    tenant: keys.tenant(s.tenant),
    apiKeys: keys.apiKeys(),
    tenantApiKeys: keys.tenantApiKeys(s.tenant),
    portalSession: keys.portalSession('0f'.repeat(32)),
    portalSessionsRevoked: keys.portalSessionsRevoked(s.tenant),
    ingestStats: keys.ingestStats(),
    consumerGroupRecovery: keys.consumerGroupRecovery('wss-senders'),
    operationalEvents: keys.operationalEvents(),
    tenantEndpoints: keys.tenantEndpoints(s.tenant),
    endpoint: keys.endpoint(s.tenant, s.endpoint),
    endpointFailures: keys.endpointFailures(s.tenant, s.endpoint),
    endpointFlowControl: keys.endpointFlowControl(s.tenant, s.endpoint),
    endpointLeases: keys.endpointLeases(s.tenant, s.endpoint),
    deadLetters: keys.deadLetters(s.tenant),
    endpointDeadLetters: keys.endpointDeadLetters(s.tenant, s.endpoint),
    tenantSigningKeys: keys.tenantSigningKeys(s.tenant),
    payload: keys.payload(s.tenant, s.event),
    eventClaim: keys.eventClaim(s.tenant, s.event),
    attempts: keys.attempts(s.tenant, s.event),
    oauth2Token: keys.oauth2Token('q3Zx-_digest'),
  };
}

/** The hash tag a key is hashed by, as Redis Cluster reads it (the key itself when it has none). */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
}

function expectedTag(scope: KeyScope, prefix: string, s: (typeof SAMPLES)[number]): string | undefined {
  switch (scope) {
    case 'service':
      return prefix;
    case 'tenant':
      return `${prefix}:${s.tenant}`;
    case 'event':
      return `${prefix}:${s.tenant}:${s.event}`;
    case 'stream':
      return undefined;
    default: {
      const never: never = scope;
      return never;
    }
  }
}

describe('Redis key layout (hash tags for Redis Cluster)', () => {
  it('gives every key the hash tag of its scope', () => {
    for (const prefix of PREFIXES) {
      const keys = createRedisKeys(prefix, { events: 'wss:events', rejectedEntries: 'wss:events:dead' });
      for (const s of SAMPLES) {
        for (const [name, key] of Object.entries(allKeys(keys, s)) as [keyof RedisKeys, string][]) {
          const tag = expectedTag(KEY_LAYOUT[name].scope, prefix, s);
          if (tag === undefined) continue;
          assert.ok(key.startsWith('{'), `${name}: ${key} should start with its hash tag`);
          assert.equal(hashTag(key), tag, name);
          assert.equal(calculateSlot(key), calculateSlot(tag), name);
        }
      }
    }
  });

  it('puts every group of keys used together (MULTI, Lua, multi-key commands) in one slot', () => {
    for (const prefix of PREFIXES) {
      const keys = createRedisKeys(prefix, { events: 'wss:events', rejectedEntries: 'wss:events:dead' });
      for (const s of SAMPLES) {
        const built = allKeys(keys, s);
        for (const [operation, names] of Object.entries(KEYS_USED_TOGETHER)) {
          const slots = new Set(names.map((name) => calculateSlot(built[name])));
          assert.equal(slots.size, 1, `${operation}: ${names.map((n) => built[n]).join(', ')}`);
        }
      }
      // Two endpoints or two events of one tenant: the tenant-wide MULTIs (endpoint delete all) and MGETs (list)
      // span them.
      const [a, b] = [
        SAMPLES[0]!,
        { ...SAMPLES[0]!, endpoint: parseEndpointId('ep_other', 'e'), event: parseEventId('e2', 'e') },
      ];
      assert.equal(
        calculateSlot(keys.endpoint(a.tenant, a.endpoint)),
        calculateSlot(keys.endpoint(b.tenant, b.endpoint)),
      );
      assert.equal(calculateSlot(keys.tenant(a.tenant)), calculateSlot(keys.tenant(SAMPLES[1]!.tenant)));
    }
  });

  it('spreads tenants and events over the cluster instead of one slot for everything', () => {
    const keys = createRedisKeys('wss', { events: 'e', rejectedEntries: 'd' });
    const tenant = SAMPLES[0]!.tenant;
    const eventSlots = new Set(
      Array.from({ length: 50 }, (_, i) => calculateSlot(keys.payload(tenant, parseEventId(`evt-${i}`, 'e')))),
    );
    assert.ok(eventSlots.size > 40, `payloads of one tenant in ${eventSlots.size} slots`);
    const tenantSlots = new Set(
      Array.from({ length: 50 }, (_, i) => calculateSlot(keys.tenantEndpoints(parseTenantId(`t${i}`, 't')))),
    );
    assert.ok(tenantSlots.size > 40, `tenants in ${tenantSlots.size} slots`);
  });

  it('keeps every key distinct', () => {
    const keys = createRedisKeys('wss', { events: 'wss:events', rejectedEntries: 'wss:events:dead' });
    const all = SAMPLES.flatMap((s) => Object.values(allKeys(keys, s)));
    const perSample = Object.values(allKeys(keys, SAMPLES[0]!));
    assert.equal(new Set(perSample).size, perSample.length);
    assert.ok(new Set(all).size > perSample.length);
  });

  it('documents every builder (the README table is generated from KEY_LAYOUT and the builders)', () => {
    const patterns = keyPatterns();
    const builders = Object.keys(createRedisKeys('p', { events: 'e', rejectedEntries: 'd' })).sort();
    assert.deepEqual(Object.keys(KEY_LAYOUT).sort(), builders);
    assert.deepEqual(Object.keys(patterns).sort(), builders);
    assert.equal(patterns.endpoint, '{<prefix>:<tenant>}:endpoint:<endpoint>');
  });
});
