/**
 * The service on the production-shaped Temporal: the server built from go.temporal.io/server on PostgreSQL, with SQL
 * visibility (scripts/temporal-postgres.mjs), as docker-compose.yml runs it. Unlike the dev server, this server
 * starts with no custom search attributes: the service registers its own at start-up, and a delivery started right
 * after must be able to use them and be found by the README's queries.
 *
 *   npm run test:postgres
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/infra/logger';
import { loadConfig } from '../../src/infra/config';
import { connectTemporalClient, registerSearchAttributes } from '../../src/infra/temporal';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/delivery/search-attributes';
import { receiverPool } from '../support/receiver';
import { serviceAddresses, uniqueName, waitFor, workflowIdOf } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

/** The runner exports the server's pid: the suite must be run through it, never against the dev server. */
function serverPid(): number {
  const pid = process.env.TEMPORAL_SERVER_PID;
  if (!pid) {
    throw new Error(
      'TEMPORAL_SERVER_PID is not set: run this through `npm run test:postgres` ' +
        '(node scripts/temporal-postgres.mjs run -- node scripts/local-stack.mjs run --ephemeral -- ...)',
    );
  }
  return Number(pid);
}

describe('the service on the Temporal server on PostgreSQL', () => {
  const { temporalAddress } = serviceAddresses();
  const config = loadConfig({}, { TEMPORAL_ADDRESS: temporalAddress, REDIS_URL: serviceAddresses().redisUrl });
  const receivers = receiverPool();
  let stack: TestStack | undefined;

  after(async () => {
    await receivers.closeAll();
    await stack?.stop();
  });

  it('is the Temporal server (not the dev server), with history and visibility in PostgreSQL', async () => {
    const argv = readFileSync(`/proc/${serverPid()}/cmdline`, 'utf8').split('\0');
    assert.match(argv[0] ?? '', /temporal-server$/);
    assert.ok(!argv.includes('start-dev'), argv.join(' '));
    const { connection } = await connectTemporalClient(config.temporal);
    try {
      const info = await connection.workflowService.getClusterInfo({});
      assert.equal(info.persistenceStore, 'postgres12');
      assert.equal(info.visibilityStore, 'postgres12');
    } finally {
      await connection.close();
    }
  });

  describe('search attributes registered by the service', () => {
    before(async () => {
      // What the worker's and the all-in-one's start-up do, then at once the whole service.
      await registerSearchAttributes(config.temporal, createLogger('warn', { component: 'test' }));
      stack = await startStack();
    });

    it('are all there after the start-up step, with their types', async () => {
      const { connection } = await connectTemporalClient(config.temporal);
      try {
        const listed = await connection.operatorService.listSearchAttributes({ namespace: config.temporal.namespace });
        const custom = listed.customAttributes ?? {};
        for (const key of SEARCH_ATTRIBUTE_KEYS) assert.ok(key.name in custom, `${key.name} is not registered`);
      } finally {
        await connection.close();
      }
    });

    it('carry a delivery started right after start-up, found by the README queries', async () => {
      assert.ok(stack);
      const tenant = uniqueName('pg');
      const hook = await receivers.start();
      const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
        url: hook.url,
        eventTypes: ['order.*'],
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const endpointId = (res.body as { id: string }).id;
      await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{"n":1}', 'id', 'evt-pg-1');
      await waitFor('delivery', () => hook.requests.length === 1, 60_000);

      const workflowId = workflowIdOf(tenant, 'evt-pg-1');
      const temporal = stack.temporal;
      await temporal.workflow.getHandle(workflowId).result();
      const found = async (query: string): Promise<string[]> => {
        const ids: string[] = [];
        for await (const execution of temporal.workflow.list({ query })) ids.push(execution.workflowId);
        return ids;
      };
      // Visibility is written after the fact: wait for each query to see the closed workflow.
      for (const query of [
        `TenantId = '${tenant}' AND ExecutionStatus = 'Completed'`,
        `EndpointId = '${endpointId}' AND StartTime > '2020-01-01T00:00:00Z'`,
        `EventId = 'evt-pg-1' AND EventType = 'order.created'`,
      ]) {
        const ids = await waitFor(query, async () => {
          const list = await found(query);
          return list.length > 0 ? list : undefined;
        });
        assert.deepEqual(ids, [workflowId], query);
      }

      // The deliveries list's own queries (status clauses, IN lists, StartTime) on SQL visibility.
      for (const filter of ['status=delivered', 'eventType=order.created', `endpointId=${endpointId}`]) {
        const list = await stack.api('GET', `/v1/tenants/${tenant}/deliveries?${filter}&since=2020-01-01T00:00:00Z`);
        assert.equal(list.status, 200, `${filter}: ${JSON.stringify(list.body)}`);
        assert.deepEqual(
          list.body.items.map((r: { eventId: string }) => r.eventId),
          ['evt-pg-1'],
          filter,
        );
      }
      const failed = await stack.api('GET', `/v1/tenants/${tenant}/deliveries?status=failed`);
      assert.deepEqual(failed.body.items, []);
    });
  });
});
