import type { EndpointId } from './ids';

/**
 * Status of an event's delivery as a whole, as stored in the `DeliveryStatus` search attribute and shown by
 * the API. `pending` is the only non-final value.
 */
export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'cancelled' | 'skipped' | 'no_subscribers';

/** The statuses a finished delivery workflow can end with. */
export type FinalDeliveryStatus = Exclude<DeliveryStatus, 'pending'>;

/**
 * Status of the delivery to one endpoint. `skipped` means the endpoint was disabled or deleted between routing
 * and the attempt, so not sending was the intended outcome.
 */
export type EndpointDeliveryStatus = 'pending' | 'delivered' | 'failed' | 'cancelled' | 'skipped';

/** What happened for one endpoint. Small and secret-free: it is stored in workflow history. */
export interface DeliveryResult {
  readonly endpointId: EndpointId;
  readonly status: EndpointDeliveryStatus;
  /** Attempts made, including the first; 0 when none was recorded. */
  readonly attempts: number;
  /** HTTP status of the last attempt that got a response. */
  readonly lastStatusCode?: number;
  /** Why the last attempt failed or was skipped, already passed through {@link truncateError}. */
  readonly lastError?: string;
  /** Time the last attempt took, in ms. */
  readonly durationMs?: number;
}

/**
 * Highest first: the first status any result has decides the overall status. `failed` leads because one
 * endpoint that never got the event needs an operator, whatever happened elsewhere; `pending` next because the
 * outcome is not known yet; `cancelled` before `delivered` because a cancelled run is incomplete. `skipped`
 * counts only when nothing else happened, since skipping a disabled endpoint is not a failure.
 */
const PRECEDENCE: readonly EndpointDeliveryStatus[] = ['failed', 'pending', 'cancelled', 'delivered', 'skipped'];

/**
 * The event's overall status from its per-endpoint results.
 *
 * - no results: `no_subscribers`.
 * - otherwise the first of `failed` > `pending` > `cancelled` > `delivered` > `skipped` that any result has. So
 *   all delivered (or delivered plus skipped) is `delivered`, all skipped is `skipped`, and a single failure
 *   makes the event `failed`.
 */
export function summarizeDeliveries(results: readonly DeliveryResult[]): DeliveryStatus {
  if (results.length === 0) return 'no_subscribers';
  const present = new Set(results.map((result) => result.status));
  for (const status of PRECEDENCE) {
    if (present.has(status)) return status;
  }
  // Unreachable while PRECEDENCE lists every EndpointDeliveryStatus; the test pins that.
  return 'failed';
}

/**
 * One endpoint's status when the latest run has no final result for it: while that run is still going, or when
 * the endpoint was settled in an earlier run (a retry run covers only the endpoints that failed). Its last
 * recorded attempt decides; an attempt that will be retried is `pending` only while the workflow runs.
 *
 * @param lastOutcome the outcome of the endpoint's last recorded attempt, if any.
 */
export function endpointStatusFromAttempts(
  lastOutcome: 'delivered' | 'retry' | 'failed' | 'skipped' | undefined,
  /** Temporal's execution status name of the latest run (`RUNNING`, `CANCELLED`, `COMPLETED`, ...). */
  workflowStatus: string,
): EndpointDeliveryStatus {
  switch (lastOutcome) {
    case 'delivered':
    case 'failed':
    case 'skipped':
      return lastOutcome;
    case 'retry':
    case undefined:
      if (workflowStatus === 'RUNNING') return 'pending';
      if (workflowStatus === 'CANCELLED') return 'cancelled';
      // The run ended (terminated, timed out) with this endpoint's delivery unfinished: it never got the event.
      return 'failed';
    default: {
      const unreachable: never = lastOutcome;
      return unreachable;
    }
  }
}

/** Default length limit of {@link truncateError}, in UTF-16 code units. */
export const MAX_ERROR_LENGTH = 1024;

const ELLIPSIS = '…';

/**
 * Shortens an error message for history and storage, marking the cut with `…`. The result is at most `max`
 * UTF-16 code units and never ends in half of a surrogate pair.
 *
 * @param max length limit. Default: {@link MAX_ERROR_LENGTH} (1024).
 */
export function truncateError(message: string, max: number = MAX_ERROR_LENGTH): string {
  if (message.length <= max) return message;
  if (max <= 0) return '';
  if (max === 1) return ELLIPSIS;
  let end = max - ELLIPSIS.length;
  const last = message.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return message.slice(0, end) + ELLIPSIS;
}
