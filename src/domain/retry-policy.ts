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
import { z } from 'zod';
import { ValidationError, nonRetryableFailureTypes } from './errors';
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

/** Bounds accepted from tenants and endpoints (the API, stored records). */
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

/**
 * Bounds of the service's own default policy (`WSS_RETRY_*`): an operator may go beyond what a tenant may ask
 * for, down to 1 ms intervals for tests and up to 1,000 attempts.
 */
export const SERVICE_RETRY_POLICY_LIMITS: RetryPolicyLimits = Object.freeze({
  ...RETRY_POLICY_LIMITS,
  intervalMs: { min: 1, max: Number.MAX_SAFE_INTEGER },
  backoffCoefficient: { min: 1, max: 100 },
  maximumAttempts: { min: 1, max: 1000 },
  retryWindowMs: { min: 1, max: Number.MAX_SAFE_INTEGER },
  jitterPercent: { min: 0, max: 100 },
});

export type RetryPolicyLimits = typeof RETRY_POLICY_LIMITS;

/**
 * The zod schema of a retry policy within `limits`: the one validator of retry policies. The API validates
 * bodies with it (and documents them from it), {@link validateRetryPolicySpec} wraps it for stored data and the
 * service config. Beyond the per-field bounds it holds the rule that spans fields: `maximumIntervalMs` must not
 * be less than `initialIntervalMs` when both are set, because Temporal refuses such a policy at schedule time.
 */
export function retryPolicySpecSchema(limits: RetryPolicyLimits = RETRY_POLICY_LIMITS) {
  const number = (bounds: { readonly min: number; readonly max: number }, integer: boolean) => {
    const message = `must be ${integer ? 'an integer' : 'a number'} from ${bounds.min} to ${bounds.max}`;
    const base = z.number({ error: `must be ${integer ? 'an integer' : 'a number'}` });
    return (integer ? base.int({ error: `must be an integer` }) : base)
      .min(bounds.min, message)
      .max(bounds.max, message);
  };
  const { statusCode, permanentStatusCodesLength } = limits;
  const statusCodeMessage = `must be an HTTP status code from ${statusCode.min} to ${statusCode.max}`;
  return z
    .object({
      initialIntervalMs: number(limits.intervalMs, true).optional().describe('Delay before the first retry, in ms.'),
      backoffCoefficient: number(limits.backoffCoefficient, false).optional().describe('Growth factor of the delays.'),
      maximumIntervalMs: number(limits.intervalMs, true)
        .optional()
        .describe('Longest delay between attempts, in ms; at least `initialIntervalMs`. Also caps `Retry-After`.'),
      maximumAttempts: number(limits.maximumAttempts, true).optional().describe('Attempts including the first.'),
      retryWindowMs: number(limits.retryWindowMs, true)
        .optional()
        .describe('Time from the first attempt after which no attempt starts, in ms.'),
      jitterPercent: number(limits.jitterPercent, false)
        .optional()
        .describe('± random spread of each delay, in percent.'),
      permanentStatusCodes: z
        // Only 4xx and 5xx: a 2xx is success, and 1xx/3xx are never final answers worth giving up on.
        .array(
          z
            .number({ error: statusCodeMessage })
            .int(statusCodeMessage)
            .min(statusCode.min, statusCodeMessage)
            .max(statusCode.max, statusCodeMessage),
          { error: 'must be an array of status codes' },
        )
        .max(permanentStatusCodesLength, `at most ${permanentStatusCodesLength} status codes`)
        .optional()
        .describe('Statuses that end the delivery at once, besides 410.'),
    })
    .strict()
    .superRefine((spec, ctx) => {
      const problem = intervalOrderProblem(spec);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['maximumIntervalMs'], message: problem });
    })
    .describe('Retry policy; unset fields fall back to the tenant and service defaults.');
}

/** Temporal rejects a retry policy whose maximum is below its initial interval, at schedule time. */
function intervalOrderProblem(spec: RetryPolicySpec): string | undefined {
  const { initialIntervalMs: initial, maximumIntervalMs: maximum } = spec;
  if (initial === undefined || maximum === undefined || maximum >= initial) return undefined;
  return `must not be less than initialIntervalMs (${initial})`;
}

/** The retry policy schema of tenants and endpoints, for the API. */
export const retryPolicySchema = retryPolicySpecSchema();
const serviceRetryPolicySchema = retryPolicySpecSchema(SERVICE_RETRY_POLICY_LIMITS);

/**
 * Checks an untrusted retry policy (stored data, a CLI flag, an API body, the service config) with
 * {@link retryPolicySpecSchema} and returns a clean copy holding only the known fields that are set.
 *
 * @param path the field path prefixed to every error's `field`. Default: `retryPolicy`; pass `''` for none.
 * @param limits the bounds. Default: {@link RETRY_POLICY_LIMITS}; the service config passes
 *   {@link SERVICE_RETRY_POLICY_LIMITS}.
 * @throws ValidationError naming the first offending field, e.g. `retryPolicy.permanentStatusCodes.2`.
 */
export function validateRetryPolicySpec(
  spec: unknown,
  path = 'retryPolicy',
  limits: RetryPolicyLimits = RETRY_POLICY_LIMITS,
): RetryPolicySpec {
  const schema =
    limits === RETRY_POLICY_LIMITS
      ? retryPolicySchema
      : limits === SERVICE_RETRY_POLICY_LIMITS
        ? serviceRetryPolicySchema
        : retryPolicySpecSchema(limits);
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw new ValidationError(`${path || 'retry policy'}: must be an object`, path || undefined);
  }
  // An explicit `undefined` is "not set", as in JSON, where it cannot be written at all.
  const defined = Object.fromEntries(Object.entries(spec).filter(([, value]) => value !== undefined));
  const parsed = schema.safeParse(defined);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const segments =
    issue === undefined ? [] : issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] ?? ''] : issue.path;
  const field = [path, ...segments.map(String)].filter((part) => part !== '').join('.');
  const message = issue?.code === 'unrecognized_keys' ? 'unknown field' : (issue?.message ?? 'is not valid');
  throw new ValidationError(`${field || 'retry policy'}: ${message}`, field || undefined);
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
 * Failure types Temporal must never retry, whatever the activity's `nonRetryable` flag says: derived from the
 * error registry (`errors.ts`), so a new permanent code is covered the day it is registered.
 *
 * Codes only, not class names: the activity turns every error into an `ApplicationFailure` whose type is a
 * registered code (a permanent `WssError` by its own code, anything unexpected as `unprocessable_event`,
 * `internal_error` or `transient_error`), so no `WssError` reaches Temporal under its class name.
 */
export const NON_RETRYABLE_ERROR_TYPES: readonly string[] = Object.freeze(nonRetryableFailureTypes());

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
