import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Endpoint } from '../domain/endpoint';
import { classifyResponse } from '../domain/classify-response';
import type { DeliveryClassification } from '../domain/classify-response';
import { WssError } from '../domain/errors';
import type { EventRef } from '../domain/event';
import { parseRetryAfter } from '../domain/retry-after';
import type { ResolvedRetryPolicy } from '../domain/retry-policy';
import { nextRetryDelayMs } from '../domain/retry-policy';
import type { Logger } from '../infra/logger';
import type { HttpResponseSummary } from '../infra/http-client';
import { buildSignatureHeaders } from '../security/signature';
import type { RequestBuilder } from './request-builder';

export interface DeliverWebhookInput {
  readonly event: EventRef;
  readonly endpointId: string;
  readonly retryPolicy: ResolvedRetryPolicy;
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

/** The I/O the delivery activity needs; each piece is built once per worker. */
export interface DeliveryDependencies {
  readonly endpoints: {
    get(tenantId: string, endpointId: string): Promise<Endpoint | undefined>;
    loadSigningSecrets(tenantId: string, endpointId: string): Promise<string[]>;
    setEnabled(tenantId: string, endpointId: string, enabled: boolean, reason?: string): Promise<unknown>;
  };
  readonly requests: RequestBuilder;
  readonly http: {
    post(
      url: string,
      headers: Record<string, string>,
      body: string,
      options: { endpointId: string },
    ): Promise<HttpResponseSummary>;
  };
  readonly log: Logger;
  /** Clock and randomness, injectable for tests. */
  readonly now?: () => number;
  readonly random?: () => number;
  /** Called after every attempt; the hook for metrics and endpoint health. */
  readonly onAttempt?: (record: AttemptRecord) => void | Promise<void>;
}

export interface AttemptRecord {
  readonly tenantId: string;
  readonly endpointId: string;
  readonly eventId: string;
  readonly attempt: number;
  readonly classification: DeliveryClassification['outcome'];
  readonly statusCode?: number;
  readonly durationMs: number;
}

/**
 * Builds the activities with their dependencies. The delivery activity makes exactly one HTTP attempt per call;
 * Temporal schedules the retries, so a crash mid-attempt is retried like any other failure.
 */
export function createActivities(deps: DeliveryDependencies) {
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;

  async function deliverWebhook(input: DeliverWebhookInput): Promise<DeliveryAttemptResult> {
    const { event, endpointId, retryPolicy } = input;
    const attempt = Context.current().info.attempt;
    const fields = { tenantId: event.tenantId, eventId: event.eventId, endpointId, attempt };
    const started = now();

    const endpoint = await deps.endpoints.get(event.tenantId, endpointId);
    if (!endpoint || !endpoint.enabled) {
      const reason = endpoint ? 'endpoint_disabled' : 'endpoint_deleted';
      deps.log.info({ ...fields, reason }, 'delivery skipped');
      return { outcome: 'skipped', attempt, durationMs: now() - started, reason };
    }

    const request = await deps.requests.build(event, endpoint);
    const secrets = await deps.endpoints.loadSigningSecrets(event.tenantId, endpointId);
    // The timestamp is taken now, per attempt, so a retry hours later is not rejected by the receiver's window.
    const timestamp = Math.floor(now() / 1000);
    const headers = {
      ...request.headers,
      ...buildSignatureHeaders({
        scheme: endpoint.signatureScheme,
        secrets,
        eventId: event.eventId,
        timestamp,
        body: request.body,
      }),
    };

    let response: HttpResponseSummary | undefined;
    let classification: DeliveryClassification;
    try {
      response = await deps.http.post(endpoint.url, headers, request.body, { endpointId });
      classification = classifyResponse({
        input: {
          kind: 'response',
          statusCode: response.statusCode,
          retryAfterMs: parseRetryAfter(headerValue(response.headers['retry-after']), now()),
        },
        policy: retryPolicy,
      });
    } catch (err) {
      classification = classifyTransportError(err, retryPolicy);
    }
    const durationMs = now() - started;
    const statusCode = response?.statusCode;
    await deps.onAttempt?.({ ...fields, classification: classification.outcome, statusCode, durationMs });

    switch (classification.outcome) {
      case 'delivered':
        deps.log.info({ ...fields, status: statusCode, durationMs }, 'delivery succeeded');
        return { outcome: 'delivered', attempt, durationMs, ...(statusCode !== undefined ? { statusCode } : {}) };
      case 'gone':
        await deps.endpoints.setEnabled(event.tenantId, endpointId, false, 'gone');
        deps.log.error({ ...fields, status: statusCode, durationMs }, 'endpoint answered 410 Gone; endpoint disabled');
        throw ApplicationFailure.create({
          type: 'endpoint_gone',
          message: `endpoint answered HTTP ${statusCode ?? 410} Gone; endpoint disabled`,
          nonRetryable: true,
          details: [failureDetails(attempt, statusCode)],
        });
      case 'permanent':
        deps.log.error({ ...fields, status: statusCode, reason: classification.reason, durationMs }, 'delivery failed permanently');
        throw ApplicationFailure.create({
          type: classification.reason === 'destination_not_allowed' ? 'destination_not_allowed' : 'delivery_permanent_failure',
          message: describe(classification.reason, statusCode),
          nonRetryable: true,
          details: [failureDetails(attempt, statusCode)],
        });
      case 'retry': {
        const delay = nextRetryDelayMs(retryPolicy, attempt, random(), classification.retryAfterMs);
        if (delay === undefined) {
          deps.log.error({ ...fields, status: statusCode, reason: classification.reason, durationMs }, 'delivery failed; retries exhausted');
          throw ApplicationFailure.create({
            type: 'retries_exhausted',
            message: `${describe(classification.reason, statusCode)}; gave up after ${attempt} attempts`,
            nonRetryable: true,
            details: [failureDetails(attempt, statusCode)],
          });
        }
        deps.log.warn(
          { ...fields, status: statusCode, reason: classification.reason, durationMs, nextRetryMs: delay },
          'delivery attempt failed; will retry',
        );
        throw ApplicationFailure.create({
          type: 'delivery_attempt_failed',
          message: describe(classification.reason, statusCode),
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

function describe(reason: string, statusCode: number | undefined): string {
  return statusCode === undefined ? reason : `HTTP ${statusCode} (${reason})`;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
