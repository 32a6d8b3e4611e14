import pino from 'pino';
import type { Logger } from 'pino';
import { truncateError } from '../domain/delivery-outcome';

export type { Logger };

/**
 * Structured JSON logger. Field names that could carry secrets are redacted as a second line of defence; the
 * first is never passing them in.
 */
export function createLogger(
  level: string,
  bindings: Record<string, unknown> = {},
  destination?: pino.DestinationStream,
): Logger {
  return pino(
    {
      level,
      base: { service: 'wss', ...bindings },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['secret', '*.secret', 'secrets', 'authorization', '*.authorization', 'signature', '*.signature'],
        censor: '[redacted]',
      },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** JavaScript's own error classes: raised by code on data, never by I/O, and their messages quote that data. */
export function isBuiltInError(err: unknown): boolean {
  return (
    err instanceof RangeError ||
    err instanceof TypeError ||
    err instanceof SyntaxError ||
    err instanceof ReferenceError ||
    err instanceof URIError ||
    err instanceof EvalError
  );
}

/**
 * Log fields for an unexpected error: `errorName`, `errorCode` when it has one, and either its stack frames or its
 * message. The messages of JavaScript's own errors can quote the data they choked on (`JSON.parse` does), which may
 * be a payload, so those log their class and stack frames only; other errors (Redis, the network, Temporal's
 * client) carry codes and addresses, and their message (cut at 300 characters) helps the operator.
 */
export function errorLogFields(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { errorName: typeof err };
  const code = 'code' in err && (typeof err.code === 'string' || typeof err.code === 'number') ? err.code : undefined;
  return {
    errorName: err.name,
    ...(code !== undefined ? { errorCode: code } : {}),
    ...(isBuiltInError(err)
      ? {
          stack: (err.stack ?? '')
            .split('\n')
            .filter((line) => line.trimStart().startsWith('at '))
            .slice(0, 8)
            .join('\n'),
        }
      : { error: truncateError(err.message, 300) }),
  };
}
