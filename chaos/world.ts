import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { parseTenantId } from '../src/domain/ids';
import { loadConfig } from '../src/infra/config';
import type { Config } from '../src/infra/config';
import { createStores } from '../src/main/services';
import type { Stores } from '../src/main/services';
import { ChaosReceiver } from './receiver';
import { RoleSet } from './roles';
import { RedisServer, TemporalServer, freePort } from './servers';

/**
 * Everything one chaos run owns: Redis and the Temporal dev server (its own processes), the three roles, the
 * receiver, and the harness's own connections. Settings are chosen so faults resolve in seconds, not hours:
 * short HTTP deadlines, retries every 0.5–4 s for 40 attempts, a 5 s claim idle time.
 */

/** The service settings of the run; the README's fault table names them. */
export const CHAOS_SETTINGS: Readonly<Record<string, string>> = {
  WSS_CONSUMER_BLOCK_MS: '500',
  WSS_CONSUMER_CLAIM_IDLE_MS: '5000',
  WSS_HTTP_CONNECT_TIMEOUT_MS: '1000',
  WSS_HTTP_HEADERS_TIMEOUT_MS: '3000',
  WSS_HTTP_TOTAL_TIMEOUT_MS: '3000',
  WSS_RETRY_INITIAL_MS: '500',
  WSS_RETRY_BACKOFF: '2',
  WSS_RETRY_MAX_INTERVAL_MS: '4000',
  WSS_RETRY_MAX_ATTEMPTS: '40',
  WSS_RETRY_JITTER_PERCENT: '10',
  WSS_SHUTDOWN_GRACE_MS: '5000',
  WSS_METRICS_SAMPLE_MS: '1000',
  WSS_ENDPOINT_DISABLE_AFTER_FAILURES: '0',
};

/** A fault as it happened: the checker attributes duplicates and slow events to these. */
export interface FaultWindow {
  readonly scenario: string;
  readonly name: string;
  readonly start: number;
  end?: number;
}

export class World {
  readonly runTag = `r${Date.now().toString(36)}`;
  readonly windows: FaultWindow[] = [];
  /** Harness-side problems (an API call that failed for good, a role that died by itself): errors of the run. */
  readonly errors: string[] = [];
  /** Endpoint secrets per tenant, so endpoints can be re-created after the store lost them. */
  private readonly tenantSecrets = new Map<string, string>();
  apiUrl = '';

  private constructor(
    readonly dir: string,
    readonly redisServer: RedisServer,
    readonly temporalServer: TemporalServer,
    readonly roles: RoleSet,
    readonly receiver: ChaosReceiver,
    readonly config: Config,
    readonly stores: Stores,
    /** The producer's connection (XADD); commands time out so a paused Redis is retried, not waited on forever. */
    readonly producer: Redis,
    readonly adminToken: string,
  ) {}

  static async create(): Promise<World> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'wss-chaos-'));
    const logDir = path.join(dir, 'logs');
    mkdirSync(logDir, { recursive: true });
    const redisServer = new RedisServer(await freePort(), dir);
    const temporalServer = new TemporalServer(await freePort(), path.join(dir, 'temporal'));
    await Promise.all([redisServer.start(), temporalServer.start()]);
    const receiver = await ChaosReceiver.start();
    const apiPort = await freePort();
    const adminToken = `admin_${randomBytes(16).toString('hex')}`;
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSS_')));
    delete inherited.REDIS_URL;
    delete inherited.TEMPORAL_ADDRESS;
    const env: NodeJS.ProcessEnv = {
      ...inherited,
      REDIS_URL: redisServer.url,
      TEMPORAL_ADDRESS: temporalServer.address,
      WSS_KEY_PREFIX: 'chaos',
      WSS_STREAM: 'chaos:events',
      WSS_CONSUMER_GROUP: 'chaos-group',
      WSS_CONSUMER_NAME: 'chaos-consumer-1',
      WSS_TASK_QUEUE: 'chaos-queue',
      WSS_MASTER_KEY: randomBytes(32).toString('base64'),
      WSS_ADMIN_TOKEN: adminToken,
      WSS_EGRESS_ALLOW_CIDRS: '127.0.0.0/8',
      WSS_API_PORT: String(apiPort),
      WSS_OPS_PORT: '0',
      WSS_LOG_LEVEL: 'info',
      ...CHAOS_SETTINGS,
    };
    const config = loadConfig({}, env as Record<string, string>);
    const stores = createStores(config, 'chaos-harness');
    const producer = new Redis(redisServer.url, { commandTimeout: 5000, maxRetriesPerRequest: 1 });
    // Redis restarts are part of the run: a refused reconnect is expected, and every command's own error is handled.
    for (const conn of [producer, stores.redis]) conn.on('error', () => {});
    const roles = new RoleSet(env, logDir);
    const world = new World(dir, redisServer, temporalServer, roles, receiver, config, stores, producer, adminToken);
    world.apiUrl = `http://127.0.0.1:${apiPort}`;
    // The worker first: the consumer's readiness asks Temporal only, but starting deliveries without a worker
    // would only queue them.
    await roles.start('worker');
    await roles.start('consumer');
    await roles.start('api');
    return world;
  }

  get stream(): string {
    return this.stores.keys.eventStream();
  }

  get group(): string {
    return this.config.WSS_CONSUMER_GROUP;
  }

  /** The tenant of a scenario, with one endpoint at `<receiver>/<tenant>/hook` signed with a known secret. */
  async provisionTenant(tenant: string): Promise<void> {
    const secret = this.tenantSecrets.get(tenant) ?? randomBytes(24).toString('hex');
    this.tenantSecrets.set(tenant, secret);
    const tenantId = parseTenantId(tenant);
    await this.stores.tenants.ensure(tenantId);
    await this.stores.endpoints.create(
      tenantId,
      { url: `${this.receiver.baseUrl}/${tenant}/hook`, eventTypes: ['*'] },
      secret,
    );
    this.receiver.secrets.set(`/${tenant}`, secret);
  }

  /** After the store lost everything: what an operator restores from their own records (tenants, endpoints). */
  async reprovision(tenants: readonly string[]): Promise<void> {
    for (const tenant of tenants) await this.provisionTenant(tenant);
  }

  /** Runs `fn` as a named fault window. */
  async fault<T>(scenario: string, name: string, fn: () => Promise<T>): Promise<T> {
    const window: FaultWindow = { scenario, name, start: Date.now() };
    this.windows.push(window);
    try {
      return await fn();
    } finally {
      window.end = Date.now();
    }
  }

  async api(method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${this.apiUrl}${urlPath}`, {
      method,
      headers: {
        authorization: `Bearer ${this.adminToken}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  async close(): Promise<void> {
    await this.roles.stopAll();
    await this.receiver.close();
    this.producer.disconnect();
    await this.stores.close();
    await this.temporalServer.stop();
    await this.redisServer.stop();
  }
}

/** Sleeps a random time in [minMs, maxMs]. */
export async function jitterSleep(minMs: number, maxMs: number): Promise<void> {
  await sleep(minMs + Math.random() * (maxMs - minMs));
}
