import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Endpoint } from '../../src/domain/endpoint';
import type { EventEnvelope } from '../../src/domain/event';
import { parseEndpointId, parseTenantId } from '../../src/domain/ids';
import { ContentMatcherCache, isSubscribed, selectEndpoints } from '../../src/domain/routing';

const envelope: EventEnvelope = {
  id: 'e1',
  type: 'order.created',
  tenant: 'acme',
  occurredAt: '2026-01-01T00:00:00.000Z',
  data: { total: 250 },
};

/** An endpoint; `id` is given as text and parsed. */
function endpoint(overrides: Partial<Omit<Endpoint, 'id'>> & { id?: string } = {}): Endpoint {
  const { id = 'ep_1', ...rest } = overrides;
  return {
    id: parseEndpointId(id),
    tenantId: parseTenantId('acme'),
    url: 'https://example.com/hook',
    eventTypes: ['order.*'],
    enabled: true,
    signatureScheme: 'wss',
    sendTraceparent: false,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...rest,
  };
}

describe('isSubscribed and selectEndpoints', () => {
  const cache = new ContentMatcherCache(() => undefined);
  const matcherFor = (e: Endpoint) => cache.matcherFor(e);

  it('needs the type and, when set, the filter to match', () => {
    assert.equal(isSubscribed(endpoint(), envelope, matcherFor), true);
    assert.equal(isSubscribed(endpoint({ eventTypes: ['refund.*'] }), envelope, matcherFor), false);
    assert.equal(
      isSubscribed(endpoint({ id: 'f1', filter: { 'data.total': { $gt: 100 } } }), envelope, matcherFor),
      true,
    );
    assert.equal(
      isSubscribed(endpoint({ id: 'f2', filter: { 'data.total': { $gt: 900 } } }), envelope, matcherFor),
      false,
    );
  });

  it('ignores the enabled state, which selectEndpoints checks on top', () => {
    const disabled = endpoint({ enabled: false });
    assert.equal(isSubscribed(disabled, envelope, matcherFor), true);
    assert.deepEqual(
      selectEndpoints(envelope, [disabled, endpoint({ id: 'ep_2' })], matcherFor).map((e) => e.id),
      ['ep_2'],
    );
  });
});

describe('ContentMatcherCache', () => {
  it('compiles once per endpoint version and recompiles when the endpoint changes', () => {
    const cache = new ContentMatcherCache(() => undefined);
    const v1 = endpoint({ filter: { 'data.total': 250 } });
    const first = cache.matcherFor(v1);
    assert.equal(cache.matcherFor({ ...v1 }), first, 'same version: same compiled matcher');
    const v2 = endpoint({ filter: { 'data.total': 1 }, updatedAt: '2026-01-02T00:00:00.000Z' });
    assert.notEqual(cache.matcherFor(v2), first);
    assert.equal(cache.matcherFor(v2)?.matches(envelope), false);
  });

  it('has no matcher for an endpoint without a filter', () => {
    assert.equal(new ContentMatcherCache(() => undefined).matcherFor(endpoint()), undefined);
  });

  it('matches nothing with a stored filter that does not compile, and reports it once per version', () => {
    const reported: string[] = [];
    const cache = new ContentMatcherCache((e, err) => reported.push(`${e.id}: ${err.message}`));
    const broken = endpoint({ filter: { 'data.total': { $where: 'x' } } });
    assert.equal(cache.matcherFor(broken)?.matches(envelope), false);
    assert.equal(cache.matcherFor(broken)?.matches(envelope), false);
    assert.equal(reported.length, 1);
    assert.match(reported[0]!, /^ep_1: filter\.data\.total\.\$where: unknown operator$/);
  });

  it('holds at most maxEntries endpoints', () => {
    let compiled = 0;
    const cache = new ContentMatcherCache(() => (compiled += 1), 2);
    const broken = (id: string) => endpoint({ id, filter: { $nope: 1 } });
    for (const id of ['a', 'b', 'c', 'a']) cache.matcherFor(broken(id));
    // a, b fill it; c starts it afresh; a is compiled again.
    assert.equal(compiled, 4);
  });
});
