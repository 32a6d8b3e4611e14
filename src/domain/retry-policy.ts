/**
 * Retry policy: resolution (endpoint → tenant → service), validation, and the backoff maths.
 *
 * Temporal owns the retries, but its retry policy is purely exponential and has no jitter. So the policy is
 * expressed twice: {@link toTemporalRetryPolicy} gives Temporal the bounds (attempt count, intervals, the
 * non-retryable failure types) and a sensible exponential fallback, and the delivery activity computes the
 * actual wait with {@link nextRetryDelayMs} and hands it to Temporal as
 * `ApplicationFailure.retryable(..., { nextRetryDelay })`. That is how the explicit schedule, the jitter and
 * `Retry-After` reach Temporal. The fallback only applies to failures the activity did not shape itself: a
 * worker crash, an attempt timeout, an unexpected exception.
 *
 * Pure: the randomness is an argument, drawn in the activity. Workflow code never draws it, so jitter adds no
 * workflow non-determinism.
 */
import type { RetryPolicySpec } from './endpoint';
import { ValidationError } from './errors';
import { clampRetryAfterMs } from './retry-after';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A retry policy with every field decided. Plain data: it travels in workflow input and activity arguments. */
export interface ResolvedRetryPolicy {
  /** Delay before the first retry of the exponential curve, in ms. */
  readonly initialIntervalMs: number;
  /** Growth factor of the exponential curve. */
  readonly backoffCoefficient: number;
  /** Longest delay between attempts, in ms; also caps `Retry-After`. */
  readonly maximumIntervalMs: number;
  /** Attempts including the first. */
  readonly maximumAttempts: number;
  /** Total time from the first attempt after which no attempt runs (Temporal's scheduleToCloseTimeout), in ms. */
  readonly retryWindowMs: number;
  /** ± spread applied to each scheduled delay, in percent. */
  readonly jitterPercent: number;
  /** Status codes treated as permanent failures besides 410. */
  readonly permanentStatusCodes: readonly number[];
  /**
   * Explicit delays, in ms: entry `n - 1` is the wait after failed attempt `n`. Attempts past the end reuse the
   * last entry. When present it replaces the exponential curve (which still backs Temporal's own fallback).
   */
  readonly scheduleMs?: readonly number[];
}

/**
 * The service default: the Svix / Standard Webhooks schedule. Attempts run immediately, then after 5 s, 5 min,
 * 30 min, 2 h, 5 h, 10 h and 10 h, each wait ±20%: eight attempts over about 28 hours (at most ~33 h with
 * jitter).
 *
 * The exponential fields are Temporal's fallback for failures the activity could not shape (5 s × 4ⁿ reaches
 * about 5.7 h by the seventh retry, close to the schedule's shape), and the curve used when a tenant or
 * endpoint sets `initialIntervalMs` or `backoffCoefficient`. The 48 h window leaves room for the jittered
 * schedule plus eight attempt timeouts.
 */
export const DEFAULT_RETRY_POLICY: ResolvedRetryPolicy = Object.freeze({
  initialIntervalMs: 5 * SECOND,
  backoffCoefficient: 4,
  // 12 h, not 10 h: the cap applies after jitter, so a 10 h cap would only ever shorten the 10 h waits.
  maximumIntervalMs: 12 * HOUR,
  maximumAttempts: 8,
  retryWindowMs: 2 * DAY,
  jitterPercent: 20,
  permanentStatusCodes: Object.freeze([]) as readonly number[],
  scheduleMs: Object.freeze([5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR]),
});

/**
 * Fills every field from the most specific level that sets it: endpoint, then tenant, then service.
 *
 * Setting `initialIntervalMs` or `backoffCoefficient` at the endpoint or tenant asks for an exponential curve,
 * so the service's explicit schedule is dropped. `maximumIntervalMs`, `maximumAttempts`, `retryWindowMs`,
 * `jitterPercent` and `permanentStatusCodes` keep it: they bound or tune either shape (a lower maximum caps
 * the schedule's long waits, fewer attempts cut it short).
 *
 * @param service the service-wide policy. Default: {@link DEFAULT_RETRY_POLICY}.
 */
export function resolveRetryPolicy(
  endpoint: RetryPolicySpec | undefined,
  tenant: RetryPolicySpec | undefined,
  service: ResolvedRetryPolicy = DEFAULT_RETRY_POLICY,
): ResolvedRetryPolicy {
  const pick = <K extends keyof RetryPolicySpec>(key: K) => endpoint?.[key] ?? tenant?.[key];
  const wantsExponential = [endpoint, tenant].some(
    (spec) => spec?.initialIntervalMs !== undefined || spec?.backoffCoefficient !== undefined,
  );
  const scheduleMs = wantsExponential ? undefined : service.scheduleMs;
  return {
    initialIntervalMs: pick('initialIntervalMs') ?? service.initialIntervalMs,
    backoffCoefficient: pick('backoffCoefficient') ?? service.backoffCoefficient,
    maximumIntervalMs: pick('maximumIntervalMs') ?? service.maximumIntervalMs,
    maximumAttempts: pick('maximumAttempts') ?? service.maximumAttempts,
    retryWindowMs: pick('retryWindowMs') ?? service.retryWindowMs,
    jitterPercent: pick('jitterPercent') ?? service.jitterPercent,
    permanentStatusCodes: pick('permanentStatusCodes') ?? service.permanentStatusCodes,
    ...(scheduleMs !== undefined ? { scheduleMs } : {}),
  };
}

/** Bounds accepted from tenants and endpoints. The service's own config may go beyond them. */
export const RETRY_POLICY_LIMITS = Object.freeze({
  intervalMs: { min: 100, max: 7 * DAY },
  backoffCoefficient: { min: 1, max: 10 },
  maximumAttempts: { min: 1, max: 100 },
  retryWindowMs: { min: SECOND, max: 30 * DAY },
  jitterPercent: { min: 0, max: 50 },
  statusCode: { min: 400, max: 599 },
  /** More entries than this is a sign of a mistake, not of a policy. */
  permanentStatusCodesLength: 50,
});

const SPEC_FIELDS: ReadonlySet<string> = new Set<keyof RetryPolicySpec>([
  'initialIntervalMs',
  'backoffCoefficient',
  'maximumIntervalMs',
  'maximumAttempts',
  'retryWindowMs',
  'jitterPercent',
  'permanentStatusCodes',
]);

/**
 * Checks an untrusted retry policy (stored data, a CLI flag, an API body) and returns a clean copy holding
 * only the known fields that are set.
 *
 * @param path the field path prefixed to every error's `field`. Default: `retryPolicy`; pass `''` for none.
 * @throws ValidationError naming the offending field, e.g. `retryPolicy.permanentStatusCodes.2`.
 */
export function validateRetryPolicySpec(spec: unknown, path = 'retryPolicy'): RetryPolicySpec {
  const at = (key: string | number) => (path === '' ? String(key) : `${path}.${key}`);
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw new ValidationError(`${path || 'retry policy'}: must be an object`, path || undefined);
  }
  const input = spec as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!SPEC_FIELDS.has(key)) throw new ValidationError(`${at(key)}: unknown field`, at(key));
  }

  const { intervalMs, backoffCoefficient, maximumAttempts, retryWindowMs, jitterPercent } = RETRY_POLICY_LIMITS;
  const out: {
    -readonly [K in keyof RetryPolicySpec]: RetryPolicySpec[K];
  } = {};
  const initial = optionalNumber(input, 'initialIntervalMs', at, intervalMs, true);
  if (initial !== undefined) out.initialIntervalMs = initial;
  const coefficient = optionalNumber(input, 'backoffCoefficient', at, backoffCoefficient, false);
  if (coefficient !== undefined) out.backoffCoefficient = coefficient;
  const maximum = optionalNumber(input, 'maximumIntervalMs', at, intervalMs, true);
  if (maximum !== undefined) out.maximumIntervalMs = maximum;
  const attempts = optionalNumber(input, 'maximumAttempts', at, maximumAttempts, true);
  if (attempts !== undefined) out.maximumAttempts = attempts;
  const window = optionalNumber(input, 'retryWindowMs', at, retryWindowMs, true);
  if (window !== undefined) out.retryWindowMs = window;
  const jitter = optionalNumber(input, 'jitterPercent', at, jitterPercent, false);
  if (jitter !== undefined) out.jitterPercent = jitter;
  const codes = optionalStatusCodes(input.permanentStatusCodes, at);
  if (codes !== undefined) out.permanentStatusCodes = codes;

  // Temporal rejects a retry policy whose maximum is below its initial interval, at schedule time.
  if (initial !== undefined && maximum !== undefined && maximum < initial) {
    throw new ValidationError(
      `${at('maximumIntervalMs')}: must not be less than initialIntervalMs (${initial})`,
      at('maximumIntervalMs'),
    );
  }
  return out;
}

function optionalNumber(
  input: Record<string, unknown>,
  key: keyof RetryPolicySpec,
  at: (key: string) => string,
  bounds: { readonly min: number; readonly max: number },
  integer: boolean,
): number | undefined {
  const value = input[key];
  if (value === undefined) return undefined;
  const kind = integer ? 'an integer' : 'a number';
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new ValidationError(`${at(key)}: must be ${kind}`, at(key));
  }
  if (value < bounds.min || value > bounds.max) {
    throw new ValidationError(`${at(key)}: must be ${kind} from ${bounds.min} to ${bounds.max}`, at(key));
  }
  return value;
}

function optionalStatusCodes(value: unknown, at: (key: string) => string): number[] | undefined {
  if (value === undefined) return undefined;
  const field = at('permanentStatusCodes');
  if (!Array.isArray(value)) throw new ValidationError(`${field}: must be an array of status codes`, field);
  const { statusCode, permanentStatusCodesLength } = RETRY_POLICY_LIMITS;
  if (value.length > permanentStatusCodesLength) {
    throw new ValidationError(`${field}: at most ${permanentStatusCodesLength} status codes`, field);
  }
  return value.map((code: unknown, index) => {
    // Only 4xx and 5xx: a 2xx is success, and 1xx/3xx are never final answers worth giving up on.
    if (typeof code !== 'number' || !Number.isInteger(code) || code < statusCode.min || code > statusCode.max) {
      const item = `${field}.${index}`;
      throw new ValidationError(
        `${item}: must be an HTTP status code from ${statusCode.min} to ${statusCode.max}`,
        item,
      );
    }
    return code;
  });
}

/**
 * The wait before the next attempt, or undefined when `attempt` was the last one allowed.
 *
 * Order of precedence:
 * 1. attempts exhausted (`attempt >= maximumAttempts`): undefined.
 * 2. `retryAfterMs` (from 429/503): that wait, clamped to [1 s, `maximumIntervalMs`], with no jitter, since the
 *    receiver asked for a specific time.
 * 3. the explicit schedule when the policy has one, else `initialIntervalMs × backoffCoefficient^(attempt − 1)`;
 *    capped at `maximumIntervalMs`, then spread by `delay × (1 + jitter × (2 × random01 − 1))`, and capped again
 *    so jitter never exceeds the operator's maximum.
 *
 * The retry window is not checked here: the activity cannot see when the first attempt started, and Temporal
 * enforces it as scheduleToCloseTimeout.
 *
 * @param attempt the 1-based number of the attempt that just failed (Temporal's `info.attempt`).
 * @param random01 a uniform draw in [0, 1), made by the activity.
 * @returns whole ms, at least 1.
 */
export function nextRetryDelayMs(
  policy: ResolvedRetryPolicy,
  attempt: number,
  random01: number,
  retryAfterMs?: number,
): number | undefined {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`attempt must be a positive integer, got ${attempt}`);
  }
  if (attempt >= policy.maximumAttempts) return undefined;
  if (retryAfterMs !== undefined) {
    return Math.max(1, Math.round(clampRetryAfterMs(retryAfterMs, policy.maximumIntervalMs)));
  }

  const nominal = Math.min(nominalDelayMs(policy, attempt), policy.maximumIntervalMs);
  const spread = policy.jitterPercent / 100;
  const r = Number.isFinite(random01) ? Math.min(Math.max(random01, 0), 1) : 0.5;
  const jittered = nominal * (1 + spread * (2 * r - 1));
  return Math.max(1, Math.round(Math.min(jittered, policy.maximumIntervalMs)));
}

function nominalDelayMs(policy: ResolvedRetryPolicy, attempt: number): number {
  const schedule = policy.scheduleMs;
  if (schedule !== undefined && schedule.length > 0) {
    return schedule[Math.min(attempt, schedule.length) - 1] ?? policy.maximumIntervalMs;
  }
  return policy.initialIntervalMs * policy.backoffCoefficient ** (attempt - 1);
}

/**
 * Failure types Temporal must never retry, whatever the activity's `nonRetryable` flag says.
 *
 * The first group is what the delivery activity throws for final outcomes. The rest are the permanent
 * `WssError` subclasses twice over: by `code`, for failures built with `type: err.code`, and by class
 * name, because Temporal names an uncaught plain error's failure type after its class.
 */
export const NON_RETRYABLE_ERROR_TYPES: readonly string[] = Object.freeze([
  'endpoint_gone',
  'delivery_permanent_failure',
  'destination_not_allowed',
  'retries_exhausted',
  'validation_failed',
  'not_found',
  'unauthorized',
  'conflict',
  'malformed_event',
  'payload_too_large',
  'secret_unavailable',
  'ValidationError',
  'NotFoundError',
  'UnauthorizedError',
  'ConflictError',
  'DestinationNotAllowedError',
  'EndpointGoneError',
  'MalformedEventError',
  'PayloadTooLargeError',
  'SecretUnavailableError',
]);

/** Temporal's `RetryPolicy`, with durations as ms numbers (which the TS SDK accepts as `Duration`). */
export interface TemporalRetryPolicy {
  initialInterval: number;
  backoffCoefficient: number;
  maximumInterval: number;
  maximumAttempts: number;
  nonRetryableErrorTypes: string[];
}

/**
 * The activity retry policy for Temporal. It carries the bounds and the exponential fallback only: jitter and
 * explicit schedules have no Temporal field, so the activity applies them per failure through
 * `ApplicationFailure.retryable(..., { nextRetryDelay })` using {@link nextRetryDelayMs}.
 */
export function toTemporalRetryPolicy(policy: ResolvedRetryPolicy): TemporalRetryPolicy {
  return {
    initialInterval: policy.initialIntervalMs,
    backoffCoefficient: policy.backoffCoefficient,
    // Temporal refuses to schedule an activity whose maximum is below its initial interval; a resolved policy
    // can mix an endpoint's initial interval with a tenant's smaller maximum.
    maximumInterval: Math.max(policy.maximumIntervalMs, policy.initialIntervalMs),
    maximumAttempts: policy.maximumAttempts,
    nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
  };
}

/**
 * The activity's scheduleToCloseTimeout: the retry window. Once it passes, Temporal starts no further attempt
 * and times out the one in flight.
 */
export function scheduleToCloseMs(policy: ResolvedRetryPolicy): number {
  return policy.retryWindowMs;
}
