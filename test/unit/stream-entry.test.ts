import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseStreamEntry, utf8Length } from '../../src/domain/stream-entry';

const limits = { maxDataBytes: 64 };

describe('parseStreamEntry', () => {
  it('accepts a well-formed entry and derives occurredAt from the entry id', () => {
    const parsed = parseStreamEntry(
      '1700000000000-3',
      ['tenant', 'acme', 'type', 'order.created', 'data', '{"a":1}', 'id', 'evt_1'],
      limits,
    );
    assert.deepEqual(parsed, {
      ok: true,
      entry: {
        tenantId: 'acme',
        eventType: 'order.created',
        dataJson: '{"a":1}',
        data: { a: 1 },
        eventId: 'evt_1',
        occurredAt: '2023-11-14T22:13:20.000Z',
      },
    });
  });

  it('derives a stable event id from the entry id when the producer sets none', () => {
    const a = parseStreamEntry('1700000000000-3', ['tenant', 'acme', 'type', 'x', 'data', '1'], limits);
    const b = parseStreamEntry('1700000000000-3', ['tenant', 'acme', 'type', 'x', 'data', '1'], limits);
    assert.ok(a.ok && b.ok);
    assert.equal(a.entry.eventId, 'evt_1700000000000-3');
    assert.equal(a.entry.eventId, b.entry.eventId);
  });

  it('ignores unknown fields', () => {
    const parsed = parseStreamEntry('1-0', ['tenant', 'acme', 'trace', 'abc', 'type', 'x', 'data', 'null'], limits);
    assert.equal(parsed.ok, true);
  });

  const rejected: [string, string[], RegExp][] = [
    ['missing tenant', ['type', 'x', 'data', '{}'], /missing field "tenant"/],
    ['missing type', ['tenant', 'acme', 'data', '{}'], /missing field "type"/],
    ['missing data', ['tenant', 'acme', 'type', 'x'], /missing field "data"/],
    ['invalid JSON', ['tenant', 'acme', 'type', 'x', 'data', '{'], /not valid JSON/],
    [
      'oversized data',
      ['tenant', 'acme', 'type', 'x', 'data', JSON.stringify('é'.repeat(40))],
      /82 bytes, over the 64-byte limit/,
    ],
    ['tenant with a colon', ['tenant', 'a:b', 'type', 'x', 'data', '{}'], /not a valid tenant id/],
    ['type with spaces', ['tenant', 'acme', 'type', 'order created', 'data', '{}'], /not a valid event type/],
    ['bad event id', ['tenant', 'acme', 'type', 'x', 'data', '{}', 'id', 'has space'], /not a valid event id/],
    ['duplicate field', ['tenant', 'acme', 'tenant', 'other', 'type', 'x', 'data', '{}'], /more than once/],
    ['odd field count', ['tenant', 'acme', 'type'], /odd number/],
  ];
  for (const [name, fields, reason] of rejected) {
    it(`rejects an entry with ${name}`, () => {
      const parsed = parseStreamEntry('1-0', fields, limits);
      assert.equal(parsed.ok, false);
      assert.match((parsed as { reason: string }).reason, reason);
    });
  }

  it('counts UTF-8 bytes like Buffer.byteLength', () => {
    for (const s of ['', 'abc', 'é', '☕', '😀', 'a😀é', '\ud800']) {
      assert.equal(utf8Length(s), Buffer.byteLength(s, 'utf8'), JSON.stringify(s));
    }
  });
});
