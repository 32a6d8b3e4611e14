import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../src/domain/errors';
import { RESERVED_HEADER_NAMES } from '../../src/domain/http-headers';
import type { EventEnvelope } from '../../src/domain/event';
import type { EventText } from '../../src/domain/event';
import type { TransformRunLimits } from '../../src/transform/transform';
import {
  compileTransform,
  MAX_TRANSFORM_BYTES,
  runTransform,
  TransformFailedError,
} from '../../src/transform/transform';

const envelope: EventEnvelope = {
  id: 'evt_1',
  type: 'order.created',
  tenant: 'acme',
  occurredAt: '2024-05-01T12:00:00.000Z',
  data: {
    order: { id: 'ord_9', total: 150, currency: 'EUR', customer: { email: 'ann@example.com', name: 'Ann Ée' } },
    items: [
      { sku: 'SKU-1', qty: 2, price: 50 },
      { sku: 'sku-2', qty: 1, price: 50 },
    ],
  },
};

const limits: TransformRunLimits = { timeoutMs: 1000, maxOutputBytes: 64 * 1024 };

function run(expression: string, overrides: Partial<TransformRunLimits> = {}, event: EventEnvelope = envelope) {
  return runTransform(compileTransform(expression), event, { ...limits, ...overrides });
}

async function rejectsWith(promise: Promise<unknown>, fragment: string | RegExp): Promise<TransformFailedError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof TransformFailedError, `expected TransformFailedError, got ${String(caught)}`);
  assert.equal(caught.code, 'transform_failed');
  assert.equal(caught.permanent, true);
  if (typeof fragment === 'string')
    assert.ok(caught.message.includes(fragment), `"${caught.message}" should include "${fragment}"`);
  else assert.match(caught.message, fragment);
  return caught;
}

describe('transform: bodies', () => {
  const cases: [description: string, expression: string, expected: unknown][] = [
    [
      'maps fields into a new object',
      '{"orderId": data.order.id, "amount": data.order.total, "kind": type}',
      { orderId: 'ord_9', amount: 150, kind: 'order.created' },
    ],
    [
      'maps over an array',
      'data.items.{"sku": sku, "line": qty * price}',
      [
        { sku: 'SKU-1', line: 100 },
        { sku: 'sku-2', line: 50 },
      ],
    ],
    ['aggregates', '{"total": $sum(data.items.(qty * price))}', { total: 150 }],
    ['sends the envelope unchanged', '$', envelope],
    ['sends a bare string as a JSON string', 'data.order.customer.name', 'Ann Ée'],
    ['sends a number', 'data.order.total', 150],
    ['sends null', 'null', null],
    ['sends false', 'false', false],
    ['keeps a single-element array as an array', '[data.order.id]', ['ord_9']],
    ['treats an object with other keys beside body as the body', '{"body": 1, "extra": 2}', { body: 1, extra: 2 }],
    ['treats an object without body as the body', '{"headers": {"X-A": "1"}}', { headers: { 'X-A': '1' } }],
    ['runs a regex through $replace', '$replace(data.order.customer.email, /@.*$/, "@redacted")', 'ann@redacted'],
    ['runs a case-insensitive regex through $match', '[data.items.sku[$contains($, /^sku-/i)]]', ['SKU-1', 'sku-2']],
  ];
  for (const [description, expression, expected] of cases) {
    it(description, async () => {
      const result = await run(expression);
      assert.equal(result.body, JSON.stringify(expected));
      assert.deepEqual(result.headers, {});
      assert.equal(result.eventType, undefined);
    });
  }

  it('produces body bytes that are exactly JSON.stringify of the result', async () => {
    const result = await run('{"b": data.order.customer, "n": [1.5, -0, 1e21], "s": "\\u2028 é 😀"}');
    const expected = { b: { email: 'ann@example.com', name: 'Ann Ée' }, n: [1.5, -0, 1e21], s: '\u2028 é 😀' };
    assert.equal(result.body, JSON.stringify(expected));
    assert.deepEqual(JSON.parse(result.body), JSON.parse(JSON.stringify(expected)));
  });

  it('gives the same result when one compiled transform runs concurrently', async () => {
    const compiled = compileTransform('{"id": id, "lines": $count(data.items)}');
    const events = Array.from({ length: 20 }, (_, i): EventEnvelope => ({ ...envelope, id: `evt_${i}` }));
    const results = await Promise.all(events.map((event) => runTransform(compiled, event, limits)));
    assert.deepEqual(
      results.map((r) => r.body),
      events.map((event) => JSON.stringify({ id: event.id, lines: 2 })),
    );
  });

  it('does not modify the envelope', async () => {
    const before = JSON.stringify(envelope);
    await run('$ ~> |data.order| {"total": 0}|');
    assert.equal(JSON.stringify(envelope), before);
  });
});

describe('transform: {body, headers, eventType} shape', () => {
  it('reads body, headers and eventType', async () => {
    const result = await run(
      '{"body": {"id": data.order.id}, "headers": {"X-Shop": tenant, "X-Currency": data.order.currency}, "eventType": "shop.order_created"}',
    );
    assert.equal(result.body, JSON.stringify({ id: 'ord_9' }));
    assert.deepEqual(result.headers, { 'X-Shop': 'acme', 'X-Currency': 'EUR' });
    assert.equal(result.eventType, 'shop.order_created');
  });

  it('reads body alone', async () => {
    const result = await run('{"body": data.order.total}');
    assert.equal(result.body, '150');
    assert.deepEqual(result.headers, {});
  });

  it('reads body with only headers', async () => {
    const result = await run('{"body": [], "headers": {"X-Schema": "application/vnd.acme+json"}}');
    assert.equal(result.body, '[]');
    assert.deepEqual(result.headers, { 'X-Schema': 'application/vnd.acme+json' });
  });

  it('reads a null body', async () => {
    assert.equal((await run('{"body": null, "eventType": "x"}')).body, 'null');
  });

  // The one list of src/domain/http-headers.ts, in three spellings each, plus the service's namespaces: a
  // transform can no more set these than static headers can (issue 11, item 11).
  const reserved = [
    ...[...RESERVED_HEADER_NAMES.keys()].flatMap((name) => [
      name,
      name.toUpperCase(),
      name.replace(/(^|-)([a-z])/g, (m) => m.toUpperCase()),
    ]),
    'X-WSS-Signature',
    'x-wss-anything',
    'webhook-id',
    'Webhook-Signature',
  ];
  for (const name of reserved) {
    it(`rejects the reserved header ${name}, naming it`, async () => {
      const err = await rejectsWith(
        run(`{"body": 1, "headers": {"X-Fine": "1", "${name}": "v-secret"}}`),
        'is reserved',
      );
      // Named as the service's own spelling of it (a reserved prefix as the prefix), never as computed.
      const lower = name.toLowerCase();
      const prefix = ['x-wss-', 'webhook-'].find((p) => lower.startsWith(p));
      assert.ok(err.message.includes(prefix ? `"${prefix}*"` : `"${lower}"`), err.message);
      assert.ok(!err.message.includes('v-secret'), err.message);
    });
  }

  it('rejects the headers of the issue (Content-Encoding, Proxy-Authorization, ...), never delivering them', async () => {
    const err = await rejectsWith(
      run(
        '{"body": {"a": 1}, "headers": {"Content-Encoding": "gzip", "Proxy-Authorization": "Basic dXNlcjpwYXNz", "HTTP2-Settings": "AAMAAABkAAQAoAAAAAIAAAAA", "Proxy-Connection": "close", "Content-Range": "bytes 0-5/10"}}',
      ),
      'is reserved',
    );
    assert.ok(!err.message.includes('dXNlcjpwYXNz'), err.message);
  });

  const badHeaders: [description: string, headers: string, fragment: string][] = [
    ['a CR LF in a value', '{"X-A": "a\\r\\nX-Injected: 1"}', 'invalid value'],
    ['a bare LF in a value', '{"X-A": "a\\nb"}', 'invalid value'],
    ['a NUL in a value', '{"X-A": "a\\u0000b"}', 'invalid value'],
    ['a character outside Latin-1', '{"X-A": "😀"}', 'invalid value'],
    ['a space in a name', '{"X A": "1"}', 'not a valid HTTP token'],
    ['a colon in a name', '{"X-A:": "1"}', 'not a valid HTTP token'],
    ['an empty name', '{"": "1"}', 'not a valid HTTP token'],
    ['a number value', '{"X-A": 1}', 'must be a string'],
    ['a null value', '{"X-A": null}', 'must be a string'],
    ['the same name twice in different case', '{"X-A": "1", "x-a": "2"}', 'set twice'],
    ['an array of headers', '["X-A"]', 'headers must be an object'],
    ['a string of headers', '"X-A: 1"', 'headers must be an object'],
    // The static-header rules apply to a transform's headers too (issue 11, item 11).
    ['a C1 control (NEL) in a value', '{"X-A": "a\\u0085b"}', 'value must be'],
    ['a C1 control (U+0080) in a value', '{"X-A": "\\u0080"}', 'value must be'],
    ['a DEL in a value', '{"X-A": "a\\u007fb"}', 'value must be'],
    ['a leading space in a value', '{"X-A": " token"}', 'must not start or end'],
    ['a trailing tab in a value', '{"X-A": "token\\t"}', 'must not start or end'],
    ['a value over 2048 characters', `{"X-A": "${'v'.repeat(2049)}"}`, 'longer than 2048'],
    ['a name over 128 characters', `{"X-${'a'.repeat(127)}": "1"}`, 'not a valid HTTP token'],
    ['an HTTP/2 pseudo-header', '{":authority": "x.example"}', 'not a valid HTTP token'],
    [
      'more than 32 headers',
      JSON.stringify(Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`X-H${i}`, 'v']))),
      'at most 32 headers',
    ],
    [
      '20 values of 2000 characters (a request head receivers refuse with 431)',
      '$merge([1..20].{"X-B" & $: $pad("", 2000, "v")})',
      'more than 8192 bytes',
    ],
  ];
  for (const [description, headers, fragment] of badHeaders) {
    it(`rejects headers with ${description}`, async () => {
      await rejectsWith(run(`{"body": 1, "headers": ${headers}}`), fragment);
    });
  }

  it('names a header with a bad value by its position, and never echoes the value', async () => {
    const err = await rejectsWith(
      run('{"body": 1, "headers": {"X-Ok": "1", "X-Mail": " " & data.order.customer.email}}'),
      'header #2 has an invalid value',
    );
    assert.ok(!err.message.includes('ann@example.com'), err.message);
  });

  it('never names a header whose name is not a token (it may come from the payload)', async () => {
    const err = await rejectsWith(
      run('{"body": 1, "headers": {data.order.customer.email & " x": "1"}}'),
      'not a valid HTTP token',
    );
    assert.ok(!err.message.includes('ann@example.com'), err.message);
  });

  it('never echoes a header value in the error', async () => {
    const err = await rejectsWith(
      run('{"body": 1, "headers": {"X-Mail": data.order.customer.email & "\\n"}}'),
      'invalid value',
    );
    assert.ok(!err.message.includes('ann@example.com'));
  });

  const badTypes: [description: string, eventType: string, fragment: string][] = [
    ['an empty eventType', '""', 'non-empty string'],
    ['a numeric eventType', '42', 'non-empty string'],
    ['an eventType over 128 characters', `"${'a'.repeat(129)}"`, 'longer than 128'],
    ['an eventType with a newline', '"a\\nb"', 'printable ASCII'],
    ['an eventType with a space', '"order created"', 'printable ASCII'],
  ];
  for (const [description, eventType, fragment] of badTypes) {
    it(`rejects ${description}`, async () => {
      await rejectsWith(run(`{"body": 1, "eventType": ${eventType}}`), fragment);
    });
  }

  it('accepts an eventType of exactly 128 characters', async () => {
    assert.equal((await run(`{"body": 1, "eventType": "${'a'.repeat(128)}"}`)).eventType, 'a'.repeat(128));
  });
});

describe('transform: compile errors', () => {
  const invalid: [description: string, expression: string, fragment: string | RegExp][] = [
    [
      'an unclosed parenthesis, with its position',
      '$sum(data.items.qty',
      /^transform: Expected "\)" before end of expression at position 19/,
    ],
    ['a stray token, with its position', '{"a": }', 'at position 7'],
    ['an empty expression', '', 'transform: expression is empty'],
    ['a blank expression', '  \n ', 'transform: expression is empty'],
    ['an expression over 16 KiB', `"${'x'.repeat(MAX_TRANSFORM_BYTES)}"`, 'longer than 16384 bytes'],
    ['a regex with a backreference', '$match(type, /(o)\\1/)', 'transform: unsupported regular expression at position'],
    ['a regex with lookahead', '$replace(type, /order(?=\\.)/, "x")', 'unsupported regular expression'],
  ];
  for (const [description, expression, fragment] of invalid) {
    it(`rejects ${description}`, () => {
      assert.throws(
        () => compileTransform(expression),
        (err: unknown) => {
          assert.ok(err instanceof ValidationError);
          assert.equal(err.code, 'validation_failed');
          if (typeof fragment === 'string') assert.ok(err.message.includes(fragment), err.message);
          else assert.match(err.message, fragment);
          return true;
        },
      );
    });
  }

  it('counts the length limit in UTF-8 bytes', () => {
    const text = `"${'é'.repeat(MAX_TRANSFORM_BYTES / 2)}"`;
    assert.throws(() => compileTransform(text), /longer than 16384 bytes/);
  });
});

describe('transform: runtime errors and limits', () => {
  it('reports a runtime error with its message, position and code, without the payload', async () => {
    const err = await rejectsWith(
      run('$number(data.order.customer.email)'),
      /^transform: Unable to cast value to a number: <value> at position \d+ \[D3030\]$/,
    );
    assert.equal(err.jsonataCode, 'D3030');
    assert.equal(typeof err.position, 'number');
    assert.ok(!err.message.includes('ann@example.com'));
  });

  it('reports a type error between operands without their values', async () => {
    const err = await rejectsWith(run('data.order.customer.name + 1'), 'at position');
    assert.ok(!err.message.includes('Ann'));
  });

  it('reports $error from the expression', async () => {
    await rejectsWith(run('data.order.total > 100 ? $error("too big") : 1'), 'transform: too big');
  });

  it('fails when the expression produces no value', async () => {
    await rejectsWith(run('data.nothing'), 'transform produced no value');
  });

  it('fails when the result is a function', async () => {
    await rejectsWith(run('function($x) { $x }'), 'result is a function');
  });

  it('fails when the result contains a function', async () => {
    await rejectsWith(run('{"f": $uppercase}'), 'result contains a function');
  });

  it('cuts infinite recursion at the time limit', async () => {
    const err = await rejectsWith(
      run('($f := function($x){ $f($x) }; $f(1))', { timeoutMs: 150 }),
      'exceeded the time limit of 150 ms',
    );
    assert.equal(err.jsonataCode, 'D1012');
    // The error is the proof that it was cut (no wall-clock bound: a busy CI machine would break it).
  });

  it('cuts non-tail recursion at the depth limit', async () => {
    const err = await rejectsWith(
      run('($f := function($x){ 1 + $f($x) }; $f(1))', { maxDepth: 200 }),
      'nested deeper than 200 frames',
    );
    assert.equal(err.jsonataCode, 'D1011');
  });

  it('allows recursion within the depth limit', async () => {
    const result = await run('($f := function($n){ $n <= 1 ? 1 : $n * $f($n - 1) }; $f(10))');
    assert.equal(result.body, '3628800');
  });

  it('cuts a long loop at the time limit', async () => {
    await rejectsWith(
      run('$reduce([1..10000000], function($a, $b){ $a + $b })', { timeoutMs: 150 }),
      'exceeded the time limit',
    );
    // Uncut, the loop would finish with a sum: the error is the proof that it was cut (no wall-clock bound).
  });

  it('starts the clock afresh on every run of a cached transform', async () => {
    const compiled = compileTransform('$sum([1..1000])');
    const short: TransformRunLimits = { ...limits, timeoutMs: 100 };
    await runTransform(compiled, envelope, short);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal((await runTransform(compiled, envelope, short)).body, '500500');
  });

  it('runs a catastrophic regex in linear time', async () => {
    const hostile: EventEnvelope = { ...envelope, data: { s: 'a'.repeat(30_000) + 'b' } };
    const started = performance.now();
    const result = await run('{"m": $exists($match(data.s, /^(a+)+$/))}', { timeoutMs: 5000 }, hostile);
    assert.equal(result.body, '{"m":false}');
    // A backtracking engine would hit the 5 s limit above (2^30000 steps); 60 s only guards a hang on a busy machine.
    assert.ok(performance.now() - started < 60_000, 'a backtracking engine would not finish');
  });

  it('fails when the body is over maxOutputBytes', async () => {
    await rejectsWith(
      run('$pad("", 2000, "é")', { maxOutputBytes: 2000 }),
      'output is 4002 bytes, over the limit of 2000',
    );
  });

  it('accepts a body of exactly maxOutputBytes', async () => {
    const result = await run('$pad("", 1998, "x")', { maxOutputBytes: 2000 });
    assert.equal(Buffer.byteLength(result.body), 2000);
  });

  it('rejects a value that compileTransform did not return', async () => {
    await assert.rejects(runTransform({ expression: '$' }, envelope, limits), TypeError);
  });
});

describe('transform: numbers from the data text', () => {
  const text = (dataJson: string): EventText => ({
    id: 'evt_n',
    type: 'num.big',
    tenant: 'acme',
    occurredAt: '2024-05-01T12:00:00.000Z',
    dataJson,
  });
  const runText = (expression: string, dataJson: string) =>
    runTransform(compileTransform(expression), text(dataJson), limits);

  const kept: [description: string, dataJson: string, expression: string, body: string][] = [
    [
      'an integer above 2^53 selected into a new object',
      '{"orderId":12345678901234567890}',
      '{"id": data.orderId}',
      '{"id":12345678901234567890}',
    ],
    ['2^53 + 1', '{"n":9007199254740993}', 'data.n', '9007199254740993'],
    ['a negative big integer', '{"n":-98765432109876543210}', '{"n": data.n}', '{"n":-98765432109876543210}'],
    [
      'big integers in an array',
      '{"ids":[12345678901234567890,98765432109876543210]}',
      'data.ids',
      '[12345678901234567890,98765432109876543210]',
    ],
    [
      'the same big integer twice',
      '[12345678901234567890, 12345678901234567890]',
      'data',
      '[12345678901234567890,12345678901234567890]',
    ],
    ['a number over the double range', '{"n":1e400}', '{"n": data.n}', '{"n":1e400}'],
    ['more digits than a double holds', '{"n":0.10000000000000000001}', 'data.n', '0.10000000000000000001'],
    [
      'big integers inside the whole envelope',
      '{"orderId":12345678901234567890}',
      '$',
      '{"id":"evt_n","type":"num.big","tenant":"acme","occurredAt":"2024-05-01T12:00:00.000Z","data":{"orderId":12345678901234567890}}',
    ],
  ];
  for (const [description, dataJson, expression, body] of kept) {
    it(`keeps the digits of ${description}`, async () => {
      assert.equal((await runText(expression, dataJson)).body, body);
    });
  }

  // The documented limits: JSONata computes on doubles.
  const doubles: [description: string, dataJson: string, expression: string, body: string][] = [
    [
      'converts a big integer to text as its double',
      '{"n":12345678901234567890}',
      '"order-" & data.n',
      '"order-12345678901234567000"',
    ],
    ['multiplies a big integer as a double', '{"n":12345678901234567890}', 'data.n * 2', '24691357802469134000'],
    ['compares big integers as doubles', '{"n":9007199254740993}', 'data.n > 9007199254740992', 'false'],
    [
      'writes safe numbers as JSON.stringify does',
      '{"n":-0,"m":1.0,"e":1E5,"f":0.1e-2}',
      'data',
      '{"n":0,"m":1,"e":100000,"f":0.001}',
    ],
    [
      'cannot tell apart two spellings that share a double',
      '{"a":0.1,"b":0.10000000000000000001}',
      '[data.a, data.b]',
      '[0.1,0.1]',
    ],
    [
      'cannot tell apart two big integers that share a double',
      '{"a":12345678901234567890,"b":12345678901234567891}',
      '[data.a, data.b]',
      '[12345678901234567000,12345678901234567000]',
    ],
  ];
  for (const [description, dataJson, expression, body] of doubles) {
    it(description, async () => {
      assert.equal((await runText(expression, dataJson)).body, body);
    });
  }

  it('reads duplicate keys and __proto__ as JSON.parse does', async () => {
    assert.equal((await runText('data.a', '{"a":1,"a":2}')).body, '2');
    assert.equal((await runText('$keys(data)', '{"__proto__":{"x":1}}')).body, '"__proto__"');
    assert.equal((await runText('data.s', '{"s":"\\ud800"}')).body, '"\\ud800"');
  });

  it('fails, rather than writing null, on a number JSON cannot represent', async () => {
    await rejectsWith(runText('{"n": data.a}', '{"a":1e400,"b":2e400}'), 'a number that JSON cannot represent');
  });

  it('fails on data text that is not JSON without quoting it', async () => {
    const err = await rejectsWith(runText('data', 'card=4111111111111111&exp=12'), 'event data is not valid JSON');
    assert.ok(!err.message.includes('4111'));
  });
});

describe('transform: failure messages never quote the payload', () => {
  const CARD = '4111111111111111';
  const SSN = '078-05-1120';
  const data = {
    card: CARD,
    ssn: SSN,
    expr: `$error("${CARD}")`,
    bad: `(${CARD}`,
    url: `%E0%A4${CARD}`,
    cards: [CARD, SSN],
  };
  const event: EventEnvelope = { ...envelope, data };
  const text: EventText = {
    id: event.id,
    type: event.type,
    tenant: event.tenant,
    occurredAt: event.occurredAt,
    dataJson: JSON.stringify(data),
  };
  const leaks = (message: string): string[] =>
    [CARD, SSN, '41111111', '078-05', '0785'].filter((secret) => message.includes(secret));
  const failWith = async (expression: string, input: EventEnvelope | EventText): Promise<TransformFailedError> => {
    try {
      await runTransform(compileTransform(expression), input, limits);
    } catch (err) {
      assert.ok(err instanceof TransformFailedError, `expected TransformFailedError, got ${String(err)}`);
      return err;
    }
    assert.fail(`${expression} did not fail`);
  };

  // $error and $assert: the message is whatever the tenant's expression computed, so it is payload.
  const computed: [expression: string, code: string, position: number][] = [
    ['$error(data.card)', 'D3137', 7],
    ['$assert(false, data.ssn)', 'D3141', 8],
    ['$error("card " & data.card)', 'D3137', 7],
    ['data.card ~> $error()', 'D3137', 20],
    ['($e := $error; $e(data.card))', 'D3137', 18],
    ['data.($error(card))', 'D3137', 13],
    ['$assert(data.card = "x", data.ssn)', 'D3141', 8],
    ['($f := function($m){ $error($m) }; $f(data.ssn))', 'D3137', 27],
    ['data.cards.$error($)', 'D3137', 18],
    ['$error($string(data))', 'D3137', 7],
    ['data.card = "4111111111111111" ? $error(data.card) : 1', 'D3137', 40],
  ];
  for (const [expression, code, position] of computed) {
    for (const [form, input] of [
      ['parsed envelope', event],
      ['stored text', text],
    ] as const) {
      it(`names the call, not its computed message: ${expression} (${form})`, async () => {
        const err = await failWith(expression, input);
        assert.deepEqual(leaks(err.message), [], err.message);
        const fn = code === 'D3137' ? '$error()' : '$assert()';
        assert.equal(
          err.message,
          `transform: ${fn} ${code === 'D3137' ? 'was called' : 'failed'} with a message computed from the event (not shown) at position ${position} [${code}]`,
        );
        assert.equal(err.jsonataCode, code);
        assert.equal(err.position, position);
      });
    }
  }

  // Header names can be computed from the payload too: a failure names such a header by position only.
  const computedHeaderNames: string[] = [
    '{"body": 1, "headers": {data.card: 1}}',
    '{"body": 1, "headers": {data.card: "a\\u0001b"}}',
    '{"body": 1, "headers": {data.card: "1", $uppercase(data.card): "2"}}',
    '{"body": 1, "headers": {"X-Wss-" & data.card: "1"}}',
    '{"body": 1, "headers": {data.ssn: "x", "Content-Type": "y"}}',
  ];
  for (const expression of computedHeaderNames) {
    it(`never quotes a header name computed from the event: ${expression}`, async () => {
      const err = await failWith(expression, text);
      assert.deepEqual(leaks(err.message), [], err.message);
    });
  }

  // A message written into the expression is the tenant's own text, not payload: it stays, as do the defaults.
  const literal: [expression: string, message: string][] = [
    ['$error("no shipping address")', 'transform: no shipping address at position 7 [D3137]'],
    ['$assert(false, "total must be positive")', 'transform: total must be positive at position 8 [D3141]'],
    [
      'data.card ? $error("card payments are not accepted") : 1',
      'transform: card payments are not accepted at position 19 [D3137]',
    ],
    ['$error()', 'transform: $error() function evaluated at position 7 [D3137]'],
    ['$assert(data.card = "x")', 'transform: $assert() statement failed at position 8 [D3141]'],
  ];
  for (const [expression, message] of literal) {
    it(`keeps a message written in the expression: ${expression}`, async () => {
      assert.equal((await failWith(expression, text)).message, message);
    });
  }

  // Other runtime errors that carry a value from the data: all of it is replaced.
  const valued: [expression: string, code: string][] = [
    ['$number(data.card & "x")', 'D3030'],
    ['$toMillis(data.ssn)', 'D3110'],
    ['{data.card: 1, data.card: 2}', 'D1009'],
    ['$decodeUrlComponent(data.url)', 'D3140'],
    ['$eval(data.expr)', 'D3121'],
    ['$eval(data.bad)', 'D3120'],
    ['data.card < 5', 'T2009'],
    ['$sqrt(-$number(data.card))', 'D3060'],
    ['$formatBase(1, $number(data.card))', 'D3100'],
    ['[{"a": data.card}, {"a": 1}]^(a)', 'T2007'],
    ['{$number(data.card): 1}', 'T1003'],
  ];
  for (const [expression, code] of valued) {
    it(`replaces the values in a ${code} error: ${expression}`, async () => {
      const err = await failWith(expression, text);
      assert.deepEqual(leaks(err.message), [], err.message);
      assert.equal(err.jsonataCode, code, err.message);
    });
  }
});
