import type { FastifyError } from 'fastify';
import type { ApiErrorCode } from '../domain/errors';
import {
  ReplicationNotConfirmedError,
  ValidationError,
  WssError,
  apiErrorCodes,
  isApiErrorCode,
} from '../domain/errors';
import { RequestValidationError } from './request-body';

export type { ApiErrorCode };

/**
 * Every `error.code` the API answers with: `[HTTP status, meaning]`, derived from the one error registry
 * (`src/domain/errors.ts`), so the OpenAPI document, the README and the answers cannot drift apart.
 */
export const API_ERROR_CODES: Readonly<Record<ApiErrorCode, readonly [number, string]>> = Object.fromEntries(
  apiErrorCodes().map(({ code, httpStatus, description }) => [code, [httpStatus, description] as const]),
) as Record<ApiErrorCode, readonly [number, string]>;

export interface ErrorAnswer {
  readonly status: number;
  readonly body: { readonly error: { code: string; message: string; field?: string; details?: unknown } };
  /** Not the caller's fault: worth an error log line. */
  readonly internal: boolean;
  /** `Retry-After` seconds, for an answer the client should repeat later. */
  readonly retryAfterSeconds?: number;
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
  // Only registered API codes leave the API; another WssError (e.g. payload_unavailable) is a server-side fault.
  if (err instanceof WssError && isApiErrorCode(err.code)) {
    const error = {
      code: err.code,
      message: err.message,
      ...(err instanceof ValidationError && err.field !== undefined ? { field: err.field } : {}),
      ...(err instanceof RequestValidationError && err.issues.length > 1 ? { details: err.issues } : {}),
    };
    return {
      status: err.httpStatus,
      body: { error },
      // A 503 the client is told to retry is expected under replica lag, not an internal fault.
      internal: err.httpStatus >= 500 && !(err instanceof ReplicationNotConfirmedError),
      ...(err instanceof ReplicationNotConfirmedError ? { retryAfterSeconds: err.retryAfterSeconds } : {}),
    };
  }
  const { code = '', statusCode = 500, message } = (err ?? {}) as Partial<FastifyError>;
  const framework = FRAMEWORK_ERRORS[code];
  if (framework) return answer(framework[0], framework[1](maxBodyBytes));
  // Other framework errors a client caused: a body shorter than its Content-Length, an aborted upload, ...
  if (statusCode >= 400 && statusCode < 500) return answer('validation_failed', message ?? 'bad request');
  return answer('internal_error', 'internal error', true);
}
