// The first attempt to each endpoint runs as a local activity, on the real Temporal dev server and Redis: a
// first-attempt success schedules no activity at all (every endpoint of a fan-out in one workflow task, at a flat
// Temporal cost), and a first attempt that fails continues as a regular activity on the endpoint's own schedule
// (attempt 2 onwards, Retry-After honoured), with the attempt log, dead letters and health as before.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { costOfHistory, eventTypeName, fetchClosedHistory, upsertedKeys } from '../../bench/history-cost';
import { receiverPool } from '../support/receiver';
import { uniqueName, waitFor, workflowIdOf } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

const SECOND = 1_000;

describe('the first attempt runs as a local activity', () => {
  let stack: TestStack;
  const receivers = receiverPool();

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await receivers.closeAll();
    await stack?.stop();
  });

  async function endpoint(tenant: string, url: string, retryPolicy: Record<string, unknown> = {}) {
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { url, eventTypes: ['*'], retryPolicy });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { id: string };
  }

  async function publish(tenant: string, id: string): Promise<WorkflowHandle> {
    await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', JSON.stringify({ id }), 'id', id);
    return stack.temporal.workflow.getHandle(workflowIdOf(tenant, id));
  }

  async function history(tenant: string, id: string) {
    return fetchClosedHistory(stack.temporal, workflowIdOf(tenant, id), 30 * SECOND);
  }

  const typesOf = (h: Awaited<ReturnType<typeof history>>) => (h.events ?? []).map((e) => eventTypeName(e.eventType));
  const count = (types: string[], type: string) => types.filter((t) => t === type).length;

  for (const fanOut of [1, 5]) {
    it(`delivers to ${fanOut} endpoint(s) on the first attempt without scheduling an activity, in one workflow task`, async () => {
      const tenant = uniqueName('t');
      const hooks = await Promise.all(Array.from({ length: fanOut }, () => receivers.start(() => ({ status: 200 }))));
      for (const hook of hooks) await endpoint(tenant, hook.url);
      const handle = await publish(tenant, 'evt-first');
      const result = await waitFor('result', () => handle.result(), 30 * SECOND);
      assert.equal(result.status, 'delivered');
      assert.deepEqual(
        result.deliveries.map((d: { attempts: number }) => d.attempts),
        hooks.map(() => 1),
      );
      for (const hook of hooks) assert.equal(hook.requests.length, 1);

      const h = await history(tenant, 'evt-first');
      const types = typesOf(h);
      assert.equal(count(types, 'ACTIVITY_TASK_SCHEDULED'), 0, types.join(' '));
      assert.equal(count(types, 'WORKFLOW_TASK_COMPLETED'), 1, `one workflow task for the fan-out: ${types.join(' ')}`);
      const cost = costOfHistory(h);
      assert.ok(cost.billableActions <= 3, `billable actions ${JSON.stringify(cost.actions)}`);
      // The first attempt is in the tenant's attempt log like any other.
      const view = await stack.api('GET', `/v1/tenants/${tenant}/deliveries/evt-first`);
      assert.equal(view.body.status, 'delivered');
      for (const shown of view.body.endpoints) {
        assert.deepEqual(
          shown.attempts.map((a: { attempt: number; outcome: string }) => [a.attempt, a.outcome]),
          [[1, 'delivered']],
        );
      }
    });
  }

  it("continues a failed first attempt as a regular activity on the endpoint's schedule", async () => {
    const tenant = uniqueName('t');
    // Attempt 1 asks for 2 s (Retry-After), attempt 2 fails and waits the schedule's wait after attempt 2
    // (500 ms × 4 = 2 s: counted from attempt 1 it would be 500 ms), attempt 3 is delivered.
    const hook = await receivers.start((_r, i) =>
      i === 0 ? { status: 429, headers: { 'retry-after': '2' } } : i === 1 ? { status: 503 } : { status: 200 },
    );
    await endpoint(tenant, hook.url, { initialIntervalMs: 500, backoffCoefficient: 4, jitterPercent: 0 });
    const handle = await publish(tenant, 'evt-retry');
    const result = await waitFor('result', () => handle.result(), 30 * SECOND);
    assert.equal(result.status, 'delivered');
    assert.equal(result.deliveries[0]?.attempts, 3);
    assert.equal(hook.requests.length, 3);
    const [first, second, third] = hook.requests.map((r) => r.receivedAt);
    assert.ok(second! - first! >= 2 * SECOND, `attempt 2 came ${second! - first!} ms after attempt 1`);
    assert.ok(third! - second! >= 2 * SECOND, `attempt 3 came ${third! - second!} ms after attempt 2`);

    const h = await history(tenant, 'evt-retry');
    const types = typesOf(h);
    assert.equal(count(types, 'ACTIVITY_TASK_SCHEDULED'), 1, types.join(' '));
    const started = (h.events ?? []).find((e) => eventTypeName(e.eventType) === 'ACTIVITY_TASK_STARTED');
    // Temporal's own count of the regular activity: its second attempt is the delivery's third.
    assert.equal(started?.activityTaskStartedEventAttributes?.attempt, 2);

    const view = await stack.api('GET', `/v1/tenants/${tenant}/deliveries/evt-retry`);
    assert.deepEqual(
      view.body.endpoints[0].attempts.map((a: { attempt: number; outcome: string; statusCode: number }) => [
        a.attempt,
        a.outcome,
        a.statusCode,
      ]),
      [
        [1, 'retry', 429],
        [2, 'retry', 503],
        [3, 'delivered', 200],
      ],
    );
  });

  it('ends a delivery whose first attempt gets 410 without a regular activity, and disables the endpoint', async () => {
    const tenant = uniqueName('t');
    const hook = await receivers.start(() => ({ status: 410 }));
    const ep = await endpoint(tenant, hook.url);
    const handle = await publish(tenant, 'evt-gone');
    const result = await waitFor('result', () => handle.result(), 30 * SECOND);
    assert.equal(result.status, 'failed');
    assert.equal(hook.requests.length, 1);
    const types = typesOf(await history(tenant, 'evt-gone'));
    assert.equal(count(types, 'ACTIVITY_TASK_SCHEDULED'), 0, types.join(' '));
    const after = await stack.api('GET', `/v1/tenants/${tenant}/endpoints/${ep.id}`);
    assert.equal(after.body.enabled, false);
    const dead = await stack.api('GET', `/v1/tenants/${tenant}/dead-letters?endpointId=${ep.id}`);
    assert.equal(dead.body.items.length, 1);
    assert.equal(dead.body.items[0].reason, 'endpoint_gone');
    assert.equal(dead.body.items[0].attempts, 1);
  });

  it('fails a delivery whose attempts are spent, the first one local, with one dead letter counting every attempt', async () => {
    const tenant = uniqueName('t');
    const hook = await receivers.start(() => ({ status: 500 }));
    const ep = await endpoint(tenant, hook.url, { initialIntervalMs: 200, backoffCoefficient: 1, maximumAttempts: 3 });
    const handle = await publish(tenant, 'evt-down');
    const result = await waitFor('result', () => handle.result(), 30 * SECOND);
    assert.equal(result.status, 'failed');
    assert.equal(result.deliveries[0]?.attempts, 3);
    assert.equal(hook.requests.length, 3);
    const dead = await stack.api('GET', `/v1/tenants/${tenant}/dead-letters?endpointId=${ep.id}`);
    assert.equal(dead.body.items.length, 1);
    assert.equal(dead.body.items[0].attempts, 3);
    assert.equal(dead.body.items[0].lastError, 'HTTP 500 (http_500); gave up after 3 attempts');
  });

  it('keeps search by status: failed and delivered deliveries are found, a delivered one without an upsert', async () => {
    const tenant = uniqueName('t');
    const ok = await receivers.start(() => ({ status: 200 }));
    const bad = await receivers.start(() => ({ status: 400 }));
    await endpoint(tenant, ok.url);
    const other = uniqueName('t');
    await endpoint(other, bad.url, { permanentStatusCodes: [400] });
    await waitFor('delivered', () => publish(tenant, 'evt-ok').then((h) => h.result()), 30 * SECOND);
    await waitFor('failed', () => publish(other, 'evt-bad').then((h) => h.result()), 30 * SECOND);

    const list = async (query: string) => {
      const ids: string[] = [];
      for await (const wf of stack.temporal.workflow.list({ query })) ids.push(wf.workflowId);
      return ids;
    };
    const delivered = await waitFor('visibility', async () => {
      const ids = await list(`TenantId = '${tenant}' AND ExecutionStatus = 'Completed' AND DeliveryStatus IS NULL`);
      return ids.length === 1 ? ids : undefined;
    });
    assert.deepEqual(delivered, [workflowIdOf(tenant, 'evt-ok')]);
    const failed = await waitFor('visibility', async () => {
      const ids = await list(`TenantId = '${other}' AND DeliveryStatus = 'failed'`);
      return ids.length === 1 ? ids : undefined;
    });
    assert.deepEqual(failed, [workflowIdOf(other, 'evt-bad')]);
    const upserted = (await history(tenant, 'evt-ok')).events?.flatMap(upsertedKeys) ?? [];
    assert.ok(!upserted.includes('DeliveryStatus'), `upserted: ${upserted.join(', ')}`);
  });
});
