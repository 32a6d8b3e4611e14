import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { Redis } from 'ioredis';
import { serviceAddresses, uniqueName, waitFor, workflowIdOf } from '../support/services';

/**
 * Graceful drain of the real entry points (worker, consumer and API as separate processes) on the suite's Redis
 * and Temporal: SIGTERM during a burst against a slow receiver loses nothing, the consumer acks only entries whose
 * workflow started, an attempt cut off after WSS_SHUTDOWN_GRACE_MS is retried by Temporal and delivered, a second
 * signal exits at once, the API finishes an open request and refuses new connections, and `/readyz` answers
 * 503 `draining` on every role as soon as the drain starts.
 *
 * Every wait is a hang guard (generous); what is asserted is counted, never timed.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const STARTUP_MS = 120_000;
const DELIVERY_WAIT_MS = 240_000;
const EXIT_WAIT_MS = 120_000;

// ---------------------------------------------------------------------------------------------------------------
// Processes

interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly output: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<Child>();

function startRole(role: 'worker' | 'consumer' | 'api', env: NodeJS.ProcessEnv, name: string = role): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', `src/main/${role}.ts`], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      output.push(...lines);
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const started: Child = { name, process: child, output, exited };
  children.add(started);
  void exited.then(() => children.delete(started));
  return started;
}

function tail(child: Child, lines = 30): string {
  return `--- ${child.name} ---\n${child.output.slice(-lines).join('\n')}`;
}

/** Resolves with the exit; fails the test if the process is still running after the hang guard. */
async function exitOf(child: Child): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${child.name} did not exit\n${tail(child)}`)), EXIT_WAIT_MS);
  });
  try {
    return await Promise.race([child.exited, guard]);
  } finally {
    clearTimeout(timer);
  }
}

async function running(child: Child): Promise<boolean> {
  return (await Promise.race([child.exited.then(() => false), Promise.resolve(true)])) === true;
}

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
  if (port < 0) assert.fail(`${child.name} exited during start-up\n${tail(child)}`);
  return port;
}

async function readyz(opsPort: number): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${opsPort}/readyz`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.json() };
}

async function waitReady(child: Child): Promise<number> {
  const port = await opsPortOf(child);
  const state = await waitFor(
    `${child.name} ready`,
    async () => {
      if (!(await running(child))) return 'exited';
      return (await readyz(port)).status === 200 ? 'ready' : undefined;
    },
    STARTUP_MS,
    200,
  );
  if (state === 'exited') assert.fail(`${child.name} exited during start-up\n${tail(child)}`);
  return port;
}

/** Polls `/readyz` after a signal until it answers 503 draining; fails if the process exits first. */
async function waitDraining(child: Child, opsPort: number): Promise<any> {
  const answer = await waitFor(
    `${child.name} /readyz 503 draining`,
    async () => {
      if (!(await running(child))) return { exited: true };
      const res = await readyz(opsPort);
      return res.status === 503 && res.body.status === 'draining' ? { body: res.body } : undefined;
    },
    EXIT_WAIT_MS,
    20,
  );
  if ('exited' in answer) assert.fail(`${child.name} exited before /readyz said draining\n${tail(child)}`);
  return answer.body;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// ---------------------------------------------------------------------------------------------------------------
// A receiver whose answers the test controls

interface ReceivedRequest {
  readonly eventId: string;
  /** Set once the 200 was fully written. */
  answered: boolean;
  /** Set when the sender hung up before the answer. */
  aborted: boolean;
}

interface SlowReceiver {
  readonly url: string;
  readonly requests: ReceivedRequest[];
  /** Distinct event ids that got a complete 200. */
  delivered(): Set<string>;
  close(): Promise<void>;
}

/**
 * Answers 200 after `delayFor(index)` ms, or, when that returns a promise, once the promise resolves (a request
 * the test holds open for as long as it needs, without measuring time).
 */
async function startSlowReceiver(delayFor: (index: number) => number | Promise<void>): Promise<SlowReceiver> {
  const requests: ReceivedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const record: ReceivedRequest = {
      eventId: String(req.headers['x-wss-event-id'] ?? ''),
      answered: false,
      aborted: false,
    };
    const index = requests.length;
    requests.push(record);
    req.resume();
    res.on('close', () => {
      if (!res.writableFinished) record.aborted = true;
    });
    const answer = (): void => {
      if (res.destroyed) return;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok', () => {
        record.answered = true;
      });
    };
    const delay = delayFor(index);
    if (typeof delay === 'number') {
      const timer = setTimeout(answer, delay);
      res.on('close', () => clearTimeout(timer));
    } else {
      void delay.then(answer);
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    delivered: () => new Set(requests.filter((r) => r.answered).map((r) => r.eventId)),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A promise the test resolves by hand. */
function gate(): { promise: Promise<void>; open(): void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

// ---------------------------------------------------------------------------------------------------------------
// One isolated service instance per test

interface Instance {
  readonly env: NodeJS.ProcessEnv;
  readonly tenant: string;
  readonly stream: string;
  readonly group: string;
  readonly apiPort: number;
  api(method: string, route: string, body?: unknown): Promise<{ status: number; body: any }>;
}

async function instance(overrides: Record<string, string> = {}): Promise<Instance> {
  const { redisUrl, temporalAddress } = serviceAddresses();
  const id = uniqueName('drain').replace(/-/g, '_');
  const apiPort = await freePort();
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSS_')));
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    REDIS_URL: redisUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    WSS_KEY_PREFIX: id,
    WSS_STREAM: `${id}:events`,
    WSS_CONSUMER_GROUP: `${id}-group`,
    WSS_CONSUMER_NAME: `${id}-consumer`,
    WSS_TASK_QUEUE: `${id}-queue`,
    WSS_API_PORT: String(apiPort),
    WSS_ADMIN_TOKEN: `admin_${randomBytes(16).toString('hex')}`,
    WSS_MASTER_KEY: randomBytes(32).toString('base64'),
    WSS_EGRESS_ALLOW_CIDRS: '127.0.0.0/8',
    WSS_CONSUMER_BLOCK_MS: '200',
    WSS_OPS_PORT: '0',
    WSS_LOG_LEVEL: 'info',
    // Quick retries, so a cut-off attempt is retried within the test's patience.
    WSS_RETRY_INITIAL_MS: '500',
    WSS_RETRY_MAX_INTERVAL_MS: '2000',
    ...overrides,
  };
  return {
    env,
    tenant: uniqueName('tn').replace(/-/g, '_'),
    stream: String(env.WSS_STREAM),
    group: String(env.WSS_CONSUMER_GROUP),
    apiPort,
    async api(method, route, body) {
      const res = await fetch(`http://127.0.0.1:${apiPort}${route}`, {
        method,
        headers: {
          authorization: `Bearer ${String(env.WSS_ADMIN_TOKEN)}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(30_000),
      });
      return { status: res.status, body: await res.json() };
    },
  };
}

async function createEndpoint(svc: Instance, url: string): Promise<void> {
  const created = await svc.api('POST', `/v1/tenants/${svc.tenant}/endpoints`, { url, eventTypes: ['order.*'] });
  assert.equal(created.status, 201, JSON.stringify(created.body));
}

// ---------------------------------------------------------------------------------------------------------------

let redis: Redis;
let temporal: Client;
let temporalConnection: Connection;

before(async () => {
  const { redisUrl, temporalAddress } = serviceAddresses();
  redis = new Redis(redisUrl);
  temporalConnection = await Connection.connect({ address: temporalAddress });
  temporal = new Client({ connection: temporalConnection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });
});

after(async () => {
  // Hang guard: only processes this file started, each by its own handle.
  for (const child of [...children]) {
    child.process.kill('SIGKILL');
    await child.exited;
  }
  redis?.disconnect();
  await temporalConnection?.close();
});

async function workflowExists(workflowId: string): Promise<boolean> {
  try {
    await temporal.workflow.getHandle(workflowId).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** The group's read position: how many entries it handed out, and the last id. */
async function groupInfo(stream: string, group: string): Promise<{ entriesRead: number; lastDeliveredId: string }> {
  const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
  for (const raw of groups) {
    const fields: Record<string, unknown> = {};
    for (let i = 0; i < raw.length; i += 2) fields[String(raw[i])] = raw[i + 1];
    if (fields.name === group) {
      return { entriesRead: Number(fields['entries-read'] ?? 0), lastDeliveredId: String(fields['last-delivered-id']) };
    }
  }
  throw new Error(`group ${group} not found`);
}

function compareIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}

describe('graceful drain under load', { timeout: 900_000 }, () => {
  it('SIGTERM to the worker and to the consumer mid-burst: 0 lost, exit 0, nothing acked before its workflow started', async (t) => {
    const svc = await instance({
      // One start at a time: the burst is still being read when the consumer gets its SIGTERM.
      WSS_CONSUMER_CONCURRENCY: '1',
      WSS_CONSUMER_BATCH: '1',
      WSS_SHUTDOWN_GRACE_MS: '30000',
    });
    const total = 200;
    // 300 to 800 ms per request, spread deterministically.
    const receiver = await startSlowReceiver((i) => 300 + ((i * 137) % 501));
    try {
      const api = startRole('api', svc.env);
      const worker1 = startRole('worker', svc.env, 'worker-1');
      const consumer1 = startRole('consumer', svc.env, 'consumer-1');
      await Promise.all([waitReady(api), waitReady(worker1)]);
      await waitReady(consumer1);
      await createEndpoint(svc, receiver.url);

      const eventIds = Array.from({ length: total }, (_, i) => `evt-drain-${i}`);
      const entryIds: string[] = [];
      const publish = async (ids: string[]) => {
        for (const eventId of ids) {
          const id = await redis.xadd(
            svc.stream,
            '*',
            'tenant',
            svc.tenant,
            'type',
            'order.paid',
            'id',
            eventId,
            'data',
            '{}',
          );
          entryIds.push(String(id));
        }
      };
      // The burst comes in two halves: the second one lands right before the consumer's SIGTERM, so the consumer is
      // reading it when the signal comes however fast it started the first half's workflows.
      const half = total / 2;
      await publish(eventIds.slice(0, half));

      // Worker first: once attempts are running at the receiver, a rolling replacement starts and the old one drains.
      await waitFor('attempts at the receiver', () => receiver.requests.length >= 10, DELIVERY_WAIT_MS, 20);
      worker1.process.kill('SIGTERM');
      const inFlightAtSignal = receiver.requests.filter((r) => !r.answered && !r.aborted).length;
      assert.ok(inFlightAtSignal > 0, 'the worker had attempts running at the receiver when it got its SIGTERM');
      const worker2 = startRole('worker', svc.env, 'worker-2');
      const worker1Exit = await exitOf(worker1);
      assert.deepEqual(worker1Exit, { code: 0, signal: null }, tail(worker1));

      // Then the consumer, while it is still reading the burst (one entry at a time: WSS_CONSUMER_BATCH=1).
      await publish(eventIds.slice(half));
      await waitFor(
        'the consumer into the second half of the burst',
        async () => (await groupInfo(svc.stream, svc.group)).entriesRead >= half + 5,
        DELIVERY_WAIT_MS,
        5,
      );
      consumer1.process.kill('SIGTERM');
      const consumer1Exit = await exitOf(consumer1);
      assert.deepEqual(consumer1Exit, { code: 0, signal: null }, tail(consumer1));

      // What the drained consumer left: nothing pending, and an entry is acked exactly when its workflow exists.
      const pending = (await redis.xpending(svc.stream, svc.group)) as [number, ...unknown[]];
      assert.equal(pending[0], 0, `entries left pending by a clean drain\n${tail(consumer1)}`);
      const { lastDeliveredId } = await groupInfo(svc.stream, svc.group);
      const readCount = entryIds.filter((id) => compareIds(id, lastDeliveredId) <= 0).length;
      assert.ok(readCount < total, `the consumer was stopped mid-burst (it had read ${readCount} of ${total})`);
      t.diagnostic(
        `worker-1 drained with ${inFlightAtSignal} attempts in flight; consumer-1 stopped after ${readCount} of ${total} entries`,
      );
      const mismatches: string[] = [];
      for (const [i, eventId] of eventIds.entries()) {
        const acked = compareIds(entryIds[i] ?? '', lastDeliveredId) <= 0;
        const started = await workflowExists(workflowIdOf(svc.tenant, eventId));
        if (acked !== started) mismatches.push(`${eventId}: acked=${acked} workflow=${started}`);
      }
      assert.deepEqual(mismatches, [], 'acked entries are exactly those whose workflow started');

      const consumer2 = startRole('consumer', svc.env, 'consumer-2');
      await waitFor(
        `all ${total} events delivered`,
        async () => {
          if (!(await running(consumer2)) || !(await running(worker2))) throw new Error('a replacement exited');
          return receiver.delivered().size >= total;
        },
        DELIVERY_WAIT_MS,
        250,
      );
      const delivered = receiver.delivered();
      assert.equal(delivered.size, total, 'distinct event ids at the receiver == published');
      for (const eventId of delivered) assert.ok(eventIds.includes(eventId), `unexpected event ${eventId}`);
      // A drain within the grace cuts nothing off: no attempt aborted, none sent twice.
      assert.equal(receiver.requests.filter((r) => r.aborted).length, 0, 'attempts cut off by the drain');
      assert.equal(receiver.requests.length, total, 'every event sent exactly once');

      for (const child of [worker2, consumer2, api]) {
        child.process.kill('SIGTERM');
        assert.deepEqual(await exitOf(child), { code: 0, signal: null }, tail(child));
      }
    } finally {
      await receiver.close();
    }
  });

  it('an attempt still running after WSS_SHUTDOWN_GRACE_MS is cancelled, recorded as such, retried and delivered', async () => {
    const svc = await instance({ WSS_SHUTDOWN_GRACE_MS: '1000' });
    const hold = gate();
    // The first request is held until the test lets go (after the worker cut it off); later ones answer at once.
    const receiver = await startSlowReceiver((i) => (i === 0 ? hold.promise : 0));
    try {
      const api = startRole('api', svc.env);
      const worker1 = startRole('worker', svc.env, 'worker-1');
      const consumer = startRole('consumer', svc.env);
      await Promise.all([waitReady(api), waitReady(consumer)]);
      const worker1Ops = await waitReady(worker1);
      await createEndpoint(svc, receiver.url);
      const eventId = 'evt-cut-off';
      await redis.xadd(svc.stream, '*', 'tenant', svc.tenant, 'type', 'order.paid', 'id', eventId, 'data', '{}');
      await waitFor('the attempt at the receiver', () => receiver.requests.length === 1, DELIVERY_WAIT_MS, 20);

      worker1.process.kill('SIGTERM');
      const draining = await waitDraining(worker1, worker1Ops);
      assert.equal(draining.status, 'draining');
      const exit = await exitOf(worker1);
      hold.open();
      assert.deepEqual(exit, { code: 0, signal: null }, `a drain that cancelled after the grace\n${tail(worker1)}`);
      assert.equal(receiver.requests[0]?.aborted, true, 'the worker hung up on the cut-off attempt');

      // Its attempt record says why; a new worker runs the retry.
      const worker2 = startRole('worker', svc.env, 'worker-2');
      const view = await waitFor(
        'the delivery to complete on the next worker',
        async () => {
          const res = await svc.api('GET', `/v1/tenants/${svc.tenant}/deliveries/${eventId}`);
          return res.status === 200 && res.body.workflowStatus === 'COMPLETED' ? res.body : undefined;
        },
        DELIVERY_WAIT_MS,
        250,
      );
      assert.equal(view.status, 'delivered', JSON.stringify(view));
      const attempts = view.endpoints[0].attempts.map((a: { outcome: string; error?: string }) => [a.outcome, a.error]);
      assert.deepEqual(
        attempts,
        [
          ['retry', 'worker_shutdown'],
          ['delivered', undefined],
        ],
        JSON.stringify(view),
      );
      assert.equal(receiver.delivered().size, 1);
      const deadLetters = await svc.api('GET', `/v1/tenants/${svc.tenant}/dead-letters`);
      assert.deepEqual(deadLetters.body.items, [], 'no dead letter for a cut-off attempt');
      assert.ok(
        worker1.output.some((l) => l.includes('worker_shutdown')),
        `the cut-off attempt is logged\n${tail(worker1)}`,
      );

      for (const child of [worker2, consumer, api]) {
        child.process.kill('SIGTERM');
        assert.deepEqual(await exitOf(child), { code: 0, signal: null }, tail(child));
      }
    } finally {
      hold.open();
      await receiver.close();
    }
  });

  it('a second signal exits at once (143 for SIGTERM, 130 for SIGINT) while work is still in flight', async () => {
    // A long blocking read keeps the idle consumer draining until its second signal.
    const svc = await instance({ WSS_SHUTDOWN_GRACE_MS: '600000', WSS_CONSUMER_BLOCK_MS: '30000' });
    const hold = gate();
    const receiver = await startSlowReceiver(() => hold.promise);
    try {
      const api = startRole('api', svc.env);
      const worker = startRole('worker', svc.env);
      const consumer = startRole('consumer', svc.env);
      await Promise.all([waitReady(api), waitReady(consumer)]);
      const workerOps = await waitReady(worker);
      await createEndpoint(svc, receiver.url);
      await redis.xadd(svc.stream, '*', 'tenant', svc.tenant, 'type', 'order.paid', 'id', 'evt-forced', 'data', '{}');
      await waitFor('the attempt at the receiver', () => receiver.requests.length === 1, DELIVERY_WAIT_MS, 20);

      worker.process.kill('SIGTERM');
      await waitDraining(worker, workerOps); // draining, the attempt held at the receiver
      worker.process.kill('SIGTERM');
      const exit = await exitOf(worker);
      assert.deepEqual(exit, { code: 143, signal: null }, tail(worker));
      assert.equal(receiver.requests[0]?.answered, false, 'exited before the attempt it was waiting for finished');
      assert.ok(
        worker.output.some((l) => l.includes('second signal')),
        tail(worker),
      );

      // The second signal only after the first was handled: two signals sent back to back can merge into one.
      const consumerOps = await opsPortOf(consumer);
      consumer.process.kill('SIGINT');
      await waitDraining(consumer, consumerOps);
      consumer.process.kill('SIGINT');
      assert.deepEqual(await exitOf(consumer), { code: 130, signal: null }, tail(consumer));
      api.process.kill('SIGTERM');
      assert.deepEqual(await exitOf(api), { code: 0, signal: null }, tail(api));
    } finally {
      hold.open();
      await receiver.close();
    }
  });

  it('the consumer answers /readyz 503 draining from the signal until it exits', async () => {
    // An idle consumer in a long blocking read: the drain waits for the read to return.
    const svc = await instance({ WSS_CONSUMER_BLOCK_MS: '5000' });
    const consumer = startRole('consumer', svc.env);
    const opsPort = await waitReady(consumer);
    await waitFor('the consumer blocked in its read', () =>
      consumer.output.some((l) => l.includes('consumer started')),
    );
    consumer.process.kill('SIGTERM');
    const body = await waitDraining(consumer, opsPort);
    assert.equal(body.status, 'draining');
    assert.deepEqual(await exitOf(consumer), { code: 0, signal: null }, tail(consumer));
  });

  it('the API finishes an open request, refuses new connections and exits 0', async () => {
    const svc = await instance();
    const api = startRole('api', svc.env);
    const opsPort = await waitReady(api);
    // An authenticated request whose body is still on its way when the signal arrives.
    const body = JSON.stringify({ url: 'http://127.0.0.1:9/hook', eventTypes: ['order.*'] });
    const socket = net.connect({ host: '127.0.0.1', port: svc.apiPort });
    await once(socket, 'connect');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
    });
    const closed = once(socket, 'close');
    socket.write(
      [
        `POST /v1/tenants/${svc.tenant}/endpoints HTTP/1.1`,
        `host: 127.0.0.1:${svc.apiPort}`,
        `authorization: Bearer ${String(svc.env.WSS_ADMIN_TOKEN)}`,
        'content-type: application/json',
        `content-length: ${Buffer.byteLength(body)}`,
        '',
        '',
      ].join('\r\n'),
    );
    await new Promise<void>((resolve, reject) =>
      socket.write(body.slice(0, 10), (err) => (err ? reject(err) : resolve())),
    );
    // The API has the request (its headers) before the signal: a health request on another connection is answered
    // only after the server read ours, which came first on the same listener.
    await fetch(`http://127.0.0.1:${svc.apiPort}/healthz`, { signal: AbortSignal.timeout(10_000) });

    api.process.kill('SIGTERM');
    const draining = await waitDraining(api, opsPort);
    assert.equal(draining.status, 'draining');
    await waitFor(
      'new connections refused',
      () =>
        new Promise<boolean>((resolve) => {
          const probe = net.connect({ host: '127.0.0.1', port: svc.apiPort });
          probe.once('connect', () => {
            probe.destroy();
            resolve(false);
          });
          probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
        }),
      EXIT_WAIT_MS,
      20,
    );
    assert.equal(await running(api), true, 'the API waits for the open request');
    socket.write(body.slice(10));
    await closed;
    assert.match(answer, /^HTTP\/1\.1 201 /, answer);
    assert.deepEqual(await exitOf(api), { code: 0, signal: null }, tail(api));
  });
});
