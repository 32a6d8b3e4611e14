import type { WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { DeliveryStatusKey } from '../delivery/search-attributes';
import type { DeliveryTarget } from '../delivery/start-delivery';
import type { DeliveryListFilter, DeliveryPage } from './delivery-list';
import { deliveryStatusOf, listDeliveries } from './delivery-list';
import { startDelivery } from '../delivery/start-delivery';
import type { DeliverEventInput, DeliverEventResult } from '../delivery/workflow-contract';
import type { DeadLetter } from '../domain/delivery-log';
import { endpointStatusFromAttempts } from '../domain/delivery-outcome';
import { ConflictError, NotFoundError } from '../domain/errors';
import type { EventRef } from '../domain/event';
import type { EndpointId, EventId, TenantId } from '../domain/ids';
import { deliveryWorkflowId } from '../domain/ids';
import type { ResolvedRetryPolicy } from '../domain/retry-policy';
import { resolveRetryPolicy } from '../domain/retry-policy';
import type { SecretBox } from '../security/secret-box';
import type { DeliveryLogStore } from '../store/delivery-log-store';
import type { EndpointStore } from '../store/endpoint-store';
import type { PayloadStore } from '../store/payload-store';
import type { TenantStore } from '../store/tenant-store';

export interface DeliveryOperationsDependencies {
  /** Where redeliveries start; its client also answers every question about a delivery. */
  readonly delivery: DeliveryTarget;
  readonly namespace: string;
  readonly webUiUrl?: string;
  readonly endpoints: EndpointStore;
  readonly tenants: TenantStore;
  readonly payloads: PayloadStore;
  readonly deliveryLog: DeliveryLogStore;
  readonly serviceRetryPolicy: ResolvedRetryPolicy;
  /** Seals the deliveries list's page cursors (`WSS_MASTER_KEY`). */
  readonly cursors: SecretBox;
}

/** The answer to "what happened to event X?". */
export interface DeliveryView {
  readonly tenantId: TenantId;
  readonly eventId: EventId;
  readonly eventType?: string;
  readonly workflowId: string;
  /** Latest run's outcome: pending, delivered, failed, cancelled, skipped or no_subscribers. */
  readonly status: string;
  readonly workflowStatus: string;
  readonly runs: number;
  readonly webUiUrl?: string;
  readonly endpoints: {
    endpointId: EndpointId;
    status: string;
    attempts: {
      attempt: number;
      at: string;
      outcome: string;
      statusCode?: number;
      durationMs: number;
      error?: string;
    }[];
    lastError?: string;
  }[];
}

/**
 * Operator actions on deliveries, backed by Temporal: inspect, cancel, retry now, replay. A retry is a new run
 * of the same workflow id with the same event id, so receivers deduplicate it and the Web UI shows every run of
 * the event together.
 */
export class DeliveryOperations {
  constructor(private readonly deps: DeliveryOperationsDependencies) {}

  async get(tenantId: TenantId, eventId: EventId): Promise<DeliveryView> {
    const workflowId = deliveryWorkflowId(tenantId, eventId);
    const handle = this.deps.delivery.client.workflow.getHandle(workflowId);
    const description = await describeDelivery(handle, eventId);
    const input = await this.runInput(workflowId, description.runId);
    const workflowStatus = description.status.name;
    let result: DeliverEventResult | undefined;
    if (workflowStatus === 'COMPLETED') result = (await handle.result()) as DeliverEventResult;
    const searchStatus = description.typedSearchAttributes.get(DeliveryStatusKey);
    const attempts = await this.deps.deliveryLog.attempts(tenantId, eventId);
    const endpointIds = [
      ...new Set([...(input?.deliveries.map((d) => d.endpointId) ?? []), ...attempts.map((a) => a.endpointId)]),
    ];
    const runs = await this.countRuns(workflowId);
    return {
      tenantId,
      eventId,
      ...(input ? { eventType: input.event.eventType } : {}),
      workflowId,
      status: deliveryStatusOf(workflowStatus, searchStatus, result?.status),
      workflowStatus,
      runs,
      ...(this.deps.webUiUrl
        ? {
            webUiUrl: `${this.deps.webUiUrl}/namespaces/${encodeURIComponent(this.deps.namespace)}/workflows/${encodeURIComponent(workflowId)}`,
          }
        : {}),
      endpoints: endpointIds.map((endpointId) => {
        const final = result?.deliveries.find((d) => d.endpointId === endpointId);
        const mine = attempts.filter((a) => a.endpointId === endpointId);
        const last = mine[mine.length - 1];
        return {
          endpointId,
          status: final?.status ?? endpointStatusFromAttempts(last?.outcome, workflowStatus),
          attempts: mine.map(({ endpointId: _e, ...a }) => a),
          ...(final?.lastError ? { lastError: final.lastError } : {}),
        };
      }),
    };
  }

  /** One page of the tenant's deliveries, latest run per event; see {@link listDeliveries}. */
  list(
    tenantId: TenantId,
    filter: DeliveryListFilter,
    page: { limit: number; cursor?: string },
  ): Promise<DeliveryPage> {
    return listDeliveries(this.deps.delivery.client, this.deps.namespace, this.deps.cursors, tenantId, filter, page);
  }

  /** Cancels a running delivery. The workflow records `cancelled` itself, exactly as for a Web UI cancel. */
  async cancel(tenantId: TenantId, eventId: EventId): Promise<{ cancelled: true }> {
    const handle = this.deps.delivery.client.workflow.getHandle(deliveryWorkflowId(tenantId, eventId));
    const description = await describeDelivery(handle, eventId);
    if (description.status.name !== 'RUNNING')
      throw new ConflictError(`delivery of event ${eventId} is ${description.status.name.toLowerCase()}, not running`);
    await handle.cancel();
    return { cancelled: true };
  }

  /** Retries now, as a new run, every delivery of the event that ended as a dead letter. */
  async retry(tenantId: TenantId, eventId: EventId): Promise<{ workflowId: string; endpoints: EndpointId[] }> {
    const letters = (await this.deps.deliveryLog.listDeadLetters(tenantId)).filter((d) => d.eventId === eventId);
    if (letters.length === 0) throw new ConflictError(`event ${eventId} has no failed deliveries to retry`);
    return this.redeliver(tenantId, letters);
  }

  /** Replays the dead letters of one endpoint that failed within [since, until]. */
  async replay(
    tenantId: TenantId,
    endpointId: EndpointId,
    sinceMs: number,
    untilMs?: number,
  ): Promise<{ replayed: number; skipped: number }> {
    const letters = await this.deps.deliveryLog.listDeadLetters(tenantId, {
      endpointId,
      sinceMs,
      ...(untilMs !== undefined ? { untilMs } : {}),
    });
    let replayed = 0;
    let skipped = 0;
    for (const letter of letters) {
      try {
        await this.redeliver(tenantId, [letter]);
        replayed++;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        skipped++; // Already running (e.g. retried a moment ago) or the payload expired.
      }
    }
    return { replayed, skipped };
  }

  listDeadLetters(
    tenantId: TenantId,
    filter: { endpointId?: EndpointId; sinceMs?: number; untilMs?: number },
  ): Promise<DeadLetter[]> {
    return this.deps.deliveryLog.listDeadLetters(tenantId, filter);
  }

  /** Cancels every running delivery of a tenant (used when the tenant is deleted). */
  async cancelTenant(tenantId: TenantId): Promise<number> {
    let cancelled = 0;
    const query = `TenantId = '${tenantId}' AND ExecutionStatus = 'Running'`;
    for await (const execution of this.deps.delivery.client.workflow.list({ query })) {
      await this.deps.delivery.client.workflow
        .getHandle(execution.workflowId, execution.runId)
        .cancel()
        .catch(() => undefined);
      cancelled++;
    }
    return cancelled;
  }

  private async redeliver(
    tenantId: TenantId,
    letters: readonly DeadLetter[],
  ): Promise<{ workflowId: string; endpoints: EndpointId[] }> {
    const first = letters[0];
    if (!first) throw new ConflictError('nothing to redeliver');
    if (!(await this.deps.payloads.touch(tenantId, first.eventId))) {
      throw new ConflictError(`payload of event ${first.eventId} has expired; it cannot be redelivered`);
    }
    const tenantPolicy = await this.deps.tenants.getRetryPolicy(tenantId);
    const deliveries = [];
    for (const letter of letters) {
      const endpoint = await this.deps.endpoints.get(tenantId, letter.endpointId);
      if (!endpoint) continue;
      deliveries.push({
        endpointId: endpoint.id,
        retryPolicy: resolveRetryPolicy(endpoint.retryPolicy, tenantPolicy, this.deps.serviceRetryPolicy),
        redelivery: true,
      });
    }
    if (deliveries.length === 0)
      throw new ConflictError(`the endpoints of event ${first.eventId}'s failed deliveries no longer exist`);
    const event: EventRef = {
      tenantId,
      eventId: first.eventId,
      eventType: first.eventType,
      occurredAt: first.occurredAt,
    };
    const input: DeliverEventInput = { event, deliveries };
    const { started, workflowId } = await startDelivery(this.deps.delivery, input, 'ALLOW_DUPLICATE');
    if (!started) throw new ConflictError(`delivery of event ${first.eventId} is already running`);
    return { workflowId, endpoints: deliveries.map((d) => d.endpointId) };
  }

  private async runInput(workflowId: string, runId: string): Promise<DeliverEventInput | undefined> {
    const history = await this.deps.delivery.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    const payload = started?.input?.payloads?.[0];
    if (!payload) return undefined;
    return this.deps.delivery.client.options.loadedDataConverter.payloadConverter.fromPayload(
      payload,
    ) as DeliverEventInput;
  }

  private async countRuns(workflowId: string): Promise<number> {
    let runs = 0;
    for await (const _ of this.deps.delivery.client.workflow.list({
      query: `WorkflowId = '${workflowId.replace(/'/g, "\\'")}'`,
    }))
      runs++;
    return runs;
  }
}

/** The latest run's description, or a 404 when the event has no delivery workflow. */
async function describeDelivery(handle: WorkflowHandle, eventId: EventId): Promise<WorkflowExecutionDescription> {
  try {
    return await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new NotFoundError(`delivery of event ${eventId} not found`);
    throw err;
  }
}
