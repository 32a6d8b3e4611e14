import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { RedisClient } from '../../src/infra/redis';
import type { Config } from '../../src/infra/config';
import { loadConfig } from '../../src/infra/config';
import { createLogger } from '../../src/infra/logger';
import type { Logger } from '../../src/infra/logger';
import { connectTemporalClient } from '../../src/infra/temporal';
import type { Resolver } from '../../src/infra/egress/destination-policy';
import { startApi } from '../../src/main/api';
import type { RunningApi } from '../../src/main/api';
import { startConsumer } from '../../src/main/consumer';
import type { RunningConsumer } from '../../src/main/consumer';
import { createStores } from '../../src/main/services';
import type { Stores } from '../../src/main/services';
import { createDeliveryWorker } from '../../src/main/worker';
import type { DeliveryWorker } from '../../src/main/worker';
import { serviceAddresses, uniqueName } from './services';

export interface TestStack {
  readonly config: Config;
  readonly apiUrl: string;
  readonly adminToken: string;
  readonly redis: RedisClient;
  readonly stores: Stores;
  readonly temporal: Client;
  /** Everything every component logged, as JSON lines. */
  readonly logs: string[];
  readonly log: Logger;
  readonly consumer: RunningConsumer | undefined;
  /** Calls the API with the admin token (or `token`). */
  api(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>;
  /** XADDs to the stack's stream like a producer. */
  xadd(...fields: string[]): Promise<string>;
  startConsumer(name?: string): Promise<RunningConsumer>;
  stopConsumer(): Promise<void>;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Extra configuration (env-style strings); `undefined` unsets a default of the stack (e.g. REDIS_URL). */
  env?: Record<string, string | undefined>;
  /** Start the consumer right away (default true). */
  consumer?: boolean;
  worker?: boolean;
  /** DNS stub for the egress guard of the worker and the API. */
  resolver?: Resolver;
}

/**
 * The whole service in this process against the real Redis and Temporal: worker, consumer and API, isolated by a
 * unique key prefix, stream, consumer group and task queue.
 */
let runtimeInstalled = false;

export async function startStack(options: StackOptions = {}): Promise<TestStack> {
  if (!runtimeInstalled) {
    // The SDK's own logs (e.g. every failed activity attempt) would drown the test output; ours are captured.
    Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });
    runtimeInstalled = true;
  }
  const { redisUrl, temporalAddress } = serviceAddresses();
  const id = uniqueName('t').replace(/-/g, '_');
  const adminToken = `admin_${randomBytes(16).toString('hex')}`;
  const config = loadConfig(
    {},
    {
      REDIS_URL: redisUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      WSS_KEY_PREFIX: id,
      WSS_STREAM: `${id}:events`,
      WSS_CONSUMER_GROUP: `${id}-group`,
      WSS_CONSUMER_NAME: `${id}-consumer`,
      WSS_TASK_QUEUE: `${id}-queue`,
      WSS_API_PORT: '0',
      WSS_ADMIN_TOKEN: adminToken,
      WSS_MASTER_KEY: randomBytes(32).toString('base64'),
      WSS_EGRESS_ALLOW_CIDRS: '127.0.0.0/8',
      WSS_CONSUMER_BLOCK_MS: '200',
      WSS_RETRY_INITIAL_MS: '300',
      WSS_RETRY_BACKOFF: '1.5',
      WSS_RETRY_MAX_INTERVAL_MS: '2000',
      WSS_RETRY_MAX_ATTEMPTS: '5',
      WSS_RETRY_JITTER_PERCENT: '0',
      WSS_LOG_LEVEL: 'info',
      ...options.env,
    },
  );
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const log: Logger = createLogger(config.WSS_LOG_LEVEL, { test: id }, sink);
  const stores = createStores(config, 'test');
  const { client: temporal, connection } = await connectTemporalClient(config.temporal);

  let worker: DeliveryWorker | undefined;
  if (options.worker !== false) {
    worker = await createDeliveryWorker(config, log, stores, options.resolver ? { resolver: options.resolver } : {});
    void worker.run();
  }
  const api: RunningApi = await startApi(config, log, stores, options.resolver ? { resolver: options.resolver } : {});
  let consumer: RunningConsumer | undefined;

  const stack: TestStack = {
    config,
    apiUrl: `http://127.0.0.1:${api.port}`,
    adminToken,
    redis: stores.redis,
    stores,
    temporal,
    logs,
    log,
    get consumer() {
      return consumer;
    },
    async api(method, path, body, token = adminToken) {
      const res = await fetch(`http://127.0.0.1:${api.port}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    xadd: async (...fields) => (await stores.redis.xadd(config.WSS_STREAM, '*', ...fields)) as string,
    async startConsumer(name) {
      consumer = await startConsumer(config, log, stores, name !== undefined ? { consumerName: name } : {});
      return consumer;
    },
    async stopConsumer() {
      await consumer?.close();
      consumer = undefined;
    },
    async stop() {
      await consumer?.close();
      await api.close();
      await worker?.close();
      await connection.close();
      await stores.close();
    },
  };
  if (options.consumer !== false) await stack.startConsumer();
  return stack;
}
