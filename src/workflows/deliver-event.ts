import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  TimeoutFailure,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxySinks,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Sinks } from '@temporalio/workflow';
import type { DeliveryResult } from '../domain/delivery-outcome';
import { summarizeDeliveries, truncateError } from '../domain/delivery-outcome';
import type { EventRef } from '../domain/event';
import { isErrorCode } from '../domain/errors';
import { scheduleToCloseMs, toTemporalRetryPolicy } from '../domain/retry-policy';
import type {
  Activities,
  DeliveryAttemptFailureDetails,
  DeliveryHeartbeat,
  RecordDeliveryFailureInput,
} from '../activities/deliver-webhook';
import { DeliveryStatusKey } from '../delivery/search-attributes';
import { resumedBounds, withThrottleWaits } from './flow-control-wait';
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
 * An attempt heartbeats every 5 s (`HEARTBEAT_INTERVAL_MS`); one silent for this long lost its worker, and
 * Temporal retries it (or ends the delivery as `worker_lost`) without waiting for {@link ATTEMPT_TIMEOUT}.
 */
const HEARTBEAT_TIMEOUT = '20 seconds';

/**
 * The change that made the workflow run the terminal bookkeeping itself. Histories recorded before it completed a
 * failed delivery without scheduling `recordDeliveryFailure`; `patched()` keeps them replaying.
 */
export const TERMINAL_BOOKKEEPING_PATCH = 'terminal-failure-bookkeeping';

/**
 * The terminal bookkeeping: short attempts, retried for a day (Redis down, the worker lost) so that a delivery
 * does not end `failed` without its dead letter. It is idempotent per run, so a retry writes one dead letter.
 */
const { recordDeliveryFailure } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

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
  try {
    // Flow control: a throttled attempt waits on a timer and runs again with the attempts and window it has left.
    const attempt = await withThrottleWaits(planned.retryPolicy, (resume) => {
      const resumed = resumedBounds(planned.retryPolicy, resume);
      const { deliverWebhook } = proxyActivities<Activities>({
        startToCloseTimeout: ATTEMPT_TIMEOUT,
        heartbeatTimeout: HEARTBEAT_TIMEOUT,
        scheduleToCloseTimeout: resumed?.scheduleToCloseTimeout ?? scheduleToCloseMs(planned.retryPolicy),
        retry: {
          ...toTemporalRetryPolicy(planned.retryPolicy),
          ...(resumed && { maximumAttempts: resumed.maximumAttempts }),
        },
      });
      return deliverWebhook({
        event,
        endpointId: planned.endpointId,
        retryPolicy: planned.retryPolicy,
        ...(planned.redelivery ? { redelivery: true } : {}),
        ...(resume ? { throttle: resume } : {}),
      });
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
      const ended = terminalFailure(err, planned);
      if (!ended.recorded && patched(TERMINAL_BOOKKEEPING_PATCH)) {
        await recordFailure({
          event,
          endpointId: planned.endpointId,
          ...ended.input,
          ...(planned.redelivery ? { redelivery: true } : {}),
        });
      }
      return {
        endpointId: planned.endpointId,
        status: 'failed',
        attempts: ended.input.attempts ?? 0,
        ...(ended.input.statusCode !== undefined ? { lastStatusCode: ended.input.statusCode } : {}),
        lastError: truncateError(`${ended.input.reason}: ${ended.input.message}`),
      };
    }
    throw err;
  }
}

/**
 * Runs the bookkeeping to its end even when the workflow is cancelled meanwhile: the delivery had already failed.
 * If it still fails after its day of retries, the delivery ends failed anyway, and the log says what is missing.
 */
async function recordFailure(input: RecordDeliveryFailureInput): Promise<void> {
  try {
    await CancellationScope.nonCancellable(() => recordDeliveryFailure(input));
  } catch (err) {
    log.error('could not record the failed delivery', {
      eventId: input.event.eventId,
      endpointId: input.endpointId,
      reason: input.reason,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}

type TerminalFields = Omit<RecordDeliveryFailureInput, 'event' | 'endpointId' | 'redelivery'>;

/**
 * What ended a delivery, from the failure Temporal reported: the activity's own verdict when it gave up (and
 * whether its bookkeeping went through), or Temporal's (a timeout, a lost worker, an exception the activity did not
 * shape, the retry window). Texts are built here from the failure's kind only, never from an unexpected error's
 * message, which may quote event data.
 */
function terminalFailure(err: ActivityFailure, planned: PlannedDelivery): { recorded: boolean; input: TerminalFields } {
  const cause = err.cause;
  const windowClosed = err.retryState === 'TIMEOUT';
  const attemptsUsed = err.retryState === 'MAXIMUM_ATTEMPTS_REACHED' ? planned.retryPolicy.maximumAttempts : undefined;
  const counted = { countsAgainstEndpoint: true, attemptLogged: false };

  if (cause instanceof ApplicationFailure) {
    const details = cause.details?.[0] as DeliveryAttemptFailureDetails | undefined;
    const statusCode = details?.statusCode !== undefined ? { statusCode: details.statusCode } : {};
    const attempts = details?.attempt ?? attemptsUsed;
    const known = attempts !== undefined ? { attempts } : {};
    const permanent = cause.nonRetryable || err.retryState === 'NON_RETRYABLE_FAILURE';
    if (permanent && typeof cause.type === 'string' && isErrorCode(cause.type)) {
      // The activity gave up itself (a registered code Temporal does not retry). Without `terminal` it is a version
      // from before this bookkeeping, which wrote its dead letter on its own.
      const terminal = details?.terminal;
      return {
        recorded: terminal?.recorded ?? true,
        input: {
          reason: cause.type,
          message: cause.message,
          ...known,
          ...statusCode,
          countsAgainstEndpoint: terminal?.countsAgainstEndpoint ?? true,
          ...(terminal?.disable ? { disable: terminal.disable } : {}),
          attemptLogged: true,
        },
      };
    }
    if (typeof cause.type === 'string' && isErrorCode(cause.type) && details !== undefined) {
      // The activity asked for another attempt (an answer it could retry) that Temporal did not allow.
      const window = windowClosed ? 'the retry window closed' : 'no attempts left';
      return {
        recorded: false,
        input: {
          reason: windowClosed ? 'retry_window_exhausted' : 'retries_exhausted',
          message: `${cause.message}; ${window} after ${attempts ?? 'the last'} attempt${attempts === 1 ? '' : 's'}`,
          ...known,
          ...statusCode,
          countsAgainstEndpoint: cause.type !== 'transient_error',
          attemptLogged: false,
        },
      };
    }
    // An exception the activity did not shape (its type is the error's class): a bug, not the receiver.
    const kind = cause.type || 'Error';
    return {
      recorded: false,
      input: windowClosed
        ? {
            reason: 'retry_window_exhausted',
            message: `the retry window closed; the last attempt failed with an unexpected ${kind}`,
            ...known,
            countsAgainstEndpoint: false,
            attemptLogged: false,
          }
        : {
            reason: 'unexpected_error',
            message: `every attempt failed with an unexpected ${kind}; see the worker logs`,
            ...known,
            countsAgainstEndpoint: false,
            attemptLogged: false,
          },
    };
  }

  if (cause instanceof TimeoutFailure) {
    const beat = cause.lastHeartbeatDetails as DeliveryHeartbeat | undefined;
    const attempts = beat?.attempt ?? attemptsUsed;
    const known = attempts !== undefined ? { attempts } : {};
    const which = attempts !== undefined ? `attempt ${attempts}` : 'the last attempt';
    switch (cause.timeoutType) {
      case 'HEARTBEAT':
        return {
          recorded: false,
          input: {
            reason: 'worker_lost',
            message: `the worker running ${which} stopped heartbeating (killed, crashed or cut off)`,
            ...known,
            ...counted,
            // Not the receiver's fault as far as anyone knows.
            countsAgainstEndpoint: false,
          },
        };
      case 'SCHEDULE_TO_CLOSE':
        return {
          recorded: false,
          input: {
            reason: 'retry_window_exhausted',
            message: `the retry window closed during ${which}`,
            ...known,
            ...counted,
          },
        };
      case 'START_TO_CLOSE':
      case 'SCHEDULE_TO_START':
      case undefined:
        if (windowClosed) {
          return {
            recorded: false,
            input: {
              reason: 'retry_window_exhausted',
              message: `the retry window closed after ${which} timed out`,
              ...known,
              ...counted,
            },
          };
        }
        return {
          recorded: false,
          input: {
            reason: 'attempt_timed_out',
            message: `${which} did not finish within ${ATTEMPT_TIMEOUT}`,
            ...known,
            ...counted,
          },
        };
    }
  }

  const kind = cause?.name ?? err.name;
  return {
    recorded: false,
    input: {
      reason: 'unexpected_error',
      message: `the delivery ended with ${kind}`,
      countsAgainstEndpoint: false,
      attemptLogged: false,
    },
  };
}
