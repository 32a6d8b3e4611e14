import { existsSync } from 'node:fs';
import path from 'node:path';
import { CancelledFailure } from '@temporalio/common';
import { DefaultLogger, Runtime, Worker, makeTelemetryFilterString } from '@temporalio/worker';
import type { ActivityInterceptorsFactory, NativeConnection, WorkerOptions } from '@temporalio/worker';
import type { AttemptRecord } from '../activities/deliver-webhook';
import type { OperationalEvent } from '../domain/operational-event';
import { createActivities } from '../activities/deliver-webhook';
import { createTransformRunner } from '../activities/transform-runner';
import { createStreamOrderActivities } from '../activities/stream-order';
import { StreamProgress } from '../store/stream-progress';
import type { Config } from '../infra/config';
import { loadConfig, requireConfig } from '../infra/config';
import { DestinationPolicy, nonPublicAllowlistEntries } from '../infra/egress/destination-policy';
import type { Resolver } from '../infra/egress/destination-policy';
import { createHttpClient, httpClientOptionsFromConfig } from '../infra/http-client';
import type { Logger } from '../infra/logger';
import { createLogger } from '../infra/logger';
import { temporalSettingsWarnings } from '../infra/temporal-settings';
import { temporalLogFunction } from '../infra/temporal-log';
import type { Tracing } from '../infra/tracing';
import { TRACING_OFF, activeTraceHeaders, recordAttemptOnSpan, startTracing } from '../infra/tracing';
import { RequestBuilder, USER_AGENT } from '../delivery/signed-request';
import { SecretBox } from '../security/secret-box';
import { OAuth2TokenCache } from '../store/oauth2-token-cache';
import { createOperatorWebhook } from '../notifications/operator-webhook';
import { OperationalEvents } from '../store/operational-events';
import { connectTemporalWorker, registerSearchAttributes } from '../infra/temporal';
import { sdkMetricsExporterError } from '../infra/listen-error';
import { TransformPool, transformPoolOptionsFromConfig } from '../transform/transform-pool';
import type { ServiceMetrics } from '../infra/metrics';
import type { DeliveryMetricsSinks } from '../workflows/deliver-event';
import type { InjectedSinks } from '@temporalio/worker';
import { createServiceMetrics, freeLoopbackAddress, startOps, temporalAnswers, workerPolling } from './ops';
import type { Stores } from './services';
import { createStores } from './services';
import { closeInOrder, onShutdownSignal, runMain, shutdownDeadlineMs, workerShutdownGraceMs } from './shutdown';

export interface DeliveryWorker {
  readonly worker: Worker;
  /** The worker's connection to Temporal (readiness asks it). */
  readonly connection: NativeConnection;
  /** Resolves when the worker has stopped (after shutdown()). */
  run(): Promise<void>;
  /** Stops polling, lets running activities finish, closes connections. */
  close(): Promise<void>;
}

/**
 * Prefer the bundle built by `npm run build`; fall back to bundling the sources at start (tests, dev), with the
 * same workflow interceptors `scripts/bundle-workflows.mjs` bundles.
 */
function workflowSource(
  interceptors: boolean,
): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> & { workflowModules?: string[] } {
  const bundle = path.resolve(__dirname, '../..', interceptors ? 'workflow-bundle-traced.js' : 'workflow-bundle.js');
  if (existsSync(bundle) && __filename.endsWith('.js')) return { workflowBundle: { codePath: bundle } };
  return {
    workflowsPath: require.resolve('../workflows'),
    ...(interceptors ? { workflowModules: [require.resolve('../workflows/interceptors')] } : {}),
  };
}

/** Builds the worker that runs delivery workflows and activities. */
export async function createDeliveryWorker(
  config: Config,
  log: Logger,
  stores: Stores,
  overrides: {
    resolver?: Resolver;
    metrics?: ServiceMetrics;
    tracing?: Tracing;
    /** Benchmark experiments only (bench/delivery-worker.ts): merged over the options below. */
    experiment?: {
      workerOptions?: Partial<WorkerOptions>;
      workflowInterceptors?: boolean;
      activityInterceptors?: ActivityInterceptorsFactory[];
    };
  } = {},
): Promise<DeliveryWorker> {
  const metrics = overrides.metrics;
  const tracing = overrides.tracing ?? TRACING_OFF;
  const connection = await connectTemporalWorker(config.temporal);
  const policy = new DestinationPolicy(
    { allowCidrs: config.WSS_EGRESS_ALLOW_CIDRS, httpsOnly: config.WSS_EGRESS_HTTPS_ONLY },
    overrides.resolver,
  );
  const opened = nonPublicAllowlistEntries(config.WSS_EGRESS_ALLOW_CIDRS);
  if (opened.length > 0) {
    log.warn(
      { allowCidrs: opened },
      'WSS_EGRESS_ALLOW_CIDRS opens non-public address space: tenants can deliver to these internal addresses',
    );
  }
  if (workerShutdownGraceMs(config) <= config.WSS_HTTP_TOTAL_TIMEOUT_MS) {
    log.warn(
      { shutdownGraceMs: config.WSS_SHUTDOWN_GRACE_MS, httpTotalTimeoutMs: config.WSS_HTTP_TOTAL_TIMEOUT_MS },
      'WSS_SHUTDOWN_GRACE_MS is not above WSS_HTTP_TOTAL_TIMEOUT_MS: a shutdown may cut running attempts off (they are retried)',
    );
  }
  const http = createHttpClient({
    ...httpClientOptionsFromConfig(config, policy),
    // OAuth2 tokens of endpoints are shared by every worker through Redis (sealed with the master key).
    tokenCache: new OAuth2TokenCache(stores.redis, stores.keys, new SecretBox(requireConfig(config, 'WSS_MASTER_KEY'))),
    userAgent: USER_AGENT,
  });
  // Tenants' transforms run in child processes with a deadline and a heap cap, never on this event loop.
  const transforms = new TransformPool(transformPoolOptionsFromConfig(config));
  const requests = new RequestBuilder({
    payloads: stores.payloads,
    transform: createTransformRunner(transforms),
    // An endpoint with sendTraceparent gets the attempt span's traceparent; with tracing off there is none.
    ...(tracing.enabled ? { traceHeaders: activeTraceHeaders } : {}),
  });
  const activityLog = log.child({ component: 'activity' });
  const operatorWebhook =
    config.WSS_OPERATOR_WEBHOOK_URL !== undefined
      ? createOperatorWebhook(config.WSS_OPERATOR_WEBHOOK_URL, config.WSS_OPERATOR_WEBHOOK_SECRET, http)
      : undefined;
  // Fired at the end of the shutdown grace, for the local first attempts the SDK does not cancel (see close()).
  const workerShutdown = new AbortController();
  const activities = createActivities({
    workerShutdown: workerShutdown.signal,
    endpoints: stores.endpoints,
    payloads: stores.payloads,
    signingKeys: stores.signingKeys,
    requests,
    http,
    deliveryLog: stores.deliveryLog,
    operationalEvents: countingDisabledEndpoints(
      new OperationalEvents(stores.redis, stores.keys, activityLog, operatorWebhook),
      metrics,
    ),
    health: {
      disableAfterFailures: config.WSS_ENDPOINT_DISABLE_AFTER_FAILURES,
      disableAfterMs: config.WSS_ENDPOINT_DISABLE_AFTER_MS,
    },
    log: activityLog,
    // Flow control (issue 17): the shared gate, and its counters and gauges.
    flowControl: stores.flowControl,
    ...(metrics
      ? {
          onThrottle: ({ tenantId, reason }) => metrics.recordThrottle(tenantId, reason),
          onFlowState: ({ tenantId, endpointId }, state) => metrics.setEndpointFlowState(tenantId, endpointId, state),
        }
      : {}),
    ...(metrics || tracing.enabled
      ? {
          onAttempt: (record: AttemptRecord) => {
            metrics?.recordAttempt(record);
            if (tracing.enabled) recordAttemptOnSpan(record);
          },
        }
      : {}),
  });
  const sinks: InjectedSinks<DeliveryMetricsSinks> = {
    metrics: {
      deliveriesCancelled: { fn: (_info, tenantId, endpoints) => metrics?.recordCancelled(tenantId, endpoints) },
    },
  };

  // The OpenTelemetry workflow interceptors run only when tracing is on: with tracing off they cost the worker
  // about a fifth of its CPU per workflow task for spans that are thrown away (bench/README.md, "Experiments").
  // Replay does not depend on them: they add no commands, only headers.
  const { workflowModules, ...source } = workflowSource(overrides.experiment?.workflowInterceptors ?? tracing.enabled);
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.WSS_TASK_QUEUE,
    ...source,
    // The ordered-delivery lanes' order check (README "Ordered delivery").
    activities: { ...activities, ...createStreamOrderActivities({ progress: new StreamProgress(stores.redis) }) },
    sinks: { ...sinks, ...tracing.sinks },
    interceptors: {
      activity: [...tracing.activityInterceptors, ...(overrides.experiment?.activityInterceptors ?? [])],
      ...(workflowModules !== undefined ? { workflowModules } : {}),
    },
    // Workflows here are short and hold no large state; a warm cache avoids replaying on every activity result.
    maxCachedWorkflows: 2000,
    // A workflow task taken here waits for the one workflow thread (and this process's CPU). Taking more than can be
    // done within the workflow task timeout (10 s) gets them timed out by Temporal, their work thrown away and
    // queued again behind the backlog: a burst on a starved worker then waits minutes without an attempt. The
    // backlog is safer waiting in Temporal's task queue, where it has no timeout.
    maxConcurrentWorkflowTaskExecutions: config.WSS_WORKER_WORKFLOW_TASKS,
    // Every outstanding workflow-task poll holds one of those slots (sticky and normal queue together). The SDK's
    // default, min(10, slots) pollers, holds all of them, and the core then never asks the server for an eager
    // start (no free slot to take the task): the consumer-worker and the all-in-one would lose it. Half the slots
    // poll, the SDK's own guidance. (`maxConcurrentWorkflowTaskPolls` is ignored by SDK 1.24; this is what counts.)
    workflowTaskPollerBehavior: {
      type: 'simple-maximum',
      maximum: workflowTaskPollers(config.WSS_WORKER_WORKFLOW_TASKS),
    },
    reuseV8Context: true,
    // Running attempts finish (and are reported) on shutdown; only after this are they cancelled: the activity
    // records a `worker_shutdown` retry and Temporal runs the attempt again on the next worker.
    shutdownGraceTime: workerShutdownGraceMs(config),
    ...overrides.experiment?.workerOptions,
  });
  let running: Promise<void> | undefined;
  return {
    worker,
    connection,
    run: () => (running ??= worker.run()),
    close: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      // The SDK cancels running regular attempts after shutdownGraceTime; local first attempts are cut off here at
      // the same moment, and are recorded as the same `worker_shutdown` retry.
      const cutOff = setTimeout(
        () => workerShutdown.abort(new CancelledFailure('WORKER_SHUTDOWN')),
        workerShutdownGraceMs(config),
      );
      cutOff.unref();
      await running?.catch(() => undefined);
      clearTimeout(cutOff);
      await transforms.close();
      await http.close();
      await connection.close();
    },
  };
}

/** Workflow-task pollers for `slots` workflow task slots: half of them, at least 2 (the SDK's minimum). */
export function workflowTaskPollers(slots: number): number {
  return Math.max(2, Math.floor(slots / 2));
}

/**
 * The SDK's process-wide runtime. Its own logs, the workflow logger's and the native core's (forwarded), from WARN
 * up, go through `log` as one JSON line each, without task tokens, stacks or messages that could quote a payload
 * (see {@link temporalLogFunction}). The SDK does not handle signals: it would stop listening after the first one,
 * so a second Ctrl-C would kill the process mid-drain. The entry points order the shutdown themselves
 * (`onShutdownSignal` in ./shutdown).
 */
export function installWorkerRuntime(log: Logger, metricsBindAddress?: string, metricsBindConfigured = false): void {
  try {
    installRuntime(log, metricsBindAddress);
  } catch (err) {
    if (metricsBindAddress === undefined || !/metrics exporter/i.test((err as Error).message)) throw err;
    throw sdkMetricsExporterError(err, { configured: metricsBindConfigured, address: metricsBindAddress });
  }
}

function installRuntime(log: Logger, metricsBindAddress: string | undefined): void {
  Runtime.install({
    shutdownSignals: [],
    logger: new DefaultLogger('WARN', temporalLogFunction(log)),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      // The SDK's own worker metrics (task slots, schedule-to-start latency, polls): the ops port merges them
      // into its /metrics. Names and units are the SDK's defaults (`temporal_` prefix, durations in ms).
      ...(metricsBindAddress !== undefined ? { metrics: { prometheus: { bindAddress: metricsBindAddress } } } : {}),
    },
  });
}

/** Where the SDK's Prometheus exporter listens: WSS_TEMPORAL_METRICS_BIND, or a free loopback port. */
export async function temporalMetricsAddress(config: Pick<Config, 'WSS_TEMPORAL_METRICS_BIND'>): Promise<string> {
  return config.WSS_TEMPORAL_METRICS_BIND ?? (await freeLoopbackAddress());
}

/** Counts the endpoints the activity disables, on their way to the operational event stream. */
function countingDisabledEndpoints(
  events: OperationalEvents,
  metrics: ServiceMetrics | undefined,
): { publish(event: OperationalEvent): Promise<void> } {
  return {
    publish: async (event) => {
      if (event.type === 'endpoint.disabled') metrics?.recordEndpointDisabled(event.tenantId, event.reason);
      await events.publish(event);
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.WSS_LOG_LEVEL, { component: 'worker' });
  for (const warning of temporalSettingsWarnings(config.temporal)) log.warn(warning);
  const shutdown = onShutdownSignal({ log, deadlineMs: shutdownDeadlineMs(config) });
  const tracing = startTracing(config, log, 'wss-worker');
  const sdkMetrics = await temporalMetricsAddress(config);
  installWorkerRuntime(log, sdkMetrics, config.WSS_TEMPORAL_METRICS_BIND !== undefined);
  const metrics = createServiceMetrics(config, ['worker']);
  const stores = createStores(config, 'worker', log);
  await registerSearchAttributes(config.temporal, log);
  const delivery = await createDeliveryWorker(config, log, stores, { metrics, tracing });
  const ops = await startOps(
    config,
    log,
    metrics,
    {
      worker: workerPolling(delivery.worker),
      temporal: temporalAnswers(delivery.connection),
    },
    { draining: shutdown.draining, temporalMetricsUrl: `http://${sdkMetrics}/metrics` },
  );
  try {
    log.info({ taskQueue: config.WSS_TASK_QUEUE }, 'worker started');
    const running = delivery.run();
    // A fatal worker error ends the process (exit 1); a signal starts the drain in close().
    const signal = await Promise.race([shutdown.signal, running]);
    if (signal) {
      log.info(
        { signal, graceMs: config.WSS_SHUTDOWN_GRACE_MS },
        'draining: no new tasks; running attempts finish within WSS_SHUTDOWN_GRACE_MS, then are cancelled and retried',
      );
    }
  } finally {
    await closeInOrder([() => delivery.close(), () => ops.close()], [() => stores.close(), () => tracing.shutdown()]);
  }
  log.info('worker stopped');
}

if (require.main === module) runMain('worker', main);
