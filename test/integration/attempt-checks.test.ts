import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startDelivery } from '../../src/delivery/start-delivery';
import { deliverEvent } from '../../src/workflows/deliver-event';
import { parseEndpointId, parseEventId, parseTenantId } from '../../src/domain/ids';
import { resolveRetryPolicy } from '../../src/domain/retry-policy';
import { serviceRetryPolicy } from '../../src/main/services';
import type { ReceiverReply } from '../support/receiver';
import { receiverPool } from '../support/receiver';
import { uniqueName, waitFor, workflowIdOf } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

/**
 * End to end, against real Redis and Temporal: what each attempt checks and records, whatever happens after the
 * event was routed (a subscription changed during retries, a slow body after a 2xx, data no attempt can process).
 */
describe('every attempt: the current subscription, the answer that arrived, an unprocessable event', () => {
  let stack: TestStack;
  const receivers = receiverPool();
  const rawServers: net.Server[] = [];

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await receivers.closeAll();
    for (const server of rawServers) server.close();
    await stack.stop();
  });

  /** Retries come 2 s apart (Retry-After), which leaves time to change the endpoint between attempts. */
  const busyThenOk =
    (okFrom = Number.POSITIVE_INFINITY) =>
    (index: number): ReceiverReply =>
      index < okFrom ? { status: 503, headers: { 'retry-after': '2' } } : { status: 200 };

  async function endpoint(tenant: string, url: string, extra: Record<string, unknown> = {}) {
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
      url,
      eventTypes: ['unsub.*'],
      retryPolicy: { maximumAttempts: 4 },
      ...extra,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { id: string };
  }

  async function publish(tenant: string, id: string, data: unknown) {
    await stack.xadd('tenant', tenant, 'type', 'unsub.order', 'id', id, 'data', JSON.stringify(data));
    return stack.temporal.workflow.getHandle(workflowIdOf(tenant, id));
  }

  async function attempts(tenant: string, eventId: string) {
    const view = await stack.api('GET', `/v1/tenants/${tenant}/deliveries/${eventId}`);
    assert.equal(view.status, 200, JSON.stringify(view.body));
    return (view.body.endpoints[0]?.attempts ?? []) as { outcome: string; statusCode?: number; error?: string }[];
  }

  async function changeAfterFirstAttempt(
    tenant: string,
    endpointId: string,
    requests: () => number,
    patch: Record<string, unknown>,
  ) {
    await waitFor('the first attempt', () => requests() >= 1);
    const res = await stack.api('PATCH', `/v1/tenants/${tenant}/endpoints/${endpointId}`, patch);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }

  it('skips the retries as unsubscribed once the endpoint stops subscribing to the type', async () => {
    const tenant = uniqueName('t');
    const hook = await receivers.start((_r, i) => busyThenOk()(i));
    const ep = await endpoint(tenant, hook.url);
    const handle = await publish(tenant, 'unsub-type', { total: 250 });

    await changeAfterFirstAttempt(tenant, ep.id, () => hook.requests.length, { eventTypes: ['other.only'] });
    const result = await waitFor('result', () => handle.result(), 60_000);

    assert.equal(result.status, 'skipped');
    assert.equal(result.deliveries[0]?.lastError, 'unsubscribed');
    assert.equal(hook.requests.length, 1);
    assert.deepEqual(
      (await attempts(tenant, 'unsub-type')).map((a) => [a.outcome, a.statusCode ?? a.error]),
      [
        ['retry', 503],
        ['skipped', 'unsubscribed'],
      ],
    );
  });

  it('skips the retries as unsubscribed once the endpoint filter no longer matches', async () => {
    const tenant = uniqueName('t');
    const hook = await receivers.start((_r, i) => busyThenOk()(i));
    const ep = await endpoint(tenant, hook.url, { filter: { 'data.total': { $gt: 100 } } });
    const handle = await publish(tenant, 'unsub-filter', { total: 250 });

    await changeAfterFirstAttempt(tenant, ep.id, () => hook.requests.length, {
      filter: { 'data.total': { $gt: 1000 } },
    });
    const result = await waitFor('result', () => handle.result(), 60_000);

    assert.equal(result.status, 'skipped');
    assert.equal(result.deliveries[0]?.lastError, 'unsubscribed');
    assert.equal(hook.requests.length, 1);
  });

  it('keeps retrying, and delivers, after a change that still matches', async () => {
    const tenant = uniqueName('t');
    const hook = await receivers.start((_r, i) => busyThenOk(1)(i));
    const ep = await endpoint(tenant, hook.url, { filter: { 'data.total': { $gt: 100 } } });
    const handle = await publish(tenant, 'unsub-still', { total: 250 });

    await changeAfterFirstAttempt(tenant, ep.id, () => hook.requests.length, {
      eventTypes: ['other.only', 'unsub.order'],
      filter: { 'data.total': { $gte: 250 } },
    });
    const result = await waitFor('result', () => handle.result(), 60_000);

    assert.equal(result.status, 'delivered');
    assert.equal(hook.requests.length, 2);
  });

  it('delivers once a 200 whose 15-byte body trickles at 1 byte per 2 s', async () => {
    const tenant = uniqueName('t');
    let requests = 0;
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => {
        requests += 1;
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n');
        let sent = 0;
        const timer = setInterval(() => {
          if (sent >= 15 || socket.destroyed) return clearInterval(timer);
          socket.write('.');
          sent += 1;
        }, 2000);
        socket.on('close', () => clearInterval(timer));
      });
    });
    rawServers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    await endpoint(tenant, url);
    const handle = await publish(tenant, 'slow-body', { total: 1 });

    const result = await waitFor('result', () => handle.result(), 60_000);

    assert.equal(result.status, 'delivered');
    assert.equal(result.deliveries[0]?.attempts, 1);
    assert.equal(requests, 1);
    assert.deepEqual(
      (await attempts(tenant, 'slow-body')).map((a) => [a.outcome, a.statusCode]),
      [['delivered', 200]],
    );
  });

  it('records every attempt of a stored payload of 100,000 nested arrays, and never leaves it pending', async () => {
    const tenant = parseTenantId(uniqueName('t'));
    const hook = await receivers.start();
    const ep = await endpoint(tenant, hook.url);
    const eventId = parseEventId('deep-1');
    // Stored directly, as by a version without a depth check at acceptance: the attempt itself must cope.
    await stack.stores.payloads.claim(tenant, eventId, '0-1', '['.repeat(100_000) + ']'.repeat(100_000));
    await startDelivery(
      { client: stack.temporal, taskQueue: stack.config.WSS_TASK_QUEUE, workflow: deliverEvent },
      {
        event: { tenantId: tenant, eventId, eventType: 'unsub.order', occurredAt: new Date().toISOString() },
        deliveries: [
          {
            endpointId: parseEndpointId(ep.id),
            retryPolicy: resolveRetryPolicy({ maximumAttempts: 4 }, undefined, serviceRetryPolicy(stack.config)),
          },
        ],
      },
      'REJECT_DUPLICATE',
    );
    const handle = stack.temporal.workflow.getHandle(workflowIdOf(tenant, eventId));

    const result = await waitFor('result', () => handle.result(), 60_000);

    const recorded = await attempts(tenant, eventId);
    assert.ok(recorded.length >= 1, 'no attempt was recorded');
    assert.equal(recorded.length, result.deliveries[0]?.attempts, JSON.stringify({ result, recorded }));
    if (result.status === 'failed') {
      // Processing the data failed: at once, for good, with a dead letter that says why.
      assert.deepEqual(
        recorded.map((a) => [a.outcome, a.error]),
        [['failed', 'unprocessable_event']],
      );
      const dead = await stack.api('GET', `/v1/tenants/${tenant}/dead-letters?endpointId=${ep.id}`);
      assert.equal(dead.body.items.length, 1);
      assert.match(dead.body.items[0].lastError, /while building the request/);
    } else {
      assert.equal(result.status, 'delivered');
      assert.equal(hook.requests.length, 1);
    }
  });
});
