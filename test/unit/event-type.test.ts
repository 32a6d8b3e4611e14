import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertEventTypePattern, matchesEventType } from '../../src/domain/event-type';

describe('event type patterns', () => {
  const cases: [string[], string, boolean][] = [
    [['order.created'], 'order.created', true],
    [['order.created'], 'order.updated', false],
    [['order.*'], 'order.updated', true],
    [['order.*'], 'order.item.added', true],
    [['order.*'], 'order', false],
    [['order.*'], 'orders.updated', false],
    [['*'], 'anything.at.all', true],
    [['invoice.paid', 'order.*'], 'order.created', true],
    [[], 'order.created', false],
  ];
  for (const [patterns, type, expected] of cases) {
    it(`${JSON.stringify(patterns)} ${expected ? 'matches' : 'does not match'} ${type}`, () => {
      assert.equal(matchesEventType(patterns, type), expected);
    });
  }

  for (const bad of ['', '.', 'order.', 'order..x', 'order.**', '*.created', 'order.*.x', 'a b', 'x'.repeat(129)]) {
    it(`rejects the malformed pattern ${JSON.stringify(bad.slice(0, 20))}`, () => {
      assert.throws(() => assertEventTypePattern(bad, 'eventTypes.0'), { code: 'validation_failed' });
    });
  }
});
