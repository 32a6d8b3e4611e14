import { createServer } from 'node:net';
import type { Connection } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { RedisClient } from '../infra/redis';
import { redisFailureReason } from '../infra/redis';
import type { Config } from '../infra/config';
import type { Logger } from '../infra/logger';
import type { ProcessRole, ServiceMetrics } from '../infra/metrics';
import { createMetrics } from '../infra/metrics';
import type { ReadinessCheck, RunningOpsServer } from '../infra/ops-server';
import { startOpsServer } from '../infra/ops-server';
import type { ConsumerGroupHealth } from '../store/consumer-group-health';

/** The process's metrics: one registry per process, with the metrics of the roles it runs. */
export function createServiceMetrics(
  config: Pick<Config, 'WSS_METRICS_TENANT_LABEL'>,
  roles: readonly ProcessRole[],
): ServiceMetrics {
  return createMetrics({ tenantLabel: config.WSS_METRICS_TENANT_LABEL, roles });
}

/**
 * Starts the ops port with the roles' readiness checks. `draining` turns `/readyz` into 503 `draining` (the
 * shutdown's flag); `temporalMetricsUrl` adds the SDK's metrics to /metrics.
 */
export async function startOps(
  config: Config,
  log: Logger,
  metrics: ServiceMetrics,
  checks: Readonly<Record<string, ReadinessCheck>>,
  options: { readonly draining: () => boolean; readonly temporalMetricsUrl?: string },
): Promise<RunningOpsServer> {
  const { temporalMetricsUrl, draining } = options;
  const ops = await startOpsServer({
    host: config.WSS_OPS_HOST,
    port: config.WSS_OPS_PORT,
    log,
    metrics,
    checks,
    draining,
    ...(temporalMetricsUrl !== undefined ? { extraMetrics: () => fetchText(temporalMetricsUrl) } : {}),
  });
  log.info({ host: config.WSS_OPS_HOST, port: ops.port }, 'ops port listening (/livez, /readyz, /metrics)');
  return ops;
}

/**
 * Redis answers: connected (not reconnecting, whose commands would queue) and a PING comes back. When not, the
 * reason is the connection's last failure, classified ("redis failing: authentication refused (WRONGPASS); check
 * REDIS_USERNAME, REDIS_PASSWORD").
 */
export function redisAnswers(redis: RedisClient): ReadinessCheck {
  return async () => {
    if (redis.status !== 'ready') {
      const reason = redisFailureReason(redis);
      throw new Error(
        reason !== undefined
          ? `redis failing: ${reason} (connection ${redis.status})`
          : `Redis connection is ${redis.status}`,
      );
    }
    const reply = await redis.ping();
    if (reply !== 'PONG') throw new Error(`Redis answered PING with ${reply}`);
  };
}

/** Temporal's frontend answers its gRPC health check. */
export function temporalAnswers(connection: Connection | NativeConnection, timeoutMs = 2000): ReadinessCheck {
  return async () => {
    try {
      await connection.withDeadline(Date.now() + timeoutMs, () => connection.healthService.check({}));
    } catch (err) {
      throw new Error(`Temporal unreachable: ${(err as Error).message.slice(0, 200)}`);
    }
  };
}

/** The consumer group exists (a lost group is recreated by the consumer; until then it is not ready). */
export function consumerGroupExists(health: ConsumerGroupHealth): ReadinessCheck {
  return async () => {
    const state = await health.check();
    if (state !== 'ok') throw new Error(`consumer group ${state}`);
  };
}

/** The worker is polling its task queue. */
export function workerPolling(worker: Pick<Worker, 'getState'>): ReadinessCheck {
  return async () => {
    const state = worker.getState();
    if (state !== 'RUNNING') throw new Error(`worker is ${state}`);
  };
}

/**
 * Samples the stream gauges on a timer, so a scrape costs Redis nothing and many scrapers cost the same as one.
 * A failed sample keeps the last values and is logged at debug (readiness reports Redis being down).
 */
export function startStreamSampler(
  health: ConsumerGroupHealth,
  metrics: ServiceMetrics,
  intervalMs: number,
  log: Logger,
): { stop(): void } {
  const sample = async () => {
    try {
      metrics.setStreamStats(await health.streamStats());
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'could not sample the stream gauges');
    }
  };
  void sample();
  const timer = setInterval(() => void sample(), intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** A free loopback port for the Temporal SDK's exporter, which needs a fixed address. */
export async function freeLoopbackAddress(): Promise<string> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(`127.0.0.1:${port}`));
    });
  });
}

async function fetchText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`HTTP ${res.status} from ${url}`);
  return res.text();
}
