import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import type { RetryPolicySpec } from '../../src/domain/endpoint';
import { ValidationError } from '../../src/domain/errors';
import {
  DEFAULT_RETRY_POLICY,
  NON_RETRYABLE_ERROR_TYPES,
  RETRY_POLICY_LIMITS,
  SERVICE_RETRY_POLICY_LIMITS,
  nextRetryDelayMs,
  retryPolicySchema,
  resolveRetryPolicy,
  scheduleToCloseMs,
  toTemporalRetryPolicy,
  validateRetryPolicySpec,
} from '../../src/domain/retry-policy';
import type { ResolvedRetryPolicy } from '../../src/domain/retry-policy';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** An exponential policy without jitter, so delays are exact. */
const exponential: ResolvedRetryPolicy = {
  initialIntervalMs: SECOND,
  backoffCoefficient: 2,
  maximumIntervalMs: 10 * SECOND,
  maximumAttempts: 10,
  retryWindowMs: DAY,
  jitterPercent: 0,
  permanentStatusCodes: [],
};

describe('default retry schedule', () => {
  const nominal: [number, number][] = [
    [1, 5 * SECOND],
    [2, 5 * MINUTE],
    [3, 30 * MINUTE],
    [4, 2 * HOUR],
    [5, 5 * HOUR],
    [6, 10 * HOUR],
    [7, 10 * HOUR],
  ];
  for (const [attempt, delay] of nominal) {
    it(`waits ${delay / SECOND} s ±20% after attempt ${attempt}`, () => {
      const low = nextRetryDelayMs(DEFAULT_RETRY_POLICY, attempt, 0);
      const middle = nextRetryDelayMs(DEFAULT_RETRY_POLICY, attempt, 0.5);
      const high = nextRetryDelayMs(DEFAULT_RETRY_POLICY, attempt, 0.999_999);
      assert.equal(low, Math.round(delay * 0.8));
      assert.equal(middle, delay);
      assert.ok(high !== undefined && high <= delay * 1.2 && high > delay * 1.19, `high ${high}`);
    });
  }

  it('keeps every jittered delay within ±20% of the nominal one, and under the maximum interval', () => {
    for (const [attempt, delay] of nominal) {
      for (let r = 0; r < 1; r += 0.01) {
        const actual = nextRetryDelayMs(DEFAULT_RETRY_POLICY, attempt, r);
        assert.ok(actual !== undefined);
        assert.ok(actual >= delay * 0.8 && actual <= Math.min(delay * 1.2, DEFAULT_RETRY_POLICY.maximumIntervalMs));
      }
    }
  });

  it('gives up after the eighth attempt', () => {
    assert.equal(DEFAULT_RETRY_POLICY.maximumAttempts, 8);
    assert.equal(nextRetryDelayMs(DEFAULT_RETRY_POLICY, 8, 0.5), undefined);
  });

  it('has a retry window longer than the slowest jittered schedule', () => {
    const slowest = (DEFAULT_RETRY_POLICY.scheduleMs ?? []).reduce((sum, delay) => sum + delay * 1.2, 0);
    assert.ok(scheduleToCloseMs(DEFAULT_RETRY_POLICY) > slowest + 8 * MINUTE);
  });
});

describe('nextRetryDelayMs', () => {
  const cases: [string, ResolvedRetryPolicy, number, number, number | undefined, number | undefined][] = [
    // name, policy, attempt, random01, retryAfterMs, expected
    ['waits the initial interval after the first attempt', exponential, 1, 0.5, undefined, SECOND],
    ['doubles after the second attempt', exponential, 2, 0.5, undefined, 2 * SECOND],
    ['grows exponentially', exponential, 4, 0.5, undefined, 8 * SECOND],
    ['caps growth at the maximum interval', exponential, 5, 0.5, undefined, 10 * SECOND],
    ['stays at the cap', exponential, 9, 0.5, undefined, 10 * SECOND],
    ['gives up when attempts are exhausted', exponential, 10, 0.5, undefined, undefined],
    ['gives up past exhaustion', exponential, 11, 0.5, undefined, undefined],
    ['gives up even when Retry-After is present', exponential, 10, 0.5, 2 * SECOND, undefined],
    ['lets Retry-After take precedence over the curve', exponential, 1, 0.5, 7 * SECOND, 7 * SECOND],
    ['applies no jitter to Retry-After', { ...exponential, jitterPercent: 50 }, 1, 0, 7 * SECOND, 7 * SECOND],
    ['raises a Retry-After of 0 to one second', exponential, 3, 0.5, 0, SECOND],
    ['lowers Retry-After to the maximum interval', exponential, 3, 0.5, HOUR, 10 * SECOND],
    ['spreads down by the jitter at random 0', { ...exponential, jitterPercent: 20 }, 2, 0, undefined, 1_600],
    ['spreads up by the jitter near random 1', { ...exponential, jitterPercent: 20 }, 2, 0.999_999, undefined, 2_400],
    [
      'never lets jitter exceed the maximum interval',
      { ...exponential, jitterPercent: 50 },
      6,
      0.999,
      undefined,
      10 * SECOND,
    ],
    ['clamps an out-of-range random draw', { ...exponential, jitterPercent: 20 }, 2, 7, undefined, 2_400],
    ['treats a NaN random draw as the midpoint', { ...exponential, jitterPercent: 20 }, 2, NaN, undefined, 2 * SECOND],
    [
      'reuses the last schedule entry past its end',
      { ...exponential, scheduleMs: [SECOND, 3 * SECOND] },
      5,
      0.5,
      undefined,
      3 * SECOND,
    ],
    [
      'caps a schedule entry at the maximum interval',
      { ...exponential, scheduleMs: [HOUR] },
      1,
      0.5,
      undefined,
      10 * SECOND,
    ],
    ['falls back to the curve on an empty schedule', { ...exponential, scheduleMs: [] }, 3, 0.5, undefined, 4 * SECOND],
    [
      'stops a schedule early when attempts are fewer',
      { ...DEFAULT_RETRY_POLICY, maximumAttempts: 3 },
      3,
      0.5,
      undefined,
      undefined,
    ],
    ['never returns less than 1 ms', { ...exponential, initialIntervalMs: 0 }, 1, 0.5, undefined, 1],
  ];
  for (const [name, policy, attempt, random01, retryAfterMs, expected] of cases) {
    it(name, () => assert.equal(nextRetryDelayMs(policy, attempt, random01, retryAfterMs), expected));
  }

  for (const attempt of [0, -1, 1.5, NaN]) {
    it(`refuses attempt ${attempt}`, () => {
      assert.throws(() => nextRetryDelayMs(exponential, attempt, 0.5), RangeError);
    });
  }
});

describe('resolveRetryPolicy', () => {
  it('returns the service policy when nothing overrides it', () => {
    assert.deepEqual(resolveRetryPolicy(undefined, undefined, DEFAULT_RETRY_POLICY), DEFAULT_RETRY_POLICY);
  });

  it('defaults the service policy to the built-in one', () => {
    assert.deepEqual(resolveRetryPolicy(undefined, undefined), DEFAULT_RETRY_POLICY);
  });

  const cases: [string, RetryPolicySpec | undefined, RetryPolicySpec | undefined, Partial<ResolvedRetryPolicy>][] = [
    ['prefers the endpoint over the tenant', { maximumAttempts: 3 }, { maximumAttempts: 5 }, { maximumAttempts: 3 }],
    ['falls back to the tenant', undefined, { maximumAttempts: 5 }, { maximumAttempts: 5 }],
    [
      'falls back field by field',
      { maximumAttempts: 3 },
      { jitterPercent: 5 },
      { maximumAttempts: 3, jitterPercent: 5 },
    ],
    [
      'takes status codes from the endpoint whole, not merged',
      { permanentStatusCodes: [400] },
      { permanentStatusCodes: [401] },
      { permanentStatusCodes: [400] },
    ],
    [
      'lets an endpoint clear the tenant status codes',
      { permanentStatusCodes: [] },
      { permanentStatusCodes: [401] },
      { permanentStatusCodes: [] },
    ],
    [
      'falls back to the service for unset fields',
      { maximumAttempts: 3 },
      undefined,
      { retryWindowMs: 2 * DAY, jitterPercent: 20 },
    ],
  ];
  for (const [name, endpoint, tenant, expected] of cases) {
    it(name, () => {
      const resolved = resolveRetryPolicy(endpoint, tenant, DEFAULT_RETRY_POLICY);
      for (const [key, value] of Object.entries(expected)) {
        assert.deepEqual(resolved[key as keyof ResolvedRetryPolicy], value, key);
      }
    });
  }

  const scheduleCases: [string, RetryPolicySpec | undefined, RetryPolicySpec | undefined, boolean][] = [
    [
      'keeps the schedule when only bounds change',
      { maximumAttempts: 3, maximumIntervalMs: HOUR },
      { jitterPercent: 5 },
      true,
    ],
    ['keeps the schedule when only the window changes', { retryWindowMs: DAY }, undefined, true],
    ['drops the schedule when the endpoint sets an initial interval', { initialIntervalMs: SECOND }, undefined, false],
    ['drops the schedule when the tenant sets a coefficient', undefined, { backoffCoefficient: 3 }, false],
  ];
  for (const [name, endpoint, tenant, keeps] of scheduleCases) {
    it(name, () => {
      const resolved = resolveRetryPolicy(endpoint, tenant, DEFAULT_RETRY_POLICY);
      assert.equal(resolved.scheduleMs !== undefined, keeps);
    });
  }

  it('uses the service curve after dropping the schedule', () => {
    const resolved = resolveRetryPolicy({ initialIntervalMs: 2 * SECOND }, undefined, DEFAULT_RETRY_POLICY);
    assert.equal(nextRetryDelayMs({ ...resolved, jitterPercent: 0 }, 3, 0.5), 2 * SECOND * 4 ** 2);
  });

  it('keeps a service policy without a schedule exponential', () => {
    assert.equal(resolveRetryPolicy({ maximumAttempts: 2 }, undefined, exponential).scheduleMs, undefined);
  });
});

describe('validateRetryPolicySpec', () => {
  it('accepts an empty spec', () => assert.deepEqual(validateRetryPolicySpec({}), {}));

  it('returns only the fields that are set', () => {
    const spec = {
      initialIntervalMs: 500,
      backoffCoefficient: 1.5,
      maximumIntervalMs: 7 * DAY,
      maximumAttempts: 100,
      retryWindowMs: 30 * DAY,
      jitterPercent: 0,
      permanentStatusCodes: [400, 599],
    };
    assert.deepEqual(validateRetryPolicySpec({ ...spec, jitterPercent: 0, maximumAttempts: 100 }), spec);
    assert.deepEqual(validateRetryPolicySpec({ maximumAttempts: 1, jitterPercent: undefined }), { maximumAttempts: 1 });
  });

  const invalid: [string, unknown, string][] = [
    ['a non-object', 'fast', 'retryPolicy'],
    ['null', null, 'retryPolicy'],
    ['an array', [], 'retryPolicy'],
    ['an unknown field', { maxRetries: 3 }, 'retryPolicy.maxRetries'],
    ['an initial interval below 100 ms', { initialIntervalMs: 99 }, 'retryPolicy.initialIntervalMs'],
    ['an initial interval over 7 days', { initialIntervalMs: 7 * DAY + 1 }, 'retryPolicy.initialIntervalMs'],
    ['a fractional interval', { initialIntervalMs: 100.5 }, 'retryPolicy.initialIntervalMs'],
    ['an interval given as a string', { maximumIntervalMs: '1000' }, 'retryPolicy.maximumIntervalMs'],
    ['a maximum interval over 7 days', { maximumIntervalMs: 8 * DAY }, 'retryPolicy.maximumIntervalMs'],
    [
      'a maximum interval below the initial one',
      { initialIntervalMs: 5_000, maximumIntervalMs: 1_000 },
      'retryPolicy.maximumIntervalMs',
    ],
    ['a coefficient below 1', { backoffCoefficient: 0.5 }, 'retryPolicy.backoffCoefficient'],
    ['a coefficient over 10', { backoffCoefficient: 11 }, 'retryPolicy.backoffCoefficient'],
    ['an infinite coefficient', { backoffCoefficient: Infinity }, 'retryPolicy.backoffCoefficient'],
    ['zero attempts', { maximumAttempts: 0 }, 'retryPolicy.maximumAttempts'],
    ['over 100 attempts', { maximumAttempts: 101 }, 'retryPolicy.maximumAttempts'],
    ['fractional attempts', { maximumAttempts: 2.5 }, 'retryPolicy.maximumAttempts'],
    ['a window over 30 days', { retryWindowMs: 30 * DAY + 1 }, 'retryPolicy.retryWindowMs'],
    ['a window under a second', { retryWindowMs: 999 }, 'retryPolicy.retryWindowMs'],
    ['negative jitter', { jitterPercent: -1 }, 'retryPolicy.jitterPercent'],
    ['jitter over 50%', { jitterPercent: 51 }, 'retryPolicy.jitterPercent'],
    ['NaN jitter', { jitterPercent: NaN }, 'retryPolicy.jitterPercent'],
    ['status codes that are not an array', { permanentStatusCodes: 400 }, 'retryPolicy.permanentStatusCodes'],
    ['a 2xx status code', { permanentStatusCodes: [400, 200] }, 'retryPolicy.permanentStatusCodes.1'],
    ['a 3xx status code', { permanentStatusCodes: [301] }, 'retryPolicy.permanentStatusCodes.0'],
    ['a status code over 599', { permanentStatusCodes: [404, 500, 600] }, 'retryPolicy.permanentStatusCodes.2'],
    ['a status code given as a string', { permanentStatusCodes: ['404'] }, 'retryPolicy.permanentStatusCodes.0'],
    [
      'too many status codes',
      { permanentStatusCodes: Array.from({ length: 51 }, () => 400) },
      'retryPolicy.permanentStatusCodes',
    ],
  ];
  for (const [name, spec, field] of invalid) {
    it(`rejects ${name} at ${field}`, () => {
      assert.throws(
        () => validateRetryPolicySpec(spec),
        (err: unknown) => err instanceof ValidationError && err.field === field && err.message.startsWith(field),
      );
    });
  }

  it('accepts a maximum interval equal to or above the initial one, and either alone', () => {
    for (const spec of [
      { initialIntervalMs: 5_000, maximumIntervalMs: 5_000 },
      { initialIntervalMs: 5_000, maximumIntervalMs: 5_001 },
      { initialIntervalMs: 7 * DAY },
      { maximumIntervalMs: 100 },
    ]) {
      assert.deepEqual(validateRetryPolicySpec(spec), spec);
    }
  });

  // The API validates bodies with this same schema, so the API and the domain cannot disagree.
  for (const [name, spec, field] of invalid) {
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) continue;
    it(`the schema the API uses refuses ${name} at the same field`, () => {
      const parsed = retryPolicySchema.safeParse(spec);
      assert.equal(parsed.success, false);
      const issue = parsed.error!.issues[0]!;
      const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
      assert.equal(['retryPolicy', ...path].join('.'), field);
    });
  }

  it('the schema the API uses holds the maximum >= initial rule inside a request body', () => {
    const body = z.object({ retryPolicy: retryPolicySchema.optional() }).strict();
    const parsed = body.safeParse({ retryPolicy: { initialIntervalMs: 60_000, maximumIntervalMs: 1_000 } });
    assert.equal(parsed.success, false);
    assert.deepEqual(
      parsed.error!.issues.map((i) => i.path.join('.')),
      ['retryPolicy.maximumIntervalMs'],
    );
    assert.match(parsed.error!.issues[0]!.message, /must not be less than initialIntervalMs \(60000\)/);
    assert.equal(body.safeParse({ retryPolicy: { initialIntervalMs: 1_000, maximumIntervalMs: 1_000 } }).success, true);
  });

  it('documents the bounds in the JSON Schema that OpenAPI is generated from', () => {
    const schema = z.toJSONSchema(retryPolicySchema, { io: 'input', unrepresentable: 'any' }) as any;
    assert.equal(schema.additionalProperties, false);
    assert.equal(schema.properties.initialIntervalMs.minimum, RETRY_POLICY_LIMITS.intervalMs.min);
    assert.equal(schema.properties.maximumIntervalMs.maximum, RETRY_POLICY_LIMITS.intervalMs.max);
    assert.equal(schema.properties.maximumAttempts.maximum, RETRY_POLICY_LIMITS.maximumAttempts.max);
    assert.equal(schema.properties.permanentStatusCodes.maxItems, RETRY_POLICY_LIMITS.permanentStatusCodesLength);
  });

  it("checks the service's own policy against the wider service bounds, with the same rules", () => {
    const service = (spec: unknown) => validateRetryPolicySpec(spec, '', SERVICE_RETRY_POLICY_LIMITS);
    assert.deepEqual(service({ initialIntervalMs: 1, maximumAttempts: 1000, jitterPercent: 100 }), {
      initialIntervalMs: 1,
      maximumAttempts: 1000,
      jitterPercent: 100,
    });
    assert.throws(() => service({ maximumAttempts: 1001 }), { field: 'maximumAttempts' });
    assert.throws(() => service({ initialIntervalMs: 0 }), { field: 'initialIntervalMs' });
    assert.throws(() => service({ initialIntervalMs: 10, maximumIntervalMs: 9 }), { field: 'maximumIntervalMs' });
  });

  it('prefixes field paths with the given path', () => {
    assert.throws(() => validateRetryPolicySpec({ maximumAttempts: 0 }, 'endpoints.3.retryPolicy'), {
      field: 'endpoints.3.retryPolicy.maximumAttempts',
    });
    assert.throws(() => validateRetryPolicySpec({ maximumAttempts: 0 }, ''), { field: 'maximumAttempts' });
  });
});

describe('Temporal mapping', () => {
  it('passes the bounds and the exponential fallback to Temporal', () => {
    assert.deepEqual(toTemporalRetryPolicy(DEFAULT_RETRY_POLICY), {
      initialInterval: 5 * SECOND,
      backoffCoefficient: 4,
      maximumInterval: 12 * HOUR,
      maximumAttempts: 8,
      nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
    });
  });

  it('never gives Temporal a maximum interval below the initial one', () => {
    const mixed = { ...exponential, initialIntervalMs: 20 * SECOND, maximumIntervalMs: 10 * SECOND };
    assert.equal(toTemporalRetryPolicy(mixed).maximumInterval, 20 * SECOND);
  });

  it('marks the activity final failure types non-retryable', () => {
    const types = toTemporalRetryPolicy(DEFAULT_RETRY_POLICY).nonRetryableErrorTypes;
    for (const type of [
      'endpoint_gone',
      'delivery_permanent_failure',
      'destination_not_allowed',
      'retries_exhausted',
    ]) {
      assert.ok(types.includes(type), type);
    }
  });

  it('maps the retry window to scheduleToClose', () => {
    assert.equal(scheduleToCloseMs({ ...exponential, retryWindowMs: 3 * HOUR }), 3 * HOUR);
  });
});
