/**
 * Child process for tuning experiments only: the delivery worker exactly as src/main/worker.ts wires it (same
 * activities from createActivities, same stores and HTTP client), but with BENCH_WORKER_OPTIONS merged into the
 * WorkerOptions. Without `--worker-options`, run.ts starts the real src/main/worker.ts instead.
 */
import { Runtime, Worker, makeTelemetryFilterString } from '@temporalio/worker';
import { createActivities } from '../src/activities/deliver-webhook';
import { RequestBuilder } from '../src/delivery/signed-request';
import { createTransformRunner } from '../src/activities/transform-runner';
import { loadConfig } from '../src/infra/config';
import { DestinationPolicy } from '../src/infra/egress/destination-policy';
import { createHttpClient, httpClientOptionsFromConfig } from '../src/infra/http-client';
import { createLogger } from '../src/infra/logger';
import { connectTemporalWorker } from '../src/infra/temporal';
import { createStores } from '../src/main/services';
import { OperationalEvents } from '../src/store/operational-events';
import { workerOptionOverrides } from './worker-options';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.WSS_LOG_LEVEL, { component: 'bench-worker' });
  Runtime.install({ telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } } });
  const stores = createStores(config, 'bench-worker');
  const connection = await connectTemporalWorker(config.temporal);
  const policy = new DestinationPolicy({
    allowCidrs: config.WSS_EGRESS_ALLOW_CIDRS,
    httpsOnly: config.WSS_EGRESS_HTTPS_ONLY,
  });
  const http = createHttpClient(httpClientOptionsFromConfig(config, policy));
  const activityLog = log.child({ component: 'activity' });
  const activities = createActivities({
    endpoints: stores.endpoints,
    requests: new RequestBuilder({ payloads: stores.payloads, transform: createTransformRunner() }),
    http,
    deliveryLog: stores.deliveryLog,
    operationalEvents: new OperationalEvents(stores.redis, stores.keys, activityLog, undefined),
    health: {
      disableAfterFailures: config.WSS_ENDPOINT_DISABLE_AFTER_FAILURES,
      disableAfterMs: config.WSS_ENDPOINT_DISABLE_AFTER_MS,
    },
    log: activityLog,
  });
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.WSS_TASK_QUEUE,
      workflowsPath: require.resolve('../src/workflows'),
      activities,
      maxCachedWorkflows: 2000,
      reuseV8Context: true,
      shutdownGraceTime: '20 seconds',
      ...workerOptionOverrides(),
    });
    await worker.run();
  } finally {
    await http.close();
    await connection.close();
    await stores.close();
  }
}

main().catch((err: unknown) => {
  console.error('bench delivery worker failed:', err);
  process.exit(1);
});
