import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseStreamEntry, utf8Length } from '../../src/domain/stream-entry';

const limits = { maxDataBytes: 64, maxDepth: 4 };

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

  // Redis only hands out `<ms>-<seq>` ids; anything else must be refused, never thrown on, even without an `id`
  // field (the event id is then derived from the entry id).
  for (const entryId of ['1-0 x', '1-0:x', 'abc', '1', '', '1-0\n', '-1-0']) {
    for (const withId of [false, true]) {
      it(`refuses, without throwing, entry id ${JSON.stringify(entryId)}${withId ? ' with an explicit event id' : ''}`, () => {
        const fields = ['tenant', 'acme', 'type', 'x', 'data', '{}', ...(withId ? ['id', 'evt_1'] : [])];
        const parsed = parseStreamEntry(entryId, fields, limits);
        assert.deepEqual(parsed, {
          ok: false,
          code: 'malformed_entry',
          reason: `entry id ${JSON.stringify(entryId)} is not a stream id`,
        });
      });
    }
  }

  const bytes = (text: string) => Buffer.from(text, 'latin1');
  const utf8 = (text: string) => Buffer.from(text, 'utf8');

  it('accepts fields given as UTF-8 bytes, decoding them exactly (a BOM and non-ASCII text stay as they are)', () => {
    const data = '\ufeff{"name":"café ☕ 😀"}'.slice(1);
    const parsed = parseStreamEntry(
      '1-0',
      [utf8('tenant'), utf8('acme'), utf8('type'), utf8('x'), utf8('data'), utf8(data), utf8('note'), utf8('\ufeffé')],
      { maxDataBytes: 1024, maxDepth: 4 },
    );
    assert.ok(parsed.ok, JSON.stringify(parsed));
    assert.equal(parsed.entry.dataJson, data);
  });

  // Latin-1 é (0xE9) alone, a lone continuation byte, an overlong '/', a UTF-16 surrogate encoded in UTF-8, a
  // truncated 4-byte sequence, and a code point above U+10FFFF.
  const invalidUtf8 = [
    '{"name":"caf\xe9"}',
    '"\x80"',
    '"\xc0\xaf"',
    '"\xed\xa0\x80"',
    '"\xf0\x9f\x98"',
    '"\xf4\x90\x80\x80"',
  ];
  for (const [i, text] of invalidUtf8.entries()) {
    it(`dead-letters invalid UTF-8 in "data" with reason invalid_utf8 (case ${i})`, () => {
      const parsed = parseStreamEntry(
        '1-0',
        [utf8('tenant'), utf8('acme'), utf8('type'), utf8('x'), utf8('data'), bytes(text)],
        {
          maxDataBytes: 1024,
          maxDepth: 4,
        },
      );
      assert.equal(parsed.ok, false);
      assert.ok(!parsed.ok);
      assert.equal(parsed.code, 'invalid_utf8');
      assert.match(parsed.reason, /field "data" is not valid UTF-8/);
      assert.doesNotMatch(parsed.reason, /caf|name/);
    });
  }

  const invalidPlaces: [string, Buffer[], RegExp][] = [
    ['tenant', [utf8('tenant'), bytes('acm\xe9'), utf8('type'), utf8('x'), utf8('data'), utf8('{}')], /field "tenant"/],
    ['type', [utf8('tenant'), utf8('acme'), utf8('type'), bytes('x\xff'), utf8('data'), utf8('{}')], /field "type"/],
    [
      'id',
      [utf8('tenant'), utf8('acme'), utf8('type'), utf8('x'), utf8('data'), utf8('{}'), utf8('id'), bytes('\xe9')],
      /field "id"/,
    ],
    [
      'an unknown field',
      [utf8('tenant'), utf8('acme'), utf8('trace'), bytes('\xc3'), utf8('type'), utf8('x'), utf8('data'), utf8('{}')],
      /field "trace"/,
    ],
    [
      'a field name',
      [utf8('tenant'), utf8('acme'), bytes('d\xe9ta'), utf8('1'), utf8('type'), utf8('x'), utf8('data'), utf8('{}')],
      /name of field #2/,
    ],
  ];
  for (const [name, fields, where] of invalidPlaces) {
    it(`dead-letters invalid UTF-8 in ${name} with reason invalid_utf8, naming the field but not its bytes`, () => {
      const parsed = parseStreamEntry('1-0', fields, limits);
      assert.ok(!parsed.ok);
      assert.equal(parsed.code, 'invalid_utf8');
      assert.match(parsed.reason, where);
      assert.doesNotMatch(parsed.reason, /acm|\ufffd/);
    });
  }

  it('never quotes the payload in the reason for invalid JSON', () => {
    const payloads = [
      'card=4111111111111111&exp=12',
      '{"card":"4111111111111111",}',
      '{"pin":12',
      '"secret-text',
      'secret-text',
    ];
    for (const data of payloads) {
      const parsed = parseStreamEntry('1-0', ['tenant', 'acme', 'type', 'x', 'data', data], {
        maxDataBytes: 1024,
        maxDepth: 8,
      });
      assert.ok(!parsed.ok, data);
      assert.equal(parsed.code, 'invalid_json');
      assert.match(parsed.reason, /^field "data" is not valid JSON/);
      for (const leak of ['card', '4111', 'exp=', 'pin', 'secret'])
        assert.doesNotMatch(parsed.reason, new RegExp(leak), parsed.reason);
    }
  });

  it('dead-letters an entry that carries a field in the reserved wss_ prefix, naming it', () => {
    for (const name of ['wss_reason', 'wss_source_id', 'wss_anything']) {
      const parsed = parseStreamEntry('1-0', ['tenant', 'acme', name, 'forged', 'type', 'x', 'data', '{}'], limits);
      assert.ok(!parsed.ok, name);
      assert.equal(parsed.code, 'reserved_field');
      assert.match(parsed.reason, new RegExp(`"${name}"`));
      assert.doesNotMatch(parsed.reason, /forged/);
    }
  });

  it('accepts data nested exactly to the depth limit and dead-letters one level deeper', () => {
    const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    assert.equal(parseStreamEntry('1-0', ['tenant', 'acme', 'type', 'x', 'data', nested(4)], limits).ok, true);
    for (const data of [nested(5), '{"a":{"b":{"c":{"d":{}}}}}', '[{"a":[{"b":[]}]}]']) {
      const parsed = parseStreamEntry('1-0', ['tenant', 'acme', 'type', 'x', 'data', data], limits);
      assert.ok(!parsed.ok, data);
      assert.equal(parsed.code, 'too_deep');
      assert.match(parsed.reason, /field "data" nests deeper than the 4-level limit/);
    }
  });

  it('dead-letters 100,000 nested arrays (under the size limit) as too deep, without a stack overflow', () => {
    const data = '['.repeat(100_000) + ']'.repeat(100_000);
    const parsed = parseStreamEntry('1-0', ['tenant', 'acme', 'type', 'x', 'data', data], {
      maxDataBytes: 256 * 1024,
      maxDepth: 64,
    });
    assert.ok(!parsed.ok);
    assert.equal(parsed.code, 'too_deep');
  });

  it('does not count brackets inside strings towards the depth', () => {
    const data = JSON.stringify({ text: '[[[[[[[[{{{{{{' });
    assert.equal(parseStreamEntry('1-0', ['tenant', 'acme', 'type', 'x', 'data', data], limits).ok, true);
  });

  it('counts UTF-8 bytes like Buffer.byteLength', () => {
    for (const s of ['', 'abc', 'é', '☕', '😀', 'a😀é', '\ud800']) {
      assert.equal(utf8Length(s), Buffer.byteLength(s, 'utf8'), JSON.stringify(s));
    }
  });
});

describe('the wss_endpoint field (a test send)', () => {
  const base = ['tenant', 'acme', 'type', 'x', 'data', '1'];
  it('routes to one endpoint when it is a valid endpoint id', () => {
    const parsed = parseStreamEntry('1-0', [...base, 'wss_endpoint', 'ep_1'], limits);
    assert.equal(parsed.ok, true);
    if (parsed.ok) assert.equal(parsed.entry.onlyEndpoint, 'ep_1');
  });

  it('refuses a bad or repeated one with a reason, and still refuses every other wss_ field', () => {
    for (const [fields, code] of [
      [[...base, 'wss_endpoint', '../x'], 'invalid_field'],
      [[...base, 'wss_endpoint', 'ep_1', 'wss_endpoint', 'ep_2'], 'duplicate_field'],
      [[...base, 'wss_reason', 'mine'], 'reserved_field'],
    ] as const) {
      const parsed = parseStreamEntry('1-0', [...fields], limits);
      assert.equal(parsed.ok, false, JSON.stringify(fields));
      if (!parsed.ok) assert.equal(parsed.code, code, JSON.stringify(fields));
    }
  });
});
