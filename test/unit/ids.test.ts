import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../src/domain/errors';
import {
  deliveryWorkflowId,
  eventIdFromEntryId,
  isApiKeyId,
  isEndpointId,
  isEventId,
  isTenantId,
  mintApiKeyId,
  mintEndpointId,
  parseApiKeyId,
  parseEndpointId,
  parseEventId,
  parseTenantId,
} from '../../src/domain/ids';

/** Valid as tenant, endpoint and API key ids (the resource alphabet) and as event ids. */
const RESOURCE_IDS = ['acme', 'A', 't1', 'ep_0lq3z1x2a3b4c5d6e7f8', 'key_0123abcd', 'a-b_c', 'x'.repeat(64)];
/** Not valid as any resource id. */
const NOT_RESOURCE_IDS = [
  '',
  'a:b',
  'a/b',
  'a.b',
  '_leading',
  '-leading',
  'has space',
  'x'.repeat(65),
  'ümlaut',
  'a\nb',
  "a'b",
  'a*',
];
/** Event ids may also carry `.` and `:`, and be up to 128 characters. */
const EVENT_ONLY_IDS = ['order:123:v2', '01HZX.v2', 'evt_1700000000000-3', 'x'.repeat(128)];
const NOT_EVENT_IDS = ['', ':leading', '.leading', 'has space', 'x'.repeat(129), 'a/b', 'é', "a'b", 'a\u0000b'];

const resourceParsers = [
  ['parseTenantId', parseTenantId, isTenantId, 'tenantId'],
  ['parseEndpointId', parseEndpointId, isEndpointId, 'endpointId'],
  ['parseApiKeyId', parseApiKeyId, isApiKeyId, 'keyId'],
] as const;

function validationError(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected a ValidationError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ValidationError, nothing was thrown');
}

describe('branded ids', () => {
  for (const [name, parse, is, defaultField] of resourceParsers) {
    describe(name, () => {
      it('returns a valid id unchanged', () => {
        for (const id of RESOURCE_IDS) {
          assert.equal(parse(id), id);
          assert.equal(is(id), true, id);
        }
      });

      it(`refuses an invalid id with validation_failed naming the field (default "${defaultField}")`, () => {
        for (const id of [...NOT_RESOURCE_IDS, ...EVENT_ONLY_IDS.filter((e) => /[.:]/.test(e) || e.length > 64)]) {
          const err = validationError(() => parse(id));
          assert.equal(err.code, 'validation_failed');
          assert.equal(err.httpStatus, 400);
          assert.equal(err.field, defaultField, JSON.stringify(id));
          assert.equal(is(id), false, JSON.stringify(id));
        }
      });

      it('names the field it is given, and never quotes the value', () => {
        const err = validationError(() => parse('secret-looking value', 'path.id'));
        assert.equal(err.field, 'path.id');
        assert.match(err.message, /^path\.id /);
        assert.doesNotMatch(err.message, /secret-looking/);
      });

      it('refuses values that are not strings at run time (e.g. from untyped JSON)', () => {
        for (const value of [undefined, null, 42, {}, ['acme']]) {
          validationError(() => parse(value as unknown as string));
          assert.equal(is(value as unknown as string), false);
        }
      });
    });
  }

  describe('parseEventId', () => {
    it('accepts resource ids and the wider event alphabet', () => {
      for (const id of [...RESOURCE_IDS, ...EVENT_ONLY_IDS]) {
        assert.equal(parseEventId(id), id);
        assert.equal(isEventId(id), true, id);
      }
    });

    it('refuses an invalid event id with validation_failed naming the field', () => {
      for (const id of NOT_EVENT_IDS) {
        const err = validationError(() => parseEventId(id));
        assert.equal(err.field, 'eventId', JSON.stringify(id));
        assert.equal(isEventId(id), false, JSON.stringify(id));
      }
      assert.equal(validationError(() => parseEventId('a b', 'id')).field, 'id');
    });
  });

  describe('ids the service mints', () => {
    it('derives a valid event id from a stream entry id, the same one every time', () => {
      for (const entryId of ['1700000000000-3', '0-1', '18446744073709551615-18446744073709551615']) {
        const id = eventIdFromEntryId(entryId);
        assert.equal(id, `evt_${entryId}`);
        assert.equal(isEventId(id), true, id);
      }
    });

    it('mints endpoint ids that are valid, sort by creation time, and differ by their random part', () => {
      const early = mintEndpointId(new Date(1_000), 'aa'.repeat(8));
      const late = mintEndpointId(new Date(1_700_000_000_000), '00'.repeat(8));
      const twin = mintEndpointId(new Date(1_700_000_000_000), '01'.repeat(8));
      for (const id of [early, late, twin]) {
        assert.equal(isEndpointId(id), true, id);
        assert.match(id, /^ep_[0-9a-z]{9}[0-9a-f]{16}$/);
      }
      assert.ok(early < late);
      assert.notEqual(late, twin);
    });

    it('mints API key ids that are valid resource ids', () => {
      const id = mintApiKeyId('0123456789abcdef');
      assert.equal(id, 'key_0123456789abcdef');
      assert.equal(isApiKeyId(id), true);
    });

    it('refuses a random part that would make an invalid id', () => {
      assert.throws(() => mintEndpointId(new Date(0), 'not hex!'), /random part/);
      assert.throws(() => mintApiKeyId(''), /random part/);
      assert.throws(() => mintApiKeyId('ab:cd'), /random part/);
    });
  });

  it('derives the delivery workflow id from the tenant and the event', () => {
    assert.equal(deliveryWorkflowId(parseTenantId('acme'), parseEventId('order:1')), 'delivery:acme:order:1');
  });
});
