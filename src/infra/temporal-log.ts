import type { LogEntry, LogLevel } from '@temporalio/worker';
import { truncateError as truncate } from '../domain/delivery-outcome';
import type { Logger } from './logger';

/**
 * The Temporal SDK's own log entries (the worker's, the workflow logger's and, forwarded, the native core's),
 * written through the service's logger: one JSON line per entry, like every other line the service writes. The
 * entry's `sdkComponent` (`worker`, `activity`, `workflow`, `core`) says where it came from.
 *
 * What the SDK attaches is not all fit to print. It is reduced to what helps an operator:
 * - `taskToken` (a credential for completing the task) and any other field named like a token are dropped.
 * - An error is reduced to its class, failure type, `nonRetryable` and code. Its stack is never written, and
 *   neither is its message when application code or data could have written it: Temporal failures (an activity's
 *   `ApplicationFailure`, and the failures that wrap it) and JavaScript's own errors (`TypeError`, `SyntaxError`,
 *   …, whose messages quote the data they choked on). Messages of other errors (the connection, the SDK's own
 *   state) are kept, cut at 300 characters.
 * - Other values are kept when they are strings, numbers or booleans; nested objects are dropped.
 */
export function temporalLogFunction(log: Logger): (entry: LogEntry) => void {
  return (entry) => {
    log[PINO_LEVEL[entry.level]](sdkLogFields(entry.meta), truncate(entry.message, MAX_MESSAGE_LENGTH));
  };
}

const PINO_LEVEL: Readonly<Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'>> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

const MAX_MESSAGE_LENGTH = 500;
const MAX_FIELD_LENGTH = 300;

/** Names of `TemporalFailure` and its subclasses: their messages travel from application code and history. */
const TEMPORAL_FAILURES = new Set([
  'TemporalFailure',
  'ApplicationFailure',
  'ActivityFailure',
  'ChildWorkflowFailure',
  'NexusOperationFailure',
  'CancelledFailure',
  'TerminatedFailure',
  'TimeoutFailure',
  'ServerFailure',
]);
const BUILT_IN_ERRORS = new Set(['RangeError', 'TypeError', 'SyntaxError', 'ReferenceError', 'URIError', 'EvalError']);

/** The entry's metadata, reduced as {@link temporalLogFunction} describes. */
export function sdkLogFields(meta: LogEntry['meta']): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  if (meta === undefined) return fields;
  for (const [key, value] of Object.entries(meta)) {
    if (/token/i.test(key)) continue;
    if (isError(value)) {
      fields[key] = errorSummary(value);
    } else if (typeof value === 'string') {
      fields[key] = truncate(value, MAX_FIELD_LENGTH);
    } else if (typeof value === 'number' || typeof value === 'boolean') {
      fields[key] = value;
    } else if (typeof value === 'bigint') {
      fields[key] = value.toString();
    }
  }
  return fields;
}

/** Errors from the workflow sandbox come from another realm, where `instanceof Error` is false. */
function isError(value: unknown): value is Error {
  return typeof value === 'object' && value !== null && Object.prototype.toString.call(value) === '[object Error]';
}

function errorSummary(err: Error): Record<string, unknown> {
  const record = err as unknown as Record<string, unknown>;
  const name = typeof err.name === 'string' ? err.name : 'Error';
  const cause = record['cause'];
  const causeType =
    typeof cause === 'object' && cause !== null ? (cause as Record<string, unknown>)['type'] : undefined;
  const quiet = TEMPORAL_FAILURES.has(name) || BUILT_IN_ERRORS.has(name);
  return {
    name,
    ...(typeof record['type'] === 'string' ? { type: record['type'] } : {}),
    ...(typeof causeType === 'string' ? { causeType } : {}),
    ...(typeof record['nonRetryable'] === 'boolean' ? { nonRetryable: record['nonRetryable'] } : {}),
    ...(typeof record['code'] === 'string' || typeof record['code'] === 'number' ? { code: record['code'] } : {}),
    ...(quiet || typeof err.message !== 'string' ? {} : { message: truncate(err.message, MAX_FIELD_LENGTH) }),
  };
}
