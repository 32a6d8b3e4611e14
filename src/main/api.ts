import type { Server } from 'node:http';
import { createTransformRunner } from '../activities/transform-runner';
import { DeliveryOperations } from '../api/delivery-operations';
import { OrderedLaneOperations } from '../api/ordered-lanes';
import { RequestBuilder } from '../delivery/signed-request';
import { connectTemporalClient } from '../infra/temporal';
import { listenError } from '../infra/listen-error';
import { createApiServer } from '../api/server';
import { PortalSessionStore } from '../store/portal-session-store';
import type { Config } from '../infra/config';
import { loadConfig, requireConfig } from '../infra/config';
import { SecretBox } from '../security/secret-box';
import { DestinationPolicy } from '../infra/egress/destination-policy';
import type { Resolver } from '../infra/egress/destination-policy';
import type { Logger } from '../infra/logger';
import { createLogger } from '../infra/logger';
import { temporalSettingsWarnings } from '../infra/temporal-settings';
import { EventPublisher } from '../store/event-publisher';
import { TransformPool, transformPoolOptionsFromConfig } from '../transform/transform-pool';
import { deliverEvent } from '../workflows/deliver-event';
import { orderedDelivery } from '../workflows/ordered-delivery';
import type { ReadinessCheck } from '../infra/ops-server';
import type { ServiceMetrics } from '../infra/metrics';
import { createServiceMetrics, redisAnswers, startOps, startStreamSampler } from './ops';
import type { Stores } from './services';
import { consumerGroupHealth, createStores, serviceRetryPolicy } from './services';
import { closeInOrder, onShutdownSignal, runMain, shutdownDeadlineMs } from './shutdown';

export interface RunningApi {
  readonly server: Server;
  /** The bound port (useful when configured as 0). */
  readonly port: number;
  /** What `/readyz` asks: Redis answers. */
  readonly checks: Readonly<Record<string, ReadinessCheck>>;
  close(): Promise<void>;
}

/** Starts the management API on WSS_API_HOST:WSS_API_PORT. */
export async function startApi(
  config: Config,
  log: Logger,
  stores: Stores,
  overrides: { resolver?: Resolver; metrics?: ServiceMetrics } = {},
): Promise<RunningApi> {
  const destinations = new DestinationPolicy(
    { allowCidrs: config.WSS_EGRESS_ALLOW_CIDRS, httpsOnly: config.WSS_EGRESS_HTTPS_ONLY },
    overrides.resolver,
  );
  const { client: temporal, connection } = await connectTemporalClient(config.temporal);
  const operations = new DeliveryOperations({
    delivery: { client: temporal, taskQueue: config.WSS_TASK_QUEUE, workflow: deliverEvent },
    namespace: config.TEMPORAL_NAMESPACE,
    ...(config.WSS_TEMPORAL_UI_URL !== undefined ? { webUiUrl: config.WSS_TEMPORAL_UI_URL } : {}),
    endpoints: stores.endpoints,
    tenants: stores.tenants,
    payloads: stores.payloads,
    deliveryLog: stores.deliveryLog,
    serviceRetryPolicy: serviceRetryPolicy(config),
    cursors: new SecretBox(requireConfig(config, 'WSS_MASTER_KEY')),
  });
  // The dry run evaluates tenants' transforms in child processes with a deadline and a heap cap, like deliveries.
  const transforms = new TransformPool(transformPoolOptionsFromConfig(config));
  const groupHealth = consumerGroupHealth(config, stores);
  // The API samples the stream gauges too: they matter most when every consumer is down.
  const sampler = overrides.metrics
    ? startStreamSampler(groupHealth, overrides.metrics, config.WSS_METRICS_SAMPLE_MS, log)
    : undefined;
  const app = createApiServer({
    adminToken: requireConfig(config, 'WSS_ADMIN_TOKEN'),
    log,
    deps: {
      endpoints: stores.endpoints,
      flowControl: stores.flowControl,
      tenants: stores.tenants,
      apiKeys: stores.apiKeys,
      portalSessions: new PortalSessionStore(stores.redis, stores.keys),
      signingKeys: stores.signingKeys,
      publisher: new EventPublisher(stores.redis, stores.keys, config.redis),
      requests: new RequestBuilder({ payloads: stores.payloads, transform: createTransformRunner(transforms) }),
      destinations,
      operations,
      orderedLanes: new OrderedLaneOperations(temporal, orderedDelivery.name),
      maxEventBytes: config.WSS_MAX_EVENT_BYTES,
      maxEventDepth: config.WSS_MAX_EVENT_DEPTH,
      secretGraceMs: config.WSS_SECRET_GRACE_MS,
      health: async () => {
        const redis = (await stores.redis.ping().catch((e: Error) => e.message)) === 'PONG' ? 'ok' : 'unreachable';
        if (redis !== 'ok') return { checks: { redis, consumerGroup: 'unknown: Redis unreachable' } };
        const [consumerGroup, recovery] = await Promise.all([
          groupHealth.check().catch(() => 'unknown'),
          groupHealth.recentRecovery().catch(() => undefined),
        ]);
        return { checks: { redis, consumerGroup }, ...(recovery !== undefined ? { notices: [recovery] } : {}) };
      },
    },
  });
  try {
    await app.listen({ port: config.WSS_API_PORT, host: config.WSS_API_HOST });
  } catch (err) {
    sampler?.stop();
    await app.close();
    await transforms.close();
    await connection.close();
    throw listenError(err, { host: 'WSS_API_HOST', port: 'WSS_API_PORT' }, config.WSS_API_HOST, config.WSS_API_PORT);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.WSS_API_PORT;
  return {
    server: app.server,
    port,
    checks: { redis: redisAnswers(stores.redis) },
    close: async () => {
      sampler?.stop();
      // Stops accepting connections, closes idle ones and waits for open requests to finish.
      await app.close();
      await transforms.close();
      await connection.close();
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.WSS_LOG_LEVEL, { component: 'api' });
  for (const warning of temporalSettingsWarnings(config.temporal)) log.warn(warning);
  const shutdown = onShutdownSignal({ log, deadlineMs: shutdownDeadlineMs(config) });
  const stores = createStores(config, 'api', log);
  const metrics = createServiceMetrics(config, ['api']);
  const api = await startApi(config, log, stores, { metrics });
  log.info({ port: api.port }, 'api listening');
  const ops = await startOps(config, log, metrics, api.checks, { draining: shutdown.draining });
  const signal = await shutdown.signal;
  // /readyz already answers 503 draining; now the listener closes and open requests finish.
  log.info({ signal }, 'draining: no new connections; finishing open requests');
  await closeInOrder([() => api.close(), () => ops.close()], [() => stores.close()]);
  log.info('api stopped');
}

if (require.main === module) runMain('api', main);
