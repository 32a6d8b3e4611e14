import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonNestingDepth } from '../../src/domain/json-text';

describe('jsonNestingDepth', () => {
  const cases: [string, number][] = [
    ['1', 0],
    ['"[[[["', 0],
    ['[]', 1],
    ['{}', 1],
    ['[[1],[2,[3]]]', 3],
    ['{"a":{"b":[{"c":1}]}}', 4],
    ['{"a":"\\"[[[{"}', 1],
    ['["\\\\",[]]', 2],
  ];
  for (const [text, depth] of cases) {
    it(`measures ${text} as ${depth}`, () => assert.equal(jsonNestingDepth(text), depth));
  }

  it('handles 100,000 levels without recursion', () => {
    const text = '['.repeat(100_000) + ']'.repeat(100_000);
    assert.equal(jsonNestingDepth(text), 100_000);
  });

  it('stops early once the depth exceeds the bound', () => {
    assert.equal(jsonNestingDepth('['.repeat(1000) + ']'.repeat(1000), 64), 65);
  });
});
