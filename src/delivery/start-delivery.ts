import type { Client, WorkflowIdReusePolicy } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { deliveryWorkflowId } from '../domain/ids';
import { EndpointIdKey, EventIdKey, EventTypeKey, TenantIdKey } from './search-attributes';
import type { DeliverEventInput, DeliverEventWorkflow } from './workflow-contract';

/** Memo field holding the stream entry id a delivery was started for. */
export const STREAM_ENTRY_MEMO = 'streamEntryId';

/**
 * Where and how deliveries start: the Temporal client, the worker's task queue, and the workflow function itself.
 * The entry points pass the function the worker registers (`workflows/deliver-event.ts`), so a renamed workflow
 * is a compile error here, not a start that no worker picks up.
 */
export interface DeliveryTarget {
  readonly client: Client;
  readonly taskQueue: string;
  readonly workflow: DeliverEventWorkflow;
  /**
   * Ask the server to hand the first workflow task straight back to a worker of this process (eager workflow start:
   * no matching dispatch, no poll). Only possible when `client` runs on the `NativeConnection` of a worker polling
   * `taskQueue` in this process (the SDK refuses it on a plain `Connection`); the consumer sets it only then.
   * The server may decline (no free workflow slot, or eager start disabled), and the start then works as usual.
   */
  readonly requestEagerStart?: boolean;
}

/**
 * Starts the delivery workflow of one event. The workflow id is derived from tenant and event id, so the same
 * event can never run twice at once; `reuse` decides whether a closed earlier run blocks a new one (the
 * consumer: yes, duplicates are dropped; operator retries: no, they are new runs of the same workflow).
 *
 * Search attributes are set at start, which costs no history event and no billable action. `DeliveryStatus` is not:
 * the workflow sets it only when the outcome is not `delivered` (a running delivery is `ExecutionStatus =
 * 'Running'`, a delivered one `ExecutionStatus = 'Completed' AND DeliveryStatus IS NULL`).
 */
export async function startDelivery(
  target: DeliveryTarget,
  input: DeliverEventInput,
  reuse: Extract<WorkflowIdReusePolicy, 'REJECT_DUPLICATE' | 'ALLOW_DUPLICATE'>,
  /** The stream entry that accepted the event, kept in the memo so a re-read of it can tell its own run. */
  streamEntryId?: string,
): Promise<{ started: boolean; workflowId: string; runId?: string; eagerlyStarted?: boolean }> {
  const workflowId = deliveryWorkflowId(input.event.tenantId, input.event.eventId);
  try {
    const handle = await target.client.workflow.start(target.workflow, {
      taskQueue: target.taskQueue,
      workflowId,
      args: [input],
      workflowIdReusePolicy: reuse,
      ...(target.requestEagerStart === true ? { requestEagerStart: true } : {}),
      ...(streamEntryId !== undefined ? { memo: { [STREAM_ENTRY_MEMO]: streamEntryId } } : {}),
      typedSearchAttributes: [
        { key: TenantIdKey, value: input.event.tenantId },
        { key: EventIdKey, value: input.event.eventId },
        { key: EventTypeKey, value: input.event.eventType },
        { key: EndpointIdKey, value: input.deliveries.map((d) => d.endpointId) },
      ],
    });
    return { started: true, workflowId, runId: handle.firstExecutionRunId, eagerlyStarted: handle.eagerlyStarted };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { started: false, workflowId };
    throw err;
  }
}
