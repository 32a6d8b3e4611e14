import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { receiverPool } from '../support/receiver';
import { deliveredEventIds } from '../support/redis-event-path';
import { uniqueName, waitFor } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

/**
 * REDIS_WAIT_REPLICAS on the API: when the replicas do not confirm a publish in time, the entry is in the stream
 * all the same. The answer is 503 `replication_not_confirmed` with a Retry-After (not a 500), and republishing
 * the same id is deduplicated: one delivery.
 */
describe('publish with unconfirmed replication', () => {
  const receivers = receiverPool();
  const stacks: TestStack[] = [];
  after(async () => {
    for (const stack of stacks) await stack.stop();
    await receivers.closeAll();
  });

  it('answers 503 replication_not_confirmed, delivers once, and a republish is not a second delivery', async () => {
    // One service instance in two halves: an API that waits for a replica the test Redis does not have, and the
    // consumer and worker (waiting for none) that deliver what it wrote.
    const id = uniqueName('repl').replace(/-/g, '_');
    const shared = {
      WSS_KEY_PREFIX: id,
      WSS_STREAM: `${id}:events`,
      WSS_CONSUMER_GROUP: `${id}-group`,
      WSS_CONSUMER_NAME: `${id}-consumer`,
      WSS_TASK_QUEUE: `${id}-queue`,
      WSS_ADMIN_TOKEN: `admin_${randomBytes(16).toString('hex')}`,
      WSS_MASTER_KEY: randomBytes(32).toString('base64'),
    };
    const delivery = await startStack({ env: shared });
    stacks.push(delivery);
    const waiting = await startStack({
      env: { ...shared, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '200' },
      consumer: false,
      worker: false,
    });
    stacks.push(waiting);

    // The stacks' own admin token is replaced by the shared one.
    const admin = shared.WSS_ADMIN_TOKEN;
    const tenant = uniqueName('repl');
    assert.equal((await delivery.api('POST', '/v1/tenants', { id: tenant }, admin)).status, 201);
    const receiver = await receivers.start();
    const registered = await delivery.api(
      'POST',
      `/v1/tenants/${tenant}/endpoints`,
      { url: receiver.url, eventTypes: ['order.*'] },
      admin,
    );
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    const endpoint = registered.body as { secret: string };

    const event = { type: 'order.paid', id: 'evt-repl-1', data: { n: 1 } };
    const res = await fetch(`${waiting.apiUrl}/v1/tenants/${tenant}/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify(event),
    });
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(res.status, 503, JSON.stringify(body));
    assert.equal(body.error.code, 'replication_not_confirmed');
    assert.match(body.error.message, /written/);
    assert.match(body.error.message, /same id/);
    assert.ok(Number(res.headers.get('retry-after')) > 0, `Retry-After ${res.headers.get('retry-after')}`);

    // It was written: delivered once.
    await waitFor('the delivery', () => deliveredEventIds(receiver, endpoint.secret).has(event.id), 60_000);
    // The client retries, as the answer says it may: once more on the waiting API (503 again), and once the
    // replicas are back (here: the API that waits for none), 202.
    assert.equal((await waiting.api('POST', `/v1/tenants/${tenant}/events`, event, admin)).status, 503);
    const again = await delivery.api('POST', `/v1/tenants/${tenant}/events`, event, admin);
    assert.equal(again.status, 202, JSON.stringify(again.body));
    // Bounded wait for a duplicate that must not come.
    await sleep(3000);
    assert.equal(receiver.requests.length, 1, `${receiver.requests.length} deliveries`);
  });
});
