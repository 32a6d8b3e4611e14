import type { cliConfigSchema, configSchema } from './config';

/**
 * The processes a variable matters to. The all-in-one (`npm start`) runs the three service roles in one process and
 * reads the union; `cli` is the `wss` command.
 */
export type Role = 'api' | 'consumer' | 'worker' | 'cli';

type ServiceVariable = keyof typeof configSchema.shape;
type CliVariable = keyof typeof cliConfigSchema.shape;

const ALL: readonly Role[] = ['api', 'consumer', 'worker'];
const TEMPORAL: readonly Role[] = ALL;

/**
 * Which role reads each variable, for the README's configuration table (a "Roles" column) and for deployments that
 * give each role only what it needs (the Helm chart's per-role settings).
 *
 * The type is exhaustive over both schemas: a new variable does not compile until it is placed here.
 */
export const CONFIG_ROLES: Readonly<Record<ServiceVariable | CliVariable, readonly Role[]>> = {
  WSS_API_PORT: ['api'],
  WSS_API_HOST: ['api'],
  WSS_ADMIN_TOKEN: ['api', 'cli'],
  WSS_MASTER_KEY: ALL,
  REDIS_URL: ALL,
  REDIS_USERNAME: ALL,
  REDIS_PASSWORD: ALL,
  REDIS_TLS: ALL,
  REDIS_TLS_CA_FILE: ALL,
  REDIS_TLS_CA: ALL,
  REDIS_TLS_CERT_FILE: ALL,
  REDIS_TLS_CERT: ALL,
  REDIS_TLS_KEY_FILE: ALL,
  REDIS_TLS_KEY: ALL,
  REDIS_TLS_SERVER_NAME: ALL,
  REDIS_SENTINELS: ALL,
  REDIS_SENTINEL_MASTER: ALL,
  REDIS_SENTINEL_USERNAME: ALL,
  REDIS_SENTINEL_PASSWORD: ALL,
  REDIS_CLUSTER_NODES: ALL,
  // Writes that must survive a failover before a workflow starts: the consumer's claim, the API's publish.
  REDIS_WAIT_REPLICAS: ['api', 'consumer'],
  REDIS_WAIT_TIMEOUT_MS: ['api', 'consumer'],
  WSS_KEY_PREFIX: ALL,
  WSS_STREAM: ['api', 'consumer'],
  WSS_DEAD_LETTER_STREAM: ['api', 'consumer'],
  WSS_CONSUMER_GROUP: ['api', 'consumer'],
  WSS_CONSUMER_NAME: ['consumer'],
  WSS_CONSUMER_BATCH: ['consumer'],
  WSS_CONSUMER_BLOCK_MS: ['consumer'],
  WSS_CONSUMER_CONCURRENCY: ['consumer'],
  WSS_CONSUMER_CLAIM_IDLE_MS: ['consumer'],
  WSS_MAX_EVENT_BYTES: ['api', 'consumer'],
  WSS_MAX_EVENT_DEPTH: ['api', 'consumer'],
  WSS_PAYLOAD_TTL_SECONDS: ALL,
  WSS_DEDUPE_WINDOW_SECONDS: ['api', 'consumer'],
  TEMPORAL_ADDRESS: TEMPORAL,
  TEMPORAL_NAMESPACE: TEMPORAL,
  TEMPORAL_API_KEY: TEMPORAL,
  TEMPORAL_TLS: TEMPORAL,
  TEMPORAL_TLS_CLIENT_CERT_PATH: TEMPORAL,
  TEMPORAL_TLS_CLIENT_CERT_DATA: TEMPORAL,
  TEMPORAL_TLS_CLIENT_KEY_PATH: TEMPORAL,
  TEMPORAL_TLS_CLIENT_KEY_DATA: TEMPORAL,
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: TEMPORAL,
  TEMPORAL_TLS_SERVER_CA_CERT_DATA: TEMPORAL,
  TEMPORAL_TLS_SERVER_NAME: TEMPORAL,
  TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: TEMPORAL,
  TEMPORAL_PROFILE: TEMPORAL,
  TEMPORAL_CONFIG_FILE: TEMPORAL,
  WSS_TEMPORAL_CONNECT_TIMEOUT_MS: TEMPORAL,
  WSS_TEMPORAL_UI_URL: ['api'],
  WSS_TASK_QUEUE: ALL,
  // The consumer posts operator webhooks with the same HTTP client and egress guard as deliveries.
  WSS_HTTP_CONNECT_TIMEOUT_MS: ['consumer', 'worker'],
  WSS_HTTP_HEADERS_TIMEOUT_MS: ['consumer', 'worker'],
  WSS_HTTP_TOTAL_TIMEOUT_MS: ['consumer', 'worker'],
  WSS_HTTP_MAX_RESPONSE_BYTES: ['consumer', 'worker'],
  WSS_HTTP_CA_FILE: ['consumer', 'worker'],
  // The API checks endpoint URLs against the same egress policy when they are registered.
  WSS_EGRESS_ALLOW_CIDRS: ALL,
  WSS_EGRESS_HTTPS_ONLY: ALL,
  WSS_EGRESS_PROXY: ['consumer', 'worker'],
  // The consumer puts the service default into each workflow's input; the API shows it and uses it for retries.
  WSS_RETRY_INITIAL_MS: ['api', 'consumer'],
  WSS_RETRY_BACKOFF: ['api', 'consumer'],
  WSS_RETRY_MAX_INTERVAL_MS: ['api', 'consumer'],
  WSS_RETRY_MAX_ATTEMPTS: ['api', 'consumer'],
  WSS_RETRY_WINDOW_MS: ['api', 'consumer'],
  WSS_RETRY_JITTER_PERCENT: ['api', 'consumer'],
  WSS_ENDPOINT_DISABLE_AFTER_FAILURES: ['worker'],
  WSS_ENDPOINT_DISABLE_AFTER_MS: ['worker'],
  WSS_OPERATOR_WEBHOOK_URL: ['consumer', 'worker'],
  WSS_OPERATOR_WEBHOOK_SECRET: ['consumer', 'worker'],
  WSS_SECRET_GRACE_MS: ['api'],
  // The API runs transforms for dry runs.
  WSS_TRANSFORM_PROCESSES: ['api', 'worker'],
  WSS_WORKER_WORKFLOW_TASKS: ['worker'],
  WSS_TRANSFORM_TIMEOUT_MS: ['api', 'worker'],
  WSS_TRANSFORM_MAX_MEMORY_MB: ['api', 'worker'],
  WSS_SHUTDOWN_GRACE_MS: ALL,
  WSS_OPS_PORT: ALL,
  WSS_OPS_HOST: ALL,
  WSS_METRICS_TENANT_LABEL: ['worker'],
  WSS_METRICS_SAMPLE_MS: ['api', 'consumer'],
  WSS_TEMPORAL_METRICS_BIND: ['worker'],
  // The API does not trace yet: operator retries and replays start workflows without a parent span.
  OTEL_SDK_DISABLED: ['consumer', 'worker'],
  OTEL_TRACES_EXPORTER: ['consumer', 'worker'],
  OTEL_EXPORTER_OTLP_ENDPOINT: ['consumer', 'worker'],
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: ['consumer', 'worker'],
  OTEL_EXPORTER_OTLP_PROTOCOL: ['consumer', 'worker'],
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: ['consumer', 'worker'],
  OTEL_SERVICE_NAME: ['consumer', 'worker'],
  WSS_LOG_LEVEL: ALL,
  WSS_API_URL: ['cli'],
  WSS_TOKEN: ['cli'],
};
