// Deliveries that Temporal ends, not the activity, on the real Temporal dev server and Redis: an attempt past its
// timeout, a worker SIGKILLed during the last attempt, an exception the activity did not shape on every attempt,
// and the retry window closing on a running attempt. Each must end like a delivery the activity gave up on: a dead
// letter with a reason (visible through the API, found by operator retry), the attempt log's final entry, the
// endpoint's health and the final-outcome metric, counted once.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities/deliver-webhook';
import type { DeliverEventInput } from '../../src/delivery/workflow-contract';
import { parseEndpointId, parseEventId, parseTenantId } from '../../src/domain/ids';
import { resolveRetryPolicy } from '../../src/domain/retry-policy';
import { createMetrics } from '../../src/infra/metrics';
import type { ServiceMetrics } from '../../src/infra/metrics';
import { serviceRetryPolicy } from '../../src/main/services';
import { createDeliveryWorker } from '../../src/main/worker';
import type { DeliveryWorker } from '../../src/main/worker';
import { OperationalEvents } from '../../src/store/operational-events';
import { receiverPool } from '../support/receiver';
import { serviceAddresses, uniqueName, waitFor, workflowIdOf } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

const ROOT = path.resolve(__dirname, '../..');
const SECOND = 1_000;
/** A receiver that holds the request far longer than any timeout here; closing the pool ends it. */
const STALL_MS = 300 * SECOND;
/** The HTTP client waits longer than the attempt timeout (60 s), so Temporal, not the client, ends the attempt. */
const SLOW_HTTP = { WSS_HTTP_TOTAL_TIMEOUT_MS: '120000', WSS_HTTP_HEADERS_TIMEOUT_MS: '120000' };

function failedDeliveries(metrics: ServiceMetrics): Promise<number> {
  return metrics.registry
    .getSingleMetric('wss_deliveries_total')!
    .get()
    .then((m) => m.values.filter((v) => v.labels.outcome === 'failed').reduce((sum, v) => sum + v.value, 0));
}

/** The checks every terminal failure must pass, whatever ended it. */
async function assertRecorded(
  stack: TestStack,
  tenant: string,
  endpointId: string,
  eventId: string,
  expected: { reason: string; attempts: number; streak: number },
): Promise<void> {
  const dead = await stack.api('GET', `/v1/tenants/${tenant}/dead-letters?endpointId=${endpointId}`);
  assert.equal(dead.status, 200);
  assert.equal(dead.body.items.length, 1, JSON.stringify(dead.body));
  const letter = dead.body.items[0];
  assert.equal(letter.eventId, eventId);
  assert.equal(letter.reason, expected.reason);
  assert.equal(letter.attempts, expected.attempts);
  assert.equal(letter.run, undefined, 'the run id is kept for idempotency only');

  const view = await stack.api('GET', `/v1/tenants/${tenant}/deliveries/${eventId}`);
  assert.equal(view.body.status, 'failed');
  const shown = view.body.endpoints.find((e: { endpointId: string }) => e.endpointId === endpointId);
  assert.equal(shown.status, 'failed');
  assert.match(shown.lastError, new RegExp(`^${expected.reason}: `));
  const last = shown.attempts[shown.attempts.length - 1];
  assert.deepEqual([last.outcome, last.error], ['failed', expected.reason], JSON.stringify(shown.attempts));

  const streak = await stack.redis.hget(
    stack.stores.keys.endpointFailures(parseTenantId(tenant), parseEndpointId(endpointId)),
    'count',
  );
  assert.equal(Number(streak ?? 0), expected.streak, 'failure streak of the endpoint');
}

describe('terminal failures that Temporal ends, with an in-process worker', () => {
  let stack: TestStack;
  let worker: DeliveryWorker;
  let bugWorker: Worker | undefined;
  let bugRun: Promise<void> | undefined;
  const metrics = createMetrics({ tenantLabel: false, processMetrics: false });
  const receivers = receiverPool();

  before(async () => {
    stack = await startStack({ worker: false, env: { ...SLOW_HTTP, WSS_ENDPOINT_DISABLE_AFTER_FAILURES: '0' } });
    worker = await createDeliveryWorker(stack.config, stack.log, stack.stores, { metrics });
    void worker.run();
  });
  after(async () => {
    await receivers.closeAll();
    bugWorker?.shutdown();
    await bugRun?.catch(() => undefined);
    await worker?.close();
    await stack?.stop();
  });

  async function endpoint(tenant: string, url: string, retryPolicy: Record<string, unknown>) {
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { url, eventTypes: ['*'], retryPolicy });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { id: string };
  }

  async function publish(tenant: string, id: string) {
    await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', JSON.stringify({ id }), 'id', id);
    return stack.temporal.workflow.getHandle(workflowIdOf(tenant, id));
  }

  it(
    'records attempt_timed_out when the last attempt outlives the 60 s attempt timeout',
    { timeout: 150_000 },
    async () => {
      const tenant = uniqueName('t');
      let stall = true;
      const hook = await receivers.start(() => (stall ? { status: 200, delayMs: STALL_MS } : { status: 200 }));
      const ep = await endpoint(tenant, hook.url, { maximumAttempts: 1 });
      const before = await failedDeliveries(metrics);
      const handle = await publish(tenant, 'evt-timeout');
      const result = await waitFor('result', () => handle.result(), 120_000);
      assert.equal(result.status, 'failed');
      assert.equal(hook.requests.length, 1);
      await assertRecorded(stack, tenant, ep.id, 'evt-timeout', {
        reason: 'attempt_timed_out',
        attempts: 1,
        streak: 1,
      });
      assert.equal((await failedDeliveries(metrics)) - before, 1, 'wss_deliveries_total{outcome="failed"}');

      // Operator retry finds it, delivers with the same event id, and clears the dead letter.
      stall = false;
      const retry = await stack.api('POST', `/v1/tenants/${tenant}/deliveries/evt-timeout/retry`);
      assert.equal(retry.status, 202, JSON.stringify(retry.body));
      await waitFor('the redelivery', () =>
        hook.requests.some((r, i) => i > 0 && r.headers['x-wss-event-id'] === 'evt-timeout'),
      );
      await waitFor(
        'dead letter cleared',
        async () => (await stack.api('GET', `/v1/tenants/${tenant}/dead-letters`)).body.items.length === 0,
      );
    },
  );

  it('records retry_window_exhausted when the window closes on a running attempt', { timeout: 60_000 }, async () => {
    const tenant = uniqueName('t');
    const hook = await receivers.start(() => ({ status: 200, delayMs: STALL_MS }));
    const ep = await endpoint(tenant, hook.url, { retryWindowMs: 3000, maximumAttempts: 5 });
    const before = await failedDeliveries(metrics);
    const handle = await publish(tenant, 'evt-window');
    const result = await waitFor('result', () => handle.result(), 30_000);
    assert.equal(result.status, 'failed');
    await assertRecorded(stack, tenant, ep.id, 'evt-window', {
      reason: 'retry_window_exhausted',
      attempts: 1,
      streak: 1,
    });
    assert.equal((await failedDeliveries(metrics)) - before, 1);

    // Replay of the endpoint's dead letters finds it too.
    const replay = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${ep.id}/replay`, {
      since: new Date(Date.now() - 60_000).toISOString(),
    });
    assert.equal(replay.status, 202, JSON.stringify(replay.body));
    assert.equal(replay.body.replayed, 1);
  });

  it(
    'records unexpected_error when every attempt throws an exception the activity did not shape',
    { timeout: 90_000 },
    async () => {
      // A test-only wrapper: the delivery activity of this worker has a bug (a TypeError before sending). Real faults
      // in its dependencies (a corrupt endpoint record, a deleted payload) are shaped by the activity itself.
      const taskQueue = `${stack.config.WSS_TASK_QUEUE}-bug`;
      const bugMetrics = createMetrics({ tenantLabel: false, processMetrics: false });
      const real = createActivities({
        endpoints: stack.stores.endpoints,
        payloads: stack.stores.payloads,
        requests: { build: () => Promise.reject(new Error('not used')) },
        http: { post: () => Promise.reject(new Error('not used')) },
        deliveryLog: stack.stores.deliveryLog,
        operationalEvents: new OperationalEvents(stack.redis, stack.stores.keys, stack.log),
        health: { disableAfterFailures: 0, disableAfterMs: 0 },
        log: stack.log,
        onAttempt: (record) => bugMetrics.recordAttempt(record),
      });
      bugWorker = await Worker.create({
        connection: (worker as DeliveryWorker).connection,
        namespace: stack.config.TEMPORAL_NAMESPACE,
        taskQueue,
        workflowsPath: require.resolve('../../src/workflows'),
        activities: {
          ...real,
          deliverWebhook: () => Promise.reject(new TypeError("Cannot read properties of undefined (reading 'secret')")),
        },
      });
      bugRun = bugWorker.run();

      const tenant = uniqueName('t');
      const hook = await receivers.start(() => ({ status: 200 }));
      const ep = await endpoint(tenant, hook.url, { maximumAttempts: 2, initialIntervalMs: 200 });
      const eventId = parseEventId('evt-bug');
      await stack.stores.payloads.claim(parseTenantId(tenant), eventId, '1-1', JSON.stringify({ id: 'evt-bug' }));
      const input: DeliverEventInput = {
        event: {
          tenantId: parseTenantId(tenant),
          eventId,
          eventType: 'order.created',
          occurredAt: new Date().toISOString(),
        },
        deliveries: [
          {
            endpointId: parseEndpointId(ep.id),
            retryPolicy: resolveRetryPolicy(
              { maximumAttempts: 2, initialIntervalMs: 200 },
              undefined,
              serviceRetryPolicy(stack.config),
            ),
          },
        ],
      };
      const handle = await stack.temporal.workflow.start('deliverEvent', {
        taskQueue,
        workflowId: workflowIdOf(tenant, eventId),
        args: [input],
      });
      const result = (await waitFor('result', () => handle.result(), 60_000)) as { status: string };
      assert.equal(result.status, 'failed');
      assert.equal(hook.requests.length, 0);
      // Our bug, not the receiver's: the endpoint's streak does not move.
      await assertRecorded(stack, tenant, ep.id, 'evt-bug', { reason: 'unexpected_error', attempts: 2, streak: 0 });
      assert.equal(await failedDeliveries(bugMetrics), 1);
      const letter = (await stack.api('GET', `/v1/tenants/${tenant}/dead-letters`)).body.items[0];
      assert.doesNotMatch(letter.lastError, /secret/, 'the exception text stays out of the dead letter');

      // Operator retry runs on the service's task queue (a healthy worker) and delivers it.
      const retry = await stack.api('POST', `/v1/tenants/${tenant}/deliveries/evt-bug/retry`);
      assert.equal(retry.status, 202, JSON.stringify(retry.body));
      await waitFor('the redelivery', () => hook.requests.length === 1);
    },
  );

  it('writes one dead letter and counts the streak once when the bookkeeping runs twice for a run', async () => {
    const tenant = parseTenantId(uniqueName('t'));
    const endpointId = parseEndpointId(`ep_${randomUUID().slice(0, 8)}`);
    const letter = {
      tenantId: tenant,
      eventId: parseEventId('evt-twice'),
      eventType: 'order.created',
      occurredAt: new Date().toISOString(),
      endpointId,
      failedAt: new Date().toISOString(),
      attempts: 3,
      lastError: 'attempt 3 did not finish within 60 seconds',
      reason: 'attempt_timed_out',
    };
    const finalAttempt = {
      endpointId,
      attempt: 3,
      at: letter.failedAt,
      outcome: 'failed' as const,
      durationMs: 0,
      error: 'attempt_timed_out',
    };
    const log = stack.stores.deliveryLog;
    const first = await log.recordFailedDelivery(letter, {
      runId: 'run-1',
      countsAgainstEndpoint: true,
      nowMs: Date.now(),
      finalAttempt,
    });
    const again = await log.recordFailedDelivery(letter, {
      runId: 'run-1',
      countsAgainstEndpoint: true,
      nowMs: Date.now(),
      finalAttempt,
    });
    assert.deepEqual([first.recorded, first.streak.count], [true, 1]);
    assert.deepEqual([again.recorded, again.streak.count], [false, 1]);
    assert.equal((await log.listDeadLetters(tenant)).length, 1);
    assert.equal((await log.attempts(tenant, letter.eventId)).length, 1);
    // An operator retry is a new run: failing again is a new failure.
    const retried = await log.recordFailedDelivery(letter, {
      runId: 'run-2',
      countsAgainstEndpoint: true,
      nowMs: Date.now(),
      finalAttempt,
    });
    assert.deepEqual([retried.recorded, retried.streak.count], [true, 2]);
    assert.equal((await log.listDeadLetters(tenant)).length, 1);
  });
});

describe('terminal failures: a worker SIGKILLed during the last attempt', () => {
  let stack: TestStack;
  let child: ChildProcess | undefined;
  let replacement: DeliveryWorker | undefined;
  const metrics = createMetrics({ tenantLabel: false, processMetrics: false });
  const receivers = receiverPool();
  const masterKey = randomBytes(32).toString('base64');

  before(async () => {
    stack = await startStack({ worker: false, env: { ...SLOW_HTTP, WSS_MASTER_KEY: masterKey } });
  });
  after(async () => {
    child?.kill('SIGKILL');
    await receivers.closeAll();
    await replacement?.close();
    await stack?.stop();
  });

  /** `node --import tsx src/main/worker.ts` with the stack's configuration: a worker as a process of its own. */
  async function startWorkerProcess(): Promise<ChildProcess> {
    const { redisUrl, temporalAddress } = serviceAddresses();
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main/worker.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...SLOW_HTTP,
        REDIS_URL: redisUrl,
        TEMPORAL_ADDRESS: temporalAddress,
        WSS_KEY_PREFIX: stack.config.WSS_KEY_PREFIX,
        WSS_STREAM: stack.config.WSS_STREAM,
        WSS_CONSUMER_GROUP: stack.config.WSS_CONSUMER_GROUP,
        WSS_TASK_QUEUE: stack.config.WSS_TASK_QUEUE,
        WSS_MASTER_KEY: masterKey,
        WSS_EGRESS_ALLOW_CIDRS: '127.0.0.0/8',
        WSS_OPS_PORT: '0',
        WSS_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    proc.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    proc.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    await waitFor(
      'the worker process',
      () => {
        if (proc.exitCode !== null) throw new Error(`worker exited: ${output.join('')}`);
        return output.join('').includes('worker started');
      },
      60_000,
      200,
    ).catch((err: unknown) => {
      proc.kill('SIGKILL');
      throw new Error(`${String(err)}\n${output.join('')}`);
    });
    return proc;
  }

  it(
    'records worker_lost once another worker takes over, and operator retry delivers it',
    { timeout: 150_000 },
    async () => {
      child = await startWorkerProcess();
      const tenant = uniqueName('t');
      let stall = true;
      // Attempt 1 (the workflow's local attempt) fails fast, so the last attempt is the regular activity: a worker
      // that dies during a local attempt has its workflow task, and the attempt, run again instead.
      const hook = await receivers.start((_r, i) =>
        i === 0 ? { status: 503 } : stall ? { status: 200, delayMs: STALL_MS } : { status: 200 },
      );
      const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
        url: hook.url,
        eventTypes: ['*'],
        retryPolicy: { maximumAttempts: 2, initialIntervalMs: 200, jitterPercent: 0 },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const ep = res.body as { id: string };
      await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{"id":1}', 'id', 'evt-killed');
      const handle = stack.temporal.workflow.getHandle(workflowIdOf(tenant, 'evt-killed'));

      // The last attempt is waiting for the receiver when its worker dies.
      await waitFor('the attempt reached the receiver', () => hook.requests.length === 2, 60_000);
      child.kill('SIGKILL');
      await new Promise((resolve) => child!.once('exit', resolve));
      replacement = await createDeliveryWorker(stack.config, stack.log, stack.stores, { metrics });
      void replacement.run();

      const result = await waitFor('result', () => handle.result(), 90_000);
      assert.equal(result.status, 'failed');
      // The attempt was lost with its worker: nobody retried it on the replacement (maximumAttempts 2).
      assert.equal(hook.requests.length, 2);
      // The worker's fault, not the receiver's: the streak does not move.
      await assertRecorded(stack, tenant, ep.id, 'evt-killed', { reason: 'worker_lost', attempts: 2, streak: 0 });
      assert.equal(await failedDeliveries(metrics), 1, 'counted once, by the worker that recorded it');

      stall = false;
      const retry = await stack.api('POST', `/v1/tenants/${tenant}/deliveries/evt-killed/retry`);
      assert.equal(retry.status, 202, JSON.stringify(retry.body));
      await waitFor('the redelivery', () => hook.requests.length === 3, 30_000);
      assert.equal(hook.requests[2]!.headers['x-wss-event-id'], 'evt-killed');
    },
  );
  it(
    'runs a local first attempt again when its worker dies during it, with the same event id',
    { timeout: 150_000 },
    async () => {
      // Only the worker process polls, so the first workflow task, and its local attempt, run there.
      await replacement?.close();
      replacement = undefined;
      child = await startWorkerProcess();
      const tenant = uniqueName('t');
      let stall = true;
      const hook = await receivers.start(() => (stall ? { status: 200, delayMs: STALL_MS } : { status: 200 }));
      const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { url: hook.url, eventTypes: ['*'] });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{"id":2}', 'id', 'evt-local-killed');
      const handle = stack.temporal.workflow.getHandle(workflowIdOf(tenant, 'evt-local-killed'));

      // The first attempt runs inside the workflow task of the worker that dies: nothing of it is in history yet.
      await waitFor('the attempt reached the receiver', () => hook.requests.length === 1, 60_000);
      stall = false;
      child.kill('SIGKILL');
      await new Promise((resolve) => child!.once('exit', resolve));
      replacement = await createDeliveryWorker(stack.config, stack.log, stack.stores, { metrics });
      void replacement.run();

      // The workflow task times out and the replacement runs it again from the start: attempt 1 once more.
      const result = await waitFor('result', () => handle.result(), 90_000);
      assert.equal(result.status, 'delivered');
      assert.equal(result.deliveries[0]?.attempts, 1);
      assert.equal(hook.requests.length, 2);
      assert.deepEqual(
        hook.requests.map((r) => r.headers['x-wss-event-id']),
        ['evt-local-killed', 'evt-local-killed'],
      );
    },
  );
});
