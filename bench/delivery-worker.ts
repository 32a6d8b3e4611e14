/**
 * Child process for tuning experiments only: the delivery worker exactly as src/main/worker.ts builds it
 * (`createDeliveryWorker`: same activities, stores, HTTP client, sinks, slot and poller settings), with experiment
 * switches from the environment. Without `--worker-options` or `--ab`, run.ts starts the real src/main/worker.ts.
 *
 * Env (besides the service's own configuration):
 *   BENCH_WORKER_OPTIONS          JSON merged into the WorkerOptions last
 *   BENCH_WORKFLOW_INTERCEPTORS   `on`: bundle the OpenTelemetry workflow interceptors although tracing is off
 *                                 (what every worker did before they followed tracing)
 *   BENCH_NO_HEARTBEAT            `1`: `Context.heartbeat` does nothing (prices the attempt's heartbeats)
 */
import type { Context } from '@temporalio/activity';
import { Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { loadConfig } from '../src/infra/config';
import { createLogger } from '../src/infra/logger';
import { createStores } from '../src/main/services';
import { createDeliveryWorker } from '../src/main/worker';
import { workerOptionOverrides } from './worker-options';

/** Each attempt's context gets a heartbeat that does nothing (the activity calls `context.heartbeat`). */
function silenceHeartbeats(context: Context): Record<string, never> {
  Object.defineProperty(context, 'heartbeat', { value: () => undefined });
  return {};
}

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.WSS_LOG_LEVEL, { component: 'bench-worker' });
  Runtime.install({
    shutdownSignals: ['SIGTERM', 'SIGINT'],
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } },
  });
  const stores = createStores(config, 'bench-worker');
  const worker = await createDeliveryWorker(config, log, stores, {
    experiment: {
      workerOptions: workerOptionOverrides(),
      ...(process.env.BENCH_WORKFLOW_INTERCEPTORS === 'on' ? { workflowInterceptors: true } : {}),
      ...(process.env.BENCH_NO_HEARTBEAT === '1' ? { activityInterceptors: [silenceHeartbeats] } : {}),
    },
  });
  try {
    await worker.run(); // Returns after SIGTERM: the SDK drains and stops.
  } finally {
    await worker.close();
    await stores.close();
  }
}

main().catch((err: unknown) => {
  console.error('bench delivery worker failed:', err);
  process.exit(1);
});
