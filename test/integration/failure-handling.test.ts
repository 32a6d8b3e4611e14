import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Worker } from '@temporalio/worker';
import type { startReceiver } from '../support/receiver';
import { receiverPool } from '../support/receiver';
import { historyText, uniqueName, waitFor, workflowIdOf } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

const FAST = { initialIntervalMs: 300, backoffCoefficient: 1, jitterPercent: 0 };

describe('failure handling: classification, dead letters, operations', () => {
  let stack: TestStack;
  const receivers = receiverPool();
  const workflowIds: string[] = [];
  const secrets: string[] = [];

  before(async () => {
    stack = await startStack({ env: { WSS_ENDPOINT_DISABLE_AFTER_FAILURES: '4' } });
  });
  after(async () => {
    await receivers.closeAll();
    await stack.stop();
  });

  const receiver = (...args: Parameters<typeof startReceiver>) => receivers.start(...args);

  async function endpoint(tenant: string, url: string, retryPolicy: Record<string, unknown> = FAST) {
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { url, eventTypes: ['*'], retryPolicy });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    secrets.push(res.body.secret);
    return res.body as { id: string; secret: string };
  }

  async function publish(tenant: string, id: string) {
    await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', JSON.stringify({ id }), 'id', id);
    const workflowId = workflowIdOf(tenant, id);
    workflowIds.push(workflowId);
    return stack.temporal.workflow.getHandle(workflowId);
  }

  it('delivers on attempt 2 after a 503', async () => {
    const tenant = uniqueName('t');
    const hook = await receiver((_r, i) => ({ status: i === 0 ? 503 : 200 }));
    await endpoint(tenant, hook.url);
    const handle = await publish(tenant, 'evt-503');
    const result = await waitFor('result', () => handle.result());
    assert.equal(result.status, 'delivered');
    assert.equal(result.deliveries[0]?.attempts, 2);
    assert.equal(hook.requests.length, 2);
  });

  it('waits for Retry-After before the next attempt', async () => {
    const tenant = uniqueName('t');
    const hook = await receiver((_r, i) =>
      i === 0 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200 },
    );
    await endpoint(tenant, hook.url);
    const handle = await publish(tenant, 'evt-429');
    await waitFor('result', () => handle.result());
    const gap = hook.requests[1]!.receivedAt - hook.requests[0]!.receivedAt;
    assert.ok(gap >= 2000, `second attempt came after ${gap} ms`);
  });

  it('disables an endpoint that answers 410 and stops attempting', async () => {
    const tenant = uniqueName('t');
    const hook = await receiver(() => ({ status: 410 }));
    const ep = await endpoint(tenant, hook.url);
    const handle = await publish(tenant, 'evt-410');
    const result = await waitFor('result', () => handle.result());
    assert.equal(result.status, 'failed');
    assert.equal(hook.requests.length, 1);
    const after = await stack.api('GET', `/v1/tenants/${tenant}/endpoints/${ep.id}`);
    assert.equal(after.body.enabled, false);
    assert.equal(after.body.disabledReason, 'gone');
    const ops = await stack.redis.xrange(stack.stores.keys.operationalEvents(), '-', '+');
    assert.ok(ops.some(([, f]) => f.includes('endpoint.disabled') && (f[3] ?? '').includes(ep.id)));

    // A later event is no longer routed to the disabled endpoint.
    const next = await publish(tenant, 'evt-410-next');
    const later = await waitFor('result', () => next.result());
    assert.equal(later.status, 'no_subscribers');
    assert.equal(hook.requests.length, 1);
  });

  it('keeps a queryable dead letter when retries are exhausted, and the status is searchable', async () => {
    const tenant = uniqueName('t');
    const hook = await receiver(() => ({ status: 500, body: 'database is down' }));
    const ep = await endpoint(tenant, hook.url, { ...FAST, maximumAttempts: 2 });
    const handle = await publish(tenant, 'evt-exhaust');
    const result = await waitFor('result', () => handle.result());
    assert.equal(result.status, 'failed');
    assert.equal(hook.requests.length, 2);

    const dead = await stack.api('GET', `/v1/tenants/${tenant}/dead-letters?endpointId=${ep.id}`);
    assert.equal(dead.status, 200);
    assert.equal(dead.body.items.length, 1);
    const letter = dead.body.items[0];
    assert.equal(letter.eventId, 'evt-exhaust');
    assert.equal(letter.attempts, 2);
    assert.equal(letter.lastStatusCode, 500);
    // The receiver's body can echo the payload: it is in the tenant's attempt log, not in the dead letter.
    assert.equal(letter.lastError, 'HTTP 500 (http_500); gave up after 2 attempts');

    const view = await stack.api('GET', `/v1/tenants/${tenant}/deliveries/evt-exhaust`);
    assert.equal(view.body.status, 'failed');
    assert.deepEqual(
      view.body.endpoints[0].attempts.map((a: any) => [a.statusCode, a.responseBodyExcerpt]),
      [
        [500, 'database is down'],
        [500, 'database is down'],
      ],
    );

    const found = await waitFor('visibility', async () => {
      const ids: string[] = [];
      for await (const wf of stack.temporal.workflow.list({
        query: `TenantId = '${tenant}' AND DeliveryStatus = 'failed'`,
      }))
        ids.push(wf.workflowId);
      return ids.length === 1 ? ids : undefined;
    });
    assert.deepEqual(found, [workflowIdOf(tenant, 'evt-exhaust')]);
  });

  it('cancels a pending delivery and records it as cancelled', async () => {
    const tenant = uniqueName('t');
    const hook = await receiver(() => ({ status: 500 }));
    await endpoint(tenant, hook.url, { initialIntervalMs: 60_000, backoffCoefficient: 1, jitterPercent: 0 });
    const handle = await publish(tenant, 'evt-cancel');
    await waitFor('first attempt', () => hook.requests.length === 1);
    const res = await stack.api('POST', `/v1/tenants/${tenant}/deliveries/evt-cancel/cancel`);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    await waitFor('cancelled', async () => (await handle.describe()).status.name === 'CANCELLED');
    const view = await stack.api('GET', `/v1/tenants/${tenant}/deliveries/evt-cancel`);
    assert.equal(view.body.status, 'cancelled');
    const again = await stack.api('POST', `/v1/tenants/${tenant}/deliveries/evt-cancel/cancel`);
    assert.equal(again.status, 409);
    assert.equal(hook.requests.length, 1);
  });

  it('retries a failed delivery on request, with the same event id, and clears its dead letter', async () => {
    const tenant = uniqueName('t');
    let healthy = false;
    const hook = await receiver(() => ({ status: healthy ? 200 : 500 }));
    await endpoint(tenant, hook.url, { ...FAST, maximumAttempts: 1 });
    const handle = await publish(tenant, 'evt-manual');
    assert.equal((await waitFor('result', () => handle.result())).status, 'failed');

    healthy = true;
    const res = await stack.api('POST', `/v1/tenants/${tenant}/deliveries/evt-manual/retry`);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    await waitFor('redelivery', () => hook.requests.length === 2);
    assert.equal(hook.requests[1]!.headers['x-wss-event-id'], 'evt-manual');
    assert.equal(hook.requests[0]!.headers['x-wss-event-id'], 'evt-manual');
    await waitFor(
      'dead letter cleared',
      async () => (await stack.api('GET', `/v1/tenants/${tenant}/dead-letters`)).body.items.length === 0,
    );
    const view = await stack.api('GET', `/v1/tenants/${tenant}/deliveries/evt-manual`);
    assert.equal(view.body.runs, 2);
    assert.equal(view.body.status, 'delivered');
  });

  it('shows each endpoint by its own last outcome, across a retry run and while a run is in progress', async () => {
    const tenant = uniqueName('t');
    let healthy = false;
    const failing = await receiver(() => ({ status: healthy ? 200 : 503 }));
    const fine = await receiver(() => ({ status: 200 }));
    const slow = await receiver(() => ({ status: 200, delayMs: 1500 }));
    const f = await endpoint(tenant, failing.url, { ...FAST, maximumAttempts: 1 });
    const g = await endpoint(tenant, fine.url);
    const s = await endpoint(tenant, slow.url);
    const handle = await publish(tenant, 'evt-mixed');
    // While the slow endpoint's attempt runs, the fine one is already delivered and says so.
    await waitFor('the fine endpoint answered', () => fine.requests.length === 1);
    await waitFor('its attempt recorded', async () => {
      const view = await stack.api('GET', `/v1/tenants/${tenant}/deliveries/evt-mixed`);
      return view.body.endpoints.find((e: any) => e.endpointId === g.id)?.attempts.length === 1;
    });
    const during = await stack.api('GET', `/v1/tenants/${tenant}/deliveries/evt-mixed`);
    if (during.body.workflowStatus === 'RUNNING') {
      assert.equal(during.body.endpoints.find((e: any) => e.endpointId === g.id).status, 'delivered');
    }
    assert.equal((await waitFor('result', () => handle.result())).status, 'failed');

    healthy = true;
    const res = await stack.api('POST', `/v1/tenants/${tenant}/deliveries/evt-mixed/retry`);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    await waitFor('the retry run', async () => {
      const view = await stack.api('GET', `/v1/tenants/${tenant}/deliveries/evt-mixed`);
      return view.body.runs === 2 && view.body.workflowStatus === 'COMPLETED';
    });
    const view = await stack.api('GET', `/v1/tenants/${tenant}/deliveries/evt-mixed`);
    const statusOf = (id: string) => view.body.endpoints.find((e: any) => e.endpointId === id)?.status;
    assert.equal(view.body.status, 'delivered');
    assert.equal(statusOf(f.id), 'delivered');
    // Delivered in the first run, not part of the retry run: still delivered, not pending.
    assert.equal(statusOf(g.id), 'delivered');
    assert.equal(statusOf(s.id), 'delivered');
  });

  it('replays exactly the failed deliveries of a time range', async () => {
    const tenant = uniqueName('t');
    let healthy = false;
    const hook = await receiver(() => ({ status: healthy ? 200 : 500 }));
    const ep = await endpoint(tenant, hook.url, { ...FAST, maximumAttempts: 1 });
    const okHook = await receiver(() => ({ status: 200 }));
    void okHook;

    const failedAt: Record<string, number> = {};
    for (const id of ['evt-r1', 'evt-r2', 'evt-r3']) {
      const handle = await publish(tenant, id);
      await waitFor('result', () => handle.result());
      failedAt[id] = Date.now();
      await new Promise((r) => setTimeout(r, 300));
    }
    healthy = true;
    hook.requests.length = 0;
    // The range covers r2 and r3 only.
    const since = new Date(failedAt['evt-r1']! + 100).toISOString();
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${ep.id}/replay`, { since });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.replayed, 2);
    await waitFor('replayed deliveries', () => hook.requests.length === 2);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(hook.requests.map((r) => r.headers['x-wss-event-id']).sort(), ['evt-r2', 'evt-r3']);
    const dead = await stack.api('GET', `/v1/tenants/${tenant}/dead-letters`);
    assert.deepEqual(
      dead.body.items.map((d: any) => d.eventId),
      ['evt-r1'],
    );
  });

  it('disables an endpoint after the configured number of consecutive failed deliveries', async () => {
    const tenant = uniqueName('t');
    const hook = await receiver(() => ({ status: 500 }));
    const ep = await endpoint(tenant, hook.url, { ...FAST, maximumAttempts: 1 });
    for (const id of ['evt-h1', 'evt-h2', 'evt-h3', 'evt-h4']) {
      const handle = await publish(tenant, id);
      assert.equal((await waitFor('result', () => handle.result())).status, 'failed');
    }
    const after = await stack.api('GET', `/v1/tenants/${tenant}/endpoints/${ep.id}`);
    assert.equal(after.body.enabled, false);
    assert.equal(after.body.disabledReason, 'failing');

    // Re-enabling with a replay redelivers what failed while it was down.
    hook.requests.length = 0;
    const reenabled = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${ep.id}/enable`, {
      replayFailedSince: new Date(Date.now() - 60_000).toISOString(),
    });
    assert.equal(reenabled.status, 200, JSON.stringify(reenabled.body));
    assert.equal(reenabled.body.enabled, true);
    assert.equal(reenabled.body.replay.replayed, 4);
    await waitFor('replayed', () => hook.requests.length === 4);
  });

  it('restarts the failure streak after a delivered event, so interleaved failures do not disable', async () => {
    const tenant = uniqueName('t');
    const failing = new Set(['evt-s1', 'evt-s2', 'evt-s3', 'evt-s5', 'evt-s6', 'evt-s7']);
    const hook = await receiver((req) => ({ status: failing.has(String(req.headers['x-wss-event-id'])) ? 500 : 200 }));
    const ep = await endpoint(tenant, hook.url, { ...FAST, maximumAttempts: 1 });
    for (const id of ['evt-s1', 'evt-s2', 'evt-s3', 'evt-s4', 'evt-s5', 'evt-s6', 'evt-s7']) {
      const handle = await publish(tenant, id);
      assert.equal((await waitFor('result', () => handle.result())).status, failing.has(id) ? 'failed' : 'delivered');
    }
    // Three failures, a success, three failures: never four in a row, so the threshold of 4 is not reached.
    const after = await stack.api('GET', `/v1/tenants/${tenant}/endpoints/${ep.id}`);
    assert.equal(after.body.enabled, true);
  });

  it('replays every recorded history without non-determinism, and no history holds a secret', async () => {
    const histories = [];
    for (const workflowId of workflowIds) {
      for await (const wf of stack.temporal.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
        const history = await stack.temporal.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
        const text = historyText(history);
        assert.ok(text.includes(workflowId.split(':')[2]!), 'the decoded history is searchable');
        for (const secret of secrets) assert.equal(text.includes(secret), false, 'secret in history');
        histories.push({ workflowId: `${wf.workflowId}/${wf.runId}`, history });
      }
    }
    assert.ok(histories.length >= workflowIds.length);
    let replayed = 0;
    for await (const result of Worker.runReplayHistories(
      { workflowsPath: require.resolve('../../src/workflows') },
      histories,
    )) {
      assert.equal(result.error, undefined, `${result.workflowId}: ${String(result.error)}`);
      replayed++;
    }
    assert.equal(replayed, histories.length);
  });
});
