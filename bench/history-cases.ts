// What one event costs Temporal, by outcome and fan-out, read from real histories: the whole service runs in this
// process (the integration tests' stack) against the real Redis and Temporal named by REDIS_URL and
// TEMPORAL_ADDRESS, and bench/history-cost.ts counts events and Temporal Cloud's billable actions.
//
//   node scripts/local-stack.mjs run --ephemeral -- node --import tsx bench/history-cases.ts [--out <file.json>]
import { writeFileSync } from 'node:fs';
import { receiverPool } from '../test/support/receiver';
import { uniqueName, waitFor, workflowIdOf } from '../test/support/services';
import { startStack } from '../test/support/stack';
import type { HistoryCost } from './history-cost';
import { measureHistoryCost } from './history-cost';

/** One measured case: an outcome, a fan-out, and what its histories cost. */
export interface HistoryCostCase {
  readonly outcome: 'first-attempt success' | 'success on retry' | 'failure';
  readonly endpoints: number;
  readonly attemptsPerEndpoint: number;
  readonly cost: HistoryCost;
}

const CASES: readonly {
  outcome: HistoryCostCase['outcome'];
  attempts: number;
  /** The receiver's answer to its n-th request (0-based). */
  answer: (n: number) => number;
}[] = [
  { outcome: 'first-attempt success', attempts: 1, answer: () => 200 },
  { outcome: 'success on retry', attempts: 2, answer: (n) => (n === 0 ? 503 : 200) },
  // Three attempts, then a dead letter: each further attempt of a longer policy adds one action (a retry).
  { outcome: 'failure', attempts: 3, answer: () => 500 },
];

/**
 * Publishes `perCase` events for each outcome, to 1 and to 5 endpoints, through the whole service in this process
 * (the integration tests' stack: consumer, worker and API against the real Redis and Temporal that REDIS_URL and
 * TEMPORAL_ADDRESS name), and reads what their real histories cost.
 */
export async function measureDeliveryCases(perCase = 3): Promise<HistoryCostCase[]> {
  const stack = await startStack();
  const receivers = receiverPool();
  const results: HistoryCostCase[] = [];
  try {
    for (const endpoints of [1, 5]) {
      for (const spec of CASES) {
        const workflowIds: string[] = [];
        for (let i = 0; i < perCase; i++) {
          const tenant = uniqueName('cost');
          for (let e = 0; e < endpoints; e++) {
            const hook = await receivers.start((_r, n) => ({ status: spec.answer(n) }));
            const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
              url: hook.url,
              eventTypes: ['*'],
              retryPolicy: { initialIntervalMs: 200, backoffCoefficient: 1, jitterPercent: 0, maximumAttempts: 3 },
            });
            if (res.status !== 201) throw new Error(`endpoint not created: ${JSON.stringify(res.body)}`);
          }
          const eventId = `evt-${i}`;
          await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{}', 'id', eventId);
          const workflowId = workflowIdOf(tenant, eventId);
          await waitFor('the delivery', () => stack.temporal.workflow.getHandle(workflowId).result(), 60_000);
          workflowIds.push(workflowId);
        }
        const cost = await measureHistoryCost(stack.temporal, workflowIds);
        results.push({ outcome: spec.outcome, endpoints, attemptsPerEndpoint: spec.attempts, cost });
      }
    }
  } finally {
    await receivers.closeAll();
    await stack.stop();
  }
  return results;
}

/** The README's table: one row per case. */
export function historyCostTable(cases: readonly HistoryCostCase[]): string {
  const lines = [
    '| Outcome | Endpoints | Attempts each | History events | Billable actions | Actions by kind |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const c of cases) {
    const kinds = Object.entries(c.cost.actions)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    lines.push(
      `| ${c.outcome} | ${c.endpoints} | ${c.attemptsPerEndpoint} | ${c.cost.historyEventsPerEvent} | ` +
        `${c.cost.billableActionsPerEvent} | ${kinds} |`,
    );
  }
  return lines.join('\n');
}

// node scripts/local-stack.mjs run --ephemeral -- node --import tsx bench/history-cases.ts [--out <file.json>]
if (require.main === module) {
  const outIndex = process.argv.indexOf('--out');
  const out = outIndex > 0 ? process.argv[outIndex + 1] : undefined;
  measureDeliveryCases()
    .then(async (cases) => {
      console.log(historyCostTable(cases));
      if (out) {
        const at = new Date().toISOString();
        writeFileSync(
          out,
          `${JSON.stringify({ measuredAt: at, server: 'temporal dev server (SQLite)', cases }, null, 2)}\n`,
        );
        console.log(`wrote ${out}`);
      }
      process.exit(0);
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
