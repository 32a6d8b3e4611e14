import { ApplicationFailure, Context } from '@temporalio/activity';
import type { RecordDeliveryFailureInput } from '../../src/activities/record-delivery-failure';
import type {
  Activities,
  DeliverWebhookInput,
  DeliveryAttemptFailureDetails,
  DeliveryAttemptResult,
} from '../../src/activities/deliver-webhook';
import { classifyResponse } from '../../src/domain/classify-response';
import { nextRetryDelayMs } from '../../src/domain/retry-policy';

/**
 * What the receiver of one endpoint does on attempt `n`:
 * - an HTTP status code, decided on like the delivery activity does (the domain's `classifyResponse` and
 *   `nextRetryDelayMs`, the retry window counted from the first attempt);
 * - `skip`: the endpoint was disabled before the attempt;
 * - `throw`: the attempt ends in an exception the activity did not shape (a bug, a lost worker), so Temporal's
 *   own retry policy decides the next attempt;
 * - `hang`: the attempt does not return until {@link ScriptedDelivery.releaseHung} (or the worker shuts down),
 *   then answers 200. It never heartbeats: to the server it looks like a worker that died mid-attempt;
 * - `stall`: the attempt heartbeats (like the real activity while it waits for an answer) but never answers, so
 *   only a timeout or a cancel ends it;
 * - a function: the failure it returns is thrown as is.
 */
export type ReceiverAnswer = number | 'skip' | 'throw' | 'hang' | 'stall' | (() => Error);

/** One attempt as the activity saw it, with Temporal's (skipped) clock. */
export interface AttemptSeen {
  readonly endpointId: string;
  readonly attempt: number;
  /** When the attempt started, in test-server time (which skips). */
  readonly startedAtMs: number;
  /** The wait this attempt asked Temporal for, when it asked for one. */
  readonly nextRetryDelayMs?: number;
}

export interface ScriptedDelivery {
  readonly activities: Activities;
  readonly attempts: AttemptSeen[];
  /** Attempts made for one endpoint, in order. */
  attemptsOf(endpointId: string): AttemptSeen[];
  /** Every call of the terminal-bookkeeping activity, in order (a retried call appears once per try). */
  readonly failuresRecorded: RecordDeliveryFailureInput[];
  /** Lets every hung attempt answer. */
  releaseHung(): void;
  /** Resolves when the endpoint's attempt count reaches `count`. */
  attemptReached(endpointId: string, count: number): Promise<void>;
}

/**
 * A stand-in for the delivery activity with the same contract toward the workflow (result shape, failure
 * types, `details`, `nextRetryDelay`), but a scripted receiver instead of HTTP and stores.
 *
 * @param script the receiver's answer per endpoint and attempt (1-based).
 * @param clock the test server's clock. Activity code runs on the real clock, and the attempt's
 *   `info.currentAttemptScheduledTimestampMs` is, on the test server, when the retry was decided, not when
 *   it ran.
 * @param random the activity's jitter draws, in order; each call takes the next.
 * @param options.bookkeepingFailures how many calls of `recordDeliveryFailure` fail (Redis down) before one works.
 */
export function scriptedDelivery(
  script: Record<string, (attempt: number) => ReceiverAnswer>,
  clock: () => Promise<number>,
  random: () => number = () => 0.5,
  options: { bookkeepingFailures?: number } = {},
): ScriptedDelivery {
  const firstAttemptAt = new Map<string, number>();
  const attempts: AttemptSeen[] = [];
  const waiters: { endpointId: string; count: number; resolve: () => void }[] = [];
  let releaseHung = () => {};
  const hung = new Promise<void>((resolve) => (releaseHung = resolve));

  const record = (seen: AttemptSeen) => {
    attempts.push(seen);
    for (const waiter of [...waiters]) {
      if (waiter.endpointId === seen.endpointId && countOf(seen.endpointId) >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  const countOf = (endpointId: string) => attempts.filter((a) => a.endpointId === endpointId).length;

  async function deliverWebhook(input: DeliverWebhookInput): Promise<DeliveryAttemptResult> {
    const context = Context.current();
    const { info } = context;
    const { endpointId, retryPolicy } = input;
    // The delivery's attempt number, across the hand-over from the local first attempt (as the real activity).
    const attempt = info.attempt + (input.previousAttempts ?? 0);
    const startedAtMs = await clock();
    const seen = { endpointId, attempt, startedAtMs };
    // The real activity counts the window from info.scheduledTimestampMs; here the first attempt's start.
    if (!firstAttemptAt.has(endpointId)) firstAttemptAt.set(endpointId, startedAtMs);
    const windowEndsAt = firstAttemptAt.get(endpointId)! + retryPolicy.retryWindowMs;
    const answerFor = script[endpointId];
    if (!answerFor) throw new Error(`no script for endpoint ${endpointId}`);
    const answer = answerFor(attempt);

    if (answer === 'skip') {
      record(seen);
      return { outcome: 'skipped', attempt, durationMs: 0, reason: 'endpoint_disabled' };
    }
    if (answer === 'throw') {
      record(seen);
      throw new Error('unexpected failure in the activity');
    }
    if (answer === 'hang') {
      record(seen);
      await Promise.race([hung, context.cancelled]);
      return { outcome: 'delivered', attempt, statusCode: 200, durationMs: 3 };
    }
    if (answer === 'stall') {
      record(seen);
      const beat = setInterval(() => (info.isLocal ? undefined : context.heartbeat()), 1_000);
      try {
        await Promise.race([hung, context.cancelled]);
      } finally {
        clearInterval(beat);
      }
      return { outcome: 'delivered', attempt, statusCode: 200, durationMs: 3 };
    }
    if (typeof answer === 'function') {
      record(seen);
      throw answer();
    }

    const statusCode = answer;
    const details: DeliveryAttemptFailureDetails = { attempt, statusCode };
    const classification = classifyResponse({ input: { kind: 'response', statusCode }, policy: retryPolicy });
    switch (classification.outcome) {
      case 'delivered':
        record(seen);
        return { outcome: 'delivered', attempt, statusCode, durationMs: 3 };
      case 'gone':
        record(seen);
        throw ApplicationFailure.create({
          type: 'endpoint_gone',
          message: `HTTP ${statusCode} Gone: endpoint disabled`,
          nonRetryable: true,
          details: [details],
        });
      case 'permanent':
        record(seen);
        throw ApplicationFailure.create({
          type: 'delivery_permanent_failure',
          message: `HTTP ${statusCode} (${classification.reason})`,
          nonRetryable: true,
          details: [details],
        });
      case 'retry': {
        const delay = nextRetryDelayMs(retryPolicy, attempt, random(), classification.retryAfterMs);
        if (delay === undefined || startedAtMs + delay >= windowEndsAt) {
          record(seen);
          throw ApplicationFailure.create({
            type: 'retries_exhausted',
            message: `HTTP ${statusCode} (${classification.reason}); gave up after ${attempt} attempts`,
            nonRetryable: true,
            details: [details],
          });
        }
        record({ ...seen, nextRetryDelayMs: delay });
        throw ApplicationFailure.create({
          type: 'delivery_attempt_failed',
          message: `HTTP ${statusCode} (${classification.reason})`,
          nextRetryDelay: delay,
          details: [{ ...details, nextRetryDelayMs: delay }],
        });
      }
      default: {
        const unreachable: never = classification;
        throw new Error(`unhandled classification ${JSON.stringify(unreachable)}`);
      }
    }
  }

  const failuresRecorded: RecordDeliveryFailureInput[] = [];
  let bookkeepingFailures = options.bookkeepingFailures ?? 0;
  async function recordDeliveryFailure(input: RecordDeliveryFailureInput): Promise<void> {
    failuresRecorded.push(input);
    if (bookkeepingFailures > 0) {
      bookkeepingFailures -= 1;
      throw new Error('Redis unreachable');
    }
  }

  return {
    activities: { deliverWebhook, recordDeliveryFailure },
    failuresRecorded,
    attempts,
    releaseHung: () => releaseHung(),
    attemptsOf: (endpointId) => attempts.filter((a) => a.endpointId === endpointId),
    attemptReached: (endpointId, count) =>
      countOf(endpointId) >= count
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ endpointId, count, resolve })),
  };
}

/** Draws from `values` in order, then repeats the last one. */
export function drawsFrom(values: readonly number[]): () => number {
  let next = 0;
  return () => values[Math.min(next++, values.length - 1)] ?? 0.5;
}
