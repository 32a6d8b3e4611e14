// Deliveries that Temporal ends, not the activity: the workflow must hand every one of them to the terminal
// bookkeeping (`recordDeliveryFailure`: dead letter, endpoint health, the final metric) with a reason naming what
// ended it. The real workflow code in Temporal's time-skipping test server, with a scripted activity.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import type { TestFn } from 'node:test';
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { parseEndpointId, parseEventId, parseTenantId } from '../../src/domain/ids';
import type { ResolvedRetryPolicy } from '../../src/domain/retry-policy';
import { DEFAULT_RETRY_POLICY } from '../../src/domain/retry-policy';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/delivery/search-attributes';
import type { DeliverEventInput, PlannedDelivery } from '../../src/delivery/workflow-contract';
import type { deliverEvent } from '../../src/workflows/deliver-event';
import type { ReceiverAnswer, ScriptedDelivery } from './scripted-delivery';
import { scriptedDelivery } from './scripted-delivery';
import { createTimeSkippingEnv } from './time-skipping-env';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Generous: a stalled attempt holds the test server's clock, so its timeout passes in real time. */
const TEST_TIMEOUT_MS = 120_000;

function test(name: string, fn: TestFn): void {
  void it(name, { timeout: TEST_TIMEOUT_MS }, fn);
}

let workflowBundle: WorkflowBundleWithSourceMap;

before(async () => {
  workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: { log() {}, info() {}, warn() {}, error: console.error, debug() {}, trace() {} },
  });
});

/**
 * A test server per test: the Java test server stops skipping time for good once an attempt is left running
 * (a hung attempt whose timeout Temporal already declared), which would stall the next test.
 */
async function startServer(): Promise<TestWorkflowEnvironment> {
  const server = await createTimeSkippingEnv();
  await server.connection.operatorService.addSearchAttributes({
    namespace: server.namespace ?? 'default',
    searchAttributes: Object.fromEntries(
      SEARCH_ATTRIBUTE_KEYS.map((key) => [key.name, key.type === 'KEYWORD' ? 2 : 7]),
    ),
  });
  return server;
}

interface Run {
  readonly handle: WorkflowHandle<typeof deliverEvent>;
  readonly delivery: ScriptedDelivery;
  readonly server: TestWorkflowEnvironment;
}

async function withWorkflow<T>(
  deliveries: readonly PlannedDelivery[],
  script: Record<string, (attempt: number) => ReceiverAnswer>,
  body: (run: Run) => Promise<T>,
  options: { bookkeepingFailures?: number } = {},
): Promise<T> {
  const server = await startServer();
  const delivery = scriptedDelivery(script, () => server.currentTimeMs(), undefined, options);
  try {
    const taskQueue = `wf-${randomUUID()}`;
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
    return await worker.runUntil(async () => {
      const handle = await server.client.workflow.start<typeof deliverEvent>('deliverEvent', {
        taskQueue,
        workflowId: `deliver-${input.event.eventId}`,
        args: [input],
      });
      try {
        return await body({ handle, delivery, server });
      } finally {
        // Lets a hung attempt return, so the worker can stop.
        delivery.releaseHung();
      }
    });
  } finally {
    await server.teardown();
  }
}

const endpoint = (endpointId: string, retryPolicy: ResolvedRetryPolicy): PlannedDelivery => ({
  endpointId: parseEndpointId(endpointId),
  retryPolicy,
});

const policy = (overrides: Partial<ResolvedRetryPolicy>): ResolvedRetryPolicy => ({
  ...DEFAULT_RETRY_POLICY,
  ...overrides,
});

/** The one bookkeeping call for `endpointId`, asserting there is exactly one. */
function recordedFor(delivery: ScriptedDelivery, endpointId: string) {
  const calls = delivery.failuresRecorded.filter((c) => c.endpointId === endpointId);
  assert.equal(calls.length, 1, `bookkeeping calls for ${endpointId}: ${JSON.stringify(delivery.failuresRecorded)}`);
  return calls[0]!;
}

// Concurrent: the timeout tests mostly wait (a running attempt holds the test server's clock, so its timeout
// passes in real time), each on a server of its own.
describe(
  'deliverEvent: deliveries Temporal ends are recorded like the ones the activity ends',
  { concurrency: 3 },
  () => {
    test('records attempt_timed_out when the last attempt outlives its start-to-close timeout', async () => {
      await withWorkflow(
        [endpoint('ep_stall', policy({ maximumAttempts: 1 }))],
        { ep_stall: () => 'stall' },
        async ({ handle, delivery }) => {
          const result = await handle.result();
          assert.equal(result.status, 'failed');
          assert.match(result.deliveries[0]?.lastError ?? '', /^attempt_timed_out: /);
          const call = recordedFor(delivery, 'ep_stall');
          assert.equal(call.reason, 'attempt_timed_out');
          assert.equal(call.attempts, 1);
          assert.equal(call.countsAgainstEndpoint, true);
          assert.equal(call.attemptLogged, false);
        },
      );
    });

    test('records worker_lost when the worker running the last attempt stops heartbeating', async () => {
      // `hang` never heartbeats: to the server it is a worker killed mid-attempt.
      await withWorkflow(
        [endpoint('ep_lost', policy({ maximumAttempts: 2, initialIntervalMs: SECOND, scheduleMs: [SECOND] }))],
        { ep_lost: () => 'hang' },
        async ({ handle, delivery }) => {
          const result = await handle.result();
          assert.equal(result.status, 'failed');
          assert.equal(delivery.attemptsOf('ep_lost').length, 2);
          const call = recordedFor(delivery, 'ep_lost');
          assert.equal(call.reason, 'worker_lost');
          assert.equal(call.attempts, 2);
          assert.match(result.deliveries[0]?.lastError ?? '', /^worker_lost: /);
        },
      );
    });

    test('records unexpected_error when an exception the activity did not shape uses up the attempts', async () => {
      await withWorkflow(
        [endpoint('ep_throws', policy({ maximumAttempts: 3 }))],
        { ep_throws: () => 'throw' },
        async ({ handle, delivery }) => {
          const result = await handle.result();
          assert.equal(result.status, 'failed');
          assert.equal(delivery.attemptsOf('ep_throws').length, 3);
          const call = recordedFor(delivery, 'ep_throws');
          assert.equal(call.reason, 'unexpected_error');
          assert.equal(call.attempts, 3);
          // The exception's own text may quote data: the dead letter names the failure's class only.
          assert.doesNotMatch(call.message, /unexpected failure in the activity/);
        },
      );
    });

    test('records retry_window_exhausted when the window closes on an attempt in flight', async () => {
      // A 30 s window, shorter than the attempt's 60 s timeout: scheduleToClose ends the stalled attempt.
      await withWorkflow(
        [endpoint('ep_window', policy({ retryWindowMs: 30 * SECOND }))],
        { ep_window: () => 'stall' },
        async ({ handle, delivery }) => {
          const result = await handle.result();
          assert.equal(result.status, 'failed');
          const call = recordedFor(delivery, 'ep_window');
          assert.equal(call.reason, 'retry_window_exhausted');
          assert.match(result.deliveries[0]?.lastError ?? '', /^retry_window_exhausted: /);
        },
      );
    });

    test('records retry_window_exhausted when the window closes between unexpected exceptions', async () => {
      // Hourly fallback waits, no attempt limit: only the 3 h window ends it (attempts at 0, 1 h, 2 h).
      const { scheduleMs: _none, ...exponential } = policy({
        initialIntervalMs: HOUR,
        backoffCoefficient: 1,
        maximumAttempts: 100,
        retryWindowMs: 3 * HOUR - MINUTE,
      });
      await withWorkflow(
        [endpoint('ep_window', exponential)],
        { ep_window: () => 'throw' },
        async ({ handle, delivery }) => {
          const result = await handle.result();
          assert.equal(result.status, 'failed');
          assert.equal(recordedFor(delivery, 'ep_window').reason, 'retry_window_exhausted');
        },
      );
    });

    test('retries the bookkeeping until it succeeds, and ends failed only then', async () => {
      await withWorkflow(
        [endpoint('ep_throws', policy({ maximumAttempts: 1 }))],
        { ep_throws: () => 'throw' },
        async ({ handle, delivery }) => {
          const result = await handle.result();
          assert.equal(result.status, 'failed');
          const calls = delivery.failuresRecorded.filter((c) => c.endpointId === 'ep_throws');
          assert.equal(calls.length, 3, 'two failed tries, then one that worked');
          assert.ok(calls.every((c) => c.reason === 'unexpected_error'));
        },
        { bookkeepingFailures: 2 },
      );
    });

    test('records a give-up of the activity whose own bookkeeping failed, and not one that recorded itself', async () => {
      const notRecorded = () =>
        ApplicationFailure.create({
          type: 'endpoint_gone',
          message: 'HTTP 410 Gone: endpoint disabled',
          nonRetryable: true,
          details: [
            {
              attempt: 1,
              statusCode: 410,
              terminal: { recorded: false, countsAgainstEndpoint: true, disable: 'gone' },
            },
          ],
        });
      const recorded = () =>
        ApplicationFailure.create({
          type: 'delivery_permanent_failure',
          message: 'HTTP 400 (http_400)',
          nonRetryable: true,
          details: [{ attempt: 1, statusCode: 400, terminal: { recorded: true, countsAgainstEndpoint: true } }],
        });
      await withWorkflow(
        [endpoint('ep_unrecorded', policy({})), endpoint('ep_recorded', policy({}))],
        { ep_unrecorded: () => notRecorded, ep_recorded: () => recorded },
        async ({ handle, delivery }) => {
          const result = await handle.result();
          assert.equal(result.status, 'failed');
          const call = recordedFor(delivery, 'ep_unrecorded');
          assert.equal(call.reason, 'endpoint_gone');
          assert.equal(call.statusCode, 410);
          assert.equal(call.disable, 'gone');
          assert.equal(call.attemptLogged, true, 'the activity logged (and counted) its last attempt itself');
          assert.equal(delivery.failuresRecorded.filter((c) => c.endpointId === 'ep_recorded').length, 0);
        },
      );
    });

    test('records nothing for a cancelled delivery', async () => {
      await withWorkflow(
        [endpoint('ep_cancel', policy({}))],
        { ep_cancel: () => 'stall' },
        async ({ handle, delivery }) => {
          await delivery.attemptReached('ep_cancel', 1);
          await handle.cancel();
          const err = await handle.result().then(
            () => assert.fail('a cancelled delivery must not complete'),
            (e: unknown) => e,
          );
          assert.ok(err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure, String(err));
          assert.deepEqual(delivery.failuresRecorded, []);
        },
      );
    });
  },
);
