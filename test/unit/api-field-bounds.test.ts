import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createEndpointSchema, publishEventSchema, updateEndpointSchema } from '../../src/api/schemas';

/**
 * Field bounds the API must hold exactly as the consumer and the flow control do, found by a README-only review:
 * values the API took but the rest of the service could not honour.
 */
describe('API field bounds', () => {
  const endpoint = { url: 'https://example.com/hook', eventTypes: ['*'] };

  it('refuses a rateLimit below one delivery per 1,000 s (tiny and subnormal rates)', () => {
    for (const rateLimit of [1e-300, 5e-324, 0.0009]) {
      assert.equal(createEndpointSchema.safeParse({ ...endpoint, rateLimit }).success, false, `${rateLimit}`);
      assert.equal(updateEndpointSchema.safeParse({ rateLimit }).success, false, `PATCH ${rateLimit}`);
    }
    assert.equal(createEndpointSchema.safeParse({ ...endpoint, rateLimit: 0.001 }).success, true);
  });

  it('counts an orderingKey in UTF-16 code units, as the consumer does, and refuses lone surrogates', () => {
    const publish = (orderingKey: string) => publishEventSchema.safeParse({ type: 'a.b', data: {}, orderingKey });
    assert.equal(publish('😀'.repeat(600)).success, false, '600 emoji are 1,200 code units');
    assert.equal(publish('😀'.repeat(512)).success, true, '512 emoji are 1,024 code units');
    assert.equal(publish('x'.repeat(1025)).success, false);
    assert.equal(publish('\ud800').success, false, 'a lone high surrogate');
    assert.equal(publish('a\udc00b').success, false, 'a lone low surrogate');
  });

  it('refuses a bearer token with a space or a control character: it would not survive as one token', () => {
    const auth = (token: string) => createEndpointSchema.safeParse({ ...endpoint, auth: { type: 'bearer', token } });
    for (const token of [' t0k', 't0k ', 't 0k', 't\t0k', 't0k\n', 'tök']) {
      assert.equal(auth(token).success, false, JSON.stringify(token));
      assert.equal(
        updateEndpointSchema.safeParse({ auth: { type: 'bearer', token } }).success,
        false,
        `PATCH ${JSON.stringify(token)}`,
      );
    }
    for (const token of ['t0k', 'eyJhbGciOiJIUzI1NiJ9.e30.abc-_~+/=', 'key:with:colons']) {
      assert.equal(auth(token).success, true, token);
    }
  });
});
