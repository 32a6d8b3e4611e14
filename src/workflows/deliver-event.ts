import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  proxyActivities,
  proxySinks,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Sinks } from '@temporalio/workflow';
import type { DeliveryResult } from '../domain/delivery-outcome';
import { summarizeDeliveries, truncateError } from '../domain/delivery-outcome';
import type { EventRef } from '../domain/event';
import { scheduleToCloseMs, toTemporalRetryPolicy } from '../domain/retry-policy';
import type { Activities, DeliveryAttemptFailureDetails } from '../activities/deliver-webhook';
import { DeliveryStatusKey } from '../delivery/search-attributes';
import type { DeliverEventInput, DeliverEventResult, PlannedDelivery } from '../delivery/workflow-contract';

/**
 * Counts what only the workflow knows: deliveries ended by a cancellation. A sink runs in the worker, outside the
 * sandbox, and not during replay, so a count is taken once per execution of the workflow code, not per replay.
 */
export interface DeliveryMetricsSinks extends Sinks {
  metrics: {
    /** `endpoints` deliveries of a tenant's event had no final outcome when the workflow was cancelled. */
    deliveriesCancelled(tenantId: string, endpoints: number): void;
  };
}

const { metrics } = proxySinks<DeliveryMetricsSinks>();

/** Time one attempt may take, above the HTTP client's own total deadline. */
const ATTEMPT_TIMEOUT = '60 seconds';

/**
 * Delivers one event to every endpoint it was routed to, in parallel. Each endpoint's delivery is one activity
 * whose retries Temporal schedules; the workflow only decides and records outcomes.
 */
export async function deliverEvent(input: DeliverEventInput): Promise<DeliverEventResult> {
  if (input.deliveries.length === 0) {
    upsertSearchAttributes([{ key: DeliveryStatusKey, value: 'no_subscribers' }]);
    log.info('event has no subscribers', { eventId: input.event.eventId, tenantId: input.event.tenantId });
    return { status: 'no_subscribers', deliveries: [] };
  }

  let finished = 0;
  try {
    const deliveries = await Promise.all(
      input.deliveries.map(async (planned) => {
        const result = await deliverToEndpoint(input.event, planned);
        finished += 1;
        return result;
      }),
    );
    const status = summarizeDeliveries(deliveries);
    upsertSearchAttributes([{ key: DeliveryStatusKey, value: status }]);
    return { status, deliveries };
  } catch (err) {
    if (isCancellation(err)) {
      // Cancelled from the API, the CLI or the Web UI: record it so a search by status finds it, then let the
      // cancellation complete the workflow as cancelled.
      await CancellationScope.nonCancellable(async () => {
        upsertSearchAttributes([{ key: DeliveryStatusKey, value: 'cancelled' }]);
      });
      metrics.deliveriesCancelled(input.event.tenantId, input.deliveries.length - finished);
    }
    throw err;
  }
}

async function deliverToEndpoint(event: EventRef, planned: PlannedDelivery): Promise<DeliveryResult> {
  const { deliverWebhook } = proxyActivities<Activities>({
    startToCloseTimeout: ATTEMPT_TIMEOUT,
    scheduleToCloseTimeout: scheduleToCloseMs(planned.retryPolicy),
    retry: toTemporalRetryPolicy(planned.retryPolicy),
  });
  try {
    const attempt = await deliverWebhook({
      event,
      endpointId: planned.endpointId,
      retryPolicy: planned.retryPolicy,
      ...(planned.redelivery ? { redelivery: true } : {}),
    });
    return {
      endpointId: planned.endpointId,
      status: attempt.outcome,
      attempts: attempt.attempt,
      ...(attempt.statusCode !== undefined ? { lastStatusCode: attempt.statusCode } : {}),
      ...(attempt.reason !== undefined ? { lastError: attempt.reason } : {}),
      durationMs: attempt.durationMs,
    };
  } catch (err) {
    if (isCancellation(err)) throw err;
    if (err instanceof ActivityFailure) {
      const cause = err.cause;
      const details =
        cause instanceof ApplicationFailure
          ? (cause.details?.[0] as DeliveryAttemptFailureDetails | undefined)
          : undefined;
      return {
        endpointId: planned.endpointId,
        status: 'failed',
        attempts: details?.attempt ?? 0,
        ...(details?.statusCode !== undefined ? { lastStatusCode: details.statusCode } : {}),
        lastError: truncateError(describeFailure(cause ?? err)),
      };
    }
    throw err;
  }
}

function describeFailure(err: Error): string {
  const type = err instanceof ApplicationFailure && err.type ? `${err.type}: ` : '';
  return `${type}${err.message}`;
}
