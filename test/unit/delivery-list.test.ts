import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DELIVERY_LIST_STATUSES, deliveryListQuery, deliveryStatusOf } from '../../src/api/delivery-list';
import { parseEndpointId, parseTenantId } from '../../src/domain/ids';

const tenant = parseTenantId('acme');

describe('deliveries list query', () => {
  it('always scopes to the tenant and the delivery workflow type', () => {
    assert.equal(deliveryListQuery(tenant, {}), `WorkflowType = 'deliverEvent' AND TenantId = 'acme'`);
  });

  it('ANDs every filter, with each status clause in parentheses', () => {
    const query = deliveryListQuery(tenant, {
      status: 'failed',
      eventType: 'order.created',
      endpointId: parseEndpointId('ep_1'),
      sinceMs: Date.parse('2026-11-30T10:00:00Z'),
      untilMs: Date.parse('2026-11-30T11:00:00Z'),
    });
    assert.equal(
      query,
      `WorkflowType = 'deliverEvent' AND TenantId = 'acme' AND EventType = 'order.created' AND EndpointId = 'ep_1' AND ` +
        `StartTime >= '2026-11-30T10:00:00.000Z' AND StartTime < '2026-11-30T11:00:00.001Z' AND ` +
        `(ExecutionStatus IN ('Failed', 'Terminated', 'TimedOut') OR (ExecutionStatus = 'Completed' AND DeliveryStatus = 'failed'))`,
    );
  });

  it('escapes quotes and backslashes in literals', () => {
    assert.match(deliveryListQuery(tenant, { eventType: "a'b\\" }), /EventType = 'a\\'b\\\\'/);
  });

  it('maps every workflow status to the status the list filters on', () => {
    assert.equal(deliveryStatusOf('RUNNING', 'pending'), 'pending');
    assert.equal(deliveryStatusOf('COMPLETED'), 'delivered');
    assert.equal(deliveryStatusOf('COMPLETED', 'pending'), 'delivered');
    assert.equal(deliveryStatusOf('COMPLETED', 'skipped'), 'skipped');
    assert.equal(deliveryStatusOf('COMPLETED', undefined, 'failed'), 'failed');
    assert.equal(deliveryStatusOf('CANCELLED'), 'cancelled');
    assert.equal(deliveryStatusOf('CANCELED'), 'cancelled');
    for (const ended of ['TERMINATED', 'TIMED_OUT', 'FAILED']) assert.equal(deliveryStatusOf(ended), 'failed');
    const statuses = new Set<string>(DELIVERY_LIST_STATUSES);
    for (const s of ['RUNNING', 'COMPLETED', 'CANCELED', 'TERMINATED']) assert.ok(statuses.has(deliveryStatusOf(s)), s);
  });
});
