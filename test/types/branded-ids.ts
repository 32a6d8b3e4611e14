/**
 * Compile-time checks of the branded ids, run by `npm run typecheck` (not by the test runner: nothing here
 * executes). Each `@ts-expect-error` line must fail to compile; if a brand stops protecting a signature, the
 * directive is unused and the typecheck fails.
 */
import type { Activities, DeliveryDependencies } from '../../src/activities/deliver-webhook';
import type { DeliverEventInput } from '../../src/delivery/workflow-contract';
import type { DeadLetter } from '../../src/domain/delivery-log';
import type { EventRef } from '../../src/domain/event';
import type { ApiKeyId, EndpointId, EventId, TenantId } from '../../src/domain/ids';
import { deliveryWorkflowId, parseEndpointId, parseEventId, parseTenantId } from '../../src/domain/ids';
import type { ApiKeyStore } from '../../src/store/api-key-store';
import type { DeliveryLogStore } from '../../src/store/delivery-log-store';
import type { EndpointStore } from '../../src/store/endpoint-store';
import type { PayloadStore } from '../../src/store/payload-store';
import type { RedisKeys } from '../../src/store/redis-keys';
import type { TenantStore } from '../../src/store/tenant-store';

declare const endpoints: EndpointStore;
declare const deliveryLog: DeliveryLogStore;
declare const payloads: PayloadStore;
declare const tenants: TenantStore;
declare const apiKeys: ApiKeyStore;
declare const keys: RedisKeys;
declare const ports: DeliveryDependencies;
declare const activities: Activities;
declare const keyId: ApiKeyId;

const tenantId: TenantId = parseTenantId('acme');
const endpointId: EndpointId = parseEndpointId('ep_1');
const eventId: EventId = parseEventId('order:1');

export async function swappedIdsDoNotCompile(): Promise<void> {
  // The right order compiles.
  await endpoints.get(tenantId, endpointId);
  await deliveryLog.removeDeadLetter(tenantId, eventId, endpointId);
  keys.endpoint(tenantId, endpointId);
  deliveryWorkflowId(tenantId, eventId);

  // @ts-expect-error an EndpointId is not a TenantId: the pair swapped
  await endpoints.get(endpointId, tenantId);
  // @ts-expect-error an EndpointId is not a TenantId
  await endpoints.listAll(endpointId);
  // @ts-expect-error swapped in a store method with three ids
  await deliveryLog.removeDeadLetter(tenantId, endpointId, eventId);
  // @ts-expect-error swapped in a Redis key
  keys.endpoint(endpointId, tenantId);
  // @ts-expect-error swapped in a port of the delivery activity
  await ports.endpoints.getForDelivery(endpointId, tenantId);
  // @ts-expect-error swapped in the health port
  await ports.deliveryLog.resetEndpointFailures(endpointId, tenantId);
  // @ts-expect-error an EventId is not a TenantId
  deliveryWorkflowId(eventId, tenantId);
  // @ts-expect-error an EventId is not an EndpointId
  await payloads.get(tenantId, endpointId);
  // @ts-expect-error an API key id is not an endpoint id
  await apiKeys.revoke(tenantId, endpointId);
  await apiKeys.revoke(tenantId, keyId);
  // @ts-expect-error a tenant id is not an API key id
  await tenants.get(keyId);
}

export async function plainStringsDoNotCompile(raw: string): Promise<void> {
  // @ts-expect-error a plain string must be parsed first
  await endpoints.get(raw, endpointId);
  // @ts-expect-error a plain string must be parsed first
  await endpoints.get(tenantId, raw);
  // @ts-expect-error a plain string must be parsed first
  await tenants.get(raw);
  // @ts-expect-error a literal is a plain string too
  keys.payload('acme', eventId);

  // Parsed, it compiles.
  await endpoints.get(parseTenantId(raw), parseEndpointId(raw));
  // A branded id is still a string wherever a string is wanted (logs, headers, Temporal payloads).
  const asText: string = tenantId;
  void asText;
}

export function recordsCarryBrands(letter: DeadLetter): void {
  const event: EventRef = { tenantId, eventId, eventType: 'order.created', occurredAt: '2024-01-01T00:00:00.000Z' };
  const input: DeliverEventInput = { event, deliveries: [] };
  void input;
  void activities.deliverWebhook;
  // A record's ids feed the stores without casts...
  void endpoints.get(letter.tenantId, letter.endpointId);
  // ...and in the right roles only.
  // @ts-expect-error the dead letter's endpoint id is not its tenant id
  void endpoints.get(letter.endpointId, letter.tenantId);

  const badRef: EventRef = {
    // @ts-expect-error an EventRef built from plain strings does not compile
    tenantId: 'acme',
    eventId,
    eventType: 'order.created',
    occurredAt: '2024-01-01T00:00:00.000Z',
  };
  void badRef;
}
