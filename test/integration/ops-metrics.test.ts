import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { startReceiver } from '../support/receiver';
import type { Receiver } from '../support/receiver';
import { serviceAddresses, uniqueName, waitFor } from '../support/services';

/**
 * The ops port of the real entry points (worker, consumer, API as separate processes), scraped by a real
 * Prometheus (Debian's package), and `/readyz` following a dedicated Redis and a dedicated Temporal dev server
 * that the test stops and starts again.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const STARTUP_MS = 120_000;
const SCRAPE_WAIT_MS = 60_000;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly output: string[];
  readonly exited: Promise<number | null>;
}

const children = new Set<Child>();

function startChild(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => output.push(...chunk.split('\n').filter(Boolean)));
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started: Child = { name, process: child, output, exited };
  children.add(started);
  void exited.then(() => children.delete(started));
  return started;
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. Resolves with the exit code. */
async function stopChild(child: Child, graceMs = 30_000): Promise<number | null> {
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), graceMs);
  try {
    return await child.exited;
  } finally {
    clearTimeout(timer);
  }
}

function startRole(role: 'worker' | 'consumer' | 'api', env: NodeJS.ProcessEnv): Child {
  return startChild(role, process.execPath, ['--import', 'tsx', `src/main/${role}.ts`], env);
}

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.json() };
}

async function running(child: Child): Promise<boolean> {
  return (await Promise.race([child.exited.then(() => 'exited'), Promise.resolve('running')])) === 'running';
}

/** Waits for `/readyz` to answer 200; fails at once if the process exits. */
async function waitReady(child: Child, opsPort: number): Promise<void> {
  const state = await waitFor(
    `${child.name} ready`,
    async () => {
      if (!(await running(child))) return 'exited';
      return (await getJson(`http://127.0.0.1:${opsPort}/readyz`)).status === 200 ? 'ready' : undefined;
    },
    STARTUP_MS,
    250,
  );
  if (state === 'exited') assert.fail(`${child.name} exited: ${child.output.slice(-10).join('\n')}`);
}

/**
 * The ops port a role bound (started with WSS_OPS_PORT=0, so no port picked in advance can be taken meanwhile by
 * another server, e.g. one of the Temporal dev server's own ports).
 */
async function opsPortOf(child: Child): Promise<number> {
  const port = await waitFor(
    `${child.name} ops port`,
    async () => {
      const line = child.output.find((l) => l.includes('ops port listening'));
      if (line) return (JSON.parse(line) as { port: number }).port;
      return (await running(child)) ? undefined : -1;
    },
    STARTUP_MS,
    100,
  );
  if (port < 0) assert.fail(`${child.name} exited: ${child.output.slice(-10).join('\n')}`);
  return port;
}

/** Environment of one isolated service instance (its own keys, stream, group and task queue). */
function serviceEnv(overrides: Record<string, string>): NodeJS.ProcessEnv {
  const { redisUrl, temporalAddress } = serviceAddresses();
  const id = uniqueName('ops').replace(/-/g, '_');
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSS_')));
  return {
    ...inherited,
    REDIS_URL: redisUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    WSS_KEY_PREFIX: id,
    WSS_STREAM: `${id}:events`,
    WSS_CONSUMER_GROUP: `${id}-group`,
    WSS_CONSUMER_NAME: `${id}-consumer`,
    WSS_TASK_QUEUE: `${id}-queue`,
    WSS_API_PORT: '0',
    WSS_ADMIN_TOKEN: `admin_${randomBytes(16).toString('hex')}`,
    WSS_MASTER_KEY: randomBytes(32).toString('base64'),
    WSS_EGRESS_ALLOW_CIDRS: '127.0.0.0/8',
    WSS_CONSUMER_BLOCK_MS: '200',
    WSS_METRICS_SAMPLE_MS: '200',
    WSS_OPS_PORT: '0',
    WSS_LOG_LEVEL: 'info',
    ...overrides,
  };
}

interface Prometheus {
  /** The value of an instant query that returns one series, or undefined while it returns none. */
  value(query: string): Promise<number | undefined>;
  stop(): Promise<void>;
}

async function startPrometheus(targets: Record<string, number>): Promise<Prometheus> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wss-prometheus-'));
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 900ms',
    'scrape_configs:',
    ...Object.entries(targets).flatMap(([job, port]) => [
      `  - job_name: ${job}`,
      '    static_configs:',
      `      - targets: ['127.0.0.1:${port}']`,
    ]),
  ].join('\n');
  writeFileSync(path.join(dir, 'prometheus.yml'), `${config}\n`);
  const port = await freePort();
  const child = startChild(
    'prometheus',
    'prometheus',
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    process.env,
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor('prometheus ready', async () => (await fetch(`${url}/-/ready`)).ok, STARTUP_MS, 250);
  return {
    async value(query) {
      const { body } = await getJson(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
      assert.equal(body.status, 'success', JSON.stringify(body));
      const result = body.data.result as { value: [number, string] }[];
      assert.ok(result.length <= 1, `${query} returned ${result.length} series`);
      return result[0] ? Number(result[0].value[1]) : undefined;
    },
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

after(async () => {
  for (const child of [...children]) await stopChild(child, 10_000);
});

describe('metrics scraped by a real Prometheus', () => {
  const ports = { worker: 0, consumer: 0, api: 0 };
  let env: NodeJS.ProcessEnv;
  let consumer: Child;
  let prometheus: Prometheus;
  let receiver: Receiver;
  let redis: Redis;
  let apiPort: number;
  const tenant = uniqueName('tn');

  before(async () => {
    apiPort = await freePort();
    env = serviceEnv({ WSS_API_PORT: String(apiPort) });
    const api = startRole('api', env);
    const worker = startRole('worker', env);
    consumer = startRole('consumer', env);
    [ports.api, ports.worker, ports.consumer] = [
      await opsPortOf(api),
      await opsPortOf(worker),
      await opsPortOf(consumer),
    ];
    await Promise.all([
      waitReady(api, ports.api),
      waitReady(worker, ports.worker),
      waitReady(consumer, ports.consumer),
    ]);
    receiver = await startReceiver();
    redis = new Redis(String(env.REDIS_URL));
    prometheus = await startPrometheus(ports);
  });

  after(async () => {
    redis?.disconnect();
    await receiver?.close();
    await prometheus?.stop();
  });

  it('shows wss_deliveries_total{outcome="delivered"} increased by exactly the number of deliveries', async () => {
    // Registered through the API process, as an operator would.
    const created = await fetch(`http://127.0.0.1:${apiPort}/v1/tenants/${tenant}/endpoints`, {
      method: 'POST',
      headers: { authorization: `Bearer ${String(env.WSS_ADMIN_TOKEN)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiver.url, eventTypes: ['*'] }),
    });
    assert.equal(created.status, 201, await created.text());

    const delivered = 'sum(wss_deliveries_total{job="worker",outcome="delivered"})';
    const { baseline } = await waitFor(
      'the worker scraped',
      async () => {
        const v = await prometheus.value(delivered);
        return v !== undefined ? { baseline: v } : undefined;
      },
      SCRAPE_WAIT_MS,
    );
    assert.equal(baseline, 0);
    const n = 6;
    for (let i = 0; i < n; i++) {
      await redis.xadd(String(env.WSS_STREAM), '*', 'tenant', tenant, 'type', 'order.paid', 'data', `{"i":${i}}`);
    }
    await waitFor('the receiver got every event', () => receiver.requests.length >= n, SCRAPE_WAIT_MS);
    await waitFor(
      `${delivered} = ${baseline + n}`,
      async () => ((await prometheus.value(delivered)) ?? 0) >= baseline + n,
      SCRAPE_WAIT_MS,
    );
    // A few more scrapes: the counter must not move past N.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(await prometheus.value(delivered), baseline + n);
    assert.equal(receiver.requests.length, n);
    assert.equal(await prometheus.value('sum(wss_delivery_attempts_total{result="success",status_class="2xx"})'), n);
    assert.equal(await prometheus.value('sum(wss_delivery_latency_seconds_count)'), n);
    assert.equal(await prometheus.value('sum(wss_delivery_attempt_duration_seconds_count)'), n);
    assert.equal(await prometheus.value('sum(wss_consumer_entries_total{result="started"})'), n);
    assert.equal(await prometheus.value('sum(wss_deliveries_total{outcome="failed"})'), 0);
    // Each role exports its own metrics only: the stream gauges come from the consumer and the API, the delivery
    // counters from the worker, the entry counters from the consumer.
    assert.equal(await prometheus.value('count(wss_consumer_stream_lag{job="worker"})'), undefined);
    assert.ok((await prometheus.value('count(wss_consumer_stream_lag{job=~"api|consumer"})')) === 2);
    assert.equal(await prometheus.value('count(wss_deliveries_total{job=~"api|consumer"})'), undefined);
    assert.equal(await prometheus.value('count(wss_consumer_entries_total{job=~"api|worker"})'), undefined);
    // The Temporal SDK's worker metrics come through the same scrape target.
    const sdkSeries = await prometheus.value('count({job="worker",__name__=~"temporal_worker_task_slots_available"})');
    assert.ok((sdkSeries ?? 0) > 0, 'temporal_worker_task_slots_available scraped from the worker');
  });

  it('shows the stream lag rising with a backlog and falling to 0 once it drains', async () => {
    const lag = 'max(wss_consumer_stream_lag{job="api"})';
    await waitFor('lag 0 before the backlog', async () => (await prometheus.value(lag)) === 0, SCRAPE_WAIT_MS);
    assert.equal(await stopChild(consumer), 0);
    const backlog = 7;
    const quiet = uniqueName('quiet'); // no endpoints: each entry ends as no_subscribers
    for (let i = 0; i < backlog; i++) {
      await redis.xadd(String(env.WSS_STREAM), '*', 'tenant', quiet, 'type', 'x.y', 'data', '{}');
    }
    await waitFor(`${lag} = ${backlog}`, async () => (await prometheus.value(lag)) === backlog, SCRAPE_WAIT_MS);

    consumer = startRole('consumer', { ...env, WSS_OPS_PORT: String(ports.consumer) });
    await waitReady(consumer, ports.consumer);
    await waitFor(
      'lag and pending back to 0 on every target',
      async () =>
        (await prometheus.value('max(wss_consumer_stream_lag)')) === 0 &&
        (await prometheus.value('max(wss_consumer_pending)')) === 0 &&
        (await prometheus.value('sum(wss_consumer_entries_total{job="consumer",result="no_subscribers"})')) === backlog,
      SCRAPE_WAIT_MS,
    );
  });
});

describe('/readyz follows its dependencies without a restart', () => {
  it('turns 503 when Redis stops and 200 when it is back (API)', async () => {
    const redisPort = await freePort();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'wss-ready-redis-'));
    const redisArgs = [
      '--port',
      String(redisPort),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ];
    let redisServer = startChild('redis', 'redis-server', redisArgs, process.env);
    const api = startRole('api', serviceEnv({ REDIS_URL: `redis://127.0.0.1:${redisPort}` }));
    try {
      const opsPort = await opsPortOf(api);
      await waitReady(api, opsPort);
      await stopChild(redisServer);
      const down = await waitFor(
        '503 with Redis down',
        async () => {
          const res = await getJson(`http://127.0.0.1:${opsPort}/readyz`);
          return res.status === 503 ? res.body : undefined;
        },
        SCRAPE_WAIT_MS,
        250,
      );
      assert.equal(down.status, 'not_ready');
      assert.match(down.reason, /redis/);
      assert.notEqual(down.checks.redis, 'ok');
      // Alive all the same: a role waiting for Redis must not be restarted.
      assert.equal((await getJson(`http://127.0.0.1:${opsPort}/livez`)).status, 200);

      redisServer = startChild('redis', 'redis-server', redisArgs, process.env);
      await waitReady(api, opsPort);
      assert.equal(await Promise.race([api.exited, Promise.resolve('running')]), 'running');
    } finally {
      await stopChild(api);
      await stopChild(redisServer);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('turns 503 when Temporal stops and 200 when it is back (consumer)', async () => {
    const tools = (await import(path.join(ROOT, 'scripts/lib/tools.mjs'))) as {
      findTemporal(root: string): string | undefined;
    };
    const temporalBin = tools.findTemporal(ROOT);
    assert.ok(temporalBin, 'the temporal CLI (node scripts/bootstrap.mjs installs it)');
    const [temporalPort, uiPort] = [await freePort(), await freePort()];
    const temporalArgs = [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(temporalPort),
      '--ui-port',
      String(uiPort),
      '--headless',
      '--log-level',
      'error',
    ];
    let temporal = startChild('temporal', temporalBin, temporalArgs, process.env);
    const consumerEnv = serviceEnv({ TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}` });
    // The consumer connects at start: wait for the dev server's frontend.
    await waitFor('temporal listening', () => canConnect(temporalPort), STARTUP_MS, 250);
    const consumer = startRole('consumer', consumerEnv);
    try {
      const opsPort = await opsPortOf(consumer);
      await waitReady(consumer, opsPort);
      await stopChild(temporal);
      const down = await waitFor(
        '503 with Temporal down',
        async () => {
          const res = await getJson(`http://127.0.0.1:${opsPort}/readyz`);
          return res.status === 503 ? res.body : undefined;
        },
        SCRAPE_WAIT_MS,
        250,
      );
      assert.match(down.reason, /temporal/);
      assert.equal(down.checks.redis, 'ok');
      assert.equal(down.checks.consumerGroup, 'ok');

      temporal = startChild('temporal', temporalBin, temporalArgs, process.env);
      await waitReady(consumer, opsPort);
    } finally {
      await stopChild(consumer);
      await stopChild(temporal);
    }
  });
});

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
