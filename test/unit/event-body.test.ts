import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEventBody, topLevelMembers } from '../../src/api/event-body';
import { MAX_REQUEST_BODY_DEPTH, decodeBody, parseJson } from '../../src/api/request-body';
import { ValidationError } from '../../src/domain/errors';

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

function refusal(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ValidationError, String(err));
    return err;
  }
  assert.fail('expected a ValidationError');
}

describe('topLevelMembers', () => {
  it('gives each member value its exact source range', () => {
    const text = '{ "a" : 1.0 , "b":[1, {"x":"]"}] ,"c":{"d":"}"},"e":"s\\"", "f":null}';
    const members = topLevelMembers(text)!;
    assert.deepEqual(
      members.map((m) => [m.name, text.slice(m.offset, m.offset + m.length)]),
      [
        ['a', '1.0'],
        ['b', '[1, {"x":"]"}]'],
        ['c', '{"d":"}"}'],
        ['e', '"s\\""'],
        ['f', 'null'],
      ],
    );
  });
  it('decodes escaped member names and keeps duplicates', () => {
    assert.deepEqual(
      topLevelMembers('{"d\\u0061ta":1,"data":2}')!.map((m) => m.name),
      ['data', 'data'],
    );
  });
  it('handles the empty object, and refuses non-objects', () => {
    assert.deepEqual(topLevelMembers('{}'), []);
    assert.deepEqual(topLevelMembers(' \n{ } '), []);
    for (const text of ['[]', '1', '"x"', 'null', '']) assert.equal(topLevelMembers(text), undefined, text);
  });
  it('scans a million levels without recursing', () => {
    const text = `{"data":${nested(1_000_000)}}`;
    const [member] = topLevelMembers(text)!;
    assert.equal(member?.length, 2_000_000);
  });
});

describe('parseEventBody', () => {
  const limits = { maxDataDepth: 4 };
  it('returns the data exactly as written', () => {
    for (const data of ['{"orderId":12345678901234567890}', '1.0', '1E5', '-0', '"\\u00e9"', '{ "a" :\n[ 1 ] }']) {
      const { body, dataJson } = parseEventBody(`{"type":"a.b", "data": ${data} }`, limits);
      assert.equal(dataJson, data);
      assert.equal(body.type, 'a.b');
    }
  });
  it('refuses data nested deeper than the limit, on field data', () => {
    assert.equal(parseEventBody(`{"type":"a.b","data":${nested(4)}}`, limits).dataJson, nested(4));
    for (const depth of [5, 5000, 200_000]) {
      const err = refusal(() => parseEventBody(`{"type":"a.b","data":${nested(depth)}}`, limits));
      assert.equal(err.field, 'data');
    }
  });
  it('refuses other members nested deeper than the body limit', () => {
    const err = refusal(() => parseEventBody(`{"type":${nested(MAX_REQUEST_BODY_DEPTH)},"data":1}`, limits));
    assert.equal(err.field, 'type');
  });
  it('refuses a member given twice', () => {
    assert.equal(refusal(() => parseEventBody('{"type":"a.b","data":1,"data":2}', limits)).field, 'data');
    assert.equal(refusal(() => parseEventBody('{"type":"a.b","type":"a.c","data":1}', limits)).field, 'type');
  });
  it('accepts only strict JSON, and says where it breaks without quoting it', () => {
    for (const text of [
      '{"type":"a.b","data":[1,]}',
      '{"type":"a.b","data":1 /* x */}',
      '{"type":"a.b","data":card=4111}',
    ]) {
      const err = refusal(() => parseEventBody(text, limits));
      assert.doesNotMatch(err.message, /card|4111/);
    }
  });
  it('validates the body with the schema', () => {
    assert.equal(refusal(() => parseEventBody('{"type":"a b","data":1}', limits)).field, 'type');
    assert.equal(refusal(() => parseEventBody('{"type":"a.b"}', limits)).field, 'data');
    refusal(() => parseEventBody('[1]', limits));
    refusal(() => parseEventBody(nested(100_000), limits));
  });
});

describe('request bodies', () => {
  it('refuses invalid UTF-8 instead of replacing it', () => {
    for (const bytes of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe9, 0x22]]) {
      refusal(() => decodeBody(Buffer.concat([Buffer.from('{"a":"'), Buffer.from(bytes), Buffer.from('"}')])));
    }
    assert.equal(decodeBody(Buffer.from('{"a":"café 😀"}')), '{"a":"café 😀"}');
  });
  it('refuses a body nested deeper than the limit before parsing it', () => {
    assert.deepEqual(
      parseJson(Buffer.from(nested(MAX_REQUEST_BODY_DEPTH))),
      JSON.parse(nested(MAX_REQUEST_BODY_DEPTH)),
    );
    refusal(() => parseJson(Buffer.from(nested(MAX_REQUEST_BODY_DEPTH + 1))));
    refusal(() => parseJson(Buffer.from(nested(300_000))));
  });
  it('refuses a __proto__ member at any level', () => {
    for (const text of ['{"__proto__":{}}', '{"metadata":{"__proto__":"x"}}', '{"filter":{"a":[{"__proto__":1}]}}']) {
      refusal(() => parseJson(Buffer.from(text)));
    }
    assert.deepEqual(parseJson(Buffer.from('{"constructor":{"prototype":1}}')), { constructor: { prototype: 1 } });
  });
  it('refuses a byte-order mark, an empty body and invalid JSON', () => {
    for (const text of ['\ufeff{}', '', '  ', '{"a":', 'nul']) refusal(() => parseJson(Buffer.from(text)));
  });
});
