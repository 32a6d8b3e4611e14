import os from 'node:os';
import { z } from 'zod';
import { ValidationError } from '../domain/errors';
import { DEFAULT_MAX_JSON_DEPTH } from '../domain/json-text';
import type { RetryPolicySpec } from '../domain/endpoint';
import { SERVICE_RETRY_POLICY_LIMITS, validateRetryPolicySpec } from '../domain/retry-policy';
import type { RedisSettings } from './redis-settings';
import { RedisSettingsError, resolveRedisSettings } from './redis-settings';
import type { TemporalSettings } from './temporal-settings';
import { TemporalSettingsError, resolveTemporalSettings } from './temporal-settings';

/**
 * The service's whole configuration: one schema, read from the environment once at start-up.
 *
 * Nothing else in the code base reads `process.env`. Each field documents its variable and default; the README's
 * configuration table is generated from the same descriptions (`npm run config:docs` prints it).
 */

const bool = z.enum(['true', 'false', '1', '0', '']).transform((v) => v === 'true' || v === '1');
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const retryNumber = z.coerce.number().optional();
const csv = z.string().transform((s) =>
  s
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0),
);

/** An OTLP endpoint: `collector:4318` parses as a URL with the scheme `collector:`, so the scheme is checked. */
const otlpUrl = z
  .string()
  .url()
  .regex(/^https?:\/\//i, 'must be an http:// or https:// URL');

export const configSchema = z.object({
  WSS_API_PORT: int(0, 65535).default(8080).describe('Port of the management API.'),
  WSS_API_HOST: z.string().default('127.0.0.1').describe('Interface the management API binds to.'),
  WSS_ADMIN_TOKEN: z
    .string()
    .min(16, 'must be at least 16 characters')
    .optional()
    .describe('Bearer token with full admin rights on the API. Required by the API process.'),
  WSS_MASTER_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/]{43}=$/, 'must be 32 bytes, base64-encoded (44 characters)')
    .optional()
    .describe('AES-256-GCM key (base64, 32 bytes) that encrypts endpoint secrets at rest. Required.'),
  REDIS_URL: z
    .string()
    .url()
    .default('redis://127.0.0.1:6379')
    .describe(
      'One Redis server: `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. Not set with Sentinel or Cluster.',
    ),
  // The other REDIS_* variables are checked together in redis-settings.ts (files read, PEM parsed, conflicts named).
  REDIS_USERNAME: z
    .string()
    .optional()
    .describe(
      "ACL user (Redis 6+), in every mode; wins over the URL's. Without it the password is the `default` user's.",
    ),
  REDIS_PASSWORD: z.string().optional().describe("Password of the ACL user (or `requirepass`); wins over the URL's."),
  REDIS_TLS: bool
    .optional()
    .describe('`true` connects with TLS (needed for TLS with Sentinel or Cluster). Default: on for a `rediss://` URL.'),
  REDIS_TLS_CA_FILE: z
    .string()
    .optional()
    .describe("CA certificate(s) that sign the server's certificate (PEM file). Default: the system's roots."),
  REDIS_TLS_CA: z.string().optional().describe('The CA as inline PEM instead of a file.'),
  REDIS_TLS_CERT_FILE: z
    .string()
    .optional()
    .describe('Client certificate (PEM file) for servers that demand one (`tls-auth-clients yes`); needs the key.'),
  REDIS_TLS_CERT: z.string().optional().describe('The client certificate as inline PEM instead of a file.'),
  REDIS_TLS_KEY_FILE: z.string().optional().describe("The client certificate's private key (PEM file)."),
  REDIS_TLS_KEY: z.string().optional().describe('The client key as inline PEM instead of a file.'),
  REDIS_TLS_SERVER_NAME: z
    .string()
    .optional()
    .describe("Name checked against the server's certificate (and sent as SNI) instead of the host connected to."),
  REDIS_SENTINELS: z
    .string()
    .optional()
    .describe(
      'Sentinel mode: the sentinels as `host:port,host:port`; the master is asked of them and followed on failover.',
    ),
  REDIS_SENTINEL_MASTER: z
    .string()
    .optional()
    .describe('Sentinel mode: the master group name the sentinels monitor (required with REDIS_SENTINELS).'),
  REDIS_SENTINEL_USERNAME: z.string().optional().describe('Sentinel mode: ACL user on the sentinels themselves.'),
  REDIS_SENTINEL_PASSWORD: z
    .string()
    .optional()
    .describe("Sentinel mode: password of the sentinels themselves (REDIS_PASSWORD is the master's)."),
  REDIS_CLUSTER_NODES: z
    .string()
    .optional()
    .describe('Cluster mode: seed nodes as `host:port,host:port`; the rest of the cluster is discovered from them.'),
  REDIS_WAIT_REPLICAS: int(0, 100)
    .default(0)
    .describe(
      "Replicas that must confirm (WAIT) an event's stored payload before its workflow starts, and an API-published event before the API answers, so a Sentinel failover cannot lose them. Not with Cluster.",
    ),
  REDIS_WAIT_TIMEOUT_MS: int(1, 60_000)
    .default(1000)
    .describe('How long a REDIS_WAIT_REPLICAS confirmation may take; an unconfirmed entry is retried later.'),
  WSS_KEY_PREFIX: z
    .string()
    .regex(/^[a-z0-9_-]+$/i)
    .default('wss')
    .describe('Prefix of every Redis key the service owns.'),
  WSS_STREAM: z.string().min(1).default('wss:events').describe('Redis Stream that producers XADD events to.'),
  WSS_DEAD_LETTER_STREAM: z
    .string()
    .min(1)
    .optional()
    .describe('Stream for entries the consumer cannot accept. Default: `<WSS_STREAM>:dead`.'),
  WSS_CONSUMER_GROUP: z.string().min(1).default('wss-senders').describe('Consumer group name.'),
  WSS_CONSUMER_NAME: z
    .string()
    .min(1)
    .default(os.hostname())
    .describe('Consumer name in the group; keep it stable across restarts (e.g. a StatefulSet pod name).'),
  WSS_CONSUMER_BATCH: int(1, 1000).default(64).describe('Entries read per XREADGROUP call.'),
  WSS_CONSUMER_BLOCK_MS: int(1, 60_000).default(2000).describe('XREADGROUP BLOCK timeout in milliseconds.'),
  WSS_CONSUMER_CONCURRENCY: int(1, 10_000)
    .default(64)
    .describe('Workflow starts the consumer keeps in flight at once.'),
  WSS_CONSUMER_CLAIM_IDLE_MS: int(1000)
    .default(60_000)
    .describe('Entries pending this long on another (dead) consumer are claimed with XAUTOCLAIM.'),
  WSS_MAX_EVENT_BYTES: int(1, 16 * 1024 * 1024)
    .default(256 * 1024)
    .describe('Largest accepted `data` field, in bytes. Larger entries are dead-lettered.'),
  WSS_MAX_EVENT_DEPTH: int(1, 1000)
    .default(DEFAULT_MAX_JSON_DEPTH)
    .describe(
      "Deepest nesting of arrays and objects accepted in an event's `data`. Deeper stream entries are dead-lettered; the API answers 400.",
    ),
  WSS_PAYLOAD_TTL_SECONDS: int(1)
    .default(7 * 24 * 3600)
    .describe('How long event payloads are kept in Redis for attempts, retries and replays.'),
  WSS_DEDUPE_WINDOW_SECONDS: int(1)
    .default(7 * 24 * 3600)
    .describe(
      'How long an event id stays taken: within it, a republished `(tenant, id)` is ignored as a duplicate; after it, the id is a new event with its new data. At least WSS_PAYLOAD_TTL_SECONDS.',
    ),
  // The TEMPORAL_* connection variables are Temporal's own (the `temporal` CLI and the SDKs read the same names);
  // @temporalio/envconfig merges them over the profile file, and temporal-settings.ts checks every value.
  TEMPORAL_ADDRESS: z
    .string()
    .optional()
    .describe("Temporal frontend address (host:port). Default: the profile's `address`, else `127.0.0.1:7233`."),
  TEMPORAL_NAMESPACE: z
    .string()
    .optional()
    .describe("Temporal namespace. Default: the profile's `namespace`, else `default`."),
  TEMPORAL_API_KEY: z
    .string()
    .optional()
    .describe(
      'API key (Temporal Cloud), sent as `authorization: Bearer <key>`; turns TLS on unless TEMPORAL_TLS=false.',
    ),
  TEMPORAL_TLS: bool
    .optional()
    .describe('`true` connects with TLS (the system roots unless a server CA is set); `false` forces plain text.'),
  TEMPORAL_TLS_CLIENT_CERT_PATH: z
    .string()
    .optional()
    .describe('mTLS client certificate (PEM file); needs the key. Turns TLS on, like every TEMPORAL_TLS_* setting.'),
  TEMPORAL_TLS_CLIENT_CERT_DATA: z
    .string()
    .optional()
    .describe('The client certificate as inline PEM instead of a file.'),
  TEMPORAL_TLS_CLIENT_KEY_PATH: z.string().optional().describe("mTLS client certificate's private key (PEM file)."),
  TEMPORAL_TLS_CLIENT_KEY_DATA: z.string().optional().describe('The client key as inline PEM instead of a file.'),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: z
    .string()
    .optional()
    .describe("CA certificate(s) that sign the server's certificate (PEM file). Default: the system's roots."),
  TEMPORAL_TLS_SERVER_CA_CERT_DATA: z.string().optional().describe('The server CA as inline PEM instead of a file.'),
  TEMPORAL_TLS_SERVER_NAME: z
    .string()
    .optional()
    .describe("Name checked against the server's certificate (and sent as SNI) instead of the address's host."),
  TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: bool
    .optional()
    .describe('Not supported by the TypeScript SDK: `true` stops start-up; use TEMPORAL_TLS_SERVER_NAME.'),
  TEMPORAL_PROFILE: z
    .string()
    .optional()
    .describe('Profile to read from the config file (default `default`); a named profile must exist.'),
  TEMPORAL_CONFIG_FILE: z
    .string()
    .optional()
    .describe(
      'TOML config file of the `temporal` CLI and SDKs (`[profile.<name>]` with address, namespace, api_key, tls, grpc_meta). Default: `$XDG_CONFIG_HOME/temporalio/temporal.toml` when it exists.',
    ),
  WSS_TEMPORAL_CONNECT_TIMEOUT_MS: int(100, 600_000)
    .default(10_000)
    .describe('How long a role waits for Temporal at start-up before it exits with the reason.'),
  WSS_TEMPORAL_UI_URL: z
    .string()
    .url()
    .optional()
    .describe('Base URL of the Temporal Web UI, used for links in the start banner and the API.'),
  WSS_TASK_QUEUE: z.string().min(1).default('wss-deliveries').describe('Temporal task queue of the worker.'),
  WSS_HTTP_CONNECT_TIMEOUT_MS: int(1).default(5000).describe('TCP/TLS connect timeout for deliveries.'),
  WSS_HTTP_HEADERS_TIMEOUT_MS: int(1).default(10_000).describe('Time allowed for the receiver to send headers.'),
  WSS_HTTP_TOTAL_TIMEOUT_MS: int(1).default(15_000).describe('Deadline for one whole delivery attempt.'),
  WSS_HTTP_MAX_RESPONSE_BYTES: int(0)
    .default(64 * 1024)
    .describe('Response body bytes read before the connection is cut.'),
  WSS_HTTP_CA_FILE: z
    .string()
    .optional()
    .describe(
      "Extra CA certificates (PEM file) trusted for HTTPS deliveries and OAuth2 token requests, besides Node's bundled roots: for receivers with a private CA.",
    ),
  WSS_EGRESS_ALLOW_CIDRS: csv
    .default([])
    .describe('Comma-separated CIDRs exempt from the SSRF guard (e.g. `127.0.0.0/8` for local runs).'),
  WSS_EGRESS_HTTPS_ONLY: bool.default(false).describe('Reject `http://` endpoint URLs.'),
  WSS_EGRESS_PROXY: z.string().url().optional().describe('Forward proxy URL for all deliveries.'),
  // Bounds and the maximum ≥ initial rule are the domain's (SERVICE_RETRY_POLICY_LIMITS), checked in loadConfig.
  WSS_RETRY_INITIAL_MS: retryNumber.describe(
    'Service default retry policy: first retry delay. Setting it or WSS_RETRY_BACKOFF replaces the built-in schedule (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) with an exponential curve; the other WSS_RETRY_* fields adjust either shape.',
  ),
  WSS_RETRY_BACKOFF: retryNumber.describe('Service default: backoff coefficient.'),
  WSS_RETRY_MAX_INTERVAL_MS: retryNumber.describe(
    'Service default: longest delay between attempts; at least WSS_RETRY_INITIAL_MS when both are set.',
  ),
  WSS_RETRY_MAX_ATTEMPTS: retryNumber.describe('Service default: attempts including the first.'),
  WSS_RETRY_WINDOW_MS: retryNumber.describe('Service default: total time after which no retry starts.'),
  WSS_RETRY_JITTER_PERCENT: retryNumber.describe('Service default: ± random spread of each delay.'),
  WSS_ENDPOINT_DISABLE_AFTER_FAILURES: int(0)
    .default(50)
    .describe('Consecutive failed deliveries after which an endpoint is disabled (0 = never).'),
  WSS_ENDPOINT_DISABLE_AFTER_MS: int(0)
    .default(5 * 24 * 3600 * 1000)
    .describe('An endpoint failing with no success for this long is disabled (0 = never).'),
  WSS_OPERATOR_WEBHOOK_URL: z
    .string()
    .url()
    .optional()
    .describe('Operational events (endpoint.disabled) are also POSTed here.'),
  WSS_OPERATOR_WEBHOOK_SECRET: z
    .string()
    .min(24)
    .optional()
    .describe(
      'Signs operator webhook requests like deliveries (X-WSS-Signature); a whsec_ secret adds the Standard Webhooks headers.',
    ),
  WSS_SECRET_GRACE_MS: int(0)
    .default(24 * 3600 * 1000)
    .describe(
      "How long a rotated-out secret, or a tenant's rotated-out ed25519 key, keeps signing (both signatures are sent; the key stays in the JWKS).",
    ),
  WSS_TRANSFORM_PROCESSES: int(1, 64)
    .default(2)
    .describe(
      'Child processes that evaluate endpoint transforms, per service process (worker and API). One tenant uses at most all but one of them.',
    ),
  WSS_TRANSFORM_TIMEOUT_MS: int(10, 60_000)
    .default(1000)
    .describe(
      'Time limit of one transform evaluation; past it the evaluating process is killed and the delivery fails as `transform_failed`.',
    ),
  WSS_TRANSFORM_MAX_MEMORY_MB: int(16, 4096)
    .default(64)
    .describe(
      'Heap cap of each transform process (V8 old generation, in MB; the young generation adds 3/16 of it, at most 48 MB). A transform over it fails as `transform_failed`.',
    ),
  WSS_WORKER_WORKFLOW_TASKS: int(1, 1000)
    .default(8)
    .describe(
      'Workflow tasks one worker process takes at once. A task taken waits in the worker for its turn, and one not ' +
        "done within Temporal's workflow task timeout (10 s) is thrown away and queued again behind the backlog, so " +
        'on a CPU-starved worker a high value makes deliveries wait minutes without an attempt. Raise it only on ' +
        'workers with spare CPU.',
    ),
  WSS_SHUTDOWN_GRACE_MS: int(1000, 3_600_000)
    .default(20_000)
    .describe(
      'Drain after SIGTERM/SIGINT: how long running attempts, workflow starts and open API requests may take to ' +
        'finish. The worker then cancels attempts still running (retried by Temporal on the next worker). The ' +
        'process exits by itself at the latest 5 s after the grace (code 1 if the drain was not done); give ' +
        "Kubernetes' `terminationGracePeriodSeconds` at least the grace + 10 s. Keep it above " +
        'WSS_HTTP_TOTAL_TIMEOUT_MS.',
    ),
  WSS_OPS_PORT: int(0, 65535)
    .default(9464)
    .describe(
      'Ops port of every role (one for the all-in-one): `GET /livez`, `/readyz` and `/metrics` (Prometheus text).',
    ),
  WSS_OPS_HOST: z
    .string()
    .default('127.0.0.1')
    .describe('Interface the ops port binds to; `0.0.0.0` in a container, so probes and Prometheus reach it.'),
  WSS_METRICS_TENANT_LABEL: bool
    .default(false)
    .describe(
      'Adds a `tenant` label to the delivery metrics. Tenant ids are unbounded: every tenant adds about 40 series per worker.',
    ),
  WSS_METRICS_SAMPLE_MS: int(100, 300_000)
    .default(5000)
    .describe('How often the consumer reads the stream gauges (XINFO GROUPS, XLEN of the dead-letter stream).'),
  WSS_TEMPORAL_METRICS_BIND: z
    .string()
    .regex(/^[^:\s]+:\d{1,5}$/, 'must be host:port')
    .optional()
    .describe(
      "Where the Temporal SDK's Prometheus exporter (worker task slots, schedule-to-start latency, polls) listens. Default: a free loopback port, merged into the ops port's `/metrics`.",
    ),
  // Tracing: OpenTelemetry's own variable names. The OTLP exporter and the SDK also read the variables not listed
  // here themselves (OTEL_EXPORTER_OTLP_HEADERS, ..._TIMEOUT, ..._COMPRESSION, OTEL_RESOURCE_ATTRIBUTES,
  // OTEL_TRACES_SAMPLER, OTEL_BSP_*); the README's Tracing section lists them.
  OTEL_SDK_DISABLED: bool
    .default(false)
    .describe('`true` turns tracing off whatever the other OTEL_* variables say.'),
  OTEL_TRACES_EXPORTER: z
    .enum(['otlp', 'console', 'none'])
    .optional()
    .describe(
      'Turns tracing on (`otlp`, `console`: spans as text on stdout) or off (`none`). Unset: on when an OTLP endpoint is set, else off.',
    ),
  OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl
    .optional()
    .describe('OTLP collector base URL (`/v1/traces` is appended for HTTP). Setting it turns tracing on.'),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: otlpUrl
    .optional()
    .describe('Full OTLP URL for traces (used as given); wins over OTEL_EXPORTER_OTLP_ENDPOINT and turns tracing on.'),
  OTEL_EXPORTER_OTLP_PROTOCOL: z
    .enum(['http/protobuf', 'http/json', 'grpc'])
    .default('http/protobuf')
    .describe('OTLP transport.'),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: z
    .enum(['http/protobuf', 'http/json', 'grpc'])
    .optional()
    .describe('OTLP transport for traces; wins over OTEL_EXPORTER_OTLP_PROTOCOL.'),
  OTEL_SERVICE_NAME: z
    .string()
    .min(1)
    .optional()
    .describe('`service.name` of the spans. Default: `wss-worker`, `wss-consumer`, or `wss` (all-in-one).'),
  WSS_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino log level.'),
});

export type Config = z.infer<typeof configSchema> & {
  WSS_DEAD_LETTER_STREAM: string;
  /** Resolved: the variable, else the profile's value, else the default. */
  TEMPORAL_ADDRESS: string;
  TEMPORAL_NAMESPACE: string;
  /** The one set of connection settings every role's Temporal connections use (holds secrets: never log it). */
  temporal: TemporalSettings;
  /** The one set of connection settings every role's Redis connections use (holds secrets: never log it). */
  redis: RedisSettings;
};

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Validates an environment once. Throws {@link ConfigError} listing every bad variable by name.
 * Pass `overrides` in tests instead of mutating `process.env`.
 */
/** Variables that were renamed: setting the old name stops start-up rather than being silently ignored. */
const RENAMED_VARIABLES: Readonly<Record<string, string>> = {
  WSS_SHUTDOWN_TIMEOUT_MS: 'WSS_SHUTDOWN_GRACE_MS',
};

export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  overrides: Record<string, string | undefined> = {},
): Config {
  const merged: Record<string, string | undefined> = { ...env, ...overrides };
  const keys = Object.keys(configSchema.shape);
  const input: Record<string, string> = {};
  for (const key of keys) {
    const value = merged[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const renamed = Object.entries(RENAMED_VARIABLES).filter(([old]) => merged[old] !== undefined && merged[old] !== '');
  if (renamed.length > 0) {
    throw new ConfigError(
      renamed.map(([old, now]) => `${old}: renamed to ${now}; set ${now} instead (see the README)`),
    );
  }
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  if (parsed.data.WSS_DEDUPE_WINDOW_SECONDS < parsed.data.WSS_PAYLOAD_TTL_SECONDS) {
    // A shorter window would let a republished id overwrite the payload of a delivery that is still retrying.
    throw new ConfigError([
      `WSS_DEDUPE_WINDOW_SECONDS: must be at least WSS_PAYLOAD_TTL_SECONDS (${parsed.data.WSS_PAYLOAD_TTL_SECONDS})`,
    ]);
  }
  checkServiceRetryPolicy(parsed.data);
  let temporal: TemporalSettings;
  try {
    temporal = resolveTemporalSettings(merged, parsed.data.WSS_TEMPORAL_CONNECT_TIMEOUT_MS);
  } catch (err) {
    if (err instanceof TemporalSettingsError) throw new ConfigError(err.issues);
    throw err;
  }
  let redis: RedisSettings;
  try {
    redis = resolveRedisSettings({ ...parsed.data, urlSet: input.REDIS_URL !== undefined });
  } catch (err) {
    if (err instanceof RedisSettingsError) throw new ConfigError(err.issues);
    throw err;
  }
  return {
    ...parsed.data,
    redis,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    temporal,
    WSS_DEAD_LETTER_STREAM: parsed.data.WSS_DEAD_LETTER_STREAM ?? `${parsed.data.WSS_STREAM}:dead`,
  };
}

const RETRY_VARIABLES = {
  initialIntervalMs: 'WSS_RETRY_INITIAL_MS',
  backoffCoefficient: 'WSS_RETRY_BACKOFF',
  maximumIntervalMs: 'WSS_RETRY_MAX_INTERVAL_MS',
  maximumAttempts: 'WSS_RETRY_MAX_ATTEMPTS',
  retryWindowMs: 'WSS_RETRY_WINDOW_MS',
  jitterPercent: 'WSS_RETRY_JITTER_PERCENT',
} as const satisfies Partial<Record<keyof RetryPolicySpec, keyof z.infer<typeof configSchema>>>;

/** The service's retry policy goes through the domain's one retry-policy validator, with the service's bounds. */
function checkServiceRetryPolicy(config: z.infer<typeof configSchema>): void {
  const spec = Object.fromEntries(
    Object.entries(RETRY_VARIABLES).map(([field, variable]) => [field, config[variable]]),
  );
  try {
    validateRetryPolicySpec(spec, '', SERVICE_RETRY_POLICY_LIMITS);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    const variable = RETRY_VARIABLES[err.field as keyof typeof RETRY_VARIABLES] ?? 'WSS_RETRY_*';
    // The domain speaks of policy fields (`initialIntervalMs`); an operator set variables.
    const problem = err.message
      .slice(err.message.indexOf(':') + 1)
      .trim()
      .replace(/\w+/g, (word) =>
        Object.hasOwn(RETRY_VARIABLES, word) ? RETRY_VARIABLES[word as keyof typeof RETRY_VARIABLES] : word,
      );
    throw new ConfigError([`${variable}: ${problem}`]);
  }
}

/** Asserts that a field the calling process needs is set, with a message that names the variable. */
export function requireConfig<K extends keyof Config>(config: Config, key: K): NonNullable<Config[K]> {
  const value = config[key];
  if (value === undefined || value === null) throw new ConfigError([`${String(key)}: required but not set`]);
  return value as NonNullable<Config[K]>;
}

/** Configuration of the `wss` CLI, a client of the management API. Flags override these. */
export const cliConfigSchema = z.object({
  WSS_API_URL: z.string().url().default('http://127.0.0.1:8080').describe('Management API base URL for the CLI.'),
  WSS_TOKEN: z.string().optional().describe('Bearer token the CLI sends (admin token or a tenant API key).'),
  WSS_ADMIN_TOKEN: z.string().optional().describe('Used by the CLI when WSS_TOKEN is not set.'),
});

export type CliConfig = z.infer<typeof cliConfigSchema>;

export function loadCliConfig(env: Record<string, string | undefined> = process.env): CliConfig {
  const input: Record<string, string> = {};
  for (const key of Object.keys(cliConfigSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = cliConfigSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  return parsed.data;
}
