import assert from 'node:assert/strict';
import { orderingSchema } from '../../src/api/schemas';
import { describe, it } from 'node:test';
import type { Endpoint } from '../../src/domain/endpoint';
import type { EventEnvelope } from '../../src/domain/event';
import { ValidationError } from '../../src/domain/errors';
import { parseEndpointId, parseTenantId } from '../../src/domain/ids';
import {
  compareStreamIds,
  orderedLaneWorkflowId,
  orderingKeyHash,
  orderingKeyOf,
  parseOrderingPath,
  splitOrderedRoutes,
} from '../../src/domain/ordering';
import { parseStreamEntry } from '../../src/domain/stream-entry';

const envelope: EventEnvelope = {
  id: 'e1',
  type: 'order.paid',
  tenant: 'acme',
  occurredAt: '2026-01-01T00:00:00.000Z',
  data: { order: { id: 'o-17', 'line-items': [{ sku: 'A1' }] }, seq: 42, empty: '', flag: true, n: 1.5 },
};

function endpoint(id: string, ordering?: Endpoint['ordering']): Endpoint {
  return {
    id: parseEndpointId(id),
    tenantId: parseTenantId('acme'),
    url: 'https://example.com/hook',
    eventTypes: ['*'],
    enabled: true,
    signatureScheme: 'wss',
    sendTraceparent: false,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...(ordering ? { ordering } : {}),
  };
}

describe('parseOrderingPath', () => {
  const cases: [string, (string | number)[]][] = [
    ['$.data.order.id', ['data', 'order', 'id']],
    ['$.data.items[0].sku', ['data', 'items', 0, 'sku']],
    ['$["data"]["order-id"]', ['data', 'order-id']],
    ["$['data']['a\\'b']", ['data', "a'b"]],
    ['$.type', ['type']],
  ];
  for (const [text, segments] of cases) {
    it(`parses ${text}`, () => assert.deepEqual(parseOrderingPath(text), segments));
  }
  for (const bad of ['data.order', '$', '$.', '$..x', '$.a[*]', '$.a[-1]', '$.a b', `$.${'a'.repeat(300)}`]) {
    it(`refuses ${bad.slice(0, 20)} with a validation error naming ordering.key`, () => {
      assert.throws(
        () => parseOrderingPath(bad),
        (err: unknown) => err instanceof ValidationError && err.field === 'ordering.key',
      );
    });
  }
});

describe('ordering key errors, as the API shows them', () => {
  it('names the field once, with what is wrong where', () => {
    const parsed = orderingSchema.safeParse({ key: 'data.key' });
    assert.equal(parsed.success, false);
    const message = parsed.error?.issues[0]?.message ?? '';
    assert.ok(!message.startsWith('ordering.key:'), message);
    assert.match(message, /must start with "\$"/);
  });

  it('says an index is too long, not "unexpected text"', () => {
    assert.throws(
      () => parseOrderingPath('$.data.items[1234567]'),
      (err: unknown) => err instanceof ValidationError && /at most 6 digits/.test(err.message),
    );
  });
});

describe('orderingKeyOf', () => {
  const cases: [string, string | undefined][] = [
    ['$.data.order.id', 'o-17'],
    ['$.data["order"]["line-items"][0].sku', 'A1'],
    ['$.data.seq', '42'],
    ['$.data.n', '1.5'],
    ['$.id', 'e1'],
    ['$.data.empty', undefined],
    ['$.data.flag', undefined],
    ['$.data.order', undefined],
    ['$.data.missing.deeper', undefined],
    ['$.data.order.id[0]', undefined],
    ['$.data.constructor', undefined],
  ];
  for (const [path, key] of cases) {
    it(`${path} gives ${String(key)}`, () => assert.equal(orderingKeyOf({ key: path }, envelope, undefined).key, key));
  }
  it('reads the stream field for "orderingKey", and gives no key without it', () => {
    assert.equal(orderingKeyOf({ key: 'orderingKey' }, envelope, 'k1').key, 'k1');
    const none = orderingKeyOf({ key: 'orderingKey' }, envelope, undefined);
    assert.equal(none.key, undefined);
    assert.match((none as { reason: string }).reason, /orderingKey/);
  });
});

describe('splitOrderedRoutes', () => {
  it('sends endpoints with ordering and a key to lanes, the rest (no ordering, no key) to the event workflow', () => {
    const plain = endpoint('ep_plain');
    const byOrder = endpoint('ep_order', { key: '$.data.order.id', onFailure: 'continue' });
    const byMissing = endpoint('ep_missing', { key: '$.data.customer', onFailure: 'pause' });
    const { ordered, unordered } = splitOrderedRoutes([plain, byOrder, byMissing], envelope, undefined);
    assert.deepEqual(
      ordered.map((r) => [r.endpoint.id, r.key]),
      [['ep_order', 'o-17']],
    );
    assert.deepEqual(
      unordered.map((e) => e.id),
      ['ep_plain', 'ep_missing'],
    );
  });
});

describe('lane identity', () => {
  it('hashes a key to 32 hex digits, stably, and keeps any key out of the workflow id', () => {
    const long = 'x'.repeat(1024);
    for (const key of ['o-17', 'ünïcødé 🎉', long, "'; DROP"]) {
      assert.match(orderingKeyHash(key), /^[0-9a-f]{32}$/);
      const id = orderedLaneWorkflowId(parseTenantId('acme'), parseEndpointId('ep_1'), orderingKeyHash(key));
      assert.ok(id.length < 100 && !id.includes(key), id);
    }
    // Fixed values: a change would move every running lane to a new workflow id.
    assert.equal(orderingKeyHash('o-17'), orderingKeyHash('o-17'));
    assert.notEqual(orderingKeyHash('o-17'), orderingKeyHash('o-18'));
    assert.equal(orderingKeyHash(''), 'cbf29ce48422232584222325cbf29ce4');
  });
  it('gives 10,000 distinct keys 10,000 distinct hashes', () => {
    const hashes = new Set(Array.from({ length: 10_000 }, (_, i) => orderingKeyHash(`order-${i}`)));
    assert.equal(hashes.size, 10_000);
  });
});

describe('compareStreamIds', () => {
  const cases: [string, string, number][] = [
    ['1-0', '1-0', 0],
    ['1-1', '1-0', 1],
    ['9-5', '10-0', -1],
    ['1700000000000-9', '1700000000000-10', -1],
    ['18446744073709551615-0', '18446744073709551614-99', 1],
  ];
  for (const [a, b, expected] of cases) {
    it(`${a} vs ${b}`, () => assert.equal(compareStreamIds(a, b), expected));
  }
});

describe('the stream entry field orderingKey', () => {
  const limits = { maxDataBytes: 1000, maxDepth: 10 };
  it('is read when present, and absent otherwise', () => {
    const withKey = parseStreamEntry('1-1', ['tenant', 't', 'type', 'a.b', 'data', '{}', 'orderingKey', 'k'], limits);
    assert.ok(withKey.ok);
    assert.equal(withKey.entry.orderingKey, 'k');
    const without = parseStreamEntry('1-1', ['tenant', 't', 'type', 'a.b', 'data', '{}'], limits);
    assert.ok(without.ok);
    assert.equal(without.entry.orderingKey, undefined);
  });
  it('refuses a key over 1024 characters as invalid_field', () => {
    const parsed = parseStreamEntry(
      '1-1',
      ['tenant', 't', 'type', 'a.b', 'data', '{}', 'orderingKey', 'k'.repeat(1025)],
      limits,
    );
    assert.equal(parsed.ok, false);
    assert.equal(!parsed.ok && parsed.code, 'invalid_field');
  });
});
