import { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { EventIngestor } from '../consumer/event-ingestor';
import { StreamConsumer } from '../consumer/stream-consumer';
import type { GroupRecreation } from '../consumer/stream-consumer';
import type { Config } from '../infra/config';
import { loadConfig } from '../infra/config';
import { DestinationPolicy } from '../infra/egress/destination-policy';
import { createHttpClient, httpClientOptionsFromConfig } from '../infra/http-client';
import type { Logger } from '../infra/logger';
import { createLogger } from '../infra/logger';
import { temporalSettingsWarnings } from '../infra/temporal-settings';
import { connectTemporalClient } from '../infra/temporal';
import { createOperatorWebhook } from '../notifications/operator-webhook';
import { OperationalEvents } from '../store/operational-events';
import { deliverEvent } from '../workflows/deliver-event';
import { orderedDelivery } from '../workflows/ordered-delivery';
import type { IngestResult } from '../consumer/event-ingestor';
import type { EntryResult, ServiceMetrics } from '../infra/metrics';
import type { ReadinessCheck } from '../infra/ops-server';
import type { Tracing } from '../infra/tracing';
import { startTracing } from '../infra/tracing';
import {
  consumerGroupExists,
  createServiceMetrics,
  redisAnswers,
  startOps,
  startStreamSampler,
  temporalAnswers,
} from './ops';
import type { Stores } from './services';
import { consumerGroupHealth, createRedis, createStores, serviceRetryPolicy } from './services';
import { closeInOrder, onShutdownSignal, runMain, shutdownDeadlineMs } from './shutdown';

export interface RunningConsumer {
  readonly consumer: StreamConsumer;
  readonly ingestor: EventIngestor;
  /** What `/readyz` asks: Redis and Temporal answer, the consumer group exists. */
  readonly checks: Readonly<Record<string, ReadinessCheck>>;
  /** Stops reading, finishes and acks in-flight entries, closes connections. */
  close(): Promise<void>;
}

/** The ingestor the consumer (and the tests' crash simulation) hands entries to. */
export function createIngestor(
  config: Config,
  log: Logger,
  stores: Stores,
  temporal: Client,
  /** `temporal` runs on the native connection of a worker of this process that polls the delivery task queue. */
  eager = false,
): EventIngestor {
  return new EventIngestor({
    delivery: {
      client: temporal,
      taskQueue: config.WSS_TASK_QUEUE,
      workflow: deliverEvent,
      ...(eager ? { requestEagerStart: true } : {}),
    },
    limits: { maxDataBytes: config.WSS_MAX_EVENT_BYTES, maxDepth: config.WSS_MAX_EVENT_DEPTH },
    payloads: stores.payloads,
    endpoints: stores.endpoints,
    tenants: stores.tenants,
    serviceRetryPolicy: serviceRetryPolicy(config),
    log,
    ordered: {
      client: temporal,
      taskQueue: config.WSS_TASK_QUEUE,
      workflow: orderedDelivery,
      source: { stream: stores.keys.eventStream(), group: config.WSS_CONSUMER_GROUP },
    },
  });
}

/** Wires the stream consumer to Temporal and the stores, and starts it. */
export async function startConsumer(
  config: Config,
  log: Logger,
  stores: Stores,
  overrides: {
    consumerName?: string;
    metrics?: ServiceMetrics;
    tracing?: Tracing;
    /**
     * The native connection of a worker in this process that polls WSS_TASK_QUEUE (the all-in-one and the
     * consumer-worker role). The consumer then starts workflows on it with eager start requested, and leaves closing
     * it to the worker. Without it the consumer opens a connection of its own and starts workflows the usual way.
     */
    workerConnection?: NativeConnection;
  } = {},
): Promise<RunningConsumer> {
  const metrics = overrides.metrics;
  const interceptors = { workflow: [...(overrides.tracing?.clientInterceptors ?? [])] };
  const shared = overrides.workerConnection;
  const { client, connection } =
    shared !== undefined
      ? {
          client: new Client({ connection: shared, namespace: config.temporal.namespace, interceptors }),
          connection: shared,
        }
      : await connectTemporalClient(config.temporal, interceptors);
  const ingestor = createIngestor(config, log, stores, client, shared !== undefined);
  const reader = createRedis(config, 'consumer-reader', log);
  const groupHealth = consumerGroupHealth(config, stores);
  const operatorHttp =
    config.WSS_OPERATOR_WEBHOOK_URL !== undefined
      ? createHttpClient(
          httpClientOptionsFromConfig(
            config,
            new DestinationPolicy({
              allowCidrs: config.WSS_EGRESS_ALLOW_CIDRS,
              httpsOnly: config.WSS_EGRESS_HTTPS_ONLY,
            }),
          ),
        )
      : undefined;
  const operationalEvents = new OperationalEvents(
    stores.redis,
    stores.keys,
    log,
    operatorHttp && config.WSS_OPERATOR_WEBHOOK_URL !== undefined
      ? createOperatorWebhook(config.WSS_OPERATOR_WEBHOOK_URL, config.WSS_OPERATOR_WEBHOOK_SECRET, operatorHttp)
      : undefined,
  );
  const onGroupRecreated = async (r: GroupRecreation): Promise<void> => {
    await groupHealth.recordRecreation({ at: r.at, consumer: r.consumer, fromId: r.fromId });
    await operationalEvents.publish({
      type: 'consumer.group_recreated',
      stream: r.stream,
      group: r.group,
      consumer: r.consumer,
      fromId: r.fromId,
      detail: r.cause,
      at: r.at,
    });
  };
  const consumer = new StreamConsumer({
    reader,
    writer: stores.redis,
    stream: stores.keys.eventStream(),
    deadLetterStream: stores.keys.rejectedEntryStream(),
    group: config.WSS_CONSUMER_GROUP,
    consumer: overrides.consumerName ?? config.WSS_CONSUMER_NAME,
    batchSize: config.WSS_CONSUMER_BATCH,
    blockMs: config.WSS_CONSUMER_BLOCK_MS,
    concurrency: config.WSS_CONSUMER_CONCURRENCY,
    claimIdleMs: config.WSS_CONSUMER_CLAIM_IDLE_MS,
    handle: async (entryId, fields) => {
      const result = await ingestor.ingest(entryId, fields);
      metrics?.recordEntry(entryResult(result));
      return result;
    },
    onGroupRecreated,
    onEntriesTrimmed: (t) => metrics?.recordEntriesTrimmed(t.entryIds.length),
    log,
  });
  await consumer.start();
  const sampler = metrics ? startStreamSampler(groupHealth, metrics, config.WSS_METRICS_SAMPLE_MS, log) : undefined;
  return {
    consumer,
    ingestor,
    checks: {
      redis: redisAnswers(stores.redis),
      temporal: temporalAnswers(connection),
      consumerGroup: consumerGroupExists(groupHealth),
    },
    close: async () => {
      sampler?.stop();
      await consumer.stop();
      reader.disconnect();
      await operatorHttp?.close();
      // A worker's connection is the worker's to close, after its own drain.
      if (shared === undefined) await connection.close();
    },
  };
}

/**
 * The metric result of an entry. A re-read entry whose workflow already started counts as a duplicate: its start
 * was counted the first time.
 */
function entryResult(result: IngestResult): EntryResult {
  switch (result.kind) {
    case 'started':
      return result.endpoints === 0 ? 'no_subscribers' : 'started';
    case 'already_started':
    case 'duplicate':
      return 'duplicate';
    case 'dead_letter':
      return 'dead_letter';
    default: {
      const unreachable: never = result;
      throw new Error(`unknown ingest result ${JSON.stringify(unreachable)}`);
    }
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.WSS_LOG_LEVEL, { component: 'consumer' });
  for (const warning of temporalSettingsWarnings(config.temporal)) log.warn(warning);
  const shutdown = onShutdownSignal({ log, deadlineMs: shutdownDeadlineMs(config) });
  const tracing = startTracing(config, log, 'wss-consumer');
  const stores = createStores(config, 'consumer', log);
  const metrics = createServiceMetrics(config, ['consumer']);
  const running = await startConsumer(config, log, stores, { metrics, tracing });
  const ops = await startOps(config, log, metrics, running.checks, { draining: shutdown.draining });
  log.info(
    { stream: config.WSS_STREAM, group: config.WSS_CONSUMER_GROUP, consumer: config.WSS_CONSUMER_NAME },
    'consumer started',
  );
  const signal = await shutdown.signal;
  log.info({ signal }, 'draining: no new reads; in-flight workflow starts finish and are acked');
  await closeInOrder([() => running.close(), () => ops.close()], [() => stores.close(), () => tracing.shutdown()]);
  log.info('consumer stopped');
}

if (require.main === module) runMain('consumer', main);
