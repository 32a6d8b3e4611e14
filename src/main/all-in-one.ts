import type { Config } from '../infra/config';
import { loadConfig } from '../infra/config';
import { nonPublicAllowlistEntries } from '../infra/egress/destination-policy';
import { createLogger } from '../infra/logger';
import { temporalSettingsWarnings } from '../infra/temporal-settings';
import { registerSearchAttributes } from '../infra/temporal';
import { startTracing } from '../infra/tracing';
import { startApi } from './api';
import { startConsumerWorker } from './consumer-worker';
import { createStores } from './services';
import { closeInOrder, onShutdownSignal, runMain, shutdownDeadlineMs } from './shutdown';
import { createServiceMetrics, startOps } from './ops';
import { installWorkerRuntime, temporalMetricsAddress } from './worker';

/**
 * The local runner behind `npm start`: worker, consumer and API in one process. The consumer starts workflows on the
 * worker's native connection with eager start (see ./consumer-worker.ts). In production run the roles separately
 * (dist/src/main/{worker,consumer,api}.js, or consumer-worker.js for eager start) and scale them independently.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.WSS_LOG_LEVEL);
  for (const warning of temporalSettingsWarnings(config.temporal)) log.warn(warning);
  const shutdown = onShutdownSignal({ log, deadlineMs: shutdownDeadlineMs(config) });
  const tracing = startTracing(config, log, 'wss');
  // Shutdown is ours: the consumer drains first, then the worker.
  const sdkMetrics = await temporalMetricsAddress(config);
  installWorkerRuntime(log, sdkMetrics, config.WSS_TEMPORAL_METRICS_BIND !== undefined);
  const metrics = createServiceMetrics(config, ['api', 'consumer', 'worker']);
  const stores = createStores(config, 'local', log);
  await registerSearchAttributes(config.temporal, log);

  const delivery = await startConsumerWorker(config, log, stores, { metrics, tracing });
  const api = await startApi(config, log.child({ component: 'api' }), stores);
  // One ops port for the three roles: ready when each of them is.
  const ops = await startOps(
    config,
    log.child({ component: 'ops' }),
    metrics,
    { ...api.checks, ...delivery.checks },
    { draining: shutdown.draining, temporalMetricsUrl: `http://${sdkMetrics}/metrics` },
  );

  const banner = [
    '',
    'Webhook Sender Service is running',
    `  API         http://${config.WSS_API_HOST}:${api.port}   (try: curl http://${config.WSS_API_HOST}:${api.port}/healthz)`,
    `  Ops         http://${config.WSS_OPS_HOST}:${ops.port}   (/livez, /readyz, /metrics)`,
    `  Web UI      ${config.WSS_TEMPORAL_UI_URL ?? '(external Temporal: see your cluster)'}`,
    `  Stream      XADD ${config.WSS_STREAM} * tenant <id> type <type> data <json>`,
    `  Redis       ${describeRedis(config)}    Temporal ${config.TEMPORAL_ADDRESS}`,
    '',
  ];
  const opened = nonPublicAllowlistEntries(config.WSS_EGRESS_ALLOW_CIDRS);
  if (opened.length > 0) {
    banner.push(
      `WARNING: WSS_EGRESS_ALLOW_CIDRS=${opened.join(',')} lets endpoints reach non-public addresses.`,
      '         Fine for a local run; in production leave it empty (or list only the internal ranges you mean).',
      '',
    );
  }
  process.stdout.write(`${banner.join('\n')}\n`);

  const signal = await shutdown.signal;
  log.info(
    { signal, graceMs: config.WSS_SHUTDOWN_GRACE_MS },
    'shutting down: draining consumer, API, then worker (running attempts finish; a second signal exits at once)',
  );
  await closeInOrder(
    [() => delivery.closeConsumer(), () => api.close(), () => delivery.close(), () => ops.close()],
    [() => stores.close(), () => tracing.shutdown()],
  );
  log.info('shut down cleanly');
}

/** Where Redis is, for the banner: the server, the sentinels or the cluster seeds; never a password. */
function describeRedis(config: Config): string {
  const { topology, tls } = config.redis;
  const hostPort = (n: { host: string; port: number }) => `${n.host}:${n.port}`;
  const where =
    topology.kind === 'standalone'
      ? hostPort(topology)
      : topology.kind === 'sentinel'
        ? `${topology.masterName} via ${topology.sentinels.map(hostPort).join(',')}`
        : topology.nodes.map(hostPort).join(',');
  return `${where} (${topology.kind}${tls === false ? '' : ', TLS'})`;
}

runMain('wss', main);
