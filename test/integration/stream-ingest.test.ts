import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { receiverPool } from '../support/receiver';
import { parseEventId, parseTenantId } from '../../src/domain/ids';
import { uniqueName, waitFor, workflowIdOf } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

/** What the consumer accepts from the stream, end to end against real Redis and Temporal. */
describe('stream ingest: bytes, reserved fields, depth, a lost group', () => {
  let stack: TestStack;
  const receivers = receiverPool();

  before(async () => {
    stack = await startStack({ env: { WSS_CONSUMER_CLAIM_IDLE_MS: '1000' } });
  });
  after(async () => {
    await receivers.closeAll();
    await stack.stop();
  });

  async function registerEndpoint(tenant: string, url: string) {
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { url, eventTypes: ['*'] });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { id: string };
  }

  async function deadLetter(sourceId: string): Promise<Buffer[]> {
    return waitFor(`dead letter of ${sourceId}`, async () => {
      const entries = (await stack.redis.xrangeBuffer(stack.config.WSS_DEAD_LETTER_STREAM, '-', '+')) as [
        Buffer,
        Buffer[],
      ][];
      for (const [, fields] of entries) {
        const i = fields.findIndex((f, k) => k % 2 === 0 && f.toString() === 'wss_source_id');
        if (i >= 0 && fields[i + 1]?.toString() === sourceId) return fields;
      }
      return undefined;
    });
  }

  function ours(fields: Buffer[]): Map<string, string> {
    const map = new Map<string, string>();
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]!.toString();
      if (name.startsWith('wss_') && !name.startsWith('wss_producer_')) {
        assert.equal(map.has(name), false, `${name} appears once`);
        map.set(name, fields[i + 1]!.toString());
      }
    }
    return map;
  }

  const raw = (text: string) => Buffer.from(text, 'latin1');

  it('dead-letters invalid UTF-8 in any field with invalid_utf8, keeping the exact original bytes', async () => {
    const tenant = uniqueName('utf');
    const hook = await receivers.start();
    await registerEndpoint(tenant, hook.url);
    const cases: Buffer[][] = [
      // The input: Latin-1 é inside the JSON text.
      [
        raw('tenant'),
        raw(tenant),
        raw('type'),
        raw('utf.x'),
        raw('id'),
        raw('u1'),
        raw('data'),
        raw('{"name":"caf\xe9"}'),
      ],
      // A lone continuation byte in the type, an overlong sequence in an extra field, a bad field name.
      [raw('tenant'), raw(tenant), raw('type'), raw('utf.\x80'), raw('data'), raw('{}')],
      [raw('tenant'), raw(tenant), raw('type'), raw('utf.x'), raw('data'), raw('{}'), raw('trace'), raw('\xc0\xaf')],
      [raw('tenant'), raw(tenant), raw('d\xe4ta'), raw('1'), raw('type'), raw('utf.x'), raw('data'), raw('{}')],
    ];
    const ids: string[] = [];
    for (const fields of cases) ids.push((await stack.redis.xadd(stack.config.WSS_STREAM, '*', ...fields)) as string);
    await stack.xadd('tenant', tenant, 'type', 'utf.ok', 'data', '{"name":"café"}', 'id', 'u-ok');
    await waitFor('the valid event after the invalid ones', () => hook.requests.length === 1);

    for (const [i, original] of cases.entries()) {
      const fields = await deadLetter(ids[i]!);
      for (const [k, bytes] of original.entries()) {
        assert.ok(bytes.equals(fields[k]!), `case ${i} item ${k}: ${fields[k]?.toString('hex')}`);
      }
      const service = ours(fields);
      assert.equal(service.get('wss_reason_code'), 'invalid_utf8', `case ${i}`);
      assert.match(service.get('wss_reason') ?? '', /is not valid UTF-8/);
    }
    assert.equal(hook.requests.length, 1);
    assert.equal(hook.requests[0]!.headers['x-wss-event-id'], 'u-ok');
  });

  it('never quotes the payload in dead-letter reasons or logs', async () => {
    const tenant = uniqueName('leak');
    const secrets = ['card=4111111111111111&exp=12', '{"card":"4111111111111111",', '["4111111111111111" 1]'];
    const ids: string[] = [];
    for (const data of secrets) ids.push(await stack.xadd('tenant', tenant, 'type', 'pay.x', 'data', data));
    for (const id of ids) {
      const service = ours(await deadLetter(id));
      assert.equal(service.get('wss_reason_code'), 'invalid_json');
      assert.doesNotMatch(service.get('wss_reason') ?? '', /4111|card|exp/);
    }
    const logs = stack.logs.join('\n');
    assert.ok(logs.includes(ids[0]!), 'the dead letters were logged');
    assert.doesNotMatch(logs, /4111/);
  });

  it('refuses producer fields in the reserved wss_ prefix, and the dead letter carries each service field once', async () => {
    const tenant = uniqueName('forge');
    const hook = await receivers.start();
    await registerEndpoint(tenant, hook.url);
    const id = await stack.xadd(
      'wss_reason',
      'forged reason',
      'tenant',
      tenant,
      'type',
      'order.created',
      'data',
      '{}',
      'wss_source_id',
      '1-1',
    );
    const fields = await deadLetter(id);
    const service = ours(fields);
    assert.equal(service.get('wss_reason_code'), 'reserved_field');
    assert.match(service.get('wss_reason') ?? '', /"wss_reason"/);
    assert.equal(service.get('wss_source_id'), id);
    const names = fields.map(String);
    assert.equal(names[0], 'wss_producer_wss_reason');
    assert.equal(names[1], 'forged reason');
    assert.equal(names[names.indexOf('wss_producer_wss_source_id') + 1], '1-1');
    assert.equal(hook.requests.length, 0);
  });

  it('dead-letters data nested deeper than WSS_MAX_EVENT_DEPTH before parsing, and delivers data at the limit', async () => {
    const tenant = uniqueName('deep');
    const hook = await receivers.start();
    await registerEndpoint(tenant, hook.url);
    const limit = stack.config.WSS_MAX_EVENT_DEPTH;
    const nest = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const deep = [
      nest(100_000), // the input: 200 KB, under the size limit
      nest(limit + 1),
      `{"a":${'{"b":'.repeat(limit)}1${'}'.repeat(limit)}}`,
    ];
    const ids: string[] = [];
    for (const data of deep) ids.push(await stack.xadd('tenant', tenant, 'type', 'deep.x', 'data', data));
    await stack.xadd('tenant', tenant, 'type', 'deep.x', 'data', nest(limit), 'id', 'at-limit');
    for (const id of ids) {
      const service = ours(await deadLetter(id));
      assert.equal(service.get('wss_reason_code'), 'too_deep');
      assert.match(service.get('wss_reason') ?? '', new RegExp(`deeper than the ${limit}-level limit`));
    }
    await waitFor('the event at the limit', () => hook.requests.length === 1);
    assert.equal(hook.requests[0]!.headers['x-wss-event-id'], 'at-limit');
  });

  it('recreates a lost group at once, keeps delivering, publishes an operational event, and health reports it', async () => {
    const tenant = uniqueName('group');
    const hook = await receivers.start();
    await registerEndpoint(tenant, hook.url);
    const healthy = await fetch(`${stack.apiUrl}/healthz`);
    assert.equal(healthy.status, 200);
    assert.equal(((await healthy.json()) as any).checks.consumerGroup, 'ok');

    await stack.redis.xgroup('DESTROY', stack.config.WSS_STREAM, stack.config.WSS_CONSUMER_GROUP);
    await stack.xadd('tenant', tenant, 'type', 'group.x', 'data', '{"n":1}', 'id', 'g-1');
    await waitFor('delivery after XGROUP DESTROY', () => hook.requests.length === 1, 30_000);

    await stack.redis.del(stack.config.WSS_STREAM);
    await stack.xadd('tenant', tenant, 'type', 'group.x', 'data', '{"n":2}', 'id', 'g-2');
    await waitFor('delivery after DEL of the stream', () => hook.requests.length === 2, 30_000);

    const ops = await stack.redis.xrange(stack.stores.keys.operationalEvents(), '-', '+');
    const recreated = ops.filter(([, f]) => f[f.indexOf('type') + 1] === 'consumer.group_recreated');
    assert.equal(recreated.length, 2);
    const event = JSON.parse(recreated[0]![1][recreated[0]![1].indexOf('event') + 1]!);
    assert.equal(event.stream, stack.config.WSS_STREAM);
    assert.equal(event.group, stack.config.WSS_CONSUMER_GROUP);
    assert.match(event.detail, /NOGROUP/);
    assert.ok(stack.logs.some((l) => l.includes('consumer group was lost; recreated it')));
    assert.equal(stack.consumer?.consumer.status().groupRecreations, 2);

    // The group works again: healthy (a readiness probe keeps the pod), with a notice for operators.
    const health = await fetch(`${stack.apiUrl}/healthz`);
    assert.equal(health.status, 200);
    const body = (await health.json()) as any;
    assert.equal(body.status, 'ok');
    assert.equal(body.checks.consumerGroup, 'ok');
    assert.equal(body.checks.redis, 'ok');
    assert.match(body.notices[0], /^consumer group recreated at /);
  });
});

describe('dedupe window: the same (tenant, id) delivers once within it, and after it as a new event', () => {
  let stack: TestStack;
  const receivers = receiverPool();
  const WINDOW_SECONDS = 8;

  before(async () => {
    stack = await startStack({
      env: { WSS_DEDUPE_WINDOW_SECONDS: String(WINDOW_SECONDS), WSS_PAYLOAD_TTL_SECONDS: String(WINDOW_SECONDS) },
    });
  });
  after(async () => {
    await receivers.closeAll();
    await stack.stop();
  });

  async function consumed(entryId: string): Promise<void> {
    await waitFor(`entry ${entryId} consumed and acked`, async () => {
      const groups = (await stack.redis.xinfo('GROUPS', stack.config.WSS_STREAM)) as unknown[][];
      const group = groups.find((g) => g[g.indexOf('name') + 1] === stack.config.WSS_CONSUMER_GROUP)!;
      const lastDelivered = String(group[group.indexOf('last-delivered-id') + 1]);
      const pending = Number(group[group.indexOf('pending') + 1]);
      return lastDelivered === entryId && pending === 0;
    });
  }

  async function deleteWorkflow(workflowId: string): Promise<void> {
    await stack.temporal.workflowService.deleteWorkflowExecution({
      namespace: stack.config.TEMPORAL_NAMESPACE,
      workflowExecution: { workflowId },
    });
    // Deletion completes asynchronously; the outcome below must not depend on when.
  }

  it('ignores and counts a republish after Temporal forgot the workflow, then delivers new data once the window is over', async () => {
    const tenant = uniqueName('dup');
    const hook = await receivers.start();
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { url: hook.url, eventTypes: ['*'] });
    assert.equal(res.status, 201);
    const workflowId = workflowIdOf(tenant, 'dup-1');

    await stack.xadd('tenant', tenant, 'type', 'dup.x', 'data', '{"v":"A"}', 'id', 'dup-1');
    await waitFor('delivery of A', () => hook.requests.length === 1);
    assert.equal((await stack.temporal.workflow.getHandle(workflowId).result()).status, 'delivered');
    const duplicatesBefore = await stack.stores.payloads.duplicateCount();

    // Temporal's retention ends (simulated): the id must stay taken by our own record.
    await deleteWorkflow(workflowId);
    const republished = await stack.xadd('tenant', tenant, 'type', 'dup.x', 'data', '{"v":"C"}', 'id', 'dup-1');
    await consumed(republished);
    // Also through the API, which XADDs the same way.
    const viaApi = await stack.api('POST', `/v1/tenants/${tenant}/events`, {
      type: 'dup.x',
      data: { v: 'C' },
      id: 'dup-1',
    });
    assert.ok(viaApi.status >= 200 && viaApi.status < 300, JSON.stringify(viaApi.body));
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(hook.requests.length, 1, 'no second delivery within the window');
    await waitFor(
      'both republishes counted',
      async () => (await stack.stores.payloads.duplicateCount()) === duplicatesBefore + 2,
    );
    assert.ok(stack.logs.some((l) => l.includes('duplicate ignored') && l.includes(republished)));

    // After the window the id is free: the republish is a new event, with its own data and time.
    await waitFor(
      'the dedupe window to end',
      async () =>
        (await stack.redis.exists(stack.stores.keys.eventClaim(parseTenantId(tenant), parseEventId('dup-1')))) === 0,
      (WINDOW_SECONDS + 10) * 1000,
      250,
    );
    const fresh = await stack.xadd('tenant', tenant, 'type', 'dup.x', 'data', '{"v":"C"}', 'id', 'dup-1');
    await waitFor('delivery of C', () => hook.requests.length === 2);
    const body = JSON.parse(hook.requests[1]!.body.toString('utf8'));
    assert.deepEqual(body.data, { v: 'C' });
    assert.equal(body.occurredAt, new Date(Number(fresh.split('-')[0])).toISOString());
    assert.equal(hook.requests[1]!.headers['x-wss-event-id'], 'dup-1');
  });

  it('a fresh event id whose earlier closed run Temporal still retains is delivered after the window', async () => {
    const tenant = uniqueName('dup');
    const hook = await receivers.start();
    await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { url: hook.url, eventTypes: ['*'] });
    await stack.xadd('tenant', tenant, 'type', 'dup.x', 'data', '{"v":"A"}', 'id', 'dup-2');
    await waitFor('delivery of A', () => hook.requests.length === 1);
    await waitFor(
      'the dedupe window to end',
      async () =>
        (await stack.redis.exists(stack.stores.keys.eventClaim(parseTenantId(tenant), parseEventId('dup-2')))) === 0,
      (WINDOW_SECONDS + 10) * 1000,
      250,
    );
    await stack.xadd('tenant', tenant, 'type', 'dup.x', 'data', '{"v":"B"}', 'id', 'dup-2');
    await waitFor('delivery of B', () => hook.requests.length === 2);
    assert.deepEqual(JSON.parse(hook.requests[1]!.body.toString('utf8')).data, { v: 'B' });
  });

  it('starts the workflow of an entry that claimed its id and crashed before the start, on re-read', async () => {
    const tenant = uniqueName('dup');
    const hook = await receivers.start();
    await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { url: hook.url, eventTypes: ['*'] });
    const name = stack.config.WSS_CONSUMER_NAME;
    await stack.stopConsumer();
    const entryId = await stack.xadd('tenant', tenant, 'type', 'dup.x', 'data', '{"v":1}', 'id', 'crash-1');
    await stack.redis.xreadgroup(
      'GROUP',
      stack.config.WSS_CONSUMER_GROUP,
      name,
      'COUNT',
      1,
      'STREAMS',
      stack.config.WSS_STREAM,
      '>',
    );
    // What the consumer did before the crash: the claim (and payload) is written, no workflow yet.
    assert.deepEqual(
      await stack.stores.payloads.claim(parseTenantId(tenant), parseEventId('crash-1'), entryId, '{"v":1}'),
      { kind: 'claimed' },
    );
    await stack.startConsumer(name);
    await waitFor('delivery after the restart', () => hook.requests.length === 1);
    await consumed(entryId);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(hook.requests.length, 1);
  });
});
