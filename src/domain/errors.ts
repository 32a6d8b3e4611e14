/**
 * One base error with a stable, machine-readable `code`.
 *
 * The code doubles as the Temporal `ApplicationFailure.type` and as the API's `error.code`, so an operator sees
 * the same word in the Web UI, in the logs and in an API response. Messages must never carry secrets, payload
 * bodies or URL credentials.
 */
export abstract class WssError extends Error {
  abstract readonly code: string;
  /** HTTP status used when the error surfaces through the management API. */
  readonly httpStatus: number = 500;
  /** Whether Temporal should stop retrying when an activity throws this error. */
  readonly permanent: boolean = false;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A request body, query or stream entry failed schema validation. */
export class ValidationError extends WssError {
  readonly code = 'validation_failed';
  override readonly httpStatus = 400;
  override readonly permanent = true;
  constructor(
    message: string,
    /** Dotted path of the offending field, e.g. `eventTypes.0`. */
    readonly field?: string,
  ) {
    super(message);
  }
}

/** A resource does not exist, or exists in a tenant the caller may not see (never 403: ids must not leak). */
export class NotFoundError extends WssError {
  readonly code = 'not_found';
  override readonly httpStatus = 404;
  override readonly permanent = true;
}

export class UnauthorizedError extends WssError {
  readonly code = 'unauthorized';
  override readonly httpStatus = 401;
  override readonly permanent = true;
}

export class ConflictError extends WssError {
  readonly code = 'conflict';
  override readonly httpStatus = 409;
  override readonly permanent = true;
}

/** The destination URL or one of the addresses it resolves to is not allowed by the egress policy. */
export class DestinationNotAllowedError extends WssError {
  readonly code = 'destination_not_allowed';
  override readonly httpStatus = 400;
  override readonly permanent = true;
  constructor(
    /** Human-readable reason, e.g. "resolves to private address 10.0.0.5". */
    readonly reason: string,
  ) {
    super(`destination not allowed: ${reason}`);
  }
}

/** The receiver answered with a status that we will retry (5xx, 429, most 4xx, 3xx). */
export class EndpointRejectedError extends WssError {
  readonly code = 'endpoint_rejected';
  constructor(
    readonly statusCode: number,
    readonly endpointId: string,
  ) {
    super(`endpoint ${endpointId} answered HTTP ${statusCode}`);
  }
}

/** The receiver answered with a status that will never succeed (410 Gone, or a code listed as permanent). */
export class EndpointGoneError extends WssError {
  readonly code = 'endpoint_gone';
  override readonly permanent = true;
  constructor(
    readonly statusCode: number,
    readonly endpointId: string,
  ) {
    super(`endpoint ${endpointId} answered HTTP ${statusCode}; delivery stopped`);
  }
}

/** No response: connect failure, reset, DNS failure, timeout, or a response body over the cap. */
export class DeliveryTransportError extends WssError {
  readonly code = 'delivery_transport_error';
  constructor(
    readonly endpointId: string,
    /** Low-level cause code, e.g. `UND_ERR_CONNECT_TIMEOUT`, `ECONNREFUSED`, `ENOTFOUND`. */
    readonly causeCode: string,
  ) {
    super(`endpoint ${endpointId} unreachable: ${causeCode}`);
  }
}

/** A stream entry or API event could not be accepted. Dead-lettered by the consumer. */
export class MalformedEventError extends WssError {
  readonly code = 'malformed_event';
  override readonly httpStatus = 400;
  override readonly permanent = true;
}

/** A payload exceeded a configured size limit. */
export class PayloadTooLargeError extends WssError {
  readonly code = 'payload_too_large';
  override readonly httpStatus = 413;
  override readonly permanent = true;
}

/** A stored secret could not be decrypted (wrong master key or tampered ciphertext). */
export class SecretUnavailableError extends WssError {
  readonly code = 'secret_unavailable';
  override readonly permanent = true;
}

/**
 * An event that can never be turned into a request: processing its stored data fails the same way on every
 * attempt (nesting too deep to process, data that does not parse). Permanent: the delivery fails at once with a
 * dead letter instead of being retried for days. The receiver is not at fault, so it does not count towards
 * disabling the endpoint.
 */
export class UnprocessableEventError extends WssError {
  readonly code = 'unprocessable_event';
  override readonly httpStatus = 422;
  override readonly permanent = true;
}

/**
 * A failure inside the service that recurs on every attempt: a bug, or a stored setting the code cannot use.
 * Permanent, like {@link UnprocessableEventError}, and not counted against the endpoint.
 */
export class InternalError extends WssError {
  readonly code = 'internal_error';
  override readonly permanent = true;
}

/**
 * The service's own infrastructure failed during an attempt before anything was sent (Redis unreachable, or any
 * error not known to be deterministic). Retried on the delivery's schedule, and recorded when recording works.
 */
export class TransientAttemptError extends WssError {
  readonly code = 'transient_error';
  override readonly httpStatus = 503;
}
