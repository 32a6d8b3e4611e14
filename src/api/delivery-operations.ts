import type { WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import { WorkflowNotFoundError, isGrpcDeadlineError, isGrpcServiceError } from '@temporalio/client';
import { DeliveryStatusKey } from '../delivery/search-attributes';
import type { DeliveryTarget } from '../delivery/start-delivery';
import type { DeliveryListFilter, DeliveryPage } from './delivery-list';
import { deliveryStatusOf, listDeliveries } from './delivery-list';
import { startDelivery } from '../delivery/start-delivery';
import type { DeliverEventInput, DeliverEventResult } from '../delivery/workflow-contract';
import type { DeadLetter } from '../domain/delivery-log';
import { endpointStatusFromAttempts } from '../domain/delivery-outcome';
import { ConflictError, NotFoundError, TemporalUnavailableError } from '../domain/errors';
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

/** Each API request's calls to Temporal finish within this, or the request answers 503 `temporal_unavailable`. */
export const TEMPORAL_CALL_DEADLINE_MS = 10_000;

/**
 * Operator actions on deliveries, backed by Temporal: inspect, cancel, retry now, replay. A retry is a new run
 * of the same workflow id with the same event id, so receivers deduplicate it and the Web UI shows every run of
 * the event together.
 */
export class DeliveryOperations {
  constructor(private readonly deps: DeliveryOperationsDependencies) {}

  get(tenantId: TenantId, eventId: EventId): Promise<DeliveryView> {
    return this.temporal(() => this.read(tenantId, eventId));
  }

  private async read(tenantId: TenantId, eventId: EventId): Promise<DeliveryView> {
    const workflowId = deliveryWorkflowId(tenantId, eventId);
    const handle = this.deps.delivery.client.workflow.getHandle(workflowId);
    const createdAt = await this.tenantCreatedAt(tenantId);
    const description = await describeDelivery(handle, eventId, createdAt);
    const input = await this.runInput(workflowId, description.runId);
    const workflowStatus = description.status.name;
    let result: DeliverEventResult | undefined;
    if (workflowStatus === 'COMPLETED') result = (await handle.result()) as DeliverEventResult;
    const searchStatus = description.typedSearchAttributes.get(DeliveryStatusKey);
    // An event id used again after the tenant was deleted and created anew keeps the old attempts under its key.
    const attempts = (await this.deps.deliveryLog.attempts(tenantId, eventId)).filter(
      (a) => Date.parse(a.at) >= createdAt,
    );
    const endpointIds = [
      ...new Set([...(input?.deliveries.map((d) => d.endpointId) ?? []), ...attempts.map((a) => a.endpointId)]),
    ];
    const runs = await this.countRuns(workflowId, createdAt);
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

  /**
   * One page of the tenant's deliveries; see {@link listDeliveries}. `page.notBeforeMs` is the tenant's creation
   * (the caller has read the tenant to check it exists): earlier deliveries are an earlier tenant's.
   */
  list(
    tenantId: TenantId,
    filter: DeliveryListFilter,
    page: { limit: number; cursor?: string; notBeforeMs: number },
  ): Promise<DeliveryPage> {
    return this.temporal(() =>
      listDeliveries(this.deps.delivery.client, this.deps.namespace, this.deps.cursors, tenantId, filter, page),
    );
  }

  /** Cancels a running delivery. The workflow records `cancelled` itself, exactly as for a Web UI cancel. */
  cancel(tenantId: TenantId, eventId: EventId): Promise<{ cancelled: true }> {
    return this.temporal(() => this.cancelRunning(tenantId, eventId));
  }

  private async cancelRunning(tenantId: TenantId, eventId: EventId): Promise<{ cancelled: true }> {
    const handle = this.deps.delivery.client.workflow.getHandle(deliveryWorkflowId(tenantId, eventId));
    const description = await describeDelivery(handle, eventId, await this.tenantCreatedAt(tenantId));
    if (description.status.name !== 'RUNNING')
      throw new ConflictError(`delivery of event ${eventId} is ${description.status.name.toLowerCase()}, not running`);
    await handle.cancel();
    return { cancelled: true };
  }

  /** Retries now, as a new run, every delivery of the event that ended as a dead letter. */
  async retry(tenantId: TenantId, eventId: EventId): Promise<{ workflowId: string; endpoints: EndpointId[] }> {
    const letters = (await this.listDeadLetters(tenantId, {})).filter((d) => d.eventId === eventId);
    if (letters.length === 0) {
      // 404 for an event that has no delivery at all, as `get` and `cancel` answer; 409 for one with nothing failed.
      await this.temporal(async () =>
        describeDelivery(
          this.deps.delivery.client.workflow.getHandle(deliveryWorkflowId(tenantId, eventId)),
          eventId,
          await this.tenantCreatedAt(tenantId),
        ),
      );
      throw new ConflictError(`event ${eventId} has no failed deliveries to retry`);
    }
    return this.temporal(() => this.redeliver(tenantId, letters));
  }

  /** Replays the dead letters of one endpoint that failed within [since, until]. */
  async replay(
    tenantId: TenantId,
    endpointId: EndpointId,
    sinceMs: number,
    untilMs?: number,
  ): Promise<{ replayed: number; skipped: number }> {
    const letters = await this.listDeadLetters(tenantId, {
      endpointId,
      sinceMs,
      ...(untilMs !== undefined ? { untilMs } : {}),
    });
    let replayed = 0;
    let skipped = 0;
    for (const letter of letters) {
      try {
        await this.temporal(() => this.redeliver(tenantId, [letter]));
        replayed++;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        skipped++; // Already running (e.g. retried a moment ago) or the payload expired.
      }
    }
    return { replayed, skipped };
  }

  async listDeadLetters(
    tenantId: TenantId,
    filter: { endpointId?: EndpointId; sinceMs?: number; untilMs?: number },
  ): Promise<DeadLetter[]> {
    const createdAt = await this.tenantCreatedAt(tenantId);
    // Dead letters go with their tenant; one written by a delivery still finishing as it was deleted does not
    // reach a tenant created again under the same id.
    return this.deps.deliveryLog.listDeadLetters(tenantId, {
      ...filter,
      sinceMs: Math.max(filter.sinceMs ?? createdAt, createdAt),
    });
  }

  /** Deletes what the service keeps of a deleted tenant's deliveries in Redis (its dead letters). */
  forgetTenant(tenantId: TenantId): Promise<number> {
    return this.deps.deliveryLog.deleteTenantDeadLetters(tenantId);
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

  private async countRuns(workflowId: string, notBeforeMs: number): Promise<number> {
    let runs = 0;
    for await (const _ of this.deps.delivery.client.workflow.list({
      query:
        `WorkflowId = '${workflowId.replace(/'/g, "\\'")}' AND ` +
        `StartTime >= '${new Date(notBeforeMs).toISOString()}'`,
    }))
      runs++;
    return runs;
  }

  /**
   * Runs `work` (calls to Temporal) with a deadline: a Temporal that does not answer (stopped, overloaded,
   * unreachable) makes the request a 503 within {@link TEMPORAL_CALL_DEADLINE_MS}, not a hang.
   *
   * @throws TemporalUnavailableError when the deadline passes or Temporal is unreachable.
   */
  private async temporal<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await this.deps.delivery.client.connection.withDeadline(Date.now() + TEMPORAL_CALL_DEADLINE_MS, work);
    } catch (err) {
      if (isTemporalOutage(err)) {
        throw new TemporalUnavailableError(
          `Temporal did not answer within ${TEMPORAL_CALL_DEADLINE_MS / 1000} s; try again shortly`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  /**
   * When the tenant was created, epoch ms: deliveries started before it belong to an earlier tenant of the same id
   * (deleted, then created again) and are not this tenant's. 0 for a tenant that does not exist (only the admin
   * reaches one): events published for it, and those of a deleted tenant, stay answerable to operators.
   */
  private async tenantCreatedAt(tenantId: TenantId): Promise<number> {
    const tenant = await this.deps.tenants.get(tenantId);
    return tenant ? Date.parse(tenant.createdAt) : 0;
  }
}

/**
 * The latest run's description, or a 404 when the event has no delivery workflow, or only one that started before
 * the tenant was created (an earlier tenant of the same id).
 */
async function describeDelivery(
  handle: WorkflowHandle,
  eventId: EventId,
  notBeforeMs: number,
): Promise<WorkflowExecutionDescription> {
  let description: WorkflowExecutionDescription;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new NotFoundError(`delivery of event ${eventId} not found`);
    throw err;
  }
  if (description.startTime.getTime() < notBeforeMs) throw new NotFoundError(`delivery of event ${eventId} not found`);
  return description;
}

/** gRPC DEADLINE_EXCEEDED (4) or UNAVAILABLE (14), on the error or its cause (the SDK wraps them). */
function isTemporalOutage(err: unknown): boolean {
  if (isGrpcDeadlineError(err)) return true;
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (isGrpcServiceError(e) && (e.code === 4 || e.code === 14)) return true;
  }
  return false;
}
