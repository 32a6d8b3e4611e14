import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { OrderedLaneState, PausedHead } from '../delivery/ordered-contract';
import { LANE_STATUS_PAUSED, ORDERED_RESUME_SIGNAL, ORDERED_STATE_QUERY } from '../delivery/ordered-contract';
import { OrderingKeyNotPausedError } from '../domain/errors';
import type { EndpointId, TenantId } from '../domain/ids';
import { orderedLaneWorkflowId } from '../domain/ordering';

/** A paused key as the API lists it. */
export interface PausedKey extends PausedHead {
  readonly keyHash: string;
  readonly queued: number;
}

/** Most paused keys one list answers with. */
const MAX_LISTED = 1000;

/**
 * The operator's side of ordered delivery: which keys of an endpoint are paused after a failed head, and resuming
 * one. Lanes are found through Temporal visibility (the `DeliveryStatus` search attribute a lane sets when it
 * pauses) and asked for their state by query; a key is addressed by its hash, as its lane's workflow id is.
 */
export class OrderedLaneOperations {
  constructor(
    private readonly client: Client,
    /** The lanes' workflow type name. */
    private readonly workflowType = 'orderedDelivery',
  ) {}

  async listPaused(tenantId: TenantId, endpointId: EndpointId): Promise<PausedKey[]> {
    const prefix = orderedLaneWorkflowId(tenantId, endpointId, '');
    const query =
      `WorkflowType = '${this.workflowType}' AND ExecutionStatus = 'Running' AND TenantId = '${tenantId}' ` +
      `AND EndpointId = '${endpointId}' AND DeliveryStatus = '${LANE_STATUS_PAUSED}'`;
    const items: PausedKey[] = [];
    for await (const execution of this.client.workflow.list({ query })) {
      if (!execution.workflowId.startsWith(prefix)) continue;
      const state = await this.state(execution.workflowId);
      if (state?.paused === undefined) continue;
      items.push({ keyHash: execution.workflowId.slice(prefix.length), ...state.paused, queued: state.queued });
      if (items.length >= MAX_LISTED) break;
    }
    return items.sort((a, b) => a.pausedAt.localeCompare(b.pausedAt));
  }

  /** @throws OrderingKeyNotPausedError when the key's lane is not running or not paused. */
  async resume(tenantId: TenantId, endpointId: EndpointId, keyHash: string): Promise<PausedKey> {
    const workflowId = orderedLaneWorkflowId(tenantId, endpointId, keyHash);
    const state = await this.state(workflowId);
    if (state?.paused === undefined) {
      throw new OrderingKeyNotPausedError(`ordering key ${keyHash} of endpoint ${endpointId} is not paused`);
    }
    try {
      await this.client.workflow.getHandle(workflowId).signal(ORDERED_RESUME_SIGNAL);
    } catch (err) {
      // Its last run had ended (cancelled with its tenant): nothing holds the key.
      if (err instanceof WorkflowNotFoundError) {
        throw new OrderingKeyNotPausedError(`ordering key ${keyHash} of endpoint ${endpointId} is not paused`);
      }
      throw err;
    }
    return { keyHash, ...state.paused, queued: state.queued };
  }

  /**
   * Cancels every running lane of an endpoint (when it is deleted): a lane paused on it could never be resumed,
   * and one still delivering would only skip its queue. Its events stay in the attempt log and dead letters.
   *
   * @returns how many lanes were asked to cancel.
   */
  async cancelEndpoint(tenantId: TenantId, endpointId: EndpointId): Promise<number> {
    const prefix = orderedLaneWorkflowId(tenantId, endpointId, '');
    const query =
      `WorkflowType = '${this.workflowType}' AND ExecutionStatus = 'Running' AND TenantId = '${tenantId}' ` +
      `AND EndpointId = '${endpointId}'`;
    let cancelled = 0;
    for await (const execution of this.client.workflow.list({ query })) {
      if (!execution.workflowId.startsWith(prefix)) continue;
      try {
        await this.client.workflow.getHandle(execution.workflowId, execution.runId).cancel();
        cancelled++;
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err; // Ended meanwhile.
      }
    }
    return cancelled;
  }

  private async state(workflowId: string): Promise<OrderedLaneState | undefined> {
    try {
      return await this.client.workflow.getHandle(workflowId).query<OrderedLaneState>(ORDERED_STATE_QUERY);
    } catch (err) {
      // No lane, or its last run has ended (a query of a closed run still answers, from its final state).
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }
}
