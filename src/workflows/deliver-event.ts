import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  TemporalFailure,
  TimeoutFailure,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  proxySinks,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Sinks } from '@temporalio/workflow';
import type { DeliveryResult } from '../domain/delivery-outcome';
import { summarizeDeliveries, truncateError } from '../domain/delivery-outcome';
import type { EventRef } from '../domain/event';
import { isErrorCode } from '../domain/errors';
import type { ResolvedRetryPolicy } from '../domain/retry-policy';
import { NON_RETRYABLE_ERROR_TYPES, scheduleToCloseMs, toTemporalRetryPolicy } from '../domain/retry-policy';
import type {
  Activities,
  DeliverWebhookInput,
  DeliveryAttemptFailureDetails,
  DeliveryAttemptResult,
  DeliveryHeartbeat,
  RecordDeliveryFailureInput,
} from '../activities/deliver-webhook';
import { DeliveryStatusKey } from '../delivery/search-attributes';
import type { ThrottleResume, ThrottledAttempt } from '../domain/flow-control';
import { throttledAttempt, withThrottleWaits } from './flow-control-wait';
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
 * The change that runs each endpoint's first attempt as a local activity, and upserts `DeliveryStatus` only for an
 * outcome other than `delivered`. Histories recorded before it scheduled the first attempt as a regular activity
 * and always upserted the final status; `patched()` keeps them replaying, and runs them to the end that way. Retire
 * it (`deprecatePatch`, then remove it) once no delivery started before it can still be running: the longest retry
 * window after the upgrade.
 */
export const LOCAL_FIRST_ATTEMPT_PATCH = 'local-first-attempt';

/**
 * The first attempt's bound: the same as every attempt's, so a receiver sees exactly what it saw when the first
 * attempt was a regular activity (the HTTP client's own deadline, 15 s by default, ends a slow answer first). It is
 * longer than 80% of the workflow task timeout (10 s), and that is safe: while a local activity runs past that
 * point, the worker heartbeats its workflow task (completes it and takes the next one at once), so a slow receiver
 * costs a few history events, never a workflow task timeout. A shorter bound would turn a receiver that answers in
 * 12 s into a timed-out first attempt and a second request, which the attempt log must not show.
 */
const FIRST_ATTEMPT_TIMEOUT = ATTEMPT_TIMEOUT;

/**
 * Each endpoint's first attempt, in the workflow's own task: no matching dispatch, no activity events, and every
 * local activity of a workflow task is one billable action together. One try: anything but success or a final
 * failure continues as the regular activity, on the endpoint's schedule.
 */
function localFirstAttempt(policy: ResolvedRetryPolicy) {
  return proxyLocalActivities<Activities>({
    startToCloseTimeout: FIRST_ATTEMPT_TIMEOUT,
    // The retry window counts from the first attempt, and may be shorter than it.
    scheduleToCloseTimeout: scheduleToCloseMs(policy),
    retry: { maximumAttempts: 1 },
  }).deliverWebhook;
}

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

  const localFirst = patched(LOCAL_FIRST_ATTEMPT_PATCH);
  // Deliveries started before the change carry `DeliveryStatus = 'pending'` from their start: only an upsert ends it.
  const startedPending = workflowInfo().typedSearchAttributes.get(DeliveryStatusKey) !== undefined;
  let finished = 0;
  try {
    const deliveries = await Promise.all(
      input.deliveries.map(async (planned) => {
        const result = await deliverToEndpoint(input.event, planned, localFirst);
        finished += 1;
        return result;
      }),
    );
    const status = summarizeDeliveries(deliveries);
    // A delivered event is found by `ExecutionStatus = 'Completed' AND DeliveryStatus IS NULL`: the upsert, one
    // history event and one billable action, is kept for the outcomes that need a look.
    if (!localFirst || status !== 'delivered' || startedPending) {
      upsertSearchAttributes([{ key: DeliveryStatusKey, value: status }]);
    }
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

/**
 * One endpoint's whole delivery: with `localFirst`, the first attempt as a local activity and the rest as the regular
 * activity on the endpoint's schedule; without it (histories from before `LOCAL_FIRST_ATTEMPT_PATCH`), every attempt
 * as the regular activity. Resolves with the final outcome; a failure is recorded (dead letter, health) before it
 * resolves. Throws only a cancellation. Also the ordered lanes' delivery of their head event.
 */
export async function deliverToEndpoint(
  event: EventRef,
  planned: PlannedDelivery,
  localFirst: boolean,
): Promise<DeliveryResult> {
  const input: DeliverWebhookInput = {
    event,
    endpointId: planned.endpointId,
    retryPolicy: planned.retryPolicy,
    ...(planned.redelivery ? { redelivery: true } : {}),
  };
  // What ended the delivery says which attempt it was, except a local first attempt's timeout.
  let lastAttempt: number | undefined;
  try {
    if (!localFirst) return deliveredResult(planned, await regularAttemptsWithThrottles(input, planned.retryPolicy));
    const firstAttemptAtMs = Date.now();
    lastAttempt = 1;
    const first = await firstAttempt(input, planned.retryPolicy);
    if ('result' in first) return deliveredResult(planned, first.result);
    lastAttempt = undefined;
    if ('throttled' in first) {
      // The endpoint's flow control held the first attempt back: not an attempt. Wait it out on a timer, then the
      // regular activity makes attempt 1, with the retry window moved by the wait.
      const sleptFrom = Date.now();
      await sleep(first.throttled.waitMs);
      const resume: ThrottleResume = {
        attemptsBefore: 0,
        windowEndsAtMs: firstAttemptAtMs + planned.retryPolicy.retryWindowMs + (Date.now() - sleptFrom),
        ticket: first.throttled.ticket,
        throttles: first.throttled.throttles,
      };
      return deliveredResult(
        planned,
        await regularAttemptsWithThrottles(
          { ...input, previousAttempts: 0, throttle: resume },
          planned.retryPolicy,
          resume.windowEndsAtMs,
        ),
      );
    }
    await sleep(first.retryInMs);
    const windowLeftMs = firstAttemptAtMs + scheduleToCloseMs(planned.retryPolicy) - Date.now();
    if (windowLeftMs <= 0) {
      return endFailed(event, planned, {
        reason: 'retry_window_exhausted',
        message: 'the retry window closed after attempt 1',
        attempts: 1,
        countsAgainstEndpoint: true,
        attemptLogged: false,
      });
    }
    const rest = { ...input, previousAttempts: 1, firstAttemptAtMs };
    return deliveredResult(
      planned,
      await regularAttemptsWithThrottles(
        rest,
        planned.retryPolicy,
        firstAttemptAtMs + planned.retryPolicy.retryWindowMs,
      ),
    );
  } catch (err) {
    if (isCancellation(err)) throw err;
    if (err instanceof ActivityFailure) {
      const ended = terminalFailure(err, planned, lastAttempt);
      if (ended.recorded || !(localFirst || patched(TERMINAL_BOOKKEEPING_PATCH))) {
        return failedResult(planned, ended.input);
      }
      return endFailed(event, planned, ended.input);
    }
    throw err;
  }
}

/**
 * The attempts Temporal schedules and retries: every attempt when the first is not local, else attempt 2 onwards,
 * with the attempts and the retry window that are left.
 */
function regularAttempts(
  input: DeliverWebhookInput,
  policy: ResolvedRetryPolicy,
  windowLeftMs = scheduleToCloseMs(policy),
): Promise<DeliveryAttemptResult> {
  const previous = input.previousAttempts ?? 0;
  const { deliverWebhook } = proxyActivities<Activities>({
    startToCloseTimeout: ATTEMPT_TIMEOUT,
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    scheduleToCloseTimeout: windowLeftMs,
    retry: toTemporalRetryPolicy({
      ...policy,
      maximumAttempts: policy.maximumAttempts - previous,
      // Temporal's fallback curve (for failures the activity did not shape) goes on where attempt `previous` left it.
      initialIntervalMs: Math.min(
        Math.round(policy.initialIntervalMs * policy.backoffCoefficient ** previous),
        policy.maximumIntervalMs,
      ),
    }),
  });
  return deliverWebhook(input);
}

/**
 * {@link regularAttempts}, waiting out the endpoint's flow control on Temporal timers: a throttled attempt is not an
 * attempt, so the activity run after the wait carries the attempts already made, and the retry window (ending at
 * `windowEndsAtMs`, epoch ms) moves by the time spent waiting.
 */
function regularAttemptsWithThrottles(
  input: DeliverWebhookInput,
  policy: ResolvedRetryPolicy,
  windowEndsAtMs?: number,
): Promise<DeliveryAttemptResult> {
  return withThrottleWaits(
    policy,
    (resume) =>
      resume === undefined
        ? regularAttempts(input, policy, windowEndsAtMs === undefined ? undefined : windowEndsAtMs - Date.now())
        : regularAttempts(
            { ...input, previousAttempts: resume.attemptsBefore, throttle: resume },
            policy,
            Math.max(1_000, resume.windowEndsAtMs - Date.now()),
          ),
    windowEndsAtMs,
  );
}

/**
 * The local first attempt: its result, or the wait before attempt 2 when the delivery goes on. A failure that ends
 * the delivery (the activity gave up, or no attempt is left) is thrown, as the regular activity's would be.
 */
async function firstAttempt(
  input: DeliverWebhookInput,
  policy: ResolvedRetryPolicy,
): Promise<{ result: DeliveryAttemptResult } | { retryInMs: number } | { throttled: ThrottledAttempt }> {
  try {
    return { result: await localFirstAttempt(policy)(input) };
  } catch (err) {
    if (isCancellation(err)) throw err;
    const throttled = throttledAttempt(err);
    if (throttled !== undefined) return { throttled };
    const failure = asActivityFailure(err);
    const retryInMs = waitAfterFirstAttempt(failure, policy);
    if (retryInMs === undefined) throw failure;
    return { retryInMs };
  }
}

/**
 * A failed local activity reaches the workflow as its own failure (the activity's ApplicationFailure, or the
 * TimeoutFailure of its deadline), not wrapped in an ActivityFailure as a regular activity's is. Wrapped here, so
 * that what ended a delivery is read the same way whichever attempt it was.
 */
function asActivityFailure(err: unknown): ActivityFailure {
  if (err instanceof ActivityFailure) return err;
  if (!(err instanceof TemporalFailure)) throw err;
  const final = err instanceof ApplicationFailure && (err.nonRetryable || isNonRetryableType(err.type));
  const windowClosed = err instanceof TimeoutFailure && err.timeoutType === 'SCHEDULE_TO_CLOSE';
  return new ActivityFailure(
    err.message,
    'deliverWebhook',
    undefined,
    // The local attempt has no retries of its own.
    final ? 'NON_RETRYABLE_FAILURE' : windowClosed ? 'TIMEOUT' : 'MAXIMUM_ATTEMPTS_REACHED',
    undefined,
    err,
  );
}

/**
 * The wait Temporal would have put between a failed regular attempt 1 and attempt 2: the one the activity asked for
 * (the schedule's, or `Retry-After`), else, for a failure it did not shape (a timeout, an unexpected exception, a
 * worker shutting down), the retry policy's initial interval. Undefined when the failure ends the delivery.
 */
function waitAfterFirstAttempt(err: ActivityFailure, policy: ResolvedRetryPolicy): number | undefined {
  const cause = err.cause;
  if (cause instanceof ApplicationFailure) {
    if (cause.nonRetryable || isNonRetryableType(cause.type)) return undefined;
    const asked = (cause.details?.[0] as DeliveryAttemptFailureDetails | undefined)?.nextRetryDelayMs;
    if (asked !== undefined) return asked;
  }
  if (err.retryState === 'TIMEOUT') return undefined;
  return policy.maximumAttempts > 1 ? policy.initialIntervalMs : undefined;
}

/** A failure type Temporal does not retry, whatever the failure says (the policy's `nonRetryableErrorTypes`). */
function isNonRetryableType(type: string | undefined | null): boolean {
  return (NON_RETRYABLE_ERROR_TYPES as readonly string[]).includes(type ?? '');
}

function deliveredResult(planned: PlannedDelivery, attempt: DeliveryAttemptResult): DeliveryResult {
  return {
    endpointId: planned.endpointId,
    status: attempt.outcome,
    attempts: attempt.attempt,
    ...(attempt.statusCode !== undefined ? { lastStatusCode: attempt.statusCode } : {}),
    ...(attempt.reason !== undefined ? { lastError: attempt.reason } : {}),
    durationMs: attempt.durationMs,
  };
}

function failedResult(planned: PlannedDelivery, ended: TerminalFields): DeliveryResult {
  return {
    endpointId: planned.endpointId,
    status: 'failed',
    attempts: ended.attempts ?? 0,
    ...(ended.statusCode !== undefined ? { lastStatusCode: ended.statusCode } : {}),
    lastError: truncateError(`${ended.reason}: ${ended.message}`),
  };
}

/** A delivery that ended failed without its bookkeeping: records it (dead letter, health), then reports it. */
async function endFailed(event: EventRef, planned: PlannedDelivery, ended: TerminalFields): Promise<DeliveryResult> {
  await recordFailure({
    event,
    endpointId: planned.endpointId,
    ...ended,
    ...(planned.redelivery ? { redelivery: true } : {}),
  });
  return failedResult(planned, ended);
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
function terminalFailure(
  err: ActivityFailure,
  planned: PlannedDelivery,
  /** The attempt known to have run when nothing else tells (the local first attempt, which never heartbeats). */
  lastAttempt?: number,
): { recorded: boolean; input: TerminalFields } {
  const cause = err.cause;
  const windowClosed = err.retryState === 'TIMEOUT';
  const attemptsUsed =
    lastAttempt ?? (err.retryState === 'MAXIMUM_ATTEMPTS_REACHED' ? planned.retryPolicy.maximumAttempts : undefined);
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
