import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { Redis } from 'ioredis';
import { parseTenantId } from '../../src/domain/ids';
import { loadConfig } from '../../src/infra/config';
import { createStores } from '../../src/main/services';
import type { Stores } from '../../src/main/services';
import { startReceiver } from '../support/receiver';
import type { Receiver } from '../support/receiver';
import { opsPortOf, startRole, stopAllRoles, waitReady } from '../support/role-process';
import type { RoleProcess } from '../support/role-process';
import { serviceAddresses, uniqueName, waitFor, workflowIdOf } from '../support/services';

/**
 * Issue 15's silent events: a burst to one endpoint on a CPU-starved worker, where some events were accepted and
 * then had no attempt for minutes.
 *
 * The cause: the worker took up to 40 workflow tasks at once (the SDK default) for its one workflow thread. On a
 * starved worker a task then waits in the worker longer than Temporal's workflow task timeout (10 s); Temporal
 * times it out, the worker's work is thrown away ("Task not found when completing"), and the retry is queued
 * behind the whole backlog, again and again. Nothing is logged by the service meanwhile: the delivery has not
 * started, so there is no attempt and no error.
 *
 * The starvation is made deterministic here: the worker process is stopped (SIGSTOP) for 85% of every second, as a
 * throttled container or an overloaded node would. The assertions are counts: every event delivered, and not one
 * workflow task timed out, i.e. no work was thrown away and no event went back to the end of the queue.
 */

/** Hang guards only. */
const START_MS = 240_000;
const DELIVERY_MS = 600_000;
const EVENTS = 200;
/** The worker runs this share of each second. */
const RUN_SHARE = 0.15;

const { redisUrl, temporalAddress } = serviceAddresses();
const prefix = uniqueName('silent').replace(/-/g, '_');
const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSS_')));
const env: NodeJS.ProcessEnv = {
  ...inherited,
  REDIS_URL: redisUrl,
  TEMPORAL_ADDRESS: temporalAddress,
  WSS_KEY_PREFIX: prefix,
  WSS_STREAM: `${prefix}:events`,
  WSS_CONSUMER_GROUP: `${prefix}-group`,
  WSS_TASK_QUEUE: `${prefix}-queue`,
  WSS_MASTER_KEY: randomBytes(32).toString('base64'),
  WSS_ADMIN_TOKEN: `admin_${randomBytes(16).toString('hex')}`,
  WSS_EGRESS_ALLOW_CIDRS: '127.0.0.0/8',
  WSS_OPS_PORT: '0',
  WSS_LOG_LEVEL: 'info',
  WSS_CONSUMER_BLOCK_MS: '200',
};

let stores: Stores;
let redis: Redis;
let connection: Connection;
let temporal: Client;
let receiver: Receiver;

async function start(role: 'worker' | 'consumer', name: string): Promise<RoleProcess> {
  const child = startRole(role, name, env);
  await waitReady(child, await opsPortOf(child, START_MS), START_MS);
  return child;
}

before(async () => {
  stores = createStores(loadConfig({}, env as Record<string, string>), 'silent-test');
  redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  connection = await Connection.connect({ address: temporalAddress });
  temporal = new Client({ connection });
  receiver = await startReceiver();
});

after(async () => {
  await stopAllRoles();
  await receiver?.close();
  redis?.disconnect();
  await stores?.close();
  await connection?.close();
});

const EventType = proto.api.enums.v1.EventType;

function millis(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  return Number(t?.seconds ?? 0) * 1000 + Math.round((t?.nanos ?? 0) / 1e6);
}

describe('a burst to one endpoint on a CPU-starved worker (issue 15)', () => {
  it('delivers every event without a workflow task timing out', async (ctx) => {
    const tenant = uniqueName('starved');
    const tenantId = parseTenantId(tenant);
    await stores.tenants.ensure(tenantId);
    await stores.endpoints.create(tenantId, { url: receiver.url, eventTypes: ['*'] }, randomBytes(24).toString('hex'));
    const worker = await start('worker', 'worker');
    await start('consumer', 'consumer');

    let starving = true;
    const starve = (async () => {
      while (starving && worker.running()) {
        worker.process.kill('SIGSTOP');
        await sleep(Math.round(1000 * (1 - RUN_SHARE)));
        worker.process.kill('SIGCONT');
        await sleep(Math.round(1000 * RUN_SHARE));
      }
    })();
    const xaddAt = new Map<string, number>();
    try {
      const pipeline = redis.pipeline();
      for (let i = 0; i < EVENTS; i++) {
        pipeline.xadd(env.WSS_STREAM ?? '', '*', 'tenant', tenant, 'type', 'order.paid', 'id', `e-${i}`, 'data', '{}');
      }
      const sent = Date.now();
      for (const [err] of (await pipeline.exec()) ?? []) assert.ifError(err);
      for (let i = 0; i < EVENTS; i++) xaddAt.set(`e-${i}`, sent);
      const delivered = () => new Set(receiver.requests.map((r) => String(r.headers['x-wss-event-id'])));
      await waitFor(`${EVENTS} events delivered`, () => delivered().size === EVENTS, DELIVERY_MS, 500);
    } finally {
      starving = false;
      await starve;
      if (worker.running()) worker.process.kill('SIGCONT');
    }

    // Where each delivery stood: workflow task timeouts (work thrown away) and the time to its first attempt.
    let timedOut = 0;
    const toFirstAttempt: number[] = [];
    const worst: string[] = [];
    for (const [eventId, at] of xaddAt) {
      const history = await temporal.workflow.getHandle(workflowIdOf(tenant, eventId)).fetchHistory();
      const events = history.events ?? [];
      const timeouts = events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT).length;
      timedOut += timeouts;
      // The first attempt is a local activity: it runs in the workflow task that records its marker. (A history
      // from before that change, or an attempt that ran as the regular activity, has ACTIVITY_TASK_STARTED.)
      const marker = events.findIndex((e) => e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED);
      const taskOfMarker = events
        .slice(0, Math.max(marker, 0))
        .findLast((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED);
      const started =
        marker >= 0 ? taskOfMarker : events.find((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED);
      if (started) toFirstAttempt.push(millis(started.eventTime) - at);
      if (timeouts > 0 && worst.length < 3) {
        worst.push(
          `${eventId}: ${events
            .map((e) => `${EventType[e.eventType ?? 0]?.replace('EVENT_TYPE_', '')}@${millis(e.eventTime) - at}ms`)
            .join(' ')}`,
        );
      }
    }
    toFirstAttempt.sort((a, b) => a - b);
    const thrownAway = worker.output.filter((l) => l.includes('Task not found when completing')).length;
    ctx.diagnostic(
      `${EVENTS} events, worker running ${RUN_SHARE * 100}% of each second: XADD to first attempt ` +
        `p50 ${toFirstAttempt[Math.floor(toFirstAttempt.length / 2)]} ms, ` +
        `p99 ${toFirstAttempt[Math.floor(toFirstAttempt.length * 0.99)]} ms, max ${toFirstAttempt.at(-1)} ms; ` +
        `workflow tasks timed out ${timedOut}, completions thrown away ${thrownAway}`,
    );
    assert.equal(toFirstAttempt.length, EVENTS, 'every delivery had an attempt');
    assert.equal(
      timedOut,
      0,
      `workflow tasks timed out in the worker (their work thrown away, the events queued again):\n${worst.join('\n')}`,
    );
  });
});
