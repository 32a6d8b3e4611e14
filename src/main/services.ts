import type { Config } from '../infra/config';
import { requireConfig } from '../infra/config';
import type { Logger } from '../infra/logger';
import type { RedisClient } from '../infra/redis';
import { createRedisClient } from '../infra/redis';
import { SecretBox } from '../security/secret-box';
import { ApiKeyStore } from '../store/api-key-store';
import { ConsumerGroupHealth } from '../store/consumer-group-health';
import { DeliveryLogStore } from '../store/delivery-log-store';
import { EndpointStore } from '../store/endpoint-store';
import { PayloadStore } from '../store/payload-store';
import { createRedisKeys } from '../store/redis-keys';
import type { RedisKeys } from '../store/redis-keys';
import { TenantStore } from '../store/tenant-store';
import type { ResolvedRetryPolicy } from '../domain/retry-policy';
import { DEFAULT_RETRY_POLICY, resolveRetryPolicy } from '../domain/retry-policy';

/** Redis-backed state shared by the worker, the consumer and the API. */
export interface Stores {
  readonly redis: RedisClient;
  readonly keys: RedisKeys;
  readonly endpoints: EndpointStore;
  readonly tenants: TenantStore;
  readonly payloads: PayloadStore;
  readonly apiKeys: ApiKeyStore;
  readonly deliveryLog: DeliveryLogStore;
  close(): Promise<void>;
}

/** A connection to the configured Redis (one server, Sentinel or Cluster; see src/infra/redis.ts). */
export function createRedis(config: Config, name: string): RedisClient {
  return createRedisClient(config.redis, name);
}

export function createStores(config: Config, name: string): Stores {
  const redis = createRedis(config, name);
  const keys = createRedisKeys(config.WSS_KEY_PREFIX, {
    events: config.WSS_STREAM,
    rejectedEntries: config.WSS_DEAD_LETTER_STREAM,
  });
  const secretBox = new SecretBox(requireConfig(config, 'WSS_MASTER_KEY'));
  return {
    redis,
    keys,
    endpoints: new EndpointStore({ redis, keys, secretBox }),
    tenants: new TenantStore(redis, keys),
    payloads: new PayloadStore(
      redis,
      keys,
      config.WSS_PAYLOAD_TTL_SECONDS,
      config.WSS_DEDUPE_WINDOW_SECONDS,
      config.redis,
    ),
    apiKeys: new ApiKeyStore(redis, keys),
    deliveryLog: new DeliveryLogStore(redis, keys, config.WSS_PAYLOAD_TTL_SECONDS),
    close: async () => {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** The consumer group's health as every process sees it (the API's /healthz reports it). */
export function consumerGroupHealth(config: Config, stores: Stores): ConsumerGroupHealth {
  return new ConsumerGroupHealth(stores.redis, stores.keys, config.WSS_CONSUMER_GROUP);
}

/** The service-wide default retry policy: the built-in schedule, unless the environment overrides its shape. */
export function serviceRetryPolicy(config: Config): ResolvedRetryPolicy {
  const overrides = {
    ...(config.WSS_RETRY_INITIAL_MS !== undefined ? { initialIntervalMs: config.WSS_RETRY_INITIAL_MS } : {}),
    ...(config.WSS_RETRY_BACKOFF !== undefined ? { backoffCoefficient: config.WSS_RETRY_BACKOFF } : {}),
    ...(config.WSS_RETRY_MAX_INTERVAL_MS !== undefined ? { maximumIntervalMs: config.WSS_RETRY_MAX_INTERVAL_MS } : {}),
    ...(config.WSS_RETRY_MAX_ATTEMPTS !== undefined ? { maximumAttempts: config.WSS_RETRY_MAX_ATTEMPTS } : {}),
    ...(config.WSS_RETRY_WINDOW_MS !== undefined ? { retryWindowMs: config.WSS_RETRY_WINDOW_MS } : {}),
    ...(config.WSS_RETRY_JITTER_PERCENT !== undefined ? { jitterPercent: config.WSS_RETRY_JITTER_PERCENT } : {}),
  };
  return Object.keys(overrides).length === 0
    ? DEFAULT_RETRY_POLICY
    : resolveRetryPolicy(overrides, undefined, DEFAULT_RETRY_POLICY);
}

export function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Exits non-zero on a failed start-up, with the reason and nothing else. */
export function runMain(name: string, main: () => Promise<void>, log?: Logger): void {
  main().catch((err: unknown) => {
    if (log) log.fatal({ err: describeError(err) }, `${name} failed`);
    else console.error(`${name} failed: ${describeError(err)}`);
    process.exit(1);
  });
}

/** Signals that start a graceful shutdown. */
const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
/** The signal count at which a draining process gives up and exits at once. */
export const FORCE_EXIT_SIGNAL_COUNT = 3;

export interface ShutdownOptions {
  readonly log: Logger;
  /** Longest drain after the first signal (WSS_SHUTDOWN_TIMEOUT_MS); then the process exits with code 1. */
  readonly timeoutMs: number;
}

/**
 * Resolves on the first SIGTERM or SIGINT: the moment to stop taking work and drain. From then on the process
 * keeps its signal handlers, so no repeated signal can kill it mid-drain:
 * - the second signal is logged and ignored. One Ctrl-C often arrives twice: the terminal signals the whole
 *   process group, and a runner (scripts/local-stack.mjs, npm) relays the signal it got as well;
 * - the third signal exits at once (code 130 for SIGINT, 143 for SIGTERM), with whatever is still running;
 * - `timeoutMs` after the first signal the process exits with code 1, whatever it is waiting for. The timer does
 *   not keep an otherwise finished process alive.
 */
export function shutdownSignal(options: ShutdownOptions): Promise<NodeJS.Signals> {
  const { log, timeoutMs } = options;
  return new Promise((resolve) => {
    let received = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      received += 1;
      if (received === 1) {
        setTimeout(() => {
          log.error(
            { timeoutMs },
            'shutdown did not finish within WSS_SHUTDOWN_TIMEOUT_MS; exiting with work in flight',
          );
          process.exit(1);
        }, timeoutMs).unref();
        resolve(signal);
      } else if (received < FORCE_EXIT_SIGNAL_COUNT) {
        log.warn({ signal }, 'already shutting down: repeated signal ignored (one more exits at once)');
      } else {
        log.error({ signal }, 'shutdown forced by a third signal: exiting at once with work in flight');
        process.exit(signal === 'SIGINT' ? 130 : 143);
      }
    };
    for (const signal of SHUTDOWN_SIGNALS) process.on(signal, onSignal);
  });
}

/**
 * How long the Temporal worker lets running activities go on after shutdown() before it cancels them: the
 * shutdown timeout minus 10 s (at least half of it), so a cancelled attempt can still be reported before the
 * process's own deadline.
 */
export function workerShutdownGraceMs(config: Pick<Config, 'WSS_SHUTDOWN_TIMEOUT_MS'>): number {
  const timeout = config.WSS_SHUTDOWN_TIMEOUT_MS;
  return Math.max(timeout - 10_000, Math.floor(timeout / 2));
}
