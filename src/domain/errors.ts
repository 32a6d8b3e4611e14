/**
 * The one error registry: every stable, machine-readable code the service emits, with whether Temporal may retry
 * it, its HTTP status when it can come out of the management API, and what it means.
 *
 * The code doubles as the Temporal `ApplicationFailure.type`, the API's `error.code` and the dead-letter entry's
 * `wss_reason_code`, so an operator sees the same word in the Web UI, the logs, an API answer and Redis. Derived
 * from this table (so they cannot drift): the Temporal non-retryable failure types (`retry-policy.ts`), the API's
 * documented codes ({@link apiErrorCodes}, for OpenAPI), the stream's dead-letter reason type
 * (`EntryRejectionCode`) and the README's error tables (`npm run errors:docs`). `test/unit/error-registry.test.ts`
 * scans `src/` and fails on any code thrown, returned or answered that is not listed here.
 *
 * Messages must never carry secrets, payload bodies or URL credentials.
 */

/**
 * Where a code can be seen.
 * - `api`: in a management API error body (`{"error": {"code", ...}}`), with its HTTP status.
 * - `activity`: as the failure type of a delivery attempt (Temporal `ApplicationFailure.type`), in the attempt log
 *   and in dead letters' history.
 * - `dead_letter`: as `wss_reason_code` of a stream entry the consumer refused.
 * - `internal`: thrown and caught inside one process, turned into something else before anyone sees it (kept
 *   here so that every `WssError` has a registered code).
 */
export type ErrorSurface = 'api' | 'activity' | 'dead_letter' | 'internal';

export interface ErrorCodeSpec {
  /** Where the code can be seen; at least one. */
  readonly surfaces: readonly ErrorSurface[];
  /**
   * Whether trying again can succeed. False makes the code a Temporal non-retryable failure type, and a
   * `WssError` with it `permanent`.
   */
  readonly retryable: boolean;
  /** The HTTP status of an API answer with this code. Set exactly when `surfaces` includes `api`. */
  readonly httpStatus?: number;
  /** One line, for humans: OpenAPI and the README show it. */
  readonly description: string;
}

/** The registry. Keep it sorted by surface, then by how often the code is seen. */
export const ERROR_CODES = {
  // --- the management API -----------------------------------------------------------------------------------
  validation_failed: {
    surfaces: ['api'],
    retryable: false,
    httpStatus: 400,
    description:
      'A body, path parameter or query parameter failed validation (including a body that is not strict JSON in valid UTF-8, or is nested too deeply); `field` names it.',
  },
  destination_not_allowed: {
    surfaces: ['api', 'activity'],
    retryable: false,
    httpStatus: 400,
    description: 'The endpoint URL is not allowed by the egress policy (scheme, credentials, private address).',
  },
  headers_too_large: {
    surfaces: ['api'],
    retryable: false,
    httpStatus: 431,
    description:
      "The request's headers (or its URL, a cursor included) are larger than the server takes (Node's 16 KiB by default).",
  },
  unauthorized: {
    surfaces: ['api'],
    retryable: false,
    httpStatus: 401,
    description: 'Missing, malformed, unknown or revoked bearer token.',
  },
  not_found: {
    surfaces: ['api'],
    retryable: false,
    httpStatus: 404,
    description: 'The resource does not exist, or belongs to a tenant the caller may not see (never 403).',
  },
  route_not_found: {
    surfaces: ['api'],
    retryable: false,
    httpStatus: 404,
    description: 'No route has this path.',
  },
  method_not_allowed: {
    surfaces: ['api'],
    retryable: false,
    httpStatus: 405,
    description: 'The path exists, but not with this method (see the `Allow` header).',
  },
  conflict: {
    surfaces: ['api'],
    retryable: false,
    httpStatus: 409,
    description: 'The resource already exists, or the operation does not apply to its current state.',
  },
  ordering_key_not_paused: {
    surfaces: ['api'],
    retryable: false,
    httpStatus: 409,
    description:
      'Resume of an ordering key that is not paused (no lane of this key is running, or it is not held); nothing was changed.',
  },
  payload_too_large: {
    surfaces: ['api'],
    retryable: false,
    httpStatus: 413,
    description: 'The request body is over 1 MiB, or the event `data` is over `WSS_MAX_EVENT_BYTES`.',
  },
  unsupported_media_type: {
    surfaces: ['api'],
    retryable: false,
    httpStatus: 415,
    description: 'A request body whose `Content-Type` is not `application/json` (UTF-8).',
  },
  transform_failed: {
    surfaces: ['api', 'activity'],
    retryable: false,
    httpStatus: 422,
    description:
      "The endpoint's transform failed on this event (a JSONata error, a limit, or a result of the wrong shape); the message gives JSONata's code and position, never payload values.",
  },
  invalid_request: {
    surfaces: ['api', 'activity'],
    retryable: false,
    httpStatus: 422,
    description:
      "The request cannot be sent as the endpoint is stored (a static header the rules refuse, stored before they applied; or its and the transform's headers together over the limit), or the HTTP client refused it; nothing was sent. Fix the endpoint with PATCH.",
  },
  test_event_not_routed: {
    surfaces: ['api'],
    retryable: false,
    httpStatus: 422,
    description:
      'The endpoint would not take this test event: it is disabled, not subscribed to its type, or its filter does not match (the message says which; the dry run shows the same). Nothing was sent.',
  },
  transform_busy: {
    surfaces: ['api'],
    retryable: true,
    httpStatus: 503,
    description:
      "Too many of this tenant's transforms are waiting for a process; try again shortly. (A delivery retries it as `transient_error`.)",
  },
  transform_unavailable: {
    surfaces: ['api'],
    retryable: true,
    httpStatus: 503,
    description:
      'The transform processes are stopping, failed to start or stopped mid-run; try again shortly. (A delivery retries it as `transient_error`.)',
  },
  secret_unavailable: {
    surfaces: ['api', 'activity'],
    retryable: false,
    httpStatus: 500,
    description: "The endpoint's stored secret cannot be decrypted (wrong `WSS_MASTER_KEY` or a tampered record).",
  },
  internal_error: {
    surfaces: ['api', 'activity'],
    retryable: false,
    httpStatus: 500,
    description:
      'A failure inside the service that recurs on every attempt (a bug, or a stored setting it cannot use, e.g. for signing); details are in the service logs.',
  },
  temporal_unavailable: {
    surfaces: ['api'],
    retryable: true,
    httpStatus: 503,
    description:
      'Temporal did not answer the API within 10 s (down, overloaded or unreachable); nothing was changed. Try again shortly.',
  },
  replication_not_confirmed: {
    surfaces: ['api'],
    retryable: true,
    httpStatus: 503,
    description:
      'The event was written to the stream and may be delivered, but fewer replicas than `REDIS_WAIT_REPLICAS` confirmed it in time (see `Retry-After`); publishing it again with the same `id` is safe (deduplicated).',
  },

  // --- delivery attempts (Temporal failure types) -------------------------------------------------------------
  delivery_attempt_failed: {
    surfaces: ['activity'],
    retryable: true,
    description: 'The attempt failed (an HTTP status or a transport error); the next attempt is scheduled.',
  },
  transient_error: {
    surfaces: ['activity'],
    retryable: true,
    description:
      "The service's own infrastructure failed before anything was sent (e.g. Redis unreachable); retried on the schedule, not counted against the endpoint.",
  },
  ordering_predecessors_pending: {
    surfaces: ['activity'],
    retryable: true,
    description:
      'An ordered lane\'s order check: a stream entry before the lane\'s head is still being handled by the consumer; checked again shortly (README "Ordered delivery").',
  },
  worker_shutdown: {
    surfaces: ['activity'],
    retryable: true,
    description:
      'The worker shut down while the attempt was still waiting for the receiver (it ran past `WSS_SHUTDOWN_GRACE_MS`); Temporal runs it again on the next worker. Not counted against the endpoint.',
  },
  // Flow control (issue 17).
  endpoint_throttled: {
    surfaces: ['activity'],
    retryable: false,
    description:
      "The endpoint's flow control (rate limit, in-flight cap or Retry-After pause) held the attempt back: not an attempt. The workflow waits on a durable timer and runs it again; it never ends a delivery and is not counted against the endpoint.",
  },
  retries_exhausted: {
    surfaces: ['activity'],
    retryable: false,
    description: 'The last attempt allowed by the retry policy or its window failed; the delivery is a dead letter.',
  },
  endpoint_gone: {
    surfaces: ['activity'],
    retryable: false,
    description: 'The receiver answered 410 Gone; the endpoint is disabled.',
  },
  delivery_permanent_failure: {
    surfaces: ['activity'],
    retryable: false,
    description: "The receiver answered a status listed in the policy's `permanentStatusCodes`.",
  },
  unprocessable_event: {
    surfaces: ['activity'],
    retryable: false,
    description:
      "Processing the event's data fails the same way on every attempt (e.g. nesting too deep to process); not counted against the endpoint.",
  },
  attempt_timed_out: {
    surfaces: ['activity'],
    retryable: false,
    description:
      'Temporal ended the delivery: its last attempt ran past the attempt timeout (60 s) without an answer; the delivery is a dead letter.',
  },
  worker_lost: {
    surfaces: ['activity'],
    retryable: false,
    description:
      'Temporal ended the delivery: the worker running its last attempt stopped heartbeating (killed, crashed or cut off); the delivery is a dead letter.',
  },
  retry_window_exhausted: {
    surfaces: ['activity'],
    retryable: false,
    description:
      "Temporal ended the delivery: the policy's `retryWindowMs` closed while an attempt was running or before the next could start; the delivery is a dead letter.",
  },
  unexpected_error: {
    surfaces: ['activity'],
    retryable: false,
    description:
      'Temporal ended the delivery: every allowed attempt ended in an error the activity did not expect (a bug); the dead letter names its class, the worker logs the rest.',
  },
  payload_unavailable: {
    surfaces: ['activity'],
    retryable: false,
    description: "The event's stored payload expired (`WSS_PAYLOAD_TTL_SECONDS`) or was never written.",
  },
  payload_invalid: {
    surfaces: ['activity'],
    retryable: false,
    description: "The event's stored payload is not one JSON value, so it cannot be placed in the envelope.",
  },
  delivery_transport_error: {
    surfaces: ['internal'],
    retryable: true,
    description:
      'No complete response (connect failure, reset, DNS failure, timeout); the attempt is classified by its cause code (`timeout`, `connect_refused`, ...).',
  },

  // --- dead letters of the event stream (`wss_reason_code`) ---------------------------------------------------
  missing_field: {
    surfaces: ['dead_letter'],
    retryable: false,
    description: 'A required field (`tenant`, `type`, `data`) is absent.',
  },
  invalid_field: {
    surfaces: ['dead_letter'],
    retryable: false,
    description: 'A field fails its rule (tenant id, event type or event id syntax).',
  },
  duplicate_field: {
    surfaces: ['dead_letter'],
    retryable: false,
    description: 'A field appears twice.',
  },
  invalid_utf8: {
    surfaces: ['dead_letter'],
    retryable: false,
    description: 'A field name or value is not valid UTF-8 (the reason says which field, never the bytes).',
  },
  reserved_field: {
    surfaces: ['dead_letter'],
    retryable: false,
    description: "A field name starts with `wss_` (other than `wss_endpoint`, the test send's).",
  },
  too_large: {
    surfaces: ['dead_letter'],
    retryable: false,
    description: '`data` is over `WSS_MAX_EVENT_BYTES`.',
  },
  too_deep: {
    surfaces: ['dead_letter'],
    retryable: false,
    description: '`data` nests deeper than `WSS_MAX_EVENT_DEPTH`.',
  },
  invalid_json: {
    surfaces: ['dead_letter'],
    retryable: false,
    description: '`data` is not JSON (the reason gives the position, never the text).',
  },
  malformed_entry: {
    surfaces: ['dead_letter'],
    retryable: false,
    description: "Anything else about the entry's shape (e.g. an odd number of field/value items).",
  },
} as const satisfies Readonly<Record<string, ErrorCodeSpec>>;

export type ErrorCode = keyof typeof ERROR_CODES;

type Registry = typeof ERROR_CODES;
/** The codes that can be seen on `surface`. */
export type ErrorCodeOn<S extends ErrorSurface> = {
  [C in ErrorCode]: S extends Registry[C]['surfaces'][number] ? C : never;
}[ErrorCode];

/** Codes a management API answer can carry. */
export type ApiErrorCode = ErrorCodeOn<'api'>;
/** Codes of a stream entry the consumer refused (`wss_reason_code`). */
export type DeadLetterReasonCode = ErrorCodeOn<'dead_letter'>;

const ENTRIES = Object.entries(ERROR_CODES) as [ErrorCode, ErrorCodeSpec][];

/** Whether `code` is in the registry. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

/** The registry entry of a code. */
export function errorCodeSpec(code: ErrorCode): ErrorCodeSpec {
  return ERROR_CODES[code];
}

/** The codes that can be seen on `surface`, in registry order. */
export function errorCodesOn<S extends ErrorSurface>(surface: S): ErrorCodeOn<S>[] {
  return ENTRIES.filter(([, spec]) => spec.surfaces.includes(surface)).map(([code]) => code as ErrorCodeOn<S>);
}

/** One documented API error code, for OpenAPI and the README. */
export interface ApiErrorCodeDoc {
  readonly code: ApiErrorCode;
  readonly httpStatus: number;
  readonly description: string;
}

/** Every code the management API can answer, with its status and description, in registry order. */
export function apiErrorCodes(): ApiErrorCodeDoc[] {
  return errorCodesOn('api').map((code) => ({
    code,
    httpStatus: ERROR_CODES[code].httpStatus,
    description: ERROR_CODES[code].description,
  }));
}

/** Whether the management API may answer `code` (a `WssError` with any other code should answer `internal_error`). */
export function isApiErrorCode(code: string): code is ApiErrorCode {
  return isErrorCode(code) && (ERROR_CODES[code].surfaces as readonly ErrorSurface[]).includes('api');
}

/** The API's codes grouped by HTTP status, ascending: what OpenAPI lists under each error response. */
export function apiErrorCodesByStatus(): ReadonlyMap<number, readonly ApiErrorCode[]> {
  const byStatus = new Map<number, ApiErrorCode[]>();
  for (const { code, httpStatus } of apiErrorCodes().sort((a, b) => a.httpStatus - b.httpStatus)) {
    byStatus.set(httpStatus, [...(byStatus.get(httpStatus) ?? []), code]);
  }
  return byStatus;
}

/**
 * The failure types Temporal must never retry: every non-retryable code that can reach Temporal (all but the
 * dead-letter reasons, which the consumer writes to Redis without Temporal).
 */
export function nonRetryableFailureTypes(): ErrorCode[] {
  return ENTRIES.filter(
    ([, spec]) => !spec.retryable && spec.surfaces.some((surface) => surface !== 'dead_letter'),
  ).map(([code]) => code);
}

/**
 * One base error with a stable, registered `code`. Whether it is permanent and its HTTP status are read from the
 * registry, never restated by a subclass (TypeScript refuses a subclass field over these accessors).
 *
 * Pass the error being wrapped as `{ cause }`: it stays on the error for logs and debuggers. A cause's message may
 * quote data, so code that shows a message (API answers, dead letters, Temporal history) shows only this
 * error's own message.
 */
export abstract class WssError extends Error {
  abstract readonly code: ErrorCode;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }

  /** HTTP status used when the error surfaces through the management API (500 for a code the API never answers). */
  get httpStatus(): number {
    return errorCodeSpec(this.code).httpStatus ?? 500;
  }

  /** Whether Temporal should stop retrying when an activity fails with this error. */
  get permanent(): boolean {
    return !errorCodeSpec(this.code).retryable;
  }
}

/** A request body, query or stream entry failed schema validation. */
export class ValidationError extends WssError {
  readonly code = 'validation_failed';
  constructor(
    message: string,
    /** Dotted path of the offending field, e.g. `eventTypes.0`. */
    readonly field?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Resume of an ordering key whose lane is not paused (ordered delivery). */
export class OrderingKeyNotPausedError extends WssError {
  readonly code = 'ordering_key_not_paused';
}

/** A resource does not exist, or exists in a tenant the caller may not see (never 403: ids must not leak). */
export class NotFoundError extends WssError {
  readonly code = 'not_found';
}

export class UnauthorizedError extends WssError {
  readonly code = 'unauthorized';
}

export class ConflictError extends WssError {
  readonly code = 'conflict';
}

/** No route has the request's path. */
export class RouteNotFoundError extends WssError {
  readonly code = 'route_not_found';
}

/** The request's path exists, but not with its method. */
export class MethodNotAllowedError extends WssError {
  readonly code = 'method_not_allowed';
}

/** The destination URL or one of the addresses it resolves to is not allowed by the egress policy. */
export class DestinationNotAllowedError extends WssError {
  readonly code = 'destination_not_allowed';
  constructor(
    /** Human-readable reason, e.g. "resolves to private address 10.0.0.5". */
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`destination not allowed: ${reason}`, options);
  }
}

/** No response: connect failure, reset, DNS failure, timeout, or a response body over the cap. */
export class DeliveryTransportError extends WssError {
  readonly code = 'delivery_transport_error';
  constructor(
    readonly endpointId: string,
    /** Low-level cause code, e.g. `UND_ERR_CONNECT_TIMEOUT`, `ECONNREFUSED`, `ENOTFOUND`. */
    readonly causeCode: string,
    options?: ErrorOptions,
  ) {
    super(`endpoint ${endpointId} unreachable: ${causeCode}`, options);
  }
}

/** A payload exceeded a configured size limit. */
export class PayloadTooLargeError extends WssError {
  readonly code = 'payload_too_large';
}

/** A stored secret could not be decrypted (wrong master key or tampered ciphertext). */
export class SecretUnavailableError extends WssError {
  readonly code = 'secret_unavailable';
}

/**
 * An event that can never be turned into a request: processing its stored data fails the same way on every
 * attempt (nesting too deep to process, data that does not parse). Permanent: the delivery fails at once with a
 * dead letter instead of being retried for days. The receiver is not at fault, so it does not count towards
 * disabling the endpoint.
 */
export class UnprocessableEventError extends WssError {
  readonly code = 'unprocessable_event';
}

/**
 * A failure inside the service that recurs on every attempt: a bug, or a stored setting the code cannot use.
 * Permanent, like {@link UnprocessableEventError}, and not counted against the endpoint.
 */
export class InternalError extends WssError {
  readonly code = 'internal_error';
}

/**
 * A publish that reached the stream, but fewer replicas than `REDIS_WAIT_REPLICAS` confirmed it in time: a
 * failover now could lose it. The client may publish it again with the same id (deduplicated).
 */
/** A test send the endpoint's own rules would not deliver (422): nothing is published. */
export class TestEventNotRoutedError extends WssError {
  readonly code = 'test_event_not_routed';
}

/** Temporal did not answer an API request's call in time (503): a dependency outage, not the client's fault. */
export class TemporalUnavailableError extends WssError {
  readonly code = 'temporal_unavailable';
}

export class ReplicationNotConfirmedError extends WssError {
  readonly code = 'replication_not_confirmed';
  constructor(
    message: string,
    /** Seconds the client should wait before publishing again (`Retry-After`). */
    readonly retryAfterSeconds: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * The service's own infrastructure failed during an attempt before anything was sent (Redis unreachable, or any
 * error not known to be deterministic). Retried on the delivery's schedule, and recorded when recording works.
 */
export class TransientAttemptError extends WssError {
  readonly code = 'transient_error';
}
