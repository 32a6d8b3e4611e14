import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createIngestor } from '../../src/main/consumer';
import { verifyWssRequest } from '../support/independent-verifier';
import type { startReceiver } from '../support/receiver';
import { receiverPool } from '../support/receiver';
import { historyText, uniqueName, waitFor, workflowIdOf } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

describe('event path: XADD → consumer → Temporal → signed POST', () => {
  let stack: TestStack;
  const receivers = receiverPool();

  before(async () => {
    stack = await startStack({ env: { WSS_CONSUMER_CLAIM_IDLE_MS: '1000', WSS_MAX_EVENT_BYTES: '2048' } });
  });
  after(async () => {
    await receivers.closeAll();
    await stack.stop();
  });

  const receiver = (...args: Parameters<typeof startReceiver>) => receivers.start(...args);

  async function registerEndpoint(tenant: string, url: string, extra: Record<string, unknown> = {}) {
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { url, eventTypes: ['order.*'], ...extra });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { id: string; secret: string };
  }

  async function pendingCount(): Promise<number> {
    const summary = (await stack.redis.xpending(stack.config.WSS_STREAM, stack.config.WSS_CONSUMER_GROUP)) as [
      number,
      ...unknown[],
    ];
    return Number(summary[0]);
  }

  it('delivers a registered event with a body, headers and a signature an independent verifier accepts', async () => {
    const tenant = uniqueName('acme');
    const hook = await receiver();
    const endpoint = await registerEndpoint(tenant, hook.url);
    assert.match(endpoint.secret, /\S{24,}/);

    const data = { orderId: 'o-1', total: 42.5, note: 'café ☕' };
    await stack.xadd('tenant', tenant, 'type', 'order.updated', 'data', JSON.stringify(data), 'id', 'evt-1');

    await waitFor('delivery', () => hook.requests.length === 1);
    const req = hook.requests[0]!;
    const verdict = verifyWssRequest(endpoint.secret, req.headers, req.body);
    assert.deepEqual(verdict.ok, true, JSON.stringify(verdict));
    assert.equal(req.method, 'POST');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['x-wss-event-id'], 'evt-1');
    assert.equal(req.headers['x-wss-event-type'], 'order.updated');
    assert.match(String(req.headers['user-agent']), /^wss-webhooks\//);
    const body = JSON.parse(req.body.toString('utf8'));
    assert.deepEqual(Object.keys(body), ['id', 'type', 'occurredAt', 'data']);
    assert.equal(body.id, 'evt-1');
    assert.equal(body.type, 'order.updated');
    assert.deepEqual(body.data, data);
    assert.ok(Math.abs(Date.parse(body.occurredAt) - Date.now()) < 60_000);

    const handle = stack.temporal.workflow.getHandle(workflowIdOf(tenant, 'evt-1'));
    const result = await handle.result();
    assert.equal(result.status, 'delivered');
    assert.equal((await handle.describe()).status.name, 'COMPLETED');
    // The secret never travels through Temporal history.
    const history = historyText(await handle.fetchHistory());
    assert.ok(history.includes(endpoint.id), 'the decoded history is searchable');
    assert.equal(history.includes(endpoint.secret), false);
    assert.equal(stack.logs.join('\n').includes(endpoint.secret), false);
  });

  it('does not deliver to an endpoint whose event types do not match', async () => {
    const tenant = uniqueName('acme');
    const hook = await receiver();
    await registerEndpoint(tenant, hook.url, { eventTypes: ['invoice.paid'] });
    await stack.xadd('tenant', tenant, 'type', 'order.updated', 'data', '{}', 'id', 'evt-nomatch');
    const handle = stack.temporal.workflow.getHandle(workflowIdOf(tenant, 'evt-nomatch'));
    const result = await waitFor('workflow result', () => handle.result());
    assert.equal(result.status, 'no_subscribers');
    assert.equal(hook.requests.length, 0);
  });

  it('retries a receiver that fails twice and delivers on the third attempt with a fresh timestamp', async () => {
    const tenant = uniqueName('acme');
    const hook = await receiver((_req, i) => ({ status: i < 2 ? 500 : 200 }));
    // Attempts more than a second apart, so the per-attempt timestamps (in seconds) must differ.
    const endpoint = await registerEndpoint(tenant, hook.url, {
      retryPolicy: { initialIntervalMs: 1100, backoffCoefficient: 1 },
    });
    await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{"n":1}', 'id', 'evt-retry');

    await waitFor('third attempt', () => hook.requests.length === 3, 30_000);
    const timestamps = hook.requests.map((r) => r.headers['x-wss-timestamp']);
    assert.equal(new Set(timestamps).size, 3, `timestamps should differ per attempt: ${timestamps.join(',')}`);
    for (const r of hook.requests) {
      assert.equal(verifyWssRequest(endpoint.secret, r.headers, r.body).ok, true);
      assert.equal(r.headers['x-wss-event-id'], 'evt-retry');
    }
    const result = await stack.temporal.workflow.getHandle(workflowIdOf(tenant, 'evt-retry')).result();
    assert.equal(result.status, 'delivered');
    assert.equal(result.deliveries[0]?.attempts, 3);
  });

  it('delivers a duplicate XADD of the same event id once', async () => {
    const tenant = uniqueName('acme');
    const hook = await receiver();
    await registerEndpoint(tenant, hook.url);
    await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{"v":1}', 'id', 'evt-dup');
    const second = await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{"v":2}', 'id', 'evt-dup');
    await waitFor('first delivery', () => hook.requests.length >= 1);
    // Both entries consumed and acked, then some slack for a second delivery that must not come.
    await waitFor('both entries acked', async () => {
      const groups = (await stack.redis.xinfo('GROUPS', stack.config.WSS_STREAM)) as unknown[][];
      const lastDelivered = String(groups[0]?.[groups[0].indexOf('last-delivered-id') + 1]);
      return lastDelivered === second && (await pendingCount()) === 0;
    });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(hook.requests.length, 1);
    assert.deepEqual(JSON.parse(hook.requests[0]!.body.toString()).data, { v: 1 });
  });

  it('loses nothing when the consumer dies between workflow start and ack', async () => {
    const tenant = uniqueName('acme');
    const hook = await receiver();
    await registerEndpoint(tenant, hook.url);
    const name = stack.config.WSS_CONSUMER_NAME;
    await stack.stopConsumer();

    const entryId = await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{}', 'id', 'evt-crash');
    // Do what the consumer does up to the crash point: read the entry as this consumer and start its workflow,
    // but never ack it.
    const read = (await stack.redis.xreadgroup(
      'GROUP',
      stack.config.WSS_CONSUMER_GROUP,
      name,
      'COUNT',
      1,
      'STREAMS',
      stack.config.WSS_STREAM,
      '>',
    )) as [string, [string, string[]][]][];
    const [readId, fields] = read[0]![1][0]!;
    assert.equal(readId, entryId);
    const ingestor = createIngestor(stack.config, stack.log, stack.stores, stack.temporal);
    const started = await ingestor.ingest(readId, fields);
    assert.equal(started.kind, 'started');
    assert.equal(await pendingCount(), 1);

    // The consumer restarts under its stable name, re-reads its pending entry and acks it without a second start.
    await stack.startConsumer(name);
    await waitFor('pending entry acked', async () => (await pendingCount()) === 0);
    await waitFor('delivery', () => hook.requests.length === 1);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(hook.requests.length, 1);
  });

  it('claims and delivers an entry left pending by a consumer that died before starting the workflow', async () => {
    const tenant = uniqueName('acme');
    const hook = await receiver();
    await registerEndpoint(tenant, hook.url);
    await stack.stopConsumer();
    const entryId = await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{}', 'id', 'evt-orphan');
    // A consumer that read the entry and died: the entry sits in its pending list.
    await stack.redis.xreadgroup(
      'GROUP',
      stack.config.WSS_CONSUMER_GROUP,
      'dead-consumer',
      'COUNT',
      10,
      'STREAMS',
      stack.config.WSS_STREAM,
      '>',
    );
    const pending = (await stack.redis.xpending(
      stack.config.WSS_STREAM,
      stack.config.WSS_CONSUMER_GROUP,
      '-',
      '+',
      10,
      'dead-consumer',
    )) as [string][];
    assert.ok(pending.some(([id]) => id === entryId));

    await stack.startConsumer(); // claim idle is 1 s in this suite
    await waitFor('claimed delivery', () => hook.requests.length === 1, 20_000);
    await waitFor('claimed entry acked', async () => (await pendingCount()) === 0);
  });

  it('moves malformed entries to the dead-letter stream with a reason and keeps consuming', async () => {
    const tenant = uniqueName('acme');
    const hook = await receiver();
    await registerEndpoint(tenant, hook.url);
    const cases: { fields: string[]; reason: RegExp }[] = [
      { fields: ['tenant', tenant, 'type', 'order.created'], reason: /missing field "data"/ },
      { fields: ['tenant', tenant, 'type', 'order.created', 'data', '{not json'], reason: /not valid JSON/ },
      { fields: ['type', 'order.created', 'data', '{}'], reason: /missing field "tenant"/ },
      { fields: ['tenant', tenant, 'type', 'order created!', 'data', '{}'], reason: /not a valid event type/ },
      { fields: ['tenant', '../other', 'type', 'order.created', 'data', '{}'], reason: /not a valid tenant id/ },
      {
        fields: ['tenant', tenant, 'type', 'order.created', 'data', JSON.stringify({ pad: 'x'.repeat(4096) })],
        reason: /over the 2048-byte limit/,
      },
    ];
    const ids: string[] = [];
    for (const c of cases) ids.push(await stack.xadd(...c.fields));
    await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{"ok":true}', 'id', 'evt-after-bad');

    await waitFor('valid event after bad ones', () => hook.requests.length === 1);
    const dead = await waitFor('dead letters', async () => {
      const entries = await stack.redis.xrange(stack.config.WSS_DEAD_LETTER_STREAM, '-', '+');
      const mine = entries.filter(([, f]) => ids.includes(f[f.indexOf('wss_source_id') + 1] ?? ''));
      return mine.length === cases.length ? mine : undefined;
    });
    for (const [i, c] of cases.entries()) {
      const entry = dead.find(([, f]) => f[f.indexOf('wss_source_id') + 1] === ids[i]);
      assert.ok(entry, `dead letter for case ${i}`);
      const fields = entry[1];
      assert.match(fields[fields.indexOf('wss_reason') + 1] ?? '', c.reason);
      // The original fields are kept verbatim in front of ours.
      assert.deepEqual(fields.slice(0, c.fields.length), c.fields);
    }
    await waitFor('all acked', async () => (await pendingCount()) === 0);
  });

  it('publishes through the API exactly like a producer XADD', async () => {
    const tenant = uniqueName('acme');
    const hook = await receiver();
    const endpoint = await registerEndpoint(tenant, hook.url);
    const res = await stack.api('POST', `/v1/tenants/${tenant}/events`, {
      type: 'order.shipped',
      data: { id: 7 },
      id: 'evt-api',
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.id, 'evt-api');
    await waitFor('delivery', () => hook.requests.length === 1);
    assert.equal(verifyWssRequest(endpoint.secret, hook.requests[0]!.headers, hook.requests[0]!.body).ok, true);
  });
});
