import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { temporal } from '@temporalio/proto';
import { startConsumerWorker } from '../../src/main/consumer-worker';
import type { RunningConsumerWorker } from '../../src/main/consumer-worker';
import { receiverPool } from '../support/receiver';
import { uniqueName, waitFor, workflowIdOf } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/**
 * Eager workflow start: when the consumer and the worker share one process and one native connection, the start
 * asks the server for the first workflow task in its response. The server records that it granted this on the
 * WorkflowExecutionStarted event (`eagerExecutionAccepted`); the consumer logs what the start response said.
 */
describe('eager workflow start', () => {
  const receivers = receiverPool();
  after(() => receivers.closeAll());

  async function registerEndpoint(stack: TestStack, tenant: string, url: string): Promise<void> {
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { url, eventTypes: ['order.*'] });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }

  async function startedEvent(stack: TestStack, workflowId: string): Promise<HistoryEvent[]> {
    const handle = stack.temporal.workflow.getHandle(workflowId);
    await handle.result();
    return (await handle.fetchHistory()).events ?? [];
  }

  /** The `event accepted` log lines of these event ids: their `eager` field. */
  function acceptedLogs(stack: TestStack, eventIds: readonly string[]): unknown[] {
    return stack.logs
      .map((line) => JSON.parse(line) as { msg?: string; eventId?: string; eager?: unknown })
      .filter((entry) => entry.msg === 'event accepted' && eventIds.includes(entry.eventId ?? ''))
      .map((entry) => entry.eager);
  }

  describe('consumer and worker in one process (consumer-worker, all-in-one)', () => {
    let stack: TestStack;
    let running: RunningConsumerWorker;

    before(async () => {
      stack = await startStack({ consumer: false, worker: false });
      running = await startConsumerWorker(stack.config, stack.log, stack.stores);
    });
    after(async () => {
      await running?.close();
      await stack?.stop();
    });

    it("starts each delivery eagerly: the server hands its first workflow task to this process's worker", async () => {
      const tenant = uniqueName('eager');
      const hook = await receivers.start();
      await registerEndpoint(stack, tenant, hook.url);
      const eventIds = ['evt-eager-1', 'evt-eager-2', 'evt-eager-3'];
      // One at a time: a start finds a free workflow slot for its eager task (under load some fall back to matching).
      for (const [i, id] of eventIds.entries()) {
        await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{}', 'id', id);
        await waitFor(`delivery ${i + 1}`, () => hook.requests.length >= i + 1);
      }

      for (const id of eventIds) {
        const events = await startedEvent(stack, workflowIdOf(tenant, id));
        const started = events[0]?.workflowExecutionStartedEventAttributes;
        assert.ok(started, `${id}: history starts with WorkflowExecutionStarted`);
        assert.equal(
          started.eagerExecutionAccepted,
          true,
          `${id}: the server granted eager execution (consumer logged eager: ${JSON.stringify(acceptedLogs(stack, eventIds))})`,
        );
      }
      // The start responses carried the first workflow task (the SDK's `eagerlyStarted`).
      assert.deepEqual(acceptedLogs(stack, eventIds), [true, true, true]);
    });
  });

  describe('separate consumer and worker (each with its own connection)', () => {
    let stack: TestStack;

    before(async () => {
      stack = await startStack();
    });
    after(() => stack?.stop());

    it('starts deliveries the usual way, through matching, and delivers them', async () => {
      const tenant = uniqueName('plain');
      const hook = await receivers.start();
      await registerEndpoint(stack, tenant, hook.url);
      await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{}', 'id', 'evt-plain-1');
      await waitFor('the delivery', () => hook.requests.length >= 1);

      const events = await startedEvent(stack, workflowIdOf(tenant, 'evt-plain-1'));
      const started = events[0]?.workflowExecutionStartedEventAttributes;
      assert.ok(started);
      assert.equal(started.eagerExecutionAccepted ?? false, false, 'no eager execution was requested');
      assert.deepEqual(acceptedLogs(stack, ['evt-plain-1']), [false]);
    });
  });
});
