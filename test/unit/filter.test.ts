import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EventEnvelope } from '../../src/domain/event';
import { compileFilter, FILTER_LIMITS, matchesFilter } from '../../src/domain/filter';

const envelope: EventEnvelope = {
  id: 'evt_1',
  type: 'order.created',
  tenant: 'acme',
  occurredAt: '2024-05-01T12:00:00.000Z',
  data: {
    order: { id: 'ord_9', total: 150, currency: 'EUR', paid: true, coupon: null, note: 'Gift\nwrap please' },
    items: [
      { sku: 'SKU-1', qty: 2, price: 50 },
      { sku: 'sku-2', qty: 1, price: 50, tags: ['fragile'] },
    ],
    tags: ['new', 'vip'],
    scores: [3, 9],
    matrix: [
      [1, 2],
      [3, 4],
    ],
    address: { city: 'Lyon', zip: '69001' },
    '0': 'zero key',
  },
};

type Case = [description: string, filter: unknown, expected: boolean];

function runCases(cases: readonly Case[]): void {
  for (const [description, filter, expected] of cases) {
    it(`${expected ? 'matches' : 'does not match'} ${description}`, () => {
      assert.equal(compileFilter(filter).matches(envelope), expected, JSON.stringify(filter));
    });
  }
}

describe('filter: equality', () => {
  runCases([
    ['an implicit equality on a top-level field', { type: 'order.created' }, true],
    ['an implicit equality with another value', { type: 'order.updated' }, false],
    ['implicit AND across keys when all hold', { type: 'order.created', tenant: 'acme' }, true],
    ['implicit AND across keys when one fails', { type: 'order.created', tenant: 'other' }, false],
    ['$eq on a nested path', { 'data.order.currency': { $eq: 'EUR' } }, true],
    ['$eq on a boolean', { 'data.order.paid': true }, true],
    ['$eq is never coerced (number vs string)', { 'data.order.total': '150' }, false],
    ['$eq is never coerced (boolean vs number)', { 'data.order.paid': 1 }, false],
    ['$eq on an object is deep, in any key order', { 'data.address': { zip: '69001', city: 'Lyon' } }, true],
    ['$eq on an object with an extra key', { 'data.address': { city: 'Lyon', zip: '69001', x: 1 } }, false],
    ['$eq on an object with a missing key', { 'data.address': { city: 'Lyon' } }, false],
    ['$eq on a whole array, in order', { 'data.tags': ['new', 'vip'] }, true],
    ['$eq on a whole array in another order', { 'data.tags': ['vip', 'new'] }, false],
    ['$eq on an array value when one element matches', { 'data.tags': 'vip' }, true],
    ['$eq on an array value when no element matches', { 'data.tags': 'gold' }, false],
    ['$eq on an element that is itself an array', { 'data.matrix': [3, 4] }, true],
    ['an explicit $eq with an object operand', { 'data.address': { $eq: { city: 'Lyon', zip: '69001' } } }, true],
    ['an empty filter (matches everything)', {}, true],
    ['$eq null on a null field', { 'data.order.coupon': null }, true],
    ['$eq null on a missing field (null means null or missing)', { 'data.order.gift': null }, true],
    ['$eq null on a present non-null field', { 'data.order.currency': null }, false],
    ['$ne on a different value', { type: { $ne: 'order.updated' } }, true],
    ['$ne on the same value', { type: { $ne: 'order.created' } }, false],
    ['$ne on a missing field', { 'data.nothing': { $ne: 'x' } }, true],
    ['$ne on an array that contains the value', { 'data.tags': { $ne: 'vip' } }, false],
    ['$ne on an array that lacks the value', { 'data.tags': { $ne: 'gold' } }, true],
    ['$ne null on a present field', { 'data.order.currency': { $ne: null } }, true],
    ['$ne null on a missing field', { 'data.order.gift': { $ne: null } }, false],
    ['$ne null on a null field', { 'data.order.coupon': { $ne: null } }, false],
  ]);
});

describe('filter: comparisons', () => {
  runCases([
    ['$gt below the value', { 'data.order.total': { $gt: 100 } }, true],
    ['$gt at the value', { 'data.order.total': { $gt: 150 } }, false],
    ['$gte at the value', { 'data.order.total': { $gte: 150 } }, true],
    ['$lt above the value', { 'data.order.total': { $lt: 200 } }, true],
    ['$lt at the value', { 'data.order.total': { $lt: 150 } }, false],
    ['$lte at the value', { 'data.order.total': { $lte: 150 } }, true],
    ['a range of two operators when both hold', { 'data.order.total': { $gt: 100, $lte: 500 } }, true],
    ['a range of two operators when one fails', { 'data.order.total': { $gt: 100, $lte: 120 } }, false],
    ['$gt across types (string operand, number field)', { 'data.order.total': { $gt: '100' } }, false],
    ['$lt across types (number operand, string field)', { 'data.address.zip': { $lt: 99999 } }, false],
    ['$gt between strings', { 'data.address.city': { $gt: 'Lille' } }, true],
    ['$gte on ISO timestamps', { occurredAt: { $gte: '2024-05-01T00:00:00.000Z' } }, true],
    ['$lt on ISO timestamps', { occurredAt: { $lt: '2024-04-30T00:00:00.000Z' } }, false],
    ['$gt between booleans (false < true)', { 'data.order.paid': { $gt: false } }, true],
    ['$gt on a missing field', { 'data.order.weight': { $gt: 0 } }, false],
    ['$lt on a missing field', { 'data.order.weight': { $lt: 0 } }, false],
    ['$gt on an array when one element is greater', { 'data.scores': { $gt: 5 } }, true],
    ['$gt on an array when no element is greater', { 'data.scores': { $gt: 9 } }, false],
    ['$gt null (never)', { 'data.order.coupon': { $gt: null } }, false],
    ['$gte null on a null field', { 'data.order.coupon': { $gte: null } }, true],
    ['$lte null on a present field', { 'data.order.total': { $lte: null } }, false],
  ]);
});

describe('filter: $in, $nin and $exists', () => {
  runCases([
    ['$in with the value listed', { type: { $in: ['order.created', 'order.updated'] } }, true],
    ['$in without the value listed', { type: { $in: ['invoice.paid'] } }, false],
    ['$in with an empty list', { type: { $in: [] } }, false],
    ['$in on an array when one element is listed', { 'data.tags': { $in: ['gold', 'vip'] } }, true],
    ['$in with an object listed (deep equality)', { 'data.address': { $in: [{ zip: '69001', city: 'Lyon' }] } }, true],
    ['$in with null on a missing field', { 'data.order.gift': { $in: [null, 'x'] } }, true],
    ['$in on a missing field', { 'data.order.gift': { $in: ['x'] } }, false],
    ['$in is never coerced', { 'data.order.total': { $in: ['150'] } }, false],
    ['$nin without the value listed', { type: { $nin: ['invoice.paid'] } }, true],
    ['$nin with the value listed', { type: { $nin: ['order.created'] } }, false],
    ['$nin on a missing field', { 'data.order.gift': { $nin: ['x'] } }, true],
    ['$nin on an array when one element is listed', { 'data.tags': { $nin: ['vip'] } }, false],
    ['$exists true on a present field', { 'data.order.id': { $exists: true } }, true],
    ['$exists true on a null field', { 'data.order.coupon': { $exists: true } }, true],
    ['$exists true on a missing field', { 'data.order.gift': { $exists: true } }, false],
    ['$exists false on a missing field', { 'data.order.gift': { $exists: false } }, true],
    ['$exists false under a missing parent', { 'data.nothing.deeper': { $exists: false } }, true],
    ['$exists false on a present field', { 'data.order.id': { $exists: false } }, false],
    ['$exists on a prototype property (own properties only)', { 'data.order.constructor': { $exists: true } }, false],
    ['$exists on __proto__', { 'data.__proto__': { $exists: true } }, false],
  ]);
});

describe('filter: paths and arrays', () => {
  runCases([
    ['an array index segment', { 'data.items.0.sku': 'SKU-1' }, true],
    ['a second array index', { 'data.items.1.sku': 'sku-2' }, true],
    ['an index past the end', { 'data.items.5.sku': { $exists: true } }, false],
    ['an index into an array of arrays', { 'data.matrix.1.0': 3 }, true],
    ['a numeric segment on an object is a key', { 'data.0': 'zero key' }, true],
    ['a field across array elements (any element)', { 'data.items.sku': 'sku-2' }, true],
    ['a field across array elements (no element)', { 'data.items.sku': 'SKU-3' }, false],
    ['a comparison across array elements', { 'data.items.qty': { $gte: 2 } }, true],
    ['a nested array inside array elements', { 'data.items.tags': 'fragile' }, true],
    ['$exists on a field present in only some elements', { 'data.items.tags': { $exists: true } }, true],
    ['a path through a scalar', { 'data.order.total.value': { $exists: true } }, false],
    ['a path through null', { 'data.order.coupon.code': { $exists: false } }, true],
  ]);
});

describe('filter: $regex', () => {
  runCases([
    ['an unanchored regex', { type: { $regex: 'created' } }, true],
    ['an anchored regex that fails', { type: { $regex: '^created' } }, false],
    ['a regex with a character class', { 'data.address.zip': { $regex: '^[0-9]{5}$' } }, true],
    ['a case-sensitive regex against other case', { 'data.items.1.sku': { $regex: '^SKU-' } }, false],
    ['$options i', { 'data.items.1.sku': { $regex: '^SKU-', $options: 'i' } }, true],
    ['a regex across array elements', { 'data.items.sku': { $regex: '^sku-', $options: 'i' } }, true],
    ['a regex over an array of strings', { 'data.tags': { $regex: '^v' } }, true],
    ['^ at a line start without m', { 'data.order.note': { $regex: '^wrap' } }, false],
    ['$options m', { 'data.order.note': { $regex: '^wrap', $options: 'm' } }, true],
    ['. across a newline without s', { 'data.order.note': { $regex: 'Gift.wrap' } }, false],
    ['$options s', { 'data.order.note': { $regex: 'Gift.wrap', $options: 's' } }, true],
    ['$options ims together', { 'data.order.note': { $regex: 'GIFT.WRAP PLEASE$', $options: 'ims' } }, true],
    ['a regex on a number (only strings match)', { 'data.order.total': { $regex: '150' } }, false],
    ['a regex on a missing field', { 'data.order.gift': { $regex: '.*' } }, false],
    ['a regex combined with another operator', { type: { $regex: '^order\\.', $ne: 'order.deleted' } }, true],
    [
      'the same regex twice (shared compiled regex)',
      { $or: [{ type: { $regex: 'x$' } }, { tenant: { $regex: 'x$' } }] },
      false,
    ],
  ]);
});

describe('filter: $and, $or, $not', () => {
  runCases([
    ['$and when all hold', { $and: [{ type: 'order.created' }, { 'data.order.total': { $gt: 100 } }] }, true],
    ['$and when one fails', { $and: [{ type: 'order.created' }, { 'data.order.total': { $gt: 200 } }] }, false],
    ['$or when one holds', { $or: [{ type: 'invoice.paid' }, { 'data.order.paid': true }] }, true],
    ['$or when none holds', { $or: [{ type: 'invoice.paid' }, { 'data.order.paid': false }] }, false],
    ['field-level $not', { 'data.order.total': { $not: { $gt: 200 } } }, true],
    ['field-level $not that negates a match', { 'data.order.total': { $not: { $gt: 100 } } }, false],
    ['field-level $not on a missing field', { 'data.order.weight': { $not: { $gt: 1 } } }, true],
    ['field-level $not with $regex', { type: { $not: { $regex: '^invoice\\.' } } }, true],
    ['top-level $not of a filter', { $not: { type: 'invoice.paid' } }, true],
    ['top-level $not of a matching filter', { $not: { type: 'order.created', tenant: 'acme' } }, false],
    [
      'nested $or inside $and inside $not',
      { $not: { $and: [{ tenant: 'acme' }, { $or: [{ 'data.order.total': { $lt: 10 } }, { 'data.tags': 'gold' }] }] } },
      true,
    ],
    [
      'a typical endpoint filter',
      {
        type: { $in: ['order.created', 'order.updated'] },
        'data.order.total': { $gte: 100 },
        'data.order.currency': { $in: ['EUR', 'USD'] },
        $or: [{ 'data.tags': 'vip' }, { 'data.items.qty': { $gt: 10 } }],
      },
      true,
    ],
  ]);
});

describe('filter: validation', () => {
  const deep = (levels: number): unknown => {
    let filter: unknown = { type: 'x' };
    for (let i = 1; i < levels; i++) filter = { $not: filter };
    return filter;
  };
  const invalid: [description: string, filter: unknown, fragment: string][] = [
    ['a non-object filter', 'type = x', 'filter: expected a filter object'],
    ['an array filter', [{ type: 'x' }], 'filter: expected a filter object'],
    ['null', null, 'filter: expected a filter object'],
    ['an unknown top-level operator', { $foo: 1 }, 'filter.$foo: unknown operator'],
    ['an unknown field operator', { 'data.total': { $foo: 1 } }, 'filter.data.total.$foo: unknown operator'],
    ['a field operator at top level', { $gt: 1 }, 'filter.$gt: operator is only allowed on a field'],
    ['$and on a field', { type: { $and: [] } }, 'filter.type.$and: operator is only allowed at top level'],
    [
      'an array operand to $gt',
      { 'data.total': { $gt: [1] } },
      'filter.data.total.$gt: expected a number, string, boolean or null',
    ],
    [
      'an object operand to $lte',
      { 'data.total': { $lte: { a: 1 } } },
      'filter.data.total.$lte: expected a number, string, boolean or null',
    ],
    ['a non-array $in', { type: { $in: 'order.created' } }, 'filter.type.$in: expected an array'],
    ['a non-array $nin', { type: { $nin: 1 } }, 'filter.type.$nin: expected an array'],
    ['a non-boolean $exists', { type: { $exists: 1 } }, 'filter.type.$exists: expected true or false'],
    ['an empty $and', { $and: [] }, 'filter.$and: expected a non-empty array of filters'],
    ['a non-array $or', { $or: { type: 'x' } }, 'filter.$or: expected a non-empty array of filters'],
    ['a non-object $or member', { $or: [{ type: 'x' }, 'y'] }, 'filter.$or.1: expected a filter object'],
    [
      'an error deep inside $or',
      { $or: [{ type: 'x' }, { 'data.n': { $gt: [] } }] },
      'filter.$or.1.data.n.$gt: expected',
    ],
    ['a top-level $not of a non-object', { $not: 'x' }, 'filter.$not: expected a filter object'],
    ['a field $not of a literal', { type: { $not: 'x' } }, 'filter.type.$not: expected an object of operators'],
    [
      'a field $not of an object of fields',
      { type: { $not: { a: 1 } } },
      'filter.type.$not: expected an object of operators',
    ],
    ['an empty field $not', { type: { $not: {} } }, 'filter.type.$not: expected at least one operator'],
    [
      'operators mixed with fields',
      { 'data.a': { $gt: 1, b: 2 } },
      'filter.data.a: cannot mix operators and literal fields',
    ],
    ['an empty path segment', { 'data..total': 1 }, 'filter.data..total: empty segment in field path'],
    ['a non-string $regex', { type: { $regex: 5 } }, 'filter.type.$regex: expected a string pattern'],
    ['$options without $regex', { type: { $options: 'i' } }, 'filter.type.$options: requires $regex'],
    [
      'an unsupported $options letter',
      { type: { $regex: 'a', $options: 'ix' } },
      'filter.type.$options: unsupported option "x"',
    ],
    ['the JavaScript g option', { type: { $regex: 'a', $options: 'g' } }, 'unsupported option "g"'],
    ['a non-string $options', { type: { $regex: 'a', $options: 1 } }, 'filter.type.$options: expected a string'],
    ['a backreference', { type: { $regex: '(a)\\1' } }, 'filter.type.$regex: unsupported pattern'],
    ['a named backreference', { type: { $regex: '(?P<x>a)\\k<x>' } }, 'filter.type.$regex: unsupported pattern'],
    ['a lookahead', { type: { $regex: 'order(?=\\.created)' } }, 'filter.type.$regex: unsupported pattern'],
    ['a negative lookahead', { type: { $regex: '^(?!invoice)' } }, 'filter.type.$regex: unsupported pattern'],
    ['a lookbehind', { type: { $regex: '(?<=order\\.)created' } }, 'filter.type.$regex: unsupported pattern'],
    ['an unbalanced pattern', { type: { $regex: '(abc' } }, 'filter.type.$regex: unsupported pattern'],
    [
      'a regex longer than the bound',
      { type: { $regex: 'a'.repeat(FILTER_LIMITS.maxRegexLength + 1) } },
      'pattern longer than 512',
    ],
    [
      'a non-finite number',
      { 'data.total': { $gt: Number.POSITIVE_INFINITY } },
      'filter.data.total.$gt: expected a finite number',
    ],
    ['a non-JSON value', { 'data.total': undefined }, 'filter.data.total: not a JSON value'],
    ['a function', { 'data.total': () => 1 }, 'filter.data.total: not a JSON value'],
    ['a class instance', { occurredAt: new Date(0) }, 'filter.occurredAt: not a JSON value'],
    ['nesting deeper than 16', deep(17), 'nested deeper than 16'],
    ['more than 256 nodes', { type: { $in: Array.from({ length: 300 }, (_, i) => `t${i}`) } }, 'more than 256 nodes'],
  ];
  for (const [description, filter, fragment] of invalid) {
    it(`rejects ${description}`, () => {
      assert.throws(
        () => compileFilter(filter),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.equal((err as { code?: unknown }).code, 'validation_failed');
          assert.ok(err.message.includes(fragment), `"${err.message}" should include "${fragment}"`);
          return true;
        },
      );
    });
  }

  it('accepts a filter at exactly the depth bound', () => {
    assert.equal(compileFilter(deep(FILTER_LIMITS.maxDepth)).matches(envelope), true);
  });

  it('accepts a regex of exactly the length bound', () => {
    assert.equal(matchesFilter({ type: { $regex: 'a?'.repeat(FILTER_LIMITS.maxRegexLength / 2) } }, envelope), true);
  });

  it('rejects a cyclic filter by its depth instead of overflowing the stack', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['$not'] = cyclic;
    assert.throws(() => compileFilter(cyclic), /nested deeper than 16/);
  });

  it('names the offending field on the error', () => {
    assert.throws(() => compileFilter({ 'data.total': { $gt: [] } }), { field: 'filter.data.total.$gt' });
  });
});

describe('filter: regex safety', () => {
  it('runs a catastrophic-backtracking pattern in linear time', () => {
    const filter = compileFilter({ 'data.s': { $regex: '^(a+)+$' } });
    const hostile: EventEnvelope = { ...envelope, data: { s: 'a'.repeat(50_000) + 'b' } };
    const started = performance.now();
    assert.equal(filter.matches(hostile), false);
    // A backtracking engine needs ~2^50000 steps: 60 s is far below that and far above a linear scan on a busy machine.
    assert.ok(performance.now() - started < 60_000, 'a backtracking engine would not finish');
  });

  it('still matches what the same pattern should match', () => {
    assert.equal(matchesFilter({ 'data.s': { $regex: '^(a+)+$' } }, { ...envelope, data: { s: 'aaaa' } }), true);
  });
});

describe('filter: purity', () => {
  it('gives the same answer on every call and leaves the envelope untouched', () => {
    const filter = compileFilter({ 'data.items.sku': { $regex: '^sku', $options: 'i' }, 'data.tags': 'vip' });
    const before = JSON.stringify(envelope);
    const answers = Array.from({ length: 3 }, () => filter.matches(envelope));
    assert.deepEqual(answers, [true, true, true]);
    assert.equal(JSON.stringify(envelope), before);
  });

  it('treats an undefined value in a hand-built envelope as missing', () => {
    const handBuilt: EventEnvelope = { ...envelope, data: { gift: undefined } };
    assert.equal(matchesFilter({ 'data.gift': { $exists: false } }, handBuilt), true);
  });
});
