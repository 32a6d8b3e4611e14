import type { FastifyError } from 'fastify';
import { ValidationError, WssError } from '../domain/errors';
import { RequestValidationError } from './request-body';

/**
 * Every `error.code` the API answers with: `[HTTP status, meaning]`. The one list that the OpenAPI document and the
 * README show. Clients may switch on these codes; they never change meaning.
 */
export const API_ERROR_CODES = {
  validation_failed: [
    400,
    'A body, path or query parameter failed validation (including a body that is not strict JSON in UTF-8, is nested too deeply or has a `__proto__` key, and a path with a malformed percent-escape); `field` names it.',
  ],
  destination_not_allowed: [400, 'The endpoint URL is not allowed by the egress policy (private address, ...).'],
  unauthorized: [401, 'Missing, malformed, unknown or revoked bearer token.'],
  not_found: [404, 'The resource does not exist, or belongs to a tenant the caller may not see (never 403).'],
  route_not_found: [404, 'No route has this path.'],
  method_not_allowed: [405, 'The path exists, but not with this method (see `Allow`).'],
  conflict: [409, 'The resource already exists, or the operation does not apply to its current state.'],
  payload_too_large: [413, 'The request body is over 1 MiB, or the event `data` is over WSS_MAX_EVENT_BYTES.'],
  unsupported_media_type: [415, 'A request body whose Content-Type is not `application/json` (UTF-8).'],
  transform_failed: [422, "Dry run only: the endpoint's transform failed on the sample event."],
  internal_error: [500, 'An unexpected failure; details are in the service logs.'],
  secret_unavailable: [500, "Dry run only: the endpoint's secret cannot be decrypted (wrong WSS_MASTER_KEY)."],
  transform_busy: [503, "Dry run only: too many of the tenant's transforms are waiting; try again shortly."],
} as const satisfies Record<string, readonly [number, string]>;

export type ApiErrorCode = keyof typeof API_ERROR_CODES;

export interface ErrorAnswer {
  readonly status: number;
  readonly body: { readonly error: { code: string; message: string; field?: string; details?: unknown } };
  /** Not the caller's fault: worth an error log line. */
  readonly internal: boolean;
}

const answer = (code: ApiErrorCode, message: string, internal = false): ErrorAnswer => ({
  status: API_ERROR_CODES[code][0],
  body: { error: { code, message } },
  internal,
});

/** Fastify's errors that a client caused (`FST_ERR_*` codes), in the API's codes and words. */
const FRAMEWORK_ERRORS: Readonly<Record<string, readonly [ApiErrorCode, (maxBodyBytes: number) => string]>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ['payload_too_large', (max) => `request body is over the ${max}-byte limit`],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['unsupported_media_type', () => 'a request body must be application/json (UTF-8)'],
  FST_ERR_BAD_URL: ['validation_failed', () => 'the path is not valid percent-encoded UTF-8'],
  FST_ERR_MAX_PARAM_LENGTH: ['validation_failed', () => 'a path parameter is too long'],
};

/**
 * Turns anything a request handler, hook or the framework threw into the API's answer. The service's own errors
 * carry their code and status; Fastify's client errors are named in the API's codes; anything else is an
 * `internal_error` whose message stays in the logs.
 */
export function toErrorAnswer(err: unknown, maxBodyBytes: number): ErrorAnswer {
  if (err instanceof WssError) {
    const error = {
      code: err.code,
      message: err.message,
      ...(err instanceof ValidationError && err.field !== undefined ? { field: err.field } : {}),
      ...(err instanceof RequestValidationError && err.issues.length > 1 ? { details: err.issues } : {}),
    };
    return { status: err.httpStatus, body: { error }, internal: err.httpStatus >= 500 };
  }
  const { code = '', statusCode = 500, message } = (err ?? {}) as Partial<FastifyError>;
  const framework = FRAMEWORK_ERRORS[code];
  if (framework) return answer(framework[0], framework[1](maxBodyBytes));
  // Other framework errors a client caused: a body shorter than its Content-Length, an aborted upload, ...
  if (statusCode >= 400 && statusCode < 500) return answer('validation_failed', message ?? 'bad request');
  return answer('internal_error', 'internal error', true);
}
