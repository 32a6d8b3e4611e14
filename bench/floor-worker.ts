/**
 * Child process: a Temporal worker for the floor workflows (bench/floor-workflows.ts): one with a no-op activity,
 * one empty. Reports, over IPC, every 50 ms, the latency (now − start time) of the no-op activities and empty
 * workflows that ran since the last report.
 *
 * Env: TEMPORAL_ADDRESS, BENCH_TASK_QUEUE, BENCH_WORKER_OPTIONS (JSON merged into WorkerOptions).
 */
import { NativeConnection, Runtime, Worker, makeTelemetryFilterString } from '@temporalio/worker';
import type { InjectedSinks } from '@temporalio/worker';
import type { FloorActivities, FloorSinks } from './floor-workflows';
import { workerOptionOverrides } from './worker-options';

export interface FloorReport {
  readonly type: 'ready' | 'done';
  /** Start time of each workflow whose activity ran, and the activity's start − that time, pairwise. */
  readonly sentAt?: number[];
  readonly latencyMs?: number[];
}

async function main(): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS;
  const taskQueue = process.env.BENCH_TASK_QUEUE;
  if (!address || !taskQueue || !process.send)
    throw new Error('floor worker needs TEMPORAL_ADDRESS, BENCH_TASK_QUEUE and an IPC channel');
  Runtime.install({ telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } } });
  let sentAts: number[] = [];
  let latencies: number[] = [];
  const ran = (sentAt: number) => {
    sentAts.push(sentAt);
    latencies.push(Date.now() - sentAt);
  };
  const activities: FloorActivities = {
    async noop(sentAt: number) {
      ran(sentAt);
    },
  };
  const sinks: InjectedSinks<FloorSinks> = { floor: { ran: { fn: (_info, sentAt) => ran(sentAt) } } };
  const flush = setInterval(() => {
    if (sentAts.length === 0) return;
    process.send?.({ type: 'done', sentAt: sentAts, latencyMs: latencies } satisfies FloorReport);
    sentAts = [];
    latencies = [];
  }, 50);
  const connection = await NativeConnection.connect({ address });
  try {
    const worker = await Worker.create({
      connection,
      namespace: 'default',
      taskQueue,
      workflowsPath: require.resolve('./floor-workflows'),
      activities,
      sinks,
      // The delivery worker's settings (src/main/worker.ts), so the floor differs from it only in the work done.
      maxCachedWorkflows: 2000,
      reuseV8Context: true,
      ...workerOptionOverrides(),
    });
    process.send({ type: 'ready' } satisfies FloorReport);
    await worker.run(); // Returns after SIGTERM: the SDK drains and stops.
  } finally {
    clearInterval(flush);
    await connection.close();
    process.disconnect?.();
  }
}

main().catch((err: unknown) => {
  console.error('floor worker failed:', err);
  process.exit(1);
});
