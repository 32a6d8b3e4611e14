import { ApplicationFailure, Context } from '@temporalio/activity';
import type { DeliveryClassification } from '../domain/classify-response';
import { classifyResponse } from '../domain/classify-response';
import { truncateError } from '../domain/delivery-outcome';
import type { Endpoint } from '../domain/endpoint';
import { WssError } from '../domain/errors';
import type { EventRef } from '../domain/event';
import { parseRetryAfter } from '../domain/retry-after';
import type { ResolvedRetryPolicy } from '../domain/retry-policy';
import { nextRetryDelayMs } from '../domain/retry-policy';
import type { HttpClient, HttpResponseSummary } from '../infra/http-client';
import type { Logger } from '../infra/logger';
import { buildSignatureHeaders } from '../security/signature';
import type { AttemptLogEntry, DeadLetter } from '../store/delivery-log-store';
import type { OperationalEvent } from '../store/operational-events';
import type { RequestBuilder } from './request-builder';

export interface DeliverWebhookInput {
  readonly event: EventRef;
  readonly endpointId: string;
  readonly retryPolicy: ResolvedRetryPolicy;
  /** Set on operator retries and replays, whose success clears the endpoint's dead letter for this event. */
  readonly redelivery?: boolean;
}

/** What a finished attempt returns to the workflow. Small: it is stored in history. */
export interface DeliveryAttemptResult {
  readonly outcome: 'delivered' | 'skipped';
  readonly attempt: number;
  readonly statusCode?: number;
  readonly durationMs: number;
  /** Why a delivery was skipped. */
  readonly reason?: string;
}

/** Carried in `ApplicationFailure.details` so the workflow can report the last status without parsing text. */
export interface DeliveryAttemptFailureDetails {
  readonly attempt: number;
  readonly statusCode?: number;
}

/** When an endpoint is disabled for failing. */
export interface EndpointHealthPolicy {
  /** Consecutive failed deliveries (not attempts) that disable an endpoint. 0 turns the rule off. */
  readonly disableAfterFailures: number;
  /** An endpoint failing without a single success for this long is disabled. 0 turns the rule off. */
  readonly disableAfterMs: number;
}

/** The I/O the delivery activity needs; each piece is built once per worker. */
export interface DeliveryDependencies {
  readonly endpoints: {
    getForDelivery(
      tenantId: string,
      endpointId: string,
    ): Promise<{ endpoint: Endpoint; signingSecrets(): string[] } | undefined>;
    setEnabled(tenantId: string, endpointId: string, enabled: boolean, reason?: string): Promise<unknown>;
  };
  readonly requests: Pick<RequestBuilder, 'build'>;
  readonly http: Pick<HttpClient, 'post'>;
  readonly deliveryLog: {
    recordAttempt(tenantId: string, eventId: string, entry: AttemptLogEntry): Promise<void>;
    addDeadLetter(letter: DeadLetter): Promise<void>;
    removeDeadLetter(tenantId: string, eventId: string, endpointId: string): Promise<void>;
    recordEndpointFailure(
      tenantId: string,
      endpointId: string,
      nowMs: number,
    ): Promise<{ count: number; sinceMs: number }>;
    resetEndpointFailures(tenantId: string, endpointId: string): Promise<void>;
  };
  readonly operationalEvents: { publish(event: OperationalEvent): Promise<void> };
  readonly health: EndpointHealthPolicy;
  readonly log: Logger;
  /** Clock and randomness, injectable for tests. */
  readonly now?: () => number;
  readonly random?: () => number;
  /** Called after every attempt: the hook for metrics counters. */
  readonly onAttempt?: (record: AttemptRecord) => void;
}

export interface AttemptRecord {
  readonly tenantId: string;
  readonly endpointId: string;
  readonly eventId: string;
  readonly attempt: number;
  readonly outcome: AttemptLogEntry['outcome'];
  readonly reason?: string;
  readonly statusCode?: number;
  readonly durationMs: number;
}

/** A final failure: what gets recorded and thrown as a non-retryable ApplicationFailure. */
interface FinalFailure {
  readonly type: string;
  readonly message: string;
  readonly statusCode?: number;
  /** Why the endpoint must be disabled now (410), if it must. */
  readonly disableReason?: 'gone';
}

/**
 * Builds the activities with their dependencies. The delivery activity makes exactly one HTTP attempt per call;
 * Temporal schedules the retries, so a worker crash mid-attempt is retried like any other failure.
 */
export function createActivities(deps: DeliveryDependencies) {
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;

  async function deliverWebhook(input: DeliverWebhookInput): Promise<DeliveryAttemptResult> {
    const { event, endpointId, retryPolicy } = input;
    const info = Context.current().info;
    const attempt = info.attempt;
    const fields = { tenantId: event.tenantId, eventId: event.eventId, endpointId, attempt };
    const started = now();

    const finish = async (outcome: AttemptLogEntry['outcome'], extra: { statusCode?: number; reason?: string }) => {
      const durationMs = now() - started;
      const entry: AttemptLogEntry = {
        endpointId,
        attempt,
        at: new Date(now()).toISOString(),
        outcome,
        durationMs,
        ...(extra.statusCode !== undefined ? { statusCode: extra.statusCode } : {}),
        ...(extra.reason !== undefined ? { error: extra.reason } : {}),
      };
      await deps.deliveryLog.recordAttempt(event.tenantId, event.eventId, entry);
      deps.onAttempt?.({ ...fields, outcome, durationMs, ...extra });
      return durationMs;
    };

    const failFinally = async (failure: FinalFailure): Promise<never> => {
      await finish('failed', {
        ...(failure.statusCode !== undefined ? { statusCode: failure.statusCode } : {}),
        reason: failure.type,
      });
      deps.log.error(
        { ...fields, status: failure.statusCode, reason: failure.type, error: failure.message },
        'delivery failed',
      );
      await deps.deliveryLog.addDeadLetter({
        tenantId: event.tenantId,
        eventId: event.eventId,
        eventType: event.eventType,
        occurredAt: event.occurredAt,
        endpointId,
        failedAt: new Date(now()).toISOString(),
        attempts: attempt,
        lastError: truncateError(failure.message),
        ...(failure.statusCode !== undefined ? { lastStatusCode: failure.statusCode } : {}),
      });
      await updateHealth(event.tenantId, endpointId, failure);
      throw ApplicationFailure.create({
        type: failure.type,
        message: failure.message,
        nonRetryable: true,
        details: [failureDetails(attempt, failure.statusCode)],
      });
    };

    const loaded = await deps.endpoints.getForDelivery(event.tenantId, endpointId);
    const endpoint = loaded?.endpoint;
    if (!loaded || !endpoint || !endpoint.enabled) {
      const reason = endpoint ? 'endpoint_disabled' : 'endpoint_deleted';
      const durationMs = await finish('skipped', { reason });
      deps.log.info({ ...fields, reason }, 'delivery skipped');
      return { outcome: 'skipped', attempt, durationMs, reason };
    }

    let body: string;
    let headers: Record<string, string>;
    try {
      const request = await deps.requests.build(event, endpoint);
      const secrets = loaded.signingSecrets();
      // Taken now, per attempt: a retry hours later must not be rejected by the receiver's timestamp window.
      const timestamp = Math.floor(now() / 1000);
      body = request.body;
      headers = {
        ...request.headers,
        ...buildSignatureHeaders({
          scheme: endpoint.signatureScheme,
          secrets,
          eventId: event.eventId,
          timestamp,
          body,
        }),
      };
    } catch (err) {
      // A transform that throws, an expired payload or an undecryptable secret will not get better by retrying.
      if (err instanceof WssError && err.permanent) return failFinally({ type: err.code, message: err.message });
      throw err;
    }

    let response: HttpResponseSummary | undefined;
    let classification: DeliveryClassification;
    try {
      response = await deps.http.post(endpoint.url, headers, body, { endpointId });
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
      classification = classifyTransportError(err, retryPolicy);
    }
    const statusCode = response?.statusCode;
    const status = statusCode !== undefined ? { statusCode } : {};

    switch (classification.outcome) {
      case 'delivered': {
        const durationMs = await finish('delivered', status); // also ends the endpoint's failure streak
        if (input.redelivery) await deps.deliveryLog.removeDeadLetter(event.tenantId, event.eventId, endpointId);
        deps.log.info({ ...fields, status: statusCode, durationMs }, 'delivery succeeded');
        return { outcome: 'delivered', attempt, durationMs, ...status };
      }
      case 'gone':
        return failFinally({
          type: 'endpoint_gone',
          message: `HTTP ${statusCode ?? 410} Gone: endpoint disabled`,
          ...status,
          disableReason: 'gone',
        });
      case 'permanent':
        return failFinally({
          type:
            classification.reason === 'destination_not_allowed'
              ? 'destination_not_allowed'
              : 'delivery_permanent_failure',
          message: describe(classification.reason, statusCode, response),
          ...status,
        });
      case 'retry': {
        const delay = nextRetryDelayMs(retryPolicy, attempt, random(), classification.retryAfterMs);
        // The retry window counts from the first attempt; an attempt that would start after it never runs.
        const windowEndsAt = info.scheduledTimestampMs + retryPolicy.retryWindowMs;
        if (delay === undefined || now() + delay >= windowEndsAt) {
          return failFinally({
            type: 'retries_exhausted',
            message: `${describe(classification.reason, statusCode, response)}; gave up after ${attempt} attempt${attempt === 1 ? '' : 's'}`,
            ...status,
          });
        }
        const durationMs = await finish('retry', { ...status, reason: classification.reason });
        deps.log.warn(
          { ...fields, status: statusCode, reason: classification.reason, durationMs, nextRetryMs: delay },
          'delivery attempt failed; will retry',
        );
        throw ApplicationFailure.create({
          type: 'delivery_attempt_failed',
          message: describe(classification.reason, statusCode, response),
          nextRetryDelay: delay,
          details: [failureDetails(attempt, statusCode)],
        });
      }
      default: {
        const unreachable: never = classification;
        throw new Error(`unhandled classification ${JSON.stringify(unreachable)}`);
      }
    }
  }

  /** Disables an endpoint that answered 410, or whose failure streak crossed the health policy. */
  async function updateHealth(tenantId: string, endpointId: string, failure: FinalFailure): Promise<void> {
    const at = now();
    let reason: string | undefined;
    let detail = '';
    if (failure.disableReason === 'gone') {
      reason = 'gone';
      detail = 'the endpoint answered 410 Gone';
    } else {
      const streak = await deps.deliveryLog.recordEndpointFailure(tenantId, endpointId, at);
      if (deps.health.disableAfterFailures > 0 && streak.count >= deps.health.disableAfterFailures) {
        reason = 'failing';
        detail = `${streak.count} consecutive failed deliveries`;
      } else if (deps.health.disableAfterMs > 0 && at - streak.sinceMs >= deps.health.disableAfterMs) {
        reason = 'failing';
        detail = `failing without a success since ${new Date(streak.sinceMs).toISOString()}`;
      }
    }
    if (reason === undefined) return;
    await deps.endpoints.setEnabled(tenantId, endpointId, false, reason);
    await deps.deliveryLog.resetEndpointFailures(tenantId, endpointId);
    await deps.operationalEvents.publish({
      type: 'endpoint.disabled',
      tenantId,
      endpointId,
      reason,
      detail,
      at: new Date(at).toISOString(),
    });
  }

  return { deliverWebhook };
}

export type Activities = ReturnType<typeof createActivities>;

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

/** `HTTP 503 (http_503): <first 200 chars of the body>` — the body snippet helps receivers' owners debug. */
function describe(reason: string, statusCode: number | undefined, response: HttpResponseSummary | undefined): string {
  if (statusCode === undefined) return reason;
  const snippet = response?.bodySnippet.replace(/\s+/g, ' ').trim().slice(0, 200);
  return `HTTP ${statusCode} (${reason})${snippet ? `: ${snippet}` : ''}`;
}
