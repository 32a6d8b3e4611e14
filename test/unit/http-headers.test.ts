import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MAX_HEADER_VALUE_LENGTH,
  MAX_STATIC_HEADERS,
  MAX_STATIC_HEADERS_BYTES,
  RESERVED_HEADER_NAMES,
  checkHeaderName,
  checkHeaderTotals,
  checkHeaderValue,
  checkStaticHeaders,
  reservedHeaderReason,
} from '../../src/domain/http-headers';

describe('reserved header names', () => {
  const reserved = [
    // hop-by-hop (RFC 9110 §7.6.1) and HTTP/2's connection-specific ones (RFC 9113 §8.2.2)
    'Connection',
    'Keep-Alive',
    'Proxy-Connection',
    'TE',
    'Trailer',
    'Transfer-Encoding',
    'Upgrade',
    'HTTP2-Settings',
    // framing and the request line
    'Host',
    'Content-Length',
    'Expect',
    // the body the service builds
    'Content-Type',
    'Content-Encoding',
    'Content-Range',
    // meant for a proxy
    'Proxy-Authorization',
    'Proxy-Authenticate',
    // set by the service
    'User-Agent',
    'X-WSS-Signature',
    'x-wss-anything',
    'Webhook-Id',
    'webhook-anything',
  ];
  for (const name of reserved) {
    it(`reserves ${name} in any case`, () => {
      for (const spelling of [name, name.toLowerCase(), name.toUpperCase()]) {
        assert.equal(typeof reservedHeaderReason(spelling), 'string', spelling);
      }
    });
  }

  it('leaves end-to-end headers a receiver may need to the tenant', () => {
    for (const name of ['Authorization', 'Cookie', 'X-Api-Key', 'Accept', 'Accept-Encoding', 'X-Request-Source']) {
      assert.equal(reservedHeaderReason(name), undefined, name);
    }
  });

  it('keeps the list lower-case so lookups by lower-cased name work', () => {
    for (const name of RESERVED_HEADER_NAMES.keys()) assert.equal(name, name.toLowerCase());
  });
});

describe('checkHeaderName', () => {
  it('accepts RFC 9110 tokens', () => {
    for (const name of ['X-Team', 'x_team', "a!#$%&'*+.^_`|~z", 'A1']) assert.equal(checkHeaderName(name), undefined);
  });
  it('refuses what is not a token, and pseudo-headers', () => {
    for (const name of [
      '',
      ':authority',
      ':method',
      'Bad Header',
      'X-A:B',
      'X-Café',
      'X\u0000',
      'X(1)',
      'x'.repeat(129),
    ]) {
      assert.equal(typeof checkHeaderName(name), 'string', JSON.stringify(name));
    }
  });
  it('refuses reserved names with the reason', () => {
    assert.match(checkHeaderName('Expect') ?? '', /reserved/);
  });
});

describe('checkHeaderValue', () => {
  it('accepts visible ASCII, inner spaces and tabs, obs-text and the empty value', () => {
    for (const value of [
      '',
      'a',
      'Bearer abc',
      'a\tb',
      'café',
      '!"#~',
      'v'.repeat(MAX_HEADER_VALUE_LENGTH),
      'a\u00a0b',
      '\u00ff',
    ]) {
      assert.equal(checkHeaderValue(value), undefined, JSON.stringify(value));
    }
  });
  it('refuses controls, characters above U+00FF, edge whitespace and overlong values', () => {
    for (const value of [
      'a\r\nb',
      'a\nb',
      'a\rb',
      'a\u0000b',
      'a\u000bb',
      'a\u007fb',
      '5 €',
      '\ud800',
      ' lead',
      'trail ',
      '\ttab',
      'v'.repeat(MAX_HEADER_VALUE_LENGTH + 1),
      // C1 controls (U+0080-U+009F): inside obs-text's byte range, but controls all the same (issue 11, item 11).
      'a\u0085b',
      '\u0080',
      'x\u009f',
      'a\u008db',
    ]) {
      assert.equal(typeof checkHeaderValue(value), 'string', JSON.stringify(value));
    }
  });
});

describe('checkHeaderTotals', () => {
  it("holds any header set (static, a transform's, or both together) to the static limits", () => {
    assert.equal(checkHeaderTotals({ 'X-A': 'v', 'X-B': 'w' }), undefined);
    const many = Object.fromEntries(Array.from({ length: MAX_STATIC_HEADERS + 1 }, (_, i) => [`X-H${i}`, 'v']));
    assert.match(checkHeaderTotals(many) ?? '', new RegExp(`at most ${MAX_STATIC_HEADERS} headers`));
    // The input: 20 values of 2000 characters made a receiver answer 431 on every attempt.
    const big = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`X-B${i}`, 'v'.repeat(2000)]));
    assert.match(checkHeaderTotals(big) ?? '', new RegExp(`more than ${MAX_STATIC_HEADERS_BYTES} bytes`));
  });
});

describe('checkStaticHeaders', () => {
  it('returns no problem for a valid set', () => {
    assert.deepEqual(checkStaticHeaders({ Authorization: 'Bearer x', 'X-Team': 'billing' }), []);
  });
  it('names each offending header', () => {
    const problems = checkStaticHeaders({ Expect: '100-continue', 'X-Ok': 'fine', 'X-Bad': 'a\nb' });
    assert.deepEqual(
      problems.map((p) => p.name),
      ['Expect', 'X-Bad'],
    );
    for (const p of problems) assert.ok(p.message.length > 0);
  });
  it('refuses the same name twice in different cases', () => {
    const problems = checkStaticHeaders({ 'X-Team': 'a', 'x-team': 'b' });
    assert.deepEqual(
      problems.map((p) => p.name),
      ['x-team'],
    );
  });
  it('bounds the number of headers and their total size', () => {
    const many = Object.fromEntries(Array.from({ length: MAX_STATIC_HEADERS + 1 }, (_, i) => [`X-H${i}`, 'v']));
    assert.deepEqual(
      checkStaticHeaders(many).map((p) => p.name),
      [undefined],
    );
    const per = Math.floor(MAX_STATIC_HEADERS_BYTES / 4);
    const big = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`X-B${i}`, 'v'.repeat(Math.min(per, 2000))]));
    assert.ok(Object.values(big).join('').length > MAX_STATIC_HEADERS_BYTES);
    assert.deepEqual(
      checkStaticHeaders(big).map((p) => p.name),
      [undefined],
    );
  });
});
