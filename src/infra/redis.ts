import type { ConnectionOptions } from 'node:tls';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import { Cluster, Redis } from 'ioredis';
import type { Logger } from './logger';
import { RedisErrorReporter, describeCause } from './redis-errors';
import type { RedisSettings } from './redis-settings';

/**
 * A connection to the service's Redis, whatever its topology: one server or a Sentinel-managed master (`Redis`),
 * or a Redis Cluster (`Cluster`). Stores and the consumer take this, and send only commands whose keys share one
 * slot (see src/store/redis-keys.ts), so the same code runs on all three.
 */
export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  /**
   * How many reconnects a command waits through before it fails (default 20: a restart or failover is ridden out;
   * a Redis that stays away surfaces as errors).
   */
  readonly maxRetriesPerRequest?: number;
  /** Where connection failures are logged (classified, rate-limited); without it they are only kept for `/readyz`. */
  readonly log?: Logger;
}

/** Connect time-out: a TLS client facing a plain-text server otherwise waits for a handshake answer forever. */
const CONNECT_TIMEOUT_MS = 10_000;

const reporters = new WeakMap<RedisClient, RedisErrorReporter>();

/**
 * Why the connection is not usable, when it last failed since it was last ready ("authentication refused
 * (WRONGPASS); check REDIS_USERNAME, REDIS_PASSWORD"); undefined when it has not failed.
 */
export function redisFailureReason(redis: RedisClient): string | undefined {
  const cause = reporters.get(redis)?.lastCause();
  return cause !== undefined ? describeCause(cause) : undefined;
}

/**
 * The one Redis connection factory every role uses (worker, consumer, API, all-in-one): TLS with a custom CA and a
 * client certificate, ACL user and password, Sentinel or Cluster, as {@link RedisSettings} says.
 *
 * @param name shown in `CLIENT LIST` as `wss-<name>`, so an operator can tell the roles' connections apart.
 */
export function createRedisClient(
  settings: RedisSettings,
  name: string,
  options: RedisClientOptions = {},
): RedisClient {
  const tls: ConnectionOptions | undefined = settings.tls === false ? undefined : { ...settings.tls };
  const common: RedisOptions = {
    connectionName: `wss-${name}`,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // Commands wait for a reconnect instead of failing at once; callers see errors only after this many tries.
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? 20,
    ...(settings.username !== undefined ? { username: settings.username } : {}),
    ...(settings.password !== undefined ? { password: settings.password } : {}),
    ...(tls !== undefined ? { tls } : {}),
    // A master demoted under us (a failover it did not notice yet, a managed service's primary switch) answers
    // writes with READONLY: reconnect, which finds the new master, and resend the command.
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
  };
  const client = connect(settings, common, tls);
  // Every connection failure is an `error` event; without a listener ioredis prints it unstructured to stderr.
  const reporter = new RedisErrorReporter(name, tls !== undefined, options.log);
  reporters.set(client, reporter);
  client.on('error', (err: unknown) => reporter.report(err));
  client.on('ready', () => reporter.recovered());
  if (client instanceof Cluster) {
    client.on('node error', (err: unknown) => reporter.report(err));
  } else {
    // A sentinel that cannot be reached or does not know the master (the master connection's error follows).
    client.on('sentinelError', (err: unknown) => reporter.report(err));
  }
  return client;
}

function connect(settings: RedisSettings, common: RedisOptions, tls: ConnectionOptions | undefined): RedisClient {
  const { topology } = settings;
  switch (topology.kind) {
    case 'standalone':
      return new Redis({
        ...common,
        host: topology.host,
        port: topology.port,
        db: topology.db,
        enableAutoPipelining: true,
      });
    case 'sentinel':
      return new Redis({
        ...common,
        name: topology.masterName,
        sentinels: topology.sentinels.map(({ host, port }) => ({ host, port })),
        ...(topology.sentinelUsername !== undefined ? { sentinelUsername: topology.sentinelUsername } : {}),
        ...(topology.sentinelPassword !== undefined ? { sentinelPassword: topology.sentinelPassword } : {}),
        // TLS reaches the master and the sentinels alike (managed Sentinel set-ups secure both).
        ...(tls !== undefined ? { enableTLSForSentinelMode: true, sentinelTLS: tls } : {}),
        // No `failoverDetector`: its extra sentinel subscriptions outlive quit() and keep reconnecting
        // (redis/ioredis#1362). A failover reaches us anyway: Sentinel has the old master drop its clients when it
        // demotes it, and a write that still lands on it answers READONLY (see reconnectOnError).
        enableAutoPipelining: true,
      });
    case 'cluster': {
      const clusterOptions: ClusterOptions = {
        redisOptions: common,
        // Auto-pipelining batches per slot, so commands for different slots never share a pipeline.
        enableAutoPipelining: true,
        // Hostnames as given (not resolved first), so the TLS name check sees the name the certificate carries.
        ...(tls !== undefined ? { dnsLookup: (address, lookup) => lookup(null, address) } : {}),
      };
      return new Cluster(
        topology.nodes.map(({ host, port }) => ({ host, port })),
        clusterOptions,
      );
    }
    default: {
      const never: never = topology;
      throw new Error(`unknown Redis topology ${String(never)}`);
    }
  }
}

/** Fewer replicas than `REDIS_WAIT_REPLICAS` confirmed the writes in time; the writes themselves were made. */
export class ReplicationUnconfirmed extends Error {
  override readonly name = 'ReplicationUnconfirmed';
}

/**
 * Waits until `settings.waitReplicas` replicas have every write this connection made so far (`WAIT`), so that a
 * failover cannot lose it. Throws when fewer confirm within the time-out: the caller treats that as a transient
 * failure and tries again later. Does nothing when no replicas are asked for.
 */
export async function confirmReplicated(
  redis: RedisClient,
  settings: Pick<RedisSettings, 'waitReplicas' | 'waitTimeoutMs'>,
): Promise<void> {
  if (settings.waitReplicas === 0 || redis instanceof Cluster) return;
  const confirmed = await redis.wait(settings.waitReplicas, settings.waitTimeoutMs);
  if (confirmed < settings.waitReplicas) {
    throw new ReplicationUnconfirmed(
      `Redis replication not confirmed: ${confirmed} of ${settings.waitReplicas} replicas within ${settings.waitTimeoutMs} ms (REDIS_WAIT_REPLICAS)`,
    );
  }
}
