import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { receiverPool } from '../support/receiver';
import { deliveredEventIds, deliverThroughStack, registerEndpoint } from '../support/redis-event-path';
import type { RedisClusterProcesses } from '../support/redis-servers';
import { redisCli, startRedisCluster } from '../support/redis-servers';
import { uniqueName, waitFor, workflowIdOf } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

/**
 * Issue 13's "Redis Cluster": the service on a 3-master cluster, with every multi-key command, script and MULTI
 * it sends (event path, management API, dead letters, replays) kept within one slot: no CROSSSLOT anywhere.
 */
describe('Redis Cluster (3 masters)', () => {
  let cluster: RedisClusterProcesses;
  let stack: TestStack;
  const receivers = receiverPool();

  before(async () => {
    cluster = await startRedisCluster();
    stack = await startStack({
      env: {
        REDIS_URL: undefined,
        REDIS_CLUSTER_NODES: cluster.nodeList,
        // The stack's default retry policy, cut short: a failing endpoint dead-letters within seconds.
        WSS_RETRY_MAX_ATTEMPTS: '2',
      },
    });
  });
  after(async () => {
    await receivers.closeAll();
    await stack?.stop();
    await cluster?.stop();
  });

  /** Every log line mentioning CROSSSLOT (an error an operation hit), which must stay empty. */
  const crossSlotLogs = () => stack.logs.filter((line) => /CROSSSLOT/i.test(line));

  it('runs the whole event path for tenants spread over the cluster', async () => {
    // Enough tenants that their keys land on all three masters.
    const tenants = Array.from({ length: 6 }, () => uniqueName('cl'));
    await Promise.all(tenants.map(async (t) => deliverThroughStack(stack, await receivers.start(), t, 3)));
    const perMaster = await Promise.all(cluster.masters.map((m) => redisCli(m.port, 'DBSIZE')));
    assert.ok(
      perMaster.every((n) => Number(n) > 0),
      `keys on every master: ${perMaster.join(',')}`,
    );
    assert.deepEqual(crossSlotLogs(), []);
  });

  it('serves the management API: tenants, endpoints, API keys, updates, deletion', async () => {
    const tenant = uniqueName('mgmt');
    assert.equal((await stack.api('POST', '/v1/tenants', { id: tenant, name: 'Cluster' })).status, 201);
    assert.ok((await stack.api('GET', '/v1/tenants')).body.items.some((t: { id: string }) => t.id === tenant));
    const hook = await receivers.start();
    const endpoint = await registerEndpoint(stack, tenant, hook.url);
    const patched = await stack.api('PATCH', `/v1/tenants/${tenant}/endpoints/${endpoint.id}`, { description: 'x' });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const rotated = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${endpoint.id}/secret/rotate`, {});
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.equal((await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${endpoint.id}/disable`, {})).status, 200);
    assert.equal((await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${endpoint.id}/enable`, {})).status, 200);

    const key = await stack.api('POST', `/v1/tenants/${tenant}/api-keys`, { name: 'ci' });
    assert.equal(key.status, 201, JSON.stringify(key.body));
    const asTenant = await stack.api('GET', `/v1/tenants/${tenant}/endpoints`, undefined, key.body.key);
    assert.equal(asTenant.status, 200);
    assert.equal(asTenant.body.items.length, 1);
    const published = await stack.api(
      'POST',
      `/v1/tenants/${tenant}/events`,
      { type: 'order.paid', data: { n: 1 }, id: 'evt-api' },
      key.body.key,
    );
    assert.equal(published.status, 202, JSON.stringify(published.body));
    await waitFor('delivery of the API-published event', () => hook.requests.length === 1);

    const keyId = (await stack.api('GET', `/v1/tenants/${tenant}/api-keys`)).body.items[0].id;
    assert.equal((await stack.api('DELETE', `/v1/tenants/${tenant}/api-keys/${keyId}`)).status, 204);
    assert.equal((await stack.api('GET', `/v1/tenants/${tenant}/endpoints`, undefined, key.body.key)).status, 401);

    await stack.api('POST', `/v1/tenants/${tenant}/api-keys`, { name: 'second' });
    assert.equal((await stack.api('DELETE', `/v1/tenants/${tenant}/endpoints/${endpoint.id}`)).status, 204);
    await registerEndpoint(stack, tenant, hook.url);
    assert.equal((await stack.api('DELETE', `/v1/tenants/${tenant}`)).status, 200);
    assert.equal((await stack.api('GET', `/v1/tenants/${tenant}`)).status, 404);
    // Health reads the consumer group (XINFO) and the recovery record through the cluster too.
    const health = await stack.api('GET', '/healthz');
    assert.equal(health.status, 200, JSON.stringify(health.body));
    assert.deepEqual(crossSlotLogs(), []);
  });

  it('keeps dead letters, replays them, and dead-letters malformed entries', async () => {
    const tenant = uniqueName('dead');
    let healthy = false;
    const hook = await receivers.start(() => ({ status: healthy ? 200 : 500 }));
    const endpoint = await registerEndpoint(stack, tenant, hook.url);
    const since = new Date(Date.now() - 1000).toISOString();
    for (const id of ['evt-d1', 'evt-d2']) {
      await stack.xadd('tenant', tenant, 'type', 'order.paid', 'data', '{}', 'id', id);
    }
    // A duplicate (the dedupe claim and its counter) and a malformed entry (stream dead letter + ack).
    await stack.xadd('tenant', tenant, 'type', 'order.paid', 'data', '{}', 'id', 'evt-d1');
    const bad = await stack.xadd('tenant', tenant, 'type', 'order.paid', 'data', '{not json');
    for (const id of ['evt-d1', 'evt-d2']) {
      const result = await stack.temporal.workflow.getHandle(workflowIdOf(tenant, id)).result();
      assert.equal(result.status, 'failed');
    }
    const dead = await waitFor('two dead letters', async () => {
      const res = await stack.api('GET', `/v1/tenants/${tenant}/dead-letters?endpointId=${endpoint.id}`);
      return res.body.items.length === 2 ? res.body.items : undefined;
    });
    assert.deepEqual(dead.map((d: { eventId: string }) => d.eventId).sort(), ['evt-d1', 'evt-d2']);
    assert.equal((await stack.api('GET', `/v1/tenants/${tenant}/deliveries/evt-d1`)).status, 200);

    healthy = true;
    const replay = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${endpoint.id}/replay`, { since });
    assert.equal(replay.status, 202, JSON.stringify(replay.body));
    assert.equal(replay.body.replayed, 2);
    await waitFor('replayed deliveries', () => deliveredEventIds(hook, endpoint.secret).size === 2);
    await waitFor(
      'dead letters cleared',
      async () => (await stack.api('GET', `/v1/tenants/${tenant}/dead-letters`)).body.items.length === 0,
    );

    const rejected = await waitFor('the malformed entry dead-lettered', async () => {
      const entries = await stack.redis.xrange(stack.config.WSS_DEAD_LETTER_STREAM, '-', '+');
      return entries.find(([, f]) => f[f.indexOf('wss_source_id') + 1] === bad);
    });
    assert.match(rejected[1][rejected[1].indexOf('wss_reason') + 1] ?? '', /not valid JSON/);
    await waitFor('every entry acked', async () => {
      const summary = (await stack.redis.xpending(stack.config.WSS_STREAM, stack.config.WSS_CONSUMER_GROUP)) as [
        number,
      ];
      return Number(summary[0]) === 0;
    });
    await sleep(500);
    assert.deepEqual(crossSlotLogs(), []);
  });
});
