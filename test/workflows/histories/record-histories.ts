// Records histories of the delivery workflow, as the code checked out runs it, in Temporal's time-skipping test
// server, for `replay.test.ts`: a later version of the workflow must replay them without a non-determinism
// error (the workflows they stand for may still be running when the new code is deployed).
//
//   node --import tsx test/workflows/histories/record-histories.ts <label>
//
// writes test/workflows/histories/<label>-<scenario>.history.bin. The committed `before-terminal-bookkeeping-*` files were
// recorded from the commit before the workflow started calling `recordDeliveryFailure`; the
// `before-local-first-attempt-*` files from 4ddc304, the last commit whose first attempt was a regular activity and
// whose final DeliveryStatus was always upserted (the old shape the local-attempt patch must keep replaying); the
// `local-first-attempt-*` files from the commit that made the first attempt local (the new shape).
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import { parseEndpointId, parseEventId, parseTenantId } from '../../../src/domain/ids';
import type { ResolvedRetryPolicy } from '../../../src/domain/retry-policy';
import { DEFAULT_RETRY_POLICY } from '../../../src/domain/retry-policy';
import { DeliveryStatusKey, SEARCH_ATTRIBUTE_KEYS } from '../../../src/delivery/search-attributes';
import type { DeliverEventInput } from '../../../src/delivery/workflow-contract';
import type { ReceiverAnswer } from '../scripted-delivery';
import { scriptedDelivery } from '../scripted-delivery';
import { createTimeSkippingEnv } from '../time-skipping-env';

const label = process.argv[2];
if (!label) throw new Error('usage: record-histories.ts <label>');

const FAST: ResolvedRetryPolicy = { ...DEFAULT_RETRY_POLICY, maximumAttempts: 2 };

/** Each scenario: the endpoints, their policies and their receivers' answers. */
const SCENARIOS: Record<
  string,
  {
    endpoints: Record<string, ResolvedRetryPolicy>;
    script: Record<string, (n: number) => ReceiverAnswer>;
    /** Started with `DeliveryStatus = 'pending'`, as a consumer from before the local first attempt starts it. */
    startedPending?: boolean;
  }
> = {
  // An exception the activity did not shape, on every attempt: Temporal ends the delivery.
  'temporal-ended': { endpoints: { ep_throws: FAST }, script: { ep_throws: () => 'throw' } },
  // The activity gives up itself (410), next to an endpoint delivered on its second attempt.
  'activity-gave-up': {
    endpoints: { ep_gone: FAST, ep_ok: FAST },
    script: { ep_gone: () => 410, ep_ok: (n) => (n === 1 ? 503 : 200) },
  },
  delivered: { endpoints: { ep_ok: FAST }, script: { ep_ok: () => 200 } },
  // Delivered on the second attempt, after a 503.
  'retried-delivered': { endpoints: { ep_flaky: FAST }, script: { ep_flaky: (n) => (n === 1 ? 503 : 200) } },
  // A fan-out of five, each delivered on its first attempt.
  'fan-out-delivered': {
    endpoints: Object.fromEntries([1, 2, 3, 4, 5].map((i) => [`ep_${i}`, FAST])),
    script: Object.fromEntries([1, 2, 3, 4, 5].map((i) => [`ep_${i}`, () => 200])),
  },
  // Every attempt answers 500 until the policy's attempts are spent.
  'retries-exhausted': { endpoints: { ep_down: FAST }, script: { ep_down: () => 500 } },
  // During a rolling upgrade: started by an old consumer, run by a new worker.
  'started-pending-delivered': { endpoints: { ep_ok: FAST }, script: { ep_ok: () => 200 }, startedPending: true },
};

async function main(): Promise<void> {
  const env = await createTimeSkippingEnv();
  try {
    await env.connection.operatorService.addSearchAttributes({
      namespace: env.namespace ?? 'default',
      searchAttributes: Object.fromEntries(
        SEARCH_ATTRIBUTE_KEYS.map((key) => [key.name, key.type === 'KEYWORD' ? 2 : 7]),
      ),
    });
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../../src/workflows') });
    for (const [name, scenario] of Object.entries(SCENARIOS)) {
      const taskQueue = `record-${randomUUID()}`;
      const delivery = scriptedDelivery(scenario.script, () => env.currentTimeMs());
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowBundle,
        activities: delivery.activities,
      });
      const input: DeliverEventInput = {
        event: {
          tenantId: parseTenantId('tenant_replay'),
          eventId: parseEventId(`evt_${name}`),
          eventType: 'invoice.paid',
          occurredAt: '2025-01-01T00:00:00.000Z',
        },
        deliveries: Object.entries(scenario.endpoints).map(([id, retryPolicy]) => ({
          endpointId: parseEndpointId(id),
          retryPolicy,
        })),
      };
      const history = await worker.runUntil(async () => {
        const handle = await env.client.workflow.start('deliverEvent', {
          taskQueue,
          workflowId: `deliver-${input.event.eventId}-${randomUUID()}`,
          args: [input],
          ...(scenario.startedPending ? { typedSearchAttributes: [{ key: DeliveryStatusKey, value: 'pending' }] } : {}),
        });
        await handle.result();
        return handle.fetchHistory();
      });
      // Binary protobuf: the SDK's JSON converter and its protobufjs copy disagree about the History type.
      const file = path.join(__dirname, `${label}-${name}.history.bin`);
      writeFileSync(file, temporal.api.history.v1.History.encode(history).finish());
      console.log(`wrote ${file}`);
    }
  } finally {
    await env.teardown();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
