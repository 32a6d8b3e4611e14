import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { parseTenantId } from '../../src/domain/ids';
import { SecretBox } from '../../src/security/secret-box';
import { EndpointStore } from '../../src/store/endpoint-store';
import type { EndpointPatch } from '../../src/store/endpoint-store';
import { createRedisKeys } from '../../src/store/redis-keys';
import { serviceAddresses, uniqueName } from '../support/services';

/**
 * Issue 15: concurrent read-modify-writes of one endpoint (PATCH, rotate, disable, the health check's disable) must
 * never overwrite each other. Two stores on two connections stand for two processes (the API and a worker); each
 * fires its share of 50 mixed updates at once, and every update must be found in the final record.
 */
describe('concurrent updates of one endpoint', () => {
  const connections: Redis[] = [];
  let stores: EndpointStore[];
  const tenant = parseTenantId(uniqueName('cas').replace(/[^A-Za-z0-9_-]/g, '_'));

  before(() => {
    const { redisUrl } = serviceAddresses();
    const keys = createRedisKeys(uniqueName('wss-cas'), { events: 'unused', rejectedEntries: 'unused:dead' });
    const secretBox = new SecretBox(randomBytes(32).toString('base64'));
    stores = [0, 1].map(() => {
      // Auto-pipelining as in the service: concurrent callers share one connection's pipeline.
      const redis = new Redis(redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 20 });
      connections.push(redis);
      return new EndpointStore({ redis, keys, secretBox });
    });
  });
  after(async () => {
    await Promise.all(connections.map((c) => c.quit()));
  });

  it('keeps every one of 50 concurrent mixed updates from two processes', async () => {
    const first = `whsec_${Buffer.alloc(32, 99).toString('base64')}`;
    const { endpoint } = await stores[0]!.create(
      tenant,
      { url: 'https://example.com/hook', eventTypes: ['a.b'] },
      first,
    );
    const id = endpoint.id;
    const patches: EndpointPatch[] = [
      { description: 'described' },
      { headers: { 'X-Team': 'payments' } },
      { metadata: { owner: 'alice' } },
      { rateLimit: 7 },
      { retryPolicy: { maximumAttempts: 4 } },
      { filter: { type: 'a.b' } },
      { transform: '{"body": data}' },
      { eventTypes: ['a.b', 'c.d'] },
      { sendTraceparent: true },
      { url: 'https://example.com/hook-v2' },
    ];
    const rotated = Array.from({ length: 39 }, (_, i) => `whsec_${Buffer.alloc(32, i + 1).toString('base64')}`);
    const updates: (() => Promise<unknown>)[] = [
      ...patches.map((patch) => () => stores[0]!.update(tenant, id, patch)),
      ...rotated.map((secret, i) => () => stores[i % 2]!.rotateSecret(tenant, id, secret, 3_600_000)),
      () => stores[1]!.setEnabled(tenant, id, false, 'failing'),
    ];
    assert.equal(updates.length, 50);
    // Interleave the kinds, then start them all at once.
    const order = updates.map((run, i) => ({ run, key: (i * 7919) % updates.length }));
    order.sort((a, b) => a.key - b.key);
    const results = await Promise.allSettled(order.map(({ run }) => run()));
    const failed = results.filter((r) => r.status === 'rejected');
    assert.deepEqual(
      failed.map((r) => String((r as PromiseRejectedResult).reason)),
      [],
      'no update may fail: concurrent changes are serialised, not refused',
    );

    const final = await stores[0]!.get(tenant, id);
    assert.ok(final);
    assert.equal(final.description, 'described');
    assert.deepEqual(final.headers, { 'X-Team': 'payments' });
    assert.deepEqual(final.metadata, { owner: 'alice' });
    assert.equal(final.rateLimit, 7);
    assert.deepEqual(final.retryPolicy, { maximumAttempts: 4 });
    assert.deepEqual(final.filter, { type: 'a.b' });
    assert.equal(final.transform, '{"body": data}');
    assert.deepEqual(final.eventTypes, ['a.b', 'c.d']);
    assert.equal(final.sendTraceparent, true);
    assert.equal(final.url, 'https://example.com/hook-v2');
    assert.equal(final.enabled, false);
    const secrets = await stores[1]!.loadSigningSecrets(tenant, id);
    // Every rotated-in secret is still there (the grace period is an hour), plus the one minted at creation.
    for (const secret of rotated) assert.ok(secrets.includes(secret), 'a rotation was lost');
    assert.equal(secrets.length, rotated.length + 1);
  });
});
