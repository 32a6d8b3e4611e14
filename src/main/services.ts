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
import { FlowControlStore } from '../store/flow-control-store';
import { createRedisKeys } from '../store/redis-keys';
import { SigningKeyStore } from '../store/signing-key-store';
import type { RedisKeys } from '../store/redis-keys';
import { TenantStore } from '../store/tenant-store';
import type { ResolvedRetryPolicy } from '../domain/retry-policy';
import { DEFAULT_RETRY_POLICY, resolveRetryPolicy } from '../domain/retry-policy';

/** Redis-backed state shared by the worker, the consumer and the API. */
export interface Stores {
  readonly redis: RedisClient;
  readonly keys: RedisKeys;
  readonly endpoints: EndpointStore;
  readonly flowControl: FlowControlStore;
  readonly tenants: TenantStore;
  readonly payloads: PayloadStore;
  readonly apiKeys: ApiKeyStore;
  readonly deliveryLog: DeliveryLogStore;
  /** Each tenant's ed25519 key pairs for `v1a` signatures. */
  readonly signingKeys: SigningKeyStore;
  close(): Promise<void>;
}

/** A connection to the configured Redis (one server, Sentinel or Cluster; see src/infra/redis.ts). */
export function createRedis(config: Config, name: string, log?: Logger): RedisClient {
  return createRedisClient(config.redis, name, log !== undefined ? { log } : {});
}

/** `log` receives the connection's failures (classified and rate-limited, see src/infra/redis-errors.ts). */
export function createStores(config: Config, name: string, log?: Logger): Stores {
  const redis = createRedis(config, name, log);
  const keys = createRedisKeys(config.WSS_KEY_PREFIX, {
    events: config.WSS_STREAM,
    rejectedEntries: config.WSS_DEAD_LETTER_STREAM,
  });
  const secretBox = new SecretBox(requireConfig(config, 'WSS_MASTER_KEY'));
  return {
    redis,
    keys,
    endpoints: new EndpointStore({ redis, keys, secretBox }),
    flowControl: new FlowControlStore(redis, keys),
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
    signingKeys: new SigningKeyStore(redis, keys, secretBox),
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
