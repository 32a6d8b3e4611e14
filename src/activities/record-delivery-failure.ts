import type { AttemptLogEntry, DeadLetter } from '../domain/delivery-log';
import { truncateError } from '../domain/delivery-outcome';
import type { ErrorCode } from '../domain/errors';
import type { EventRef } from '../domain/event';
import type { EndpointId, EventId, TenantId } from '../domain/ids';
import type { OperationalEvent } from '../domain/operational-event';
import type { Logger } from '../infra/logger';

/**
 * A delivery that failed for good, as the terminal bookkeeping gets it: from the delivery activity when it gives
 * up itself, or from the workflow when Temporal ended the delivery (a timeout, a lost worker, an exception the
 * activity did not shape, the retry window). Ids and short safe texts only: it is stored in workflow history.
 */
export interface RecordDeliveryFailureInput {
  readonly event: EventRef;
  readonly endpointId: EndpointId;
  /** What ended the delivery: a code of the error registry. */
  readonly reason: ErrorCode;
  /** One line for the dead letter; never payload content. */
  readonly message: string;
  /** Attempts made, when known; otherwise taken from the attempt log. */
  readonly attempts?: number;
  readonly statusCode?: number;
  /** Whether the failure counts towards the endpoint's failure streak (not when the fault was the service's). */
  readonly countsAgainstEndpoint: boolean;
  /** Disable the endpoint now: it answered 410 Gone. */
  readonly disable?: 'gone';
  /**
   * Whether the activity already logged the last attempt as failed and counted the delivery's final outcome. When
   * Temporal ended the delivery nobody did: the bookkeeping writes the final entry and counts it.
   */
  readonly attemptLogged: boolean;
  /** An operator retry or replay. */
  readonly redelivery?: boolean;
}

/** When an endpoint is disabled for failing. */
export interface EndpointHealthPolicy {
  /** Consecutive failed deliveries (not attempts) that disable an endpoint. 0 turns the rule off. */
  readonly disableAfterFailures: number;
  /** An endpoint failing without a single success for this long is disabled. 0 turns the rule off. */
  readonly disableAfterMs: number;
}

/** The final outcome of a delivery the bookkeeping counted (the metrics hook's `failed` without a request). */
export interface FinalFailureRecord {
  readonly tenantId: TenantId;
  readonly endpointId: EndpointId;
  readonly eventId: EventId;
  readonly attempt: number;
  readonly outcome: 'failed';
  readonly reason: string;
  readonly durationMs: 0;
  readonly occurredAt: string;
  readonly redelivery?: boolean;
}

/** The I/O the terminal bookkeeping needs. */
export interface FailureBookkeepingDependencies {
  readonly endpoints: {
    setEnabled(tenantId: TenantId, endpointId: EndpointId, enabled: boolean, reason?: string): Promise<unknown>;
  };
  readonly deliveryLog: {
    /** Idempotent per `runId`: see `DeliveryLogStore.recordFailedDelivery`. */
    recordFailedDelivery(
      letter: DeadLetter,
      options: { runId: string; countsAgainstEndpoint: boolean; nowMs: number; finalAttempt?: AttemptLogEntry },
    ): Promise<{ recorded: boolean; streak: { count: number; sinceMs: number } }>;
    resetEndpointFailures(tenantId: TenantId, endpointId: EndpointId): Promise<void>;
    /** The event's attempt log, for the attempt count of a delivery Temporal ended without telling it. */
    attempts?(tenantId: TenantId, eventId: EventId): Promise<readonly AttemptLogEntry[]>;
  };
  readonly operationalEvents: { publish(event: OperationalEvent): Promise<void> };
  readonly health: EndpointHealthPolicy;
  readonly log: Logger;
  readonly now?: () => number;
  /** Called once when the bookkeeping counted a delivery's final outcome (see {@link FinalFailureRecord}). */
  readonly onAttempt?: (record: FinalFailureRecord) => void;
}

/**
 * The terminal bookkeeping of a failed delivery, in one place, whatever ended it: the dead letter (with its
 * reason), the endpoint's health (the failure streak, disabling, the `endpoint.disabled` operational event), the
 * attempt log's final entry and the final-outcome metric when nobody wrote them yet.
 *
 * Idempotent per workflow run: a retry of the bookkeeping (Redis was down, the worker died) writes one dead letter
 * and counts the endpoint's streak once. Disabling is idempotent too; the operational event is at least once (a
 * retry after a crash between disabling and publishing publishes it).
 *
 * Throws when Redis fails, so that its caller (the `recordDeliveryFailure` activity) is retried.
 */
export function createFailureBookkeeping(deps: FailureBookkeepingDependencies) {
  const now = deps.now ?? Date.now;

  return async function recordTerminalFailure(input: RecordDeliveryFailureInput, runId: string): Promise<void> {
    const { event, endpointId } = input;
    const at = now();
    const attempts = input.attempts ?? (await attemptsFromLog(event, endpointId));
    const fields = { tenantId: event.tenantId, eventId: event.eventId, endpointId, reason: input.reason, attempts };
    const letter: DeadLetter = {
      tenantId: event.tenantId,
      eventId: event.eventId,
      eventType: event.eventType,
      occurredAt: event.occurredAt,
      endpointId,
      failedAt: new Date(at).toISOString(),
      attempts,
      lastError: truncateError(input.message),
      reason: input.reason,
      ...(input.statusCode !== undefined ? { lastStatusCode: input.statusCode } : {}),
    };
    const finalAttempt: AttemptLogEntry | undefined = input.attemptLogged
      ? undefined
      : {
          endpointId,
          attempt: attempts,
          at: letter.failedAt,
          outcome: 'failed',
          durationMs: 0,
          error: input.reason,
          ...(input.statusCode !== undefined ? { statusCode: input.statusCode } : {}),
        };
    const { recorded, streak } = await deps.deliveryLog.recordFailedDelivery(letter, {
      runId,
      countsAgainstEndpoint: input.countsAgainstEndpoint && input.disable === undefined,
      nowMs: at,
      ...(finalAttempt ? { finalAttempt } : {}),
    });
    if (recorded) {
      if (!input.attemptLogged) {
        // The delivery ended without the activity's last word: log it like the activity logs a final failure.
        deps.log.error({ ...fields, status: input.statusCode, error: input.message }, 'delivery failed');
        deps.onAttempt?.({
          tenantId: event.tenantId,
          endpointId,
          eventId: event.eventId,
          attempt: attempts,
          outcome: 'failed',
          reason: input.reason,
          durationMs: 0,
          occurredAt: event.occurredAt,
          ...(input.redelivery ? { redelivery: true } : {}),
        });
      }
    } else {
      deps.log.info(fields, 'delivery failure already recorded by this run');
    }

    const disable = disableDecision(input, streak, at);
    if (disable === undefined) return;
    await deps.endpoints.setEnabled(event.tenantId, endpointId, false, disable.reason);
    await deps.deliveryLog.resetEndpointFailures(event.tenantId, endpointId);
    await deps.operationalEvents.publish({
      type: 'endpoint.disabled',
      tenantId: event.tenantId,
      endpointId,
      reason: disable.reason,
      detail: disable.detail,
      at: new Date(at).toISOString(),
    });
  };

  /** The highest attempt the log has for the endpoint, plus the one Temporal ended (it logged nothing). */
  async function attemptsFromLog(event: EventRef, endpointId: EndpointId): Promise<number> {
    const logged = (await deps.deliveryLog.attempts?.(event.tenantId, event.eventId)) ?? [];
    const mine = logged.filter((a) => a.endpointId === endpointId).map((a) => a.attempt);
    return Math.max(0, ...mine) + 1;
  }

  function disableDecision(
    input: RecordDeliveryFailureInput,
    streak: { count: number; sinceMs: number },
    at: number,
  ): { reason: 'gone' | 'failing'; detail: string } | undefined {
    if (input.disable === 'gone') return { reason: 'gone', detail: 'the endpoint answered 410 Gone' };
    if (!input.countsAgainstEndpoint || streak.count === 0) return undefined;
    if (deps.health.disableAfterFailures > 0 && streak.count >= deps.health.disableAfterFailures) {
      return { reason: 'failing', detail: `${streak.count} consecutive failed deliveries` };
    }
    if (deps.health.disableAfterMs > 0 && at - streak.sinceMs >= deps.health.disableAfterMs) {
      return { reason: 'failing', detail: `failing without a success since ${new Date(streak.sinceMs).toISOString()}` };
    }
    return undefined;
  }
}
