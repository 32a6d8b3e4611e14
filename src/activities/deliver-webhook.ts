import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { ApplicationFailureCategory } from '@temporalio/common';
import type { RequestBuilder, RequestSigning, SignedRequest } from '../delivery/signed-request';
import { signRequest, unixSeconds } from '../delivery/signed-request';
import type { DeliveryClassification } from '../domain/classify-response';
import { classifyResponse } from '../domain/classify-response';
import type { AttemptLogEntry } from '../domain/delivery-log';
import { MAX_RESPONSE_BODY_EXCERPT_LENGTH } from '../domain/delivery-log';
import { truncateError } from '../domain/delivery-outcome';
import type { Endpoint } from '../domain/endpoint';
import { DEFAULT_SIGNATURE_VERSIONS } from '../domain/endpoint';
import type { EndpointCredentials } from '../domain/endpoint-auth';
import type { ErrorCode } from '../domain/errors';
import { InternalError, TransientAttemptError, UnprocessableEventError, WssError } from '../domain/errors';
import type { EventEnvelope, EventRef } from '../domain/event';
import type { EndpointId, EventId, TenantId } from '../domain/ids';
import type {
  FlowControlPort,
  FlowControlSettings,
  FlowEndpoint,
  FlowState,
  GateRefusal,
  ThrottleReason,
  ThrottleResume,
  ThrottledAttempt,
} from '../domain/flow-control';
import {
  LEASE_RENEW_MS,
  THROTTLED_FAILURE_TYPE,
  flowControlSettings,
  flowSignal,
  throttleWaitMs,
} from '../domain/flow-control';
import { parseRetryAfter } from '../domain/retry-after';
import type { ResolvedRetryPolicy } from '../domain/retry-policy';
import { nextRetryDelayMs } from '../domain/retry-policy';
import { ContentMatcherCache, findRoutingMiss } from '../domain/routing';
import type { HttpClient, HttpResponseSummary } from '../infra/http-client';
import type { Logger } from '../infra/logger';
import { errorLogFields as errorFields, isBuiltInError } from '../infra/logger';
import type { FailureBookkeepingDependencies, RecordDeliveryFailureInput } from './record-delivery-failure';
import { createFailureBookkeeping } from './record-delivery-failure';

export type { EndpointHealthPolicy, RecordDeliveryFailureInput } from './record-delivery-failure';

export interface DeliverWebhookInput {
  readonly event: EventRef;
  readonly endpointId: EndpointId;
  readonly retryPolicy: ResolvedRetryPolicy;
  /** Set on operator retries and replays, whose success clears the endpoint's dead letter for this event. */
  readonly redelivery?: boolean;
  /**
   * Attempts made before this activity's first one: the workflow's local first attempt. Added to Temporal's count,
   * so attempt numbers, the schedule's next wait and `maximumAttempts` run on across the hand-over. Default 0.
   */
  readonly previousAttempts?: number;
  /**
   * When the delivery's first attempt was scheduled (epoch ms): the retry window counts from it. Default: this
   * activity's own schedule time, which is the first attempt's when no attempt ran before it.
   */
  readonly firstAttemptAtMs?: number;
  /** Set when this runs an attempt again after a flow control wait (see domain/flow-control.ts). */
  readonly throttle?: ThrottleResume;
}

/** What a finished attempt returns to the workflow. Small: it is stored in history. */
export interface DeliveryAttemptResult {
  readonly outcome: 'delivered' | 'skipped';
  readonly attempt: number;
  readonly statusCode?: number;
  readonly durationMs: number;
  /** Why a delivery was skipped: `endpoint_deleted`, `endpoint_disabled` or `unsubscribed`. */
  readonly reason?: string;
}

/** Carried in `ApplicationFailure.details` so the workflow can report the last status without parsing text. */
export interface DeliveryAttemptFailureDetails {
  readonly attempt: number;
  readonly statusCode?: number;
  /**
   * The wait before the next attempt this attempt asked for (the schedule's, or `Retry-After`). Temporal reads it
   * from `nextRetryDelay`; the workflow, which does not see that field, reads it here to start the regular activity
   * after its local first attempt.
   */
  readonly nextRetryDelayMs?: number;
  /**
   * Set when the activity gave up (a non-retryable failure): whether its terminal bookkeeping went through. When it
   * did not (Redis down), the workflow hands the failure to `recordDeliveryFailure`, which is retried until it does.
   */
  readonly terminal?: {
    readonly recorded: boolean;
    readonly countsAgainstEndpoint: boolean;
    readonly disable?: 'gone';
  };
}

/**
 * How often a running attempt heartbeats. The workflow's heartbeat timeout is a few times this, so a worker that
 * dies mid-attempt is noticed in seconds, not at the end of the attempt timeout.
 */
export const HEARTBEAT_INTERVAL_MS = 5_000;

/** The details of the activity's heartbeats (Temporal hands the last one to the workflow with a timeout). */
export interface DeliveryHeartbeat {
  readonly attempt: number;
}

/** The I/O the delivery activity needs; each piece is built once per worker. */
export interface DeliveryDependencies extends FailureBookkeepingDependencies {
  readonly endpoints: FailureBookkeepingDependencies['endpoints'] & {
    getForDelivery(
      tenantId: TenantId,
      endpointId: EndpointId,
    ): Promise<
      | {
          endpoint: Endpoint;
          signingSecrets(): string[];
          /** The endpoint's decrypted authentication, if it has one (see `PostOptions.auth`). */
          credentials?(): EndpointCredentials | undefined;
        }
      | undefined
    >;
  };
  /**
   * The stored event data, read to check the endpoint's content filter again before each attempt. The worker
   * always wires it; without it only the event types are checked again (kept optional for harnesses such as the
   * benchmark's worker, whose endpoints have no filters).
   */
  readonly payloads?: { get(tenantId: TenantId, eventId: EventId): Promise<string | undefined> };
  /** The tenant's ed25519 keys, read only for endpoints that sign with `v1a` (absent: such endpoints fail to sign). */
  readonly signingKeys?: {
    activeSigningKeys(tenantId: TenantId): Promise<NonNullable<RequestSigning['signingKeys']>>;
  };
  readonly requests: Pick<RequestBuilder, 'build'>;
  readonly http: Pick<HttpClient, 'post'>;
  readonly deliveryLog: FailureBookkeepingDependencies['deliveryLog'] & {
    recordAttempt(tenantId: TenantId, eventId: EventId, entry: AttemptLogEntry): Promise<void>;
    removeDeadLetter(tenantId: TenantId, eventId: EventId, endpointId: EndpointId): Promise<void>;
  };
  readonly log: Logger;
  /**
   * Aborted (reason: a `CancelledFailure('WORKER_SHUTDOWN')`) when the worker's shutdown grace is over. The SDK cancels
   * regular activities itself then, but not a local first attempt, which would hold the drain until the receiver
   * answers: this cuts it off the same way, as a `worker_shutdown` retry.
   */
  readonly workerShutdown?: AbortSignal;
  /** Clock and randomness, injectable for tests. */
  readonly now?: () => number;
  readonly random?: () => number;
  /** Called after every attempt: the hook for metrics counters. */
  readonly onAttempt?: (record: AttemptRecord) => void;
  // --- Flow control (issue 17) ---
  /** The shared gate of endpoints with a rateLimit or maxInFlight; without it every attempt goes straight out. */
  readonly flowControl?: FlowControlPort;
  /** Called when the gate held an attempt back, and with the endpoint's state after each gated request. */
  readonly onThrottle?: (record: { tenantId: TenantId; endpointId: EndpointId; reason: ThrottleReason }) => void;
  readonly onFlowState?: (target: FlowEndpoint, state: FlowState) => void;
  // --- end flow control ---
}

export interface AttemptRecord {
  readonly tenantId: TenantId;
  readonly endpointId: EndpointId;
  readonly eventId: EventId;
  readonly attempt: number;
  readonly outcome: AttemptLogEntry['outcome'];
  readonly reason?: string;
  readonly statusCode?: number;
  readonly durationMs: number;
  /** The event's time: the metrics measure delivery latency from it. */
  readonly occurredAt: string;
  /** Set on operator retries and replays. */
  readonly redelivery?: boolean;
  /**
   * Present when an HTTP request went out (or was tried: a refused connection counts): its status, or the
   * transport reason, and the time from sending to the answer.
   */
  readonly sent?: { readonly statusCode?: number; readonly reason?: string; readonly durationMs: number };
}

/** A final failure: what gets recorded and thrown as a non-retryable ApplicationFailure. */
interface FinalFailure {
  readonly type: ErrorCode;
  readonly message: string;
  readonly statusCode?: number;
  /** What the receiver's answer body began with; goes to the attempt log only (see {@link describe}). */
  readonly responseBodyExcerpt?: string;
  /** Why the endpoint must be disabled now (410), if it must. */
  readonly disable?: 'gone';
  /**
   * Whether the failure counts towards the endpoint's failure streak. Default true; false when the receiver had
   * no part in it (an unprocessable event, an internal error, our own infrastructure).
   */
  readonly countsAgainstEndpoint?: boolean;
}

/** The steps of an attempt before anything is sent; an unexpected error is judged by the step it came from. */
type AttemptStep = 'load_endpoint' | 'check_subscription' | 'build_request' | 'sign' | 'flow_control';

/** Wraps an unexpected error with the step that threw it. */
class AttemptStepError extends Error {
  constructor(
    readonly step: AttemptStep,
    override readonly cause: unknown,
  ) {
    super(`attempt step ${step} failed`);
  }
}

const STEP_TEXT: Readonly<Record<AttemptStep, string>> = {
  load_endpoint: 'loading the endpoint',
  check_subscription: "checking the endpoint's subscription",
  build_request: 'building the request',
  sign: 'signing the request',
  flow_control: "taking a slot from the endpoint's flow control",
};

/**
 * Builds the activities with their dependencies. The delivery activity makes exactly one HTTP attempt per call;
 * Temporal schedules the retries, so a worker crash mid-attempt is retried like any other failure.
 *
 * Two rules keep every attempt accounted for:
 * - **An answer that arrived decides.** Once the receiver has answered, the outcome follows from its status.
 *   Recording the attempt, the dead letter and the endpoint's health is best effort: a failure there (Redis
 *   down) is logged as `could not record …` and never changes the outcome, because throwing after a 2xx would
 *   make Temporal send the event again, and after a 410 would send to an endpoint that said it is gone.
 * - **No error goes unrecorded.** An unexpected error before sending is recorded as an attempt with its reason
 *   and logged. One that recurs on every attempt (a built-in `RangeError`, `TypeError`, `SyntaxError`, … from
 *   processing the event, or any error from the pure signing step) fails the delivery at once as
 *   `unprocessable_event` or `internal_error`, with a dead letter. Anything else (Redis unreachable) is
 *   `transient_error` and retried on the delivery's schedule. Reasons name the error's class and step, never its
 *   message, which may quote the payload.
 */
export function createActivities(deps: DeliveryDependencies) {
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const recordTerminalFailure = createFailureBookkeeping(deps);
  const matchers = new ContentMatcherCache((endpoint, err) =>
    deps.log.error(
      { tenantId: endpoint.tenantId, endpointId: endpoint.id, err: err.message },
      'stored filter does not compile; endpoint gets no events',
    ),
  );

  /**
   * One attempt, heartbeating while it runs. The heartbeat carries the attempt number, so when Temporal ends the
   * attempt (a timeout) the workflow still knows which attempt it was.
   */
  async function deliverWebhook(input: DeliverWebhookInput): Promise<DeliveryAttemptResult> {
    const context = Context.current();
    // A local activity cannot heartbeat: the worker that runs it also holds its workflow task.
    if (context.info.isLocal) return attemptDelivery(input);
    const attempt = attemptNumber(input, context.info);
    const beat = () => context.heartbeat({ attempt } satisfies DeliveryHeartbeat);
    beat();
    const timer = setInterval(beat, HEARTBEAT_INTERVAL_MS);
    const onExit: (() => Promise<void>)[] = [];
    try {
      return await attemptDelivery(input, onExit);
    } finally {
      clearInterval(timer);
      // Flow control: a lease still held (the attempt ended before its answer was judged) is freed.
      for (const exit of onExit) await exit();
    }
  }

  async function attemptDelivery(
    input: DeliverWebhookInput,
    onExit: (() => Promise<void>)[] = [],
  ): Promise<DeliveryAttemptResult> {
    const { event, endpointId, retryPolicy } = input;
    const info = Context.current().info;
    const attempt = attemptNumber(input, info);
    const fields = { tenantId: event.tenantId, eventId: event.eventId, endpointId, attempt };
    const started = now();
    let sent: AttemptRecord['sent'];

    /** Runs bookkeeping that must not change an outcome already decided; a failure is logged and swallowed. */
    const bestEffort = async (what: string, work: () => Promise<unknown> | unknown, outcome: string) => {
      try {
        await work();
      } catch (err) {
        deps.log.error({ ...fields, outcome, ...errorFields(err) }, `could not record ${what}`);
      }
    };

    const finish = async (
      outcome: AttemptLogEntry['outcome'],
      extra: { statusCode?: number; reason?: string },
      responseBodyExcerpt?: string,
    ) => {
      const durationMs = now() - started;
      const entry: AttemptLogEntry = {
        endpointId,
        attempt,
        at: new Date(now()).toISOString(),
        outcome,
        durationMs,
        ...(extra.statusCode !== undefined ? { statusCode: extra.statusCode } : {}),
        ...(extra.reason !== undefined ? { error: extra.reason } : {}),
        ...(responseBodyExcerpt !== undefined ? { responseBodyExcerpt } : {}),
      };
      await bestEffort(
        'the attempt',
        () => deps.deliveryLog.recordAttempt(event.tenantId, event.eventId, entry),
        outcome,
      );
      await bestEffort(
        'the attempt metrics',
        () =>
          deps.onAttempt?.({
            ...fields,
            outcome,
            durationMs,
            ...extra,
            occurredAt: event.occurredAt,
            ...(input.redelivery ? { redelivery: true } : {}),
            ...(sent !== undefined ? { sent } : {}),
          }),
        outcome,
      );
      return durationMs;
    };

    const failFinally = async (failure: FinalFailure): Promise<never> => {
      await finish(
        'failed',
        {
          ...(failure.statusCode !== undefined ? { statusCode: failure.statusCode } : {}),
          reason: failure.type,
        },
        failure.responseBodyExcerpt,
      );
      deps.log.error(
        { ...fields, status: failure.statusCode, reason: failure.type, error: failure.message },
        'delivery failed',
      );
      const countsAgainstEndpoint = failure.countsAgainstEndpoint !== false;
      const terminal: RecordDeliveryFailureInput = {
        event,
        endpointId,
        reason: failure.type,
        message: failure.message,
        attempts: attempt,
        ...(failure.statusCode !== undefined ? { statusCode: failure.statusCode } : {}),
        countsAgainstEndpoint,
        ...(failure.disable ? { disable: failure.disable } : {}),
        attemptLogged: true,
        ...(input.redelivery ? { redelivery: true } : {}),
      };
      // The same bookkeeping the workflow runs for deliveries Temporal ends. Here it is best effort: when it fails,
      // the details say so and the workflow runs it again as an activity, retried until Redis answers.
      let recorded = false;
      await bestEffort(
        'the dead letter and endpoint health',
        async () => {
          await recordTerminalFailure(terminal, runIdOf(info));
          recorded = true;
        },
        'failed',
      );
      throw ApplicationFailure.create({
        type: failure.type,
        message: failure.message,
        nonRetryable: true,
        details: [
          {
            ...failureDetails(attempt, failure.statusCode),
            terminal: { recorded, countsAgainstEndpoint, ...(failure.disable ? { disable: failure.disable } : {}) },
          } satisfies DeliveryAttemptFailureDetails,
        ],
      });
    };

    const skip = async (reason: string): Promise<DeliveryAttemptResult> => {
      const durationMs = await finish('skipped', { reason });
      deps.log.info({ ...fields, reason }, 'delivery skipped');
      return { outcome: 'skipped', attempt, durationMs, reason };
    };

    /** Fails the attempt for an error that no step expected; see {@link createActivities}. */
    const failUnexpected = async (err: AttemptStepError): Promise<never> => {
      const cause = err.cause;
      // A WssError knows whether it is permanent, and its message is safe to show by contract.
      if (cause instanceof WssError && cause.permanent) {
        // The service's own faults (e.g. a SigningError: a stored secret unusable for the scheme) are not the
        // receiver's.
        const ours = cause instanceof InternalError || cause instanceof UnprocessableEventError;
        return failFinally({
          type: cause.code,
          message: cause.message,
          ...(ours ? { countsAgainstEndpoint: false } : {}),
        });
      }
      const safe = `${errorName(cause)} while ${STEP_TEXT[err.step]}`;
      if (isDeterministic(cause, err.step)) {
        const error =
          err.step === 'check_subscription' || err.step === 'build_request'
            ? new UnprocessableEventError(safe)
            : new InternalError(safe);
        deps.log.error(
          { ...fields, step: err.step, ...errorFields(cause) },
          'attempt failed with an error that recurs on every attempt',
        );
        return failFinally({ type: error.code, message: error.message, countsAgainstEndpoint: false });
      }
      const error = new TransientAttemptError(safe);
      deps.log.warn({ ...fields, step: err.step, ...errorFields(cause) }, 'attempt failed before sending');
      return retryOrGiveUp(error.code, error.message, undefined, undefined, undefined, false);
    };

    /** Schedules the next attempt, or fails finally when the policy or the retry window is spent. */
    const retryOrGiveUp = async (
      reason: string,
      message: string,
      statusCode: number | undefined,
      retryAfterMs: number | undefined,
      responseBodyExcerpt: string | undefined,
      countsAgainstEndpoint = true,
    ): Promise<never> => {
      const status = statusCode !== undefined ? { statusCode } : {};
      const delay = nextRetryDelayMs(retryPolicy, attempt, random(), retryAfterMs);
      // The retry window counts from the first attempt; an attempt that would start after it never runs.
      const windowEndsAt =
        input.throttle?.windowEndsAtMs ??
        (input.firstAttemptAtMs ?? info.scheduledTimestampMs) + retryPolicy.retryWindowMs;
      if (delay === undefined || now() + delay >= windowEndsAt) {
        return failFinally({
          type: 'retries_exhausted',
          message: `${message}; gave up after ${attempt} attempt${attempt === 1 ? '' : 's'}`,
          ...status,
          ...(responseBodyExcerpt !== undefined ? { responseBodyExcerpt } : {}),
          countsAgainstEndpoint,
        });
      }
      const durationMs = await finish('retry', { ...status, reason }, responseBodyExcerpt);
      deps.log.warn(
        { ...fields, status: statusCode, reason, durationMs, nextRetryMs: delay },
        'delivery attempt failed; will retry',
      );
      const type = reason === 'transient_error' ? 'transient_error' : 'delivery_attempt_failed';
      throw ApplicationFailure.create({
        type,
        message,
        nextRetryDelay: delay,
        details: [{ ...failureDetails(attempt, statusCode), nextRetryDelayMs: delay }],
      });
    };

    let prepared: Awaited<ReturnType<typeof prepare>>;
    try {
      prepared = await prepare(event, endpointId);
    } catch (err) {
      if (err instanceof AttemptStepError) return failUnexpected(err);
      throw err;
    }
    if ('skipped' in prepared) return skip(prepared.skipped);
    const { endpoint, request, auth } = prepared;

    // Flow control: only endpoints that configured it pay the round trip to the shared gate.
    const settings = deps.flowControl !== undefined ? flowControlSettings(endpoint) : undefined;
    const target: FlowEndpoint = { tenantId: event.tenantId, endpointId };
    let gate: { port: FlowControlPort; settings: FlowControlSettings; lease?: string } | undefined;
    if (deps.flowControl !== undefined && settings !== undefined) {
      const port = deps.flowControl;
      let passed: Awaited<ReturnType<typeof passGate>>;
      try {
        // Redis unreachable: a `transient_error` attempt, retried on the schedule like a failed endpoint load.
        passed = await step('flow_control', () => passGate(port, settings, target, input, attempt));
      } catch (err) {
        if (err instanceof AttemptStepError) return failUnexpected(err);
        throw err;
      }
      if ('outcome' in passed) throw throttledFailure(passed);
      gate = { port: deps.flowControl, settings, ...(passed.lease !== undefined ? { lease: passed.lease } : {}) };
    }
    const renewal =
      gate?.lease !== undefined
        ? setInterval(() => {
            const lease = gate?.lease;
            if (lease !== undefined) void deps.flowControl?.renew(target, lease).catch(() => undefined);
          }, LEASE_RENEW_MS)
        : undefined;
    /** Frees the lease and feeds the answer to AIMD and the pause, before anything else happens with it. */
    const releaseGate = async (signal: ReturnType<typeof flowSignal>, retryAfterMs: number | undefined) => {
      if (renewal !== undefined) clearInterval(renewal);
      if (gate === undefined) return;
      const held = gate;
      gate = undefined;
      await bestEffort(
        'the flow control state',
        async () => {
          const state = await held.port.release(target, held.settings, held.lease, signal, retryAfterMs ?? 0);
          deps.onFlowState?.(target, state);
        },
        signal,
      );
    };
    onExit.push(() => releaseGate('none', undefined));

    let response: HttpResponseSummary | undefined;
    let classification: DeliveryClassification;
    const sendStarted = now();
    // Aborted when the worker's shutdown grace is over: the attempt is handed back to Temporal, see below.
    const context = Context.current();
    const cancellation =
      context.info.isLocal && deps.workerShutdown !== undefined
        ? AbortSignal.any([context.cancellationSignal, deps.workerShutdown])
        : context.cancellationSignal;
    try {
      response = await deps.http.post(endpoint.url, { ...request.headers }, request.body, {
        endpointId,
        signal: cancellation,
        ...(auth !== undefined ? { auth } : {}),
      });
      const retryAfter = response.headers['retry-after'];
      classification = classifyResponse({
        input: {
          kind: 'response',
          statusCode: response.statusCode,
          retryAfterMs: parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, now()),
        },
        policy: retryPolicy,
      });
    } catch (err) {
      if (cancelledByShutdown(cancellation)) {
        // No answer, and not the receiver's fault: a retryable failure (never a cancellation, which would end the
        // delivery) that Temporal runs again on the next worker. No dead letter, no strike against the endpoint.
        sent = { reason: 'worker_shutdown', durationMs: now() - sendStarted };
        const durationMs = await finish('retry', { reason: 'worker_shutdown' });
        deps.log.warn(
          { ...fields, reason: 'worker_shutdown', durationMs },
          'attempt cut off: the worker shut down before the receiver answered; Temporal retries it',
        );
        throw ApplicationFailure.create({
          type: 'worker_shutdown',
          message: 'the worker shut down before the receiver answered',
          details: [failureDetails(attempt, undefined)],
        });
      }
      if (timedOutByTemporal(cancellation)) {
        // Temporal ended this attempt at its deadline (a local first attempt is told at once) and the workflow records
        // what that means; a final outcome written here would race its record. An attempt with more to come is logged
        // like any failed one.
        sent = { reason: 'attempt_timed_out', durationMs: now() - sendStarted };
        if (attempt < retryPolicy.maximumAttempts) await finish('retry', { reason: 'attempt_timed_out' });
        deps.log.warn({ ...fields, reason: 'attempt_timed_out' }, 'attempt cut off at its deadline by Temporal');
        throw cancellation.reason;
      }
      classification = classifyTransportError(err, retryPolicy);
    }
    await releaseGate(
      flowSignal(classification),
      classification.outcome === 'retry' ? classification.retryAfterMs : undefined,
    );
    const statusCode = response?.statusCode;
    const status = statusCode !== undefined ? { statusCode } : {};
    const excerpt = classification.outcome === 'delivered' ? undefined : responseBodyExcerpt(response);
    const answered = { ...status, ...(excerpt !== undefined ? { responseBodyExcerpt: excerpt } : {}) };
    const notSent =
      'reason' in classification && ['destination_not_allowed', 'invalid_request'].includes(classification.reason);
    if (!notSent) {
      sent = {
        ...status,
        ...('reason' in classification ? { reason: classification.reason } : {}),
        durationMs: now() - sendStarted,
      };
    }

    switch (classification.outcome) {
      case 'delivered': {
        const durationMs = await finish('delivered', status); // also ends the endpoint's failure streak
        if (input.redelivery) {
          await bestEffort(
            'the cleared dead letter',
            () => deps.deliveryLog.removeDeadLetter(event.tenantId, event.eventId, endpointId),
            'delivered',
          );
        }
        deps.log.info(
          {
            ...fields,
            status: statusCode,
            durationMs,
            ...(response?.bodyIncomplete ? { bodyIncomplete: response.bodyIncomplete } : {}),
          },
          'delivery succeeded',
        );
        return { outcome: 'delivered', attempt, durationMs, ...status };
      }
      case 'gone':
        return failFinally({
          type: 'endpoint_gone',
          message: `HTTP ${statusCode ?? 410} Gone: endpoint disabled`,
          ...answered,
          disable: 'gone',
        });
      case 'permanent':
        return failFinally({
          type:
            classification.reason === 'destination_not_allowed' || classification.reason === 'invalid_request'
              ? classification.reason
              : 'delivery_permanent_failure',
          message: describe(classification.reason, statusCode),
          ...answered,
        });
      case 'retry':
        return retryOrGiveUp(
          classification.reason,
          describe(classification.reason, statusCode),
          statusCode,
          classification.retryAfterMs,
          excerpt,
        );
      default: {
        const unreachable: never = classification;
        throw new Error(`unhandled classification ${JSON.stringify(unreachable)}`);
      }
    }
  }

  /**
   * The shared gate before sending. Passed: the attempt waits for its booked slot here (under a second) and goes.
   * Refused: it returns `throttled` with a wait, which the workflow spends on a durable timer before running the
   * attempt again. A throttle is not an attempt: nothing is logged against the event or the endpoint.
   */
  async function passGate(
    port: FlowControlPort,
    settings: FlowControlSettings,
    target: FlowEndpoint,
    input: DeliverWebhookInput,
    attempt: number,
  ): Promise<{ lease?: string } | ThrottledAttempt> {
    const throttled = (refusal: GateRefusal & { ticket: number }): ThrottledAttempt => {
      const throttles = (input.throttle?.throttles ?? 0) + 1;
      deps.onThrottle?.({ ...target, reason: refusal.reason });
      return {
        outcome: 'throttled',
        reason: refusal.reason,
        waitMs: throttleWaitMs(refusal, throttles - 1, random()),
        attemptsBefore: attempt - 1,
        ticket: refusal.ticket,
        throttles,
      };
    };
    const answer = await port.take(target, settings, input.throttle?.ticket ?? 0);
    if (!answer.admitted) return throttled(answer);
    if (answer.delayMs > 0) {
      await sleepUnlessCancelled(answer.delayMs, Context.current().cancellationSignal);
      // A pause may have begun while this attempt waited for its slot: the receiver asked for quiet, so the booked
      // slot (and the lease) is given up.
      const pausedMs = settings.adaptive ? await port.pauseRemainingMs(target) : 0;
      if (pausedMs > 0) {
        await port.release(target, settings, answer.lease, 'none', 0);
        return throttled({ reason: 'paused', minWaitMs: pausedMs, ahead: 0, ticket: input.throttle?.ticket ?? 0 });
      }
    }
    return answer.lease !== undefined ? { lease: answer.lease } : {};
  }

  /**
   * Everything before sending: the endpoint as it is now, its subscription, the request and its signature, the
   * last three through the same code as the API's dry run. Permanent `WssError`s from building (a failed
   * transform, an expired payload) and every unexpected error come out as an {@link AttemptStepError} naming the
   * step.
   */
  async function prepare(
    event: EventRef,
    endpointId: EndpointId,
  ): Promise<{ endpoint: Endpoint; request: SignedRequest; auth?: EndpointCredentials } | { skipped: string }> {
    const loaded = await step('load_endpoint', () => deps.endpoints.getForDelivery(event.tenantId, endpointId));
    const endpoint = loaded?.endpoint;
    if (!loaded || !endpoint) return { skipped: 'endpoint_deleted' };
    const miss = await step('check_subscription', () =>
      findRoutingMiss(
        endpoint,
        event.eventType,
        (e) => matchers.matcherFor(e),
        () => storedEnvelope(event),
      ),
    );
    if (miss === 'endpoint_disabled') return { skipped: 'endpoint_disabled' };
    if (miss !== undefined) return { skipped: 'unsubscribed' };
    const unsigned = await step('build_request', () => deps.requests.build(event, endpoint));
    const versions = endpoint.signatureVersions ?? DEFAULT_SIGNATURE_VERSIONS;
    const signingKeys = versions.includes('v1a')
      ? await step('load_endpoint', async () => deps.signingKeys?.activeSigningKeys(event.tenantId))
      : undefined;
    const request = await step('sign', () =>
      signRequest(unsigned, {
        scheme: endpoint.signatureScheme,
        secrets: versions.includes('v1') ? loaded.signingSecrets() : [],
        // Taken now, per attempt: a retry hours later must not be rejected by the receiver's timestamp window.
        timestamp: unixSeconds(now()),
        versions,
        ...(signingKeys !== undefined ? { signingKeys } : {}),
      }),
    );
    const auth = await step('sign', () => loaded.credentials?.());
    return { endpoint, request, ...(auth !== undefined ? { auth } : {}) };
  }

  /**
   * The stored event, for a content filter to check again. Loaded only for an endpoint with a filter; when it is
   * no longer stored, the build step reports that (permanently).
   */
  async function storedEnvelope(event: EventRef): Promise<EventEnvelope | undefined> {
    const dataJson = await deps.payloads?.get(event.tenantId, event.eventId);
    if (dataJson === undefined) return undefined;
    return {
      id: event.eventId,
      type: event.eventType,
      tenant: event.tenantId,
      occurredAt: event.occurredAt,
      data: JSON.parse(dataJson) as unknown,
    };
  }

  /**
   * The terminal bookkeeping of a delivery Temporal ended (or whose give-up could not record itself): the workflow
   * calls it with its own retry policy, and it is idempotent per workflow run. See {@link createFailureBookkeeping}.
   */
  async function recordDeliveryFailure(input: RecordDeliveryFailureInput): Promise<void> {
    await recordTerminalFailure(input, runIdOf(Context.current().info));
  }

  return { deliverWebhook, recordDeliveryFailure };
}

export type Activities = ReturnType<typeof createActivities>;

/**
 * The delivery's attempt number: Temporal's count of this activity's attempts, after those made before it (the local
 * first attempt, or the attempts before a flow control wait).
 */
function attemptNumber(input: DeliverWebhookInput, info: Context['info']): number {
  return info.attempt + (input.throttle?.attemptsBefore ?? input.previousAttempts ?? 0);
}

/**
 * A throttled attempt ends its activity with this non-retryable, benign failure (no warning in the worker's log):
 * the workflow sleeps `waitMs` on a durable timer and runs the attempt again as a new activity. A failure rather
 * than a result keeps the activity's result type what every caller expects.
 */
function throttledFailure(throttled: ThrottledAttempt): ApplicationFailure {
  return ApplicationFailure.create({
    type: THROTTLED_FAILURE_TYPE,
    message: `endpoint flow control (${throttled.reason}): waiting ${throttled.waitMs} ms`,
    nonRetryable: true,
    category: ApplicationFailureCategory.BENIGN,
    details: [throttled],
  });
}

/** Resolves after `ms`, or at once when the attempt is cancelled (a shutdown): the send then fails as usual. */
function sleepUnlessCancelled(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The workflow run an activity belongs to: the bookkeeping's idempotency key, with the event and endpoint. */
function runIdOf(info: Context['info']): string {
  return info.workflowExecution?.runId ?? info.activityId;
}

async function step<T>(name: AttemptStep, work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw new AttemptStepError(name, err);
  }
}

/**
 * Errors that will recur on every attempt: JavaScript's own error classes come from code and data, never from
 * I/O, and the signing step is pure, so whatever it throws it throws again.
 */
function isDeterministic(err: unknown, step: AttemptStep): boolean {
  return step === 'sign' || isBuiltInError(err);
}

/** The worker cancelled the attempt because its shutdown grace (WSS_SHUTDOWN_GRACE_MS) is over. */
function cancelledByShutdown(signal: AbortSignal): boolean {
  return signal.aborted && signal.reason instanceof CancelledFailure && signal.reason.message === 'WORKER_SHUTDOWN';
}

/** Temporal cancelled the attempt because its start-to-close or schedule-to-close deadline passed. */
function timedOutByTemporal(signal: AbortSignal): boolean {
  return signal.aborted && signal.reason instanceof CancelledFailure && signal.reason.message === 'TIMED_OUT';
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}

function classifyTransportError(err: unknown, policy: ResolvedRetryPolicy): DeliveryClassification {
  if (err instanceof WssError && err.code === 'destination_not_allowed') {
    return classifyResponse({ input: { kind: 'blocked' }, policy });
  }
  const causeCode = err instanceof WssError && 'causeCode' in err ? String(err.causeCode) : errorCode(err);
  return classifyResponse({ input: { kind: 'transport', causeCode }, policy });
}

function errorCode(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return 'unknown';
}

function failureDetails(attempt: number, statusCode: number | undefined): DeliveryAttemptFailureDetails {
  return statusCode === undefined ? { attempt } : { attempt, statusCode };
}

/**
 * `HTTP 503 (http_503)`, or the transport reason. Never any of the answer's body: receivers often echo the
 * request (validation errors do), and this text becomes the failure message in Temporal history, the log lines
 * and the dead letter's `lastError`. The body goes to the attempt log only ({@link responseBodyExcerpt}).
 */
function describe(reason: string, statusCode: number | undefined): string {
  return statusCode === undefined ? reason : `HTTP ${statusCode} (${reason})`;
}

/**
 * The start of the answer body for the tenant's attempt log, cut at {@link MAX_RESPONSE_BODY_EXCERPT_LENGTH};
 * undefined when there was no answer or it had no body.
 */
function responseBodyExcerpt(response: HttpResponseSummary | undefined): string | undefined {
  const body = response?.bodySnippet;
  if (body === undefined || body.length === 0) return undefined;
  // A body the client stopped reading at its size cap is marked as cut too.
  return truncateError(response?.bodyTruncated ? `${body}…` : body, MAX_RESPONSE_BODY_EXCERPT_LENGTH);
}
