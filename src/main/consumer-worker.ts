import type { Config } from '../infra/config';
import { loadConfig } from '../infra/config';
import type { Logger } from '../infra/logger';
import { createLogger } from '../infra/logger';
import type { ServiceMetrics } from '../infra/metrics';
import type { ReadinessCheck } from '../infra/ops-server';
import { temporalSettingsWarnings } from '../infra/temporal-settings';
import { registerSearchAttributes } from '../infra/temporal';
import type { Tracing } from '../infra/tracing';
import { startTracing } from '../infra/tracing';
import type { RunningConsumer } from './consumer';
import { startConsumer } from './consumer';
import type { Stores } from './services';
import { createStores } from './services';
import { closeInOrder, onShutdownSignal, runMain, shutdownDeadlineMs } from './shutdown';
import { createServiceMetrics, startOps, temporalAnswers, workerPolling } from './ops';
import type { DeliveryWorker } from './worker';
import { createDeliveryWorker, installWorkerRuntime, temporalMetricsAddress } from './worker';

export interface RunningConsumerWorker {
  readonly worker: DeliveryWorker;
  readonly consumer: RunningConsumer;
  /** What `/readyz` asks: the consumer's checks, the worker polls, Temporal answers. */
  readonly checks: Readonly<Record<string, ReadinessCheck>>;
  /** Drains the consumer only: no new reads, in-flight starts finish and are acked (once; later calls wait). */
  closeConsumer(): Promise<void>;
  /** Drains the consumer (if not yet), then the worker; closes the shared connection. */
  close(): Promise<void>;
}

/**
 * The delivery worker and the stream consumer in one process, on ONE native connection: the consumer's client runs
 * on the worker's `NativeConnection`, so every start requests eager execution and the server hands the first
 * workflow task straight back to this worker, with no matching dispatch and no poll (the SDK allows eager start
 * only on a native connection shared with a worker of the task queue). Separate consumer and worker processes
 * cannot do this and start workflows the usual way.
 */
export async function startConsumerWorker(
  config: Config,
  log: Logger,
  stores: Stores,
  overrides: { metrics?: ServiceMetrics; tracing?: Tracing; consumerName?: string } = {},
): Promise<RunningConsumerWorker> {
  const { consumerName, ...shared } = overrides;
  const worker = await createDeliveryWorker(config, log.child({ component: 'worker' }), stores, shared);
  const workerRun = worker.run();
  let consumer: RunningConsumer;
  try {
    consumer = await startConsumer(config, log.child({ component: 'consumer' }), stores, {
      ...shared,
      ...(consumerName !== undefined ? { consumerName } : {}),
      workerConnection: worker.connection,
    });
  } catch (err) {
    await worker.close();
    throw err;
  }
  let consumerClosed: Promise<void> | undefined;
  const closeConsumer = (): Promise<void> => (consumerClosed ??= consumer.close());
  return {
    worker,
    consumer,
    closeConsumer,
    checks: {
      ...consumer.checks,
      worker: workerPolling(worker.worker),
      temporal: temporalAnswers(worker.connection),
    },
    close: async () => {
      await closeConsumer();
      await worker.close();
      await workerRun.catch(() => undefined);
    },
  };
}

/**
 * The "consumer + worker" role: one process that reads the stream and runs the deliveries, with eager workflow
 * start. Scale it like the worker; each replica needs a distinct WSS_CONSUMER_NAME, like the consumer.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.WSS_LOG_LEVEL, { component: 'consumer-worker' });
  for (const warning of temporalSettingsWarnings(config.temporal)) log.warn(warning);
  const shutdown = onShutdownSignal({ log, deadlineMs: shutdownDeadlineMs(config) });
  const tracing = startTracing(config, log, 'wss-consumer-worker');
  const sdkMetrics = await temporalMetricsAddress(config);
  installWorkerRuntime(log, sdkMetrics, config.WSS_TEMPORAL_METRICS_BIND !== undefined);
  const metrics = createServiceMetrics(config, ['consumer', 'worker']);
  const stores = createStores(config, 'consumer-worker', log);
  await registerSearchAttributes(config.temporal, log);
  const running = await startConsumerWorker(config, log, stores, { metrics, tracing });
  const ops = await startOps(config, log, metrics, running.checks, {
    draining: shutdown.draining,
    temporalMetricsUrl: `http://${sdkMetrics}/metrics`,
  });
  log.info(
    { stream: config.WSS_STREAM, taskQueue: config.WSS_TASK_QUEUE, consumer: config.WSS_CONSUMER_NAME },
    'consumer-worker started (eager workflow start)',
  );
  // A fatal worker error ends the process (exit 1), like the worker's; a signal starts the drain.
  const signal = await Promise.race([shutdown.signal, running.worker.run()]);
  if (signal) log.info({ signal }, 'draining: consumer first (in-flight starts finish and are acked), then the worker');
  await closeInOrder([() => running.close(), () => ops.close()], [() => stores.close(), () => tracing.shutdown()]);
  log.info('consumer-worker stopped');
}

if (require.main === module) runMain('consumer-worker', main);
