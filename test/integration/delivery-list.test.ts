import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHoldingProxy } from '../support/holding-proxy';
import { receiverPool } from '../support/receiver';
import { serviceAddresses, uniqueName, waitFor, workflowIdOf } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

const FAST = { initialIntervalMs: 200, backoffCoefficient: 1, jitterPercent: 0 };

/**
 * `GET /v1/tenants/{t}/deliveries` on real Temporal visibility: every filter, the latest run per event after a
 * retry, paging, and tenant scope.
 */
describe('deliveries list (issue 19)', () => {
  let stack: TestStack;
  const receivers = receiverPool();
  const tenant = uniqueName('dl').replace(/[^A-Za-z0-9_-]/g, '_');
  const other = uniqueName('dlo').replace(/[^A-Za-z0-9_-]/g, '_');
  let okEndpoint = '';
  let badEndpoint = '';
  let healthy = false;
  let beforeRetry = '';

  type Row = { eventId: string; eventType?: string; status: string; endpointIds: string[]; startedAt: string };
  async function list(query: string, tenantId = tenant): Promise<{ status: number; body: any }> {
    return stack.api('GET', `/v1/tenants/${tenantId}/deliveries${query ? `?${query}` : ''}`);
  }
  const ids = (rows: Row[]) => rows.map((r) => r.eventId).sort();

  /** Follows `nextCursor` to the end; visibility may lag a moment behind the workflows. */
  async function all(query: string, tenantId = tenant): Promise<Row[]> {
    const rows: Row[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 50; page++) {
      const q = [query, cursor ? `cursor=${encodeURIComponent(cursor)}` : ''].filter(Boolean).join('&');
      const res = await list(q, tenantId);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      rows.push(...res.body.items);
      cursor = res.body.nextCursor;
      if (!cursor) return rows;
    }
    throw new Error('more than 50 pages');
  }

  before(async () => {
    stack = await startStack({ env: { WSS_TEMPORAL_UI_URL: 'http://temporal-ui.test' } });
    for (const id of [tenant, other]) {
      const res = await stack.api('POST', '/v1/tenants', { id });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    const ok = await receivers.start(() => ({ status: 200 }));
    const bad = await receivers.start(() => ({ status: healthy ? 200 : 500 }));
    const flaky = await receivers.start(() => ({ status: 503 }));
    const create = async (tenantId: string, url: string, eventTypes: string[], extra = {}) => {
      const res = await stack.api('POST', `/v1/tenants/${tenantId}/endpoints`, {
        url,
        eventTypes,
        retryPolicy: { ...FAST, maximumAttempts: 1 },
        ...extra,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.id as string;
    };
    okEndpoint = await create(tenant, ok.url, ['order.created', 'order.paid']);
    badEndpoint = await create(tenant, bad.url, ['invoice.failed']);
    // Fails its first attempt, then waits ten minutes for the next: pending for the whole test.
    await create(tenant, flaky.url, ['order.slow'], {
      retryPolicy: { initialIntervalMs: 600_000, backoffCoefficient: 1, jitterPercent: 0, maximumAttempts: 3 },
    });
    await create(other, ok.url, ['*']);

    const publish = (tenantId: string, type: string, id: string) =>
      stack.xadd('tenant', tenantId, 'type', type, 'data', '{}', 'id', id);
    for (let i = 0; i < 5; i++) await publish(tenant, 'order.created', `created-${i}`);
    await publish(tenant, 'order.paid', 'paid-0');
    await publish(tenant, 'invoice.failed', 'failed-0');
    await publish(tenant, 'nobody.listens', 'none-0');
    await publish(tenant, 'order.slow', 'slow-0');
    await publish(other, 'order.created', 'other-0');
    for (const [t, id] of [
      [tenant, 'created-4'],
      [tenant, 'paid-0'],
      [tenant, 'failed-0'],
      [tenant, 'none-0'],
      [other, 'other-0'],
    ] as const) {
      await waitFor(`${id} done`, () => stack.temporal.workflow.getHandle(workflowIdOf(t, id)).result());
    }
    await waitFor('visibility caught up', async () => (await all('')).length === 9);
  });
  after(async () => {
    await receivers.closeAll();
    await stack.stop();
  });

  it('lists every delivery of the tenant once, with its status, type and endpoints', async () => {
    const rows = await all('');
    assert.deepEqual(ids(rows), [
      'created-0',
      'created-1',
      'created-2',
      'created-3',
      'created-4',
      'failed-0',
      'none-0',
      'paid-0',
      'slow-0',
    ]);
    const row = (id: string) => rows.find((r) => r.eventId === id)!;
    assert.equal(row('created-0').status, 'delivered');
    assert.equal(row('created-0').eventType, 'order.created');
    assert.deepEqual(row('created-0').endpointIds, [okEndpoint]);
    assert.equal(row('failed-0').status, 'failed');
    assert.equal(row('none-0').status, 'no_subscribers');
    assert.equal(row('slow-0').status, 'pending');
    assert.ok(!Number.isNaN(Date.parse(row('paid-0').startedAt)));
  });

  it('filters by status', async () => {
    assert.deepEqual(ids(await all('status=delivered')), [
      'created-0',
      'created-1',
      'created-2',
      'created-3',
      'created-4',
      'paid-0',
    ]);
    assert.deepEqual(ids(await all('status=failed')), ['failed-0']);
    assert.deepEqual(ids(await all('status=pending')), ['slow-0']);
    assert.deepEqual(ids(await all('status=no_subscribers')), ['none-0']);
    assert.deepEqual(ids(await all('status=cancelled')), []);
  });

  it('filters by exact event type and by endpoint, combined with status', async () => {
    assert.deepEqual(ids(await all('eventType=order.paid')), ['paid-0']);
    assert.deepEqual(ids(await all('eventType=order.created&status=failed')), []);
    assert.deepEqual(ids(await all(`endpointId=${badEndpoint}`)), ['failed-0']);
    assert.equal((await all(`endpointId=${okEndpoint}&status=delivered`)).length, 6);
  });

  it('filters by time, and pages with a cursor without repeating a row', async () => {
    const rows = await all('');
    const times = rows.map((r) => Date.parse(r.startedAt)).sort((a, b) => a - b);
    const future = new Date(times[times.length - 1]! + 60_000).toISOString();
    assert.deepEqual(await all(`since=${encodeURIComponent(future)}`), []);
    const past = new Date(times[0]! - 60_000).toISOString();
    assert.deepEqual(await all(`until=${encodeURIComponent(past)}`), []);
    assert.equal((await all(`since=${encodeURIComponent(past)}&until=${encodeURIComponent(future)}`)).length, 9);

    const paged = await all('limit=2');
    assert.equal(paged.length, 9);
    assert.equal(new Set(paged.map((r) => r.eventId)).size, 9);
    const first = await list('limit=2');
    assert.equal(first.body.items.length, 2);
    assert.equal(typeof first.body.nextCursor, 'string');
  });

  it('shows one row per event after a retry: the latest run', async () => {
    beforeRetry = new Date().toISOString();
    healthy = true;
    const res = await stack.api('POST', `/v1/tenants/${tenant}/deliveries/failed-0/retry`);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    await waitFor('retry delivered', async () => {
      const rows = await all('eventType=invoice.failed');
      return rows.length === 1 && rows[0]!.status === 'delivered' ? rows : undefined;
    });
    assert.deepEqual(ids(await all('status=failed')), []);
    assert.deepEqual(ids(await all(`status=delivered&since=${encodeURIComponent(beforeRetry)}`)), ['failed-0']);
    assert.equal((await all('')).length, 9);
  });

  it("takes until as 'at or before' to the millisecond shown, and since = until finds that row", async () => {
    for (const row of (await all('')).slice(0, 4)) {
      const at = encodeURIComponent(row.startedAt);
      assert.ok(ids(await all(`until=${at}`)).includes(row.eventId), `until=${row.startedAt}`);
      assert.ok(ids(await all(`since=${at}&until=${at}`)).includes(row.eventId), `since=until=${row.startedAt}`);
    }
  });

  it('keeps a walk over the pages as of its first page: the oldest event, retried meanwhile, keeps its row', async () => {
    const t = uniqueName('walk').replace(/[^A-Za-z0-9_-]/g, '_');
    assert.equal((await stack.api('POST', '/v1/tenants', { id: t })).status, 201);
    let up = false;
    const hook = await receivers.start(() => ({ status: up ? 200 : 500 }));
    const created = await stack.api('POST', `/v1/tenants/${t}/endpoints`, {
      url: hook.url,
      eventTypes: ['*'],
      retryPolicy: { maximumAttempts: 1 },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // One at a time, so that they close in this order: w-0 is the oldest closed row, last in the walk.
    for (const id of ['w-0', 'w-1', 'w-2']) {
      await stack.xadd('tenant', t, 'type', 'a.b', 'data', '{}', 'id', id);
      await waitFor(`${id} failed`, () => stack.temporal.workflow.getHandle(workflowIdOf(t, id)).result());
    }
    await waitFor('all listed', async () => (await all('status=failed', t)).length === 3);
    const first = await list('limit=1', t);
    const seen: string[] = first.body.items.map((r: Row) => r.eventId);
    up = true;
    const retried = await stack.api('POST', `/v1/tenants/${t}/deliveries/w-0/retry`);
    assert.equal(retried.status, 202, JSON.stringify(retried.body));
    const handle = stack.temporal.workflow.getHandle(workflowIdOf(t, 'w-0'));
    await waitFor('retry delivered', async () => (await handle.describe()).status.name === 'COMPLETED');
    await waitFor('the new run visible', async () => ids(await all('status=delivered', t)).includes('w-0'));
    let cursor: string | undefined = first.body.nextCursor;
    for (let n = 0; cursor && n < 50; n++) {
      const page = await list(`limit=1&cursor=${encodeURIComponent(cursor)}`, t);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      seen.push(...page.body.items.map((r: Row) => r.eventId));
      cursor = page.body.nextCursor;
    }
    assert.deepEqual([...seen].sort(), ['w-0', 'w-1', 'w-2'], `every event once: ${seen.join(', ')}`);
    // A new walk sees the retry's run.
    assert.equal((await all('', t)).find((r) => r.eventId === 'w-0')?.status, 'delivered');
  });

  it('lists a cancelled delivery as cancelled', async () => {
    const res = await stack.api('POST', `/v1/tenants/${tenant}/deliveries/slow-0/cancel`);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    await waitFor('cancelled in the list', async () => {
      const rows = await all('status=cancelled');
      return rows.length === 1 ? rows : undefined;
    });
    assert.deepEqual(ids(await all('status=pending')), []);
  });

  it("never shows another tenant's deliveries, whoever asks", async () => {
    assert.deepEqual(ids(await all('', other)), ['other-0']);
    const key = await stack.api('POST', `/v1/tenants/${other}/api-keys`, {});
    assert.equal(key.status, 201, JSON.stringify(key.body));
    const cross = await stack.api('GET', `/v1/tenants/${tenant}/deliveries`, undefined, key.body.key);
    assert.equal(cross.status, 404, JSON.stringify(cross.body));
    const own = await stack.api('GET', `/v1/tenants/${other}/deliveries`, undefined, key.body.key);
    assert.deepEqual(ids(own.body.items), ['other-0']);
    // The Web UI shows every tenant: its link goes to the admin only.
    const asTenant = await stack.api('GET', `/v1/tenants/${other}/deliveries/other-0`, undefined, key.body.key);
    assert.equal(asTenant.status, 200, JSON.stringify(asTenant.body));
    assert.equal(asTenant.body.webUiUrl, undefined);
    const asAdmin = await stack.api('GET', `/v1/tenants/${other}/deliveries/other-0`);
    assert.match(asAdmin.body.webUiUrl, /^http:\/\/temporal-ui\.test\//);
    // A cursor is bound to its tenant and filters: carried elsewhere it is refused.
    const page = await list('limit=2');
    const cursor = encodeURIComponent(page.body.nextCursor);
    for (const [query, tenantId] of [
      [`limit=2&cursor=${cursor}`, other],
      [`limit=2&status=failed&cursor=${cursor}`, tenant],
      [`limit=2&cursor=${cursor.slice(0, -2)}`, tenant],
    ] as const) {
      const res = await list(query, tenantId);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.field, 'cursor');
    }
    assert.equal((await list(`limit=2&cursor=${cursor}`)).status, 200);
  });

  it('answers 400 with a field for bad filters and cursors, and 404 for an unknown tenant', async () => {
    for (const [query, field] of [
      ['status=lost', 'status'],
      ['eventType=order.*', 'eventType'],
      ["eventType=a'b", 'eventType'],
      ['endpointId=..%2Fx', 'endpointId'],
      ['since=yesterday', 'since'],
      ['since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z', 'since'],
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=0x10', 'limit'],
      ['limit=1e1', 'limit'],
      ['limit=%205', 'limit'],
      ['cursor=%21%21%21', 'cursor'],
      ['cursor=bm90LWEtdG9rZW4', 'cursor'],
      ['colour=blue', undefined],
    ] as const) {
      const res = await list(query);
      assert.equal(res.status, 400, `${query}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'validation_failed', query);
      if (field) assert.equal(res.body.error.field, field, query);
    }
    const unknown = await list('', 'no-such-tenant-here');
    assert.equal(unknown.status, 404);
    const backwards = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${okEndpoint}/replay`, {
      since: '2026-01-02T00:00:00Z',
      until: '2026-01-01T00:00:00Z',
    });
    assert.equal(backwards.status, 400, JSON.stringify(backwards.body));
    assert.equal(backwards.body.error.field, 'since');
  });
});

describe('deliveries of a deleted tenant, and a Temporal that does not answer (issue 19)', () => {
  let stack: TestStack;
  const receivers = receiverPool();

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await receivers.closeAll();
    await stack.stop();
  });

  it('shows a tenant created again under the same id nothing of the deleted one', async () => {
    const tenant = uniqueName('again').replace(/[^A-Za-z0-9_-]/g, '_');
    assert.equal((await stack.api('POST', '/v1/tenants', { id: tenant })).status, 201);
    const hook = await receivers.start(() => ({ status: 500, body: 'echo of the old tenant' }));
    const created = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
      url: hook.url,
      eventTypes: ['*'],
      retryPolicy: { maximumAttempts: 1 },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await stack.xadd('tenant', tenant, 'type', 'a.b', 'data', '{"ssn":"123-45-6789"}', 'id', 'old-evt');
    const handle = stack.temporal.workflow.getHandle(workflowIdOf(tenant, 'old-evt'));
    assert.equal((await waitFor('old-evt done', () => handle.result())).status, 'failed');
    await waitFor('listed', async () => {
      const res = await stack.api('GET', `/v1/tenants/${tenant}/deliveries`);
      return res.body.items?.length === 1;
    });
    assert.equal((await stack.api('GET', `/v1/tenants/${tenant}/dead-letters`)).body.items.length, 1);

    assert.equal((await stack.api('DELETE', `/v1/tenants/${tenant}`)).status, 200);
    assert.equal((await stack.api('POST', '/v1/tenants', { id: tenant })).status, 201);
    const key = await stack.api('POST', `/v1/tenants/${tenant}/api-keys`, {});
    for (const token of [key.body.key as string, stack.adminToken]) {
      const listed = await stack.api('GET', `/v1/tenants/${tenant}/deliveries`, undefined, token);
      assert.deepEqual(listed.body.items, [], JSON.stringify(listed.body));
      const old = await stack.api('GET', `/v1/tenants/${tenant}/deliveries/old-evt`, undefined, token);
      assert.equal(old.status, 404, JSON.stringify(old.body));
      assert.deepEqual((await stack.api('GET', `/v1/tenants/${tenant}/dead-letters`, undefined, token)).body.items, []);
      // Not this tenant's: 404, as for an event that never existed.
      const retry = await stack.api('POST', `/v1/tenants/${tenant}/deliveries/old-evt/retry`, undefined, token);
      assert.equal(retry.status, 404, JSON.stringify(retry.body));
    }

    // The new tenant may use the old tenant's event ids: they are delivered, not dropped as duplicates.
    const fresh = await receivers.start();
    const again = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { url: fresh.url, eventTypes: ['*'] });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    const published = await stack.api('POST', `/v1/tenants/${tenant}/events`, {
      type: 'a.b',
      data: { n: 2 },
      id: 'old-evt',
    });
    assert.equal(published.status, 202, JSON.stringify(published.body));
    await waitFor('the reused id delivered', () => fresh.requests.length === 1);
    assert.equal(fresh.requests[0]!.body.toString().includes('"n":2'), true, 'the new data, not the old');
    const view = await waitFor('its delivery', async () => {
      const res = await stack.api('GET', `/v1/tenants/${tenant}/deliveries/old-evt`);
      return res.body.status === 'delivered' ? res.body : undefined;
    });
    assert.equal(view.runs, 1);
    assert.deepEqual(
      view.endpoints.flatMap((e: { attempts: { statusCode?: number }[] }) => e.attempts.map((a) => a.statusCode)),
      [200],
      'none of the old attempts',
    );
  });

  it('sends a test event to one endpoint only, by its rules, with the data as written', async () => {
    const tenant = uniqueName('send').replace(/[^A-Za-z0-9_-]/g, '_');
    assert.equal((await stack.api('POST', '/v1/tenants', { id: tenant })).status, 201);
    const target = await receivers.start();
    const bystander = await receivers.start();
    const endpoint = async (url: string) => {
      const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { url, eventTypes: ['order.*'] });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.id as string;
    };
    const targetId = await endpoint(target.url);
    await endpoint(bystander.url);
    const body = '{"type":"order.created","data":{"total": 1.50, "note":"caf\\u00e9"}}';
    const res = await fetch(`${stack.apiUrl}/v1/tenants/${tenant}/endpoints/${targetId}/send-test`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
      body,
    });
    const sent = (await res.json()) as { id: string; endpointId: string };
    assert.equal(res.status, 202, JSON.stringify(sent));
    assert.equal(sent.endpointId, targetId);
    await waitFor('delivered to the target', () => target.requests.length === 1);
    const handle = stack.temporal.workflow.getHandle(workflowIdOf(tenant, sent.id));
    assert.equal((await waitFor('the test event handled', () => handle.result())).status, 'delivered');
    assert.equal(bystander.requests.length, 0, 'the other subscribed endpoint got nothing');
    assert.match(target.requests[0]!.body.toString(), /"total": 1\.50, "note":"caf\\u00e9"/);
    const view = await stack.api('GET', `/v1/tenants/${tenant}/deliveries/${sent.id}`);
    assert.deepEqual(
      view.body.endpoints.map((e: { endpointId: string }) => e.endpointId),
      [targetId],
    );

    // The endpoint's own rules hold: what it would not take is refused with the reason, and nothing is sent.
    const filtered = await receivers.start();
    const filteredId = (
      await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
        url: filtered.url,
        eventTypes: ['order.*'],
        filter: { 'data.total': { $gt: 10 } },
      })
    ).body.id as string;
    for (const [endpointId, type, reason] of [
      [targetId, 'invoice.paid', /not subscribed to this event type/],
      [filteredId, 'order.created', /filter does not match/],
    ] as const) {
      const refused = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${endpointId}/send-test`, {
        type,
        data: { total: 1 },
      });
      assert.equal(refused.status, 422, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'test_event_not_routed');
      assert.match(refused.body.error.message, reason);
    }
    assert.equal((await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${filteredId}/disable`)).status, 200);
    const disabled = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${filteredId}/send-test`, {
      type: 'order.created',
      data: { total: 50 },
    });
    assert.equal(disabled.status, 422, JSON.stringify(disabled.body));
    assert.match(disabled.body.error.message, /disabled/);
    assert.equal(target.requests.length + bystander.requests.length + filtered.requests.length, 1);

    // An ordered endpoint takes a test event on its own, outside any key's lane, and it can be followed.
    const ordered = await receivers.start();
    const orderedId = (
      await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
        url: ordered.url,
        eventTypes: ['*'],
        ordering: { key: '$.data.k' },
      })
    ).body.id as string;
    const toOrdered = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${orderedId}/send-test`, {
      type: 'o.t',
      data: { k: 'x' },
    });
    assert.equal(toOrdered.status, 202, JSON.stringify(toOrdered.body));
    const followed = await waitFor('the ordered test event followed', async () => {
      const res = await stack.api('GET', `/v1/tenants/${tenant}/deliveries/${toOrdered.body.id}`);
      return res.body.status === 'delivered' ? res.body : undefined;
    });
    assert.deepEqual(
      followed.endpoints.map((e: { endpointId: string }) => e.endpointId),
      [orderedId],
    );
    assert.equal(ordered.requests.length, 1);

    const missing = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/ep_nope/send-test`, {
      type: 'order.created',
      data: {},
    });
    assert.equal(missing.status, 404);
    const extra = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${targetId}/send-test`, {
      type: 'order.created',
      data: {},
      id: 'chosen',
    });
    assert.equal(extra.status, 400);
  });

  it('answers 503 temporal_unavailable, not a hang, while Temporal does not answer; then recovers', async () => {
    const proxy = await startHoldingProxy(serviceAddresses().temporalAddress);
    const held = await startStack({ env: { TEMPORAL_ADDRESS: proxy.address }, consumer: false, worker: false });
    try {
      const tenant = uniqueName('held').replace(/[^A-Za-z0-9_-]/g, '_');
      assert.equal((await held.api('POST', '/v1/tenants', { id: tenant })).status, 201);
      assert.equal((await held.api('GET', `/v1/tenants/${tenant}/deliveries`)).status, 200);
      proxy.hold();
      for (const path of [`/v1/tenants/${tenant}/deliveries`, `/v1/tenants/${tenant}/deliveries/evt-1`]) {
        const res = await held.api('GET', path);
        assert.equal(res.status, 503, `${path}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'temporal_unavailable');
      }
      proxy.release();
      await waitFor(
        'answers again',
        async () => (await held.api('GET', `/v1/tenants/${tenant}/deliveries`)).status === 200,
      );
    } finally {
      proxy.release();
      await held.stop();
      await proxy.close();
    }
  });
});
