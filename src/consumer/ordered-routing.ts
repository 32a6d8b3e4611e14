import type { Client } from '@temporalio/client';
import type { EventRef } from '../domain/event';
import type { OrderedRoute } from '../domain/ordering';
import { orderedLaneWorkflowId, orderingKeyHash } from '../domain/ordering';
import type { ResolvedRetryPolicy } from '../domain/retry-policy';
import type { OrderedItem, OrderedLaneWorkflow, StreamGroupRef } from '../delivery/ordered-contract';
import { LANE_STATUS_RUNNING, ORDERED_ENQUEUE_SIGNAL } from '../delivery/ordered-contract';
import { DeliveryStatusKey, EndpointIdKey, TenantIdKey } from '../delivery/search-attributes';

/** Where ordered events go: the lanes' workflow, its task queue, and the stream and group the consumer reads. */
export interface OrderedLaneTarget {
  readonly client: Client;
  readonly taskQueue: string;
  readonly workflow: OrderedLaneWorkflow;
  readonly source: StreamGroupRef;
}

/**
 * Hands an event to the lane of each (endpoint, key) it is routed to with ordering: signal-with-start of the lane's
 * workflow, with the stream entry id as the event's place in the lane. Idempotent per entry (the lane drops a `seq`
 * it has seen), so a re-read of the entry signals again harmlessly. Throws only when Temporal is unreachable; the
 * entry then stays pending and is read again.
 */
export async function enqueueOrdered(
  target: OrderedLaneTarget,
  entryId: string,
  event: EventRef,
  routes: readonly OrderedRoute[],
  retryPolicyOf: (route: OrderedRoute) => ResolvedRetryPolicy,
): Promise<string[]> {
  return Promise.all(
    routes.map(async (route) => {
      const keyHash = orderingKeyHash(route.key);
      const workflowId = orderedLaneWorkflowId(event.tenantId, route.endpoint.id, keyHash);
      const item: OrderedItem = {
        seq: entryId,
        event,
        retryPolicy: retryPolicyOf(route),
        onFailure: route.endpoint.ordering?.onFailure ?? 'continue',
      };
      await target.client.workflow.signalWithStart(target.workflow, {
        workflowId,
        taskQueue: target.taskQueue,
        args: [{ tenantId: event.tenantId, endpointId: route.endpoint.id, keyHash, source: target.source }],
        signal: ORDERED_ENQUEUE_SIGNAL,
        signalArgs: [item],
        typedSearchAttributes: [
          { key: TenantIdKey, value: event.tenantId },
          { key: EndpointIdKey, value: [route.endpoint.id] },
          { key: DeliveryStatusKey, value: LANE_STATUS_RUNNING },
        ],
      });
      return workflowId;
    }),
  );
}
