// The delivery workflow in Temporal's time-skipping test server: the real workflow code, a scripted stand-in for
// the delivery activity, and Temporal's real retry machinery (nextRetryDelay, maximumAttempts,
// nonRetryableErrorTypes, scheduleToCloseTimeout, cancellation). Waits of hours pass in milliseconds.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { TestFn } from 'node:test';
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { DeliveryStatus } from '../../src/domain/delivery-outcome';
import { parseEndpointId, parseEventId, parseTenantId } from '../../src/domain/ids';
import type { ResolvedRetryPolicy } from '../../src/domain/retry-policy';
import { DEFAULT_RETRY_POLICY, NON_RETRYABLE_ERROR_TYPES } from '../../src/domain/retry-policy';
import { DeliveryStatusKey, SEARCH_ATTRIBUTE_KEYS } from '../../src/delivery/search-attributes';
import type { DeliverEventInput, PlannedDelivery } from '../../src/delivery/workflow-contract';
import type { deliverEvent } from '../../src/workflows/deliver-event';
import type { ReceiverAnswer, ScriptedDelivery } from './scripted-delivery';
import { drawsFrom, scriptedDelivery } from './scripted-delivery';
import { createTimeSkippingEnv } from './time-skipping-env';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** The documented default schedule: the wait after each failed attempt (README, Svix / Standard Webhooks). */
const DOCUMENTED_WAITS_MS = [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR];
/** Real time an attempt and the hand-offs around it may add to a skipped wait on a busy machine. */
const SLACK_MS = 30 * SECOND;

/** Per test: a workflow that never ends (a retry that goes on, a lost time skip) fails instead of hanging. */
const TEST_TIMEOUT_MS = 60_000;

/** `it` with {@link TEST_TIMEOUT_MS}. */
function test(name: string, fn: TestFn): void {
  void it(name, { timeout: TEST_TIMEOUT_MS }, fn);
}

let env: TestWorkflowEnvironment;
let workflowBundle: WorkflowBundleWithSourceMap;
/** Schedule hours the tests made Temporal wait through, for the report at the end. */
let skippedMs = 0;

/** A test server with the service's search attributes declared. */
async function startServer(): Promise<TestWorkflowEnvironment> {
  const server = await createTimeSkippingEnv();
  // The test server refuses undeclared search attributes, and implements addSearchAttributes but not list.
  await server.connection.operatorService.addSearchAttributes({
    namespace: server.namespace ?? 'default',
    searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTE_KEYS.map((key) => [key.name, indexedType(key.type)])),
  });
  return server;
}

before(async () => {
  env = await startServer();
  workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: { log() {}, info() {}, warn() {}, error: console.error, debug() {}, trace() {} },
  });
});

after(async () => {
  await env?.teardown();
  console.log(`# workflow tests waited through ${(skippedMs / HOUR).toFixed(1)} h of Temporal time`);
});

function indexedType(type: string): number {
  // temporal.api.enums.v1.IndexedValueType
  const types: Record<string, number> = { KEYWORD: 2, KEYWORD_LIST: 7 };
  const value = types[type];
  if (value === undefined) throw new Error(`no indexed type for ${type}`);
  return value;
}

interface Run {
  readonly handle: WorkflowHandle<typeof deliverEvent>;
  readonly delivery: ScriptedDelivery;
}

/**
 * Runs the workflow for `deliveries` on a fresh task queue with a worker whose activity follows `script`,
 * and hands the started workflow to `body` while the worker runs.
 */
async function withWorkflow<T>(
  deliveries: readonly PlannedDelivery[],
  script: Record<string, (attempt: number) => ReceiverAnswer>,
  body: (run: Run) => Promise<T>,
  options: { random?: () => number; env?: TestWorkflowEnvironment } = {},
): Promise<T> {
  const server = options.env ?? env;
  const taskQueue = `wf-${randomUUID()}`;
  const delivery = scriptedDelivery(script, () => server.currentTimeMs(), options.random);
  const worker = await Worker.create({
    connection: server.nativeConnection,
    taskQueue,
    workflowBundle,
    activities: delivery.activities,
  });
  const input: DeliverEventInput = {
    event: {
      tenantId: parseTenantId('tenant_wf'),
      eventId: parseEventId(`evt_${randomUUID()}`),
      eventType: 'invoice.paid',
      occurredAt: new Date().toISOString(),
    },
    deliveries,
  };
  return worker.runUntil(async () => {
    const handle = await server.client.workflow.start<typeof deliverEvent>('deliverEvent', {
      taskQueue,
      workflowId: `deliver-${input.event.eventId}`,
      args: [input],
      typedSearchAttributes: [{ key: DeliveryStatusKey, value: 'pending' }],
    });
    return body({ handle, delivery });
  });
}

const endpoint = (endpointId: string, retryPolicy: ResolvedRetryPolicy = DEFAULT_RETRY_POLICY): PlannedDelivery => ({
  endpointId: parseEndpointId(endpointId),
  retryPolicy,
});

async function searchedStatus(handle: WorkflowHandle): Promise<DeliveryStatus | undefined> {
  const description = await handle.describe();
  return description.typedSearchAttributes.get(DeliveryStatusKey) as DeliveryStatus | undefined;
}

/** Gaps between consecutive attempts' scheduled times. */
function gapsMs(attempts: readonly { startedAtMs: number }[]): number[] {
  return attempts.slice(1).map((a, i) => a.startedAtMs - attempts[i]!.startedAtMs);
}

function assertWaited(actualMs: number, expectedMs: number, what: string): void {
  assert.ok(
    actualMs >= expectedMs && actualMs < expectedMs + SLACK_MS,
    `${what}: waited ${actualMs} ms, expected ${expectedMs} ms (+ at most ${SLACK_MS} ms of real time)`,
  );
}

function elapsed(attempts: readonly { startedAtMs: number }[]): number {
  const first = attempts[0];
  const last = attempts[attempts.length - 1];
  const ms = first && last ? last.startedAtMs - first.startedAtMs : 0;
  skippedMs += ms;
  return ms;
}

describe('deliverEvent on the default retry schedule', () => {
  test('delivers on the eighth attempt after waiting 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, each jittered', async () => {
    // Jitter draws at both extremes and in between: -20 %, +20 % (just under), and values around the middle.
    const draws = [0, 0.999_999, 0.25, 0.75, 0.5, 0.1, 0.9];
    await withWorkflow(
      [endpoint('ep_schedule')],
      { ep_schedule: (attempt) => (attempt < 8 ? 503 : 200) },
      async ({ handle, delivery }) => {
        const result = await handle.result();
        assert.deepEqual(result, {
          status: 'delivered',
          deliveries: [
            { endpointId: 'ep_schedule', status: 'delivered', attempts: 8, lastStatusCode: 200, durationMs: 3 },
          ],
        });
        assert.equal(await searchedStatus(handle), 'delivered');

        const attempts = delivery.attemptsOf('ep_schedule');
        assert.deepEqual(
          attempts.map((a) => a.attempt),
          [1, 2, 3, 4, 5, 6, 7, 8],
        );
        const gaps = gapsMs(attempts);
        gaps.forEach((gap, i) => {
          const nominal = DOCUMENTED_WAITS_MS[i]!;
          const draw = draws[i]!;
          const jittered = Math.round(nominal * (1 + 0.2 * (2 * draw - 1)));
          // Temporal waited what the activity asked for, and that is the documented wait with the drawn jitter.
          assert.equal(attempts[i]!.nextRetryDelayMs, jittered, `retry ${i + 1}: requested delay`);
          assertWaited(gap, jittered, `retry ${i + 1}`);
        });
        // The jitter moved the waits both ways: the first is 20 % short, the second about 20 % long.
        assert.ok(gaps[0]! < DOCUMENTED_WAITS_MS[0]! && gaps[1]! > DOCUMENTED_WAITS_MS[1]!);
        const total = elapsed(attempts);
        const nominalTotal = DOCUMENTED_WAITS_MS.reduce((a, b) => a + b, 0);
        assert.ok(total > 0.8 * nominalTotal && total < 1.2 * nominalTotal + SLACK_MS, `took ${total} ms`);
      },
      { random: drawsFrom(draws) },
    );
  });

  test('fails after the eighth attempt with the last status code when every attempt fails', async () => {
    await withWorkflow([endpoint('ep_exhausted')], { ep_exhausted: () => 503 }, async ({ handle, delivery }) => {
      const result = await handle.result();
      assert.equal(result.status, 'failed');
      const [only] = result.deliveries;
      assert.equal(only?.status, 'failed');
      assert.equal(only?.attempts, 8);
      assert.equal(only?.lastStatusCode, 503);
      assert.match(only?.lastError ?? '', /^retries_exhausted: HTTP 503/);
      assert.equal(await searchedStatus(handle), 'failed');

      const attempts = delivery.attemptsOf('ep_exhausted');
      assert.equal(attempts.length, 8);
      gapsMs(attempts).forEach((gap, i) => assertWaited(gap, DOCUMENTED_WAITS_MS[i]!, `retry ${i + 1}`));
      elapsed(attempts);
    });
  });

  test('reports the status code of the last attempt, not the first, when the receiver changes its answer', async () => {
    const answers = [500, 502, 504];
    const policy: ResolvedRetryPolicy = { ...DEFAULT_RETRY_POLICY, maximumAttempts: 3 };
    await withWorkflow(
      [endpoint('ep_changing', policy)],
      { ep_changing: (attempt) => answers[attempt - 1]! },
      async ({ handle, delivery }) => {
        const result = await handle.result();
        assert.equal(result.deliveries[0]?.lastStatusCode, 504);
        assert.equal(result.deliveries[0]?.attempts, 3);
        elapsed(delivery.attemptsOf('ep_changing'));
      },
    );
  });
});

describe('deliverEvent with final failures', () => {
  test('fails after one attempt when the receiver answers 410 Gone', async () => {
    await withWorkflow([endpoint('ep_gone')], { ep_gone: () => 410 }, async ({ handle, delivery }) => {
      const result = await handle.result();
      assert.deepEqual(result.deliveries, [
        {
          endpointId: 'ep_gone',
          status: 'failed',
          attempts: 1,
          lastStatusCode: 410,
          lastError: 'endpoint_gone: HTTP 410 Gone: endpoint disabled',
        },
      ]);
      assert.equal(result.status, 'failed');
      assert.equal(delivery.attemptsOf('ep_gone').length, 1);
    });
  });

  test('fails after one attempt on a status code the endpoint lists as permanent', async () => {
    const policy: ResolvedRetryPolicy = { ...DEFAULT_RETRY_POLICY, permanentStatusCodes: [422] };
    await withWorkflow([endpoint('ep_422', policy)], { ep_422: () => 422 }, async ({ handle, delivery }) => {
      const result = await handle.result();
      assert.equal(result.status, 'failed');
      assert.equal(result.deliveries[0]?.attempts, 1);
      assert.equal(result.deliveries[0]?.lastStatusCode, 422);
      assert.match(result.deliveries[0]?.lastError ?? '', /^delivery_permanent_failure: /);
      assert.equal(delivery.attemptsOf('ep_422').length, 1);
    });
  });

  test('does not retry any non-retryable error type, even when the failure is marked retryable', async () => {
    // Temporal, not the activity, stops these: the policy's nonRetryableErrorTypes must reach it.
    const ids = NON_RETRYABLE_ERROR_TYPES.map((_, i) => `ep_type_${i}`);
    const script = Object.fromEntries(
      NON_RETRYABLE_ERROR_TYPES.map((type, i) => [
        ids[i]!,
        () => () => ApplicationFailure.create({ type, message: `a ${type}`, nonRetryable: false }),
      ]),
    );
    await withWorkflow(
      ids.map((id) => endpoint(id)),
      script,
      async ({ handle, delivery }) => {
        const result = await handle.result();
        assert.equal(result.status, 'failed');
        for (const [i, type] of NON_RETRYABLE_ERROR_TYPES.entries()) {
          const id = ids[i]!;
          assert.equal(delivery.attemptsOf(id).length, 1, `${type} was retried`);
          const entry = result.deliveries.find((d) => d.endpointId === id);
          assert.equal(entry?.status, 'failed');
          assert.equal(entry?.lastError, `${type}: a ${type}`);
        }
      },
    );
  });

  test('retries an unexpected exception on the exponential fallback and stops at maximumAttempts', async () => {
    // No nextRetryDelay: Temporal's own policy (5 s × 4ⁿ) decides the waits and the attempt count.
    await withWorkflow([endpoint('ep_throws')], { ep_throws: () => 'throw' }, async ({ handle, delivery }) => {
      const result = await handle.result();
      assert.equal(result.status, 'failed');
      assert.equal(result.deliveries[0]?.status, 'failed');
      // Named by its kind: an unexpected exception's own text may quote the event, and goes to the worker log only.
      assert.match(result.deliveries[0]?.lastError ?? '', /^unexpected_error: .*unexpected Error/);
      const attempts = delivery.attemptsOf('ep_throws');
      assert.equal(attempts.length, 8);
      gapsMs(attempts).forEach((gap, i) => assertWaited(gap, 5 * SECOND * 4 ** i, `fallback retry ${i + 1}`));
      elapsed(attempts);
    });
  });

  test('ends a delivery whose attempts keep failing when the 48 h retry window closes', async () => {
    // Hourly-doubling fallback waits and no attempt limit, so only the window can end it: attempts at 0, 1, 3,
    // 7, 15, 27 and 39 h; the next would start at 51 h, past the window.
    const policy: ResolvedRetryPolicy = {
      ...DEFAULT_RETRY_POLICY,
      initialIntervalMs: HOUR,
      backoffCoefficient: 2,
      maximumIntervalMs: 12 * HOUR,
      maximumAttempts: 100,
      retryWindowMs: 48 * HOUR,
    };
    const { scheduleMs: _ignored, ...exponential } = policy;
    await withWorkflow(
      [endpoint('ep_window', exponential)],
      { ep_window: () => 'throw' },
      async ({ handle, delivery }) => {
        const result = await handle.result();
        assert.equal(result.status, 'failed');
        assert.equal(result.deliveries[0]?.status, 'failed');
        const attempts = delivery.attemptsOf('ep_window');
        assert.equal(attempts.length, 7);
        assert.ok(elapsed(attempts) < 48 * HOUR);
        const closed = (await handle.describe()).closeTime;
        assert.ok(closed, 'closed');
        const sinceFirst = closed.getTime() - attempts[0]!.startedAtMs;
        assert.ok(sinceFirst <= 48 * HOUR + SLACK_MS, `ended ${sinceFirst} ms after the first attempt`);
      },
    );
  });

  test('gives up inside the retry window when the next scheduled wait would end past it', async () => {
    // A 1 h window on the default schedule: attempts at 0, 5 s, ~5 min and ~35 min; the next wait (2 h) ends
    // past the window, so the fourth attempt is the last, reported with its status code.
    const policy: ResolvedRetryPolicy = { ...DEFAULT_RETRY_POLICY, retryWindowMs: HOUR };
    await withWorkflow([endpoint('ep_short', policy)], { ep_short: () => 502 }, async ({ handle, delivery }) => {
      const result = await handle.result();
      assert.equal(result.deliveries[0]?.attempts, 4);
      assert.equal(result.deliveries[0]?.lastStatusCode, 502);
      assert.match(result.deliveries[0]?.lastError ?? '', /^retries_exhausted: /);
      assert.ok(elapsed(delivery.attemptsOf('ep_short')) < HOUR);
    });
  });
});

describe('deliverEvent cancellation', () => {
  test('ends cancelled and records it in DeliveryStatus when cancelled while waiting for a retry', async () => {
    await withWorkflow(
      [endpoint('ep_cancel')],
      { ep_cancel: (attempt) => (attempt < 8 ? 503 : 200) },
      async ({ handle, delivery }) => {
        // The test server skips time only while a client waits for a result, so the 5 min wait after the
        // second attempt is still running when the cancel arrives.
        await delivery.attemptReached('ep_cancel', 1);
        await env.sleep(10 * SECOND);
        await delivery.attemptReached('ep_cancel', 2);
        assert.equal(await searchedStatus(handle), 'pending');
        await handle.cancel();

        const err = await handle.result().then(
          () => assert.fail('a cancelled delivery must not complete'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof WorkflowFailedError, String(err));
        assert.ok(err.cause instanceof CancelledFailure, `cause: ${String(err.cause)}`);
        const description = await handle.describe();
        assert.equal(description.status.name, 'CANCELLED');
        assert.equal(await searchedStatus(handle), 'cancelled');

        // The retries stop with the workflow: skip past the rest of the schedule and count attempts.
        await env.sleep(30 * HOUR);
        assert.equal(delivery.attemptsOf('ep_cancel').length, 2);
      },
    );
  });

  test('ends cancelled without waiting for an attempt that hangs', async () => {
    // A server of its own: the Java test server stops skipping time for good once a workflow closes while one
    // of its attempts is running (the attempt's time lock is never released), which would stall later tests.
    const own = await startServer();
    try {
      await withWorkflow(
        [endpoint('ep_hang'), endpoint('ep_ok')],
        { ep_hang: () => 'hang', ep_ok: () => 200 },
        async ({ handle, delivery }) => {
          await delivery.attemptReached('ep_hang', 1);
          await delivery.attemptReached('ep_ok', 1);
          await handle.cancel();
          const err = await handle.result().then(
            () => assert.fail('a cancelled delivery must not complete'),
            (e: unknown) => e,
          );
          assert.ok(err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure, String(err));
          assert.equal(await searchedStatus(handle), 'cancelled');
          // The attempt does not heartbeat, so it never hears of the cancel; let it answer so the worker stops.
          delivery.releaseHung();
        },
        { env: own },
      );
    } finally {
      await own.teardown();
    }
  });
});

describe('deliverEvent fan-out', () => {
  test('summarizes three endpoints as failed when one fails for good and two deliver', async () => {
    await withWorkflow(
      [endpoint('ep_a'), endpoint('ep_b'), endpoint('ep_c')],
      {
        ep_a: () => 200,
        ep_b: (attempt) => (attempt < 3 ? 503 : 204),
        ep_c: () => 410,
      },
      async ({ handle, delivery }) => {
        const result = await handle.result();
        assert.equal(result.status, 'failed');
        assert.deepEqual(
          result.deliveries.map((d) => [d.endpointId, d.status, d.attempts, d.lastStatusCode]),
          [
            ['ep_a', 'delivered', 1, 200],
            ['ep_b', 'delivered', 3, 204],
            ['ep_c', 'failed', 1, 410],
          ],
        );
        assert.equal(await searchedStatus(handle), 'failed');
        // The endpoints run in parallel: ep_c's failure did not hold back ep_b's retries, nor the other way.
        assert.equal(delivery.attemptsOf('ep_b').length, 3);
        elapsed(delivery.attemptsOf('ep_b'));
      },
    );
  });

  test('is delivered when every endpoint delivers, some after retries', async () => {
    await withWorkflow(
      [endpoint('ep_x'), endpoint('ep_y'), endpoint('ep_z')],
      { ep_x: () => 200, ep_y: (attempt) => (attempt < 4 ? 500 : 200), ep_z: () => 'skip' },
      async ({ handle, delivery }) => {
        const result = await handle.result();
        assert.equal(result.status, 'delivered');
        assert.deepEqual(
          result.deliveries.map((d) => [d.endpointId, d.status]),
          [
            ['ep_x', 'delivered'],
            ['ep_y', 'delivered'],
            ['ep_z', 'skipped'],
          ],
        );
        assert.equal(result.deliveries[2]?.lastError, 'endpoint_disabled');
        assert.equal(await searchedStatus(handle), 'delivered');
        elapsed(delivery.attemptsOf('ep_y'));
      },
    );
  });

  test('is skipped when every endpoint was disabled before its attempt', async () => {
    await withWorkflow(
      [endpoint('ep_off1'), endpoint('ep_off2')],
      { ep_off1: () => 'skip', ep_off2: () => 'skip' },
      async ({ handle }) => {
        const result = await handle.result();
        assert.equal(result.status, 'skipped');
        assert.equal(await searchedStatus(handle), 'skipped');
      },
    );
  });

  test('completes as no_subscribers without any attempt when nothing was routed', async () => {
    await withWorkflow([], {}, async ({ handle, delivery }) => {
      const result = await handle.result();
      assert.deepEqual(result, { status: 'no_subscribers', deliveries: [] });
      assert.equal(await searchedStatus(handle), 'no_subscribers');
      assert.equal(delivery.attempts.length, 0);
    });
  });
});
