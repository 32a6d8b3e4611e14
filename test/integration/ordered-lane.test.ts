// The ordered-delivery lane on the real Temporal dev server: the real workflow code with stand-ins for the delivery
// activity and the stream-order check, fed by real signal-with-start. (Not in test/workflows: Temporal's Java
// time-skipping test server never completes the workflow task that cancels an activity waiting between retries,
// which the lane does when an earlier event arrives during its order check.) What is checked here is the lane's
// own logic: sorting by stream entry id, dropping re-reads, holding on the order check, continue-as-new with a
// queue, pause and resume, ending when idle.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/activity';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { DeliverWebhookInput, DeliveryAttemptResult } from '../../src/activities/deliver-webhook';
import type { AwaitPredecessorsInput } from '../../src/activities/stream-order';
import type { OrderedItem, OrderedLaneInput, OrderedLaneState } from '../../src/delivery/ordered-contract';
import {
  ORDERED_ENQUEUE_SIGNAL,
  ORDERED_RESUME_SIGNAL,
  ORDERED_STATE_QUERY,
} from '../../src/delivery/ordered-contract';
import { parseEndpointId, parseEventId, parseTenantId } from '../../src/domain/ids';
import { compareStreamIds } from '../../src/domain/ordering';
import { DEFAULT_RETRY_POLICY } from '../../src/domain/retry-policy';
import type { orderedDelivery } from '../../src/workflows/ordered-delivery';
import { serviceAddresses } from '../support/services';

let env: TestWorkflowEnvironment;
let workflowBundle: WorkflowBundleWithSourceMap;

before(async () => {
  // The dev server scripts/local-stack.mjs starts declares the service's search attributes.
  env = await TestWorkflowEnvironment.createFromExistingServer({ address: serviceAddresses().temporalAddress });
  workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: { log() {}, info() {}, warn() {}, error: console.error, debug() {}, trace() {} },
  });
});
after(async () => {
  await env?.teardown();
});

const tenantId = parseTenantId('tenant_lane');
const endpointId = parseEndpointId('ep_lane');
const policy = { ...DEFAULT_RETRY_POLICY, maximumAttempts: 1, scheduleMs: undefined };

function item(seq: string, onFailure: OrderedItem['onFailure'] = 'continue'): OrderedItem {
  return {
    seq,
    event: {
      tenantId,
      eventId: parseEventId(`e-${seq}`),
      eventType: 'order.updated',
      occurredAt: new Date(0).toISOString(),
    },
    retryPolicy: policy,
    onFailure,
  };
}

/** A lane on its own task queue with stand-in activities; `handledBelow` is the consumer's progress. */
async function lane(options: { fail?: Set<string>; idleMs?: number; eventsPerRun?: number } = {}) {
  const taskQueue = `lane-${randomUUID()}`;
  const delivered: string[] = [];
  const progress = { handledBelow: '0-0' };
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle,
    activities: {
      async deliverWebhook(input: DeliverWebhookInput): Promise<DeliveryAttemptResult> {
        const seq = input.event.eventId.slice(2);
        delivered.push(seq);
        if (options.fail?.has(seq)) {
          throw ApplicationFailure.create({
            type: 'endpoint_rejected',
            message: 'HTTP 500',
            nonRetryable: true,
            details: [{ attempt: 1, statusCode: 500, terminal: { recorded: true, countsAgainstEndpoint: true } }],
          });
        }
        return { outcome: 'delivered', attempt: 1, statusCode: 200, durationMs: 1 };
      },
      async recordDeliveryFailure(): Promise<void> {},
      async awaitStreamPredecessors(input: AwaitPredecessorsInput): Promise<{ handledBelow: string }> {
        if (compareStreamIds(input.seq, progress.handledBelow) <= 0) return { handledBelow: progress.handledBelow };
        throw ApplicationFailure.retryable('pending', 'ordering_predecessors_pending');
      },
      async streamHandledBelow(): Promise<string> {
        return progress.handledBelow;
      },
    },
  });
  const workflowId = `ordered:${tenantId}:${endpointId}:${randomUUID().replace(/-/g, '')}`;
  const input: OrderedLaneInput = {
    tenantId,
    endpointId,
    keyHash: 'h',
    source: { stream: 's', group: 'g' },
    ...(options.idleMs !== undefined ? { idleMs: options.idleMs } : {}),
    ...(options.eventsPerRun !== undefined ? { eventsPerRun: options.eventsPerRun } : {}),
  };
  const send = (seq: string, onFailure?: OrderedItem['onFailure']) =>
    env.client.workflow.signalWithStart<typeof orderedDelivery, [OrderedItem]>('orderedDelivery', {
      workflowId,
      taskQueue,
      args: [input],
      signal: ORDERED_ENQUEUE_SIGNAL,
      signalArgs: [item(seq, onFailure)],
    });
  const handle = () => env.client.workflow.getHandle(workflowId);
  return { worker, delivered, progress, send, handle, workflowId };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the ordered-delivery lane', () => {
  it('delivers in stream-entry order whatever order the signals came in, and drops re-reads', async () => {
    const l = await lane();
    await l.worker.runUntil(async () => {
      // The consumer handles entries concurrently: 3 is signalled first, 1 twice (a re-read).
      for (const seq of ['5-3', '5-1', '5-2', '5-1']) await l.send(seq);
      // Nothing goes out while the consumer has earlier entries unhandled.
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(l.delivered, []);
      l.progress.handledBelow = '6-0';
      await until('three deliveries', () => l.delivered.length === 3);
      // A re-read of a delivered entry, after the fact.
      await l.send('5-2');
      await l.send('5-4');
      await until('the fourth', () => l.delivered.length === 4);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(l.delivered, ['5-1', '5-2', '5-3', '5-4']);
    });
  });

  it('continues as new with its queue and its dedupe point, losing and repeating nothing', async () => {
    const l = await lane({ eventsPerRun: 2 });
    const firstRun = await l.send('7-1');
    await l.worker.runUntil(async () => {
      for (let i = 2; i <= 9; i++) await l.send(`7-${i}`);
      l.progress.handledBelow = '8-0';
      await until('nine deliveries', () => l.delivered.length === 9);
      // A re-read of the first entry reaches a later run: still dropped.
      await l.send('7-1');
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(
        l.delivered,
        Array.from({ length: 9 }, (_, i) => `7-${i + 1}`),
      );
      const description = await l.handle().describe();
      assert.notEqual(description.runId, firstRun.signaledRunId, 'the lane continued as new');
    });
  });

  it('pauses after a failed head, holds the key, and resumes on the signal', async () => {
    const l = await lane({ fail: new Set(['9-2']) });
    l.progress.handledBelow = '10-0';
    await l.worker.runUntil(async () => {
      for (const seq of ['9-1', '9-2', '9-3']) await l.send(seq, 'pause');
      await until('the failure', () => l.delivered.length === 2);
      let state: OrderedLaneState | undefined;
      await until('the pause', async () => {
        state = await l.handle().query<OrderedLaneState>(ORDERED_STATE_QUERY);
        return state.paused !== undefined;
      });
      assert.equal(state?.paused?.eventId, 'e-9-2');
      assert.equal(state?.queued, 1);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(l.delivered, ['9-1', '9-2']);
      await l.handle().signal(ORDERED_RESUME_SIGNAL);
      await until('the held event', () => l.delivered.length === 3);
      assert.deepEqual(l.delivered, ['9-1', '9-2', '9-3']);
    });
  });

  it('goes on after a failed head with onFailure continue', async () => {
    const l = await lane({ fail: new Set(['11-1']) });
    l.progress.handledBelow = '12-0';
    await l.worker.runUntil(async () => {
      for (const seq of ['11-1', '11-2']) await l.send(seq, 'continue');
      await until('both', () => l.delivered.length === 2);
      assert.deepEqual(l.delivered, ['11-1', '11-2']);
    });
  });

  it('ends when idle only once the consumer has acked past its last event', async () => {
    const l = await lane({ idleMs: 1000 });
    await l.worker.runUntil(async () => {
      l.progress.handledBelow = '13-2';
      await l.send('13-1');
      await until('delivered', () => l.delivered.length === 1);
      // handledBelow 13-2 is past 13-1: nothing can re-read it any more, so the idle run ends.
      await l.handle().result();
      assert.deepEqual(l.delivered, ['13-1']);
    });
  });
});
