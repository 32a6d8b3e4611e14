import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import { parseTenantId } from '../../src/domain/ids';
import { loadConfig } from '../../src/infra/config';
import { createStores } from '../../src/main/services';
import type { Stores } from '../../src/main/services';
import { startHoldingProxy } from '../support/holding-proxy';
import type { HoldingProxy } from '../support/holding-proxy';
import { startReceiver } from '../support/receiver';
import type { Receiver, ReceiverReply } from '../support/receiver';
import { killRole, opsPortOf, scrape, startRole, stopAllRoles, stopRole, waitReady } from '../support/role-process';
import type { RoleProcess } from '../support/role-process';
import { serviceAddresses, uniqueName, waitFor, workflowIdOf } from '../support/services';

/**
 * What Kubernetes relies on when it runs several replicas of each role, tested with the real entry points as
 * processes on the real Redis and Temporal: consumers of one group share a stream, workers of one task queue share
 * its work, a consumer that dies is replaced by the others claiming its entries, workers come and go mid-burst, and
 * the lag gauge says what KEDA's redis-streams scaler (lag mode, XINFO GROUPS) reads.
 *
 * Every test has its own stream, group and tenant; the workers (one task queue, one key prefix) are shared.
 */

/** Hang guards only: a healthy run needs a fraction of these on a busy 2-core machine. */
const START_MS = 240_000;
const DELIVERY_MS = 180_000;

const { redisUrl, temporalAddress } = serviceAddresses();
const prefix = uniqueName('scale').replace(/-/g, '_');
const taskQueue = `${prefix}-queue`;
const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSS_')));
/** What every role of this file shares: Redis, Temporal, the key prefix, the task queue and the master key. */
const sharedEnv: NodeJS.ProcessEnv = {
  ...inherited,
  REDIS_URL: redisUrl,
  TEMPORAL_ADDRESS: temporalAddress,
  WSS_KEY_PREFIX: prefix,
  WSS_STREAM: `${prefix}:unused`,
  WSS_TASK_QUEUE: taskQueue,
  WSS_MASTER_KEY: randomBytes(32).toString('base64'),
  WSS_ADMIN_TOKEN: `admin_${randomBytes(16).toString('hex')}`,
  WSS_EGRESS_ALLOW_CIDRS: '127.0.0.0/8',
  WSS_OPS_PORT: '0',
  WSS_LOG_LEVEL: 'info',
  WSS_RETRY_INITIAL_MS: '300',
  WSS_RETRY_MAX_INTERVAL_MS: '2000',
};

interface Running {
  readonly role: RoleProcess;
  readonly opsPort: number;
}

async function start(role: 'worker' | 'consumer', name: string, env: NodeJS.ProcessEnv): Promise<Running> {
  const child = startRole(role, name, env);
  const opsPort = await opsPortOf(child, START_MS);
  await waitReady(child, opsPort, START_MS);
  return { role: child, opsPort };
}

/** A stream and group of one test, and the environment of a consumer on them. */
function streamOf(test: string) {
  const stream = `${prefix}:${test}:events`;
  const group = `${prefix}-${test}-group`;
  return {
    stream,
    group,
    consumerEnv: (name: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
      ...sharedEnv,
      WSS_STREAM: stream,
      WSS_CONSUMER_GROUP: group,
      WSS_CONSUMER_NAME: name,
      WSS_CONSUMER_BLOCK_MS: '200',
      WSS_METRICS_SAMPLE_MS: '200',
      ...extra,
    }),
  };
}

let stores: Stores;
let redis: Redis;
let connection: Connection;
let temporal: Client;
const workers: Running[] = [];

/** Total delivery attempts a worker made, from its /metrics. */
async function attemptsOf(worker: Running): Promise<number> {
  return (await scrape(worker.opsPort)).sum('wss_delivery_attempts_total');
}

/** The counts of a consumer's wss_consumer_entries_total by result. */
async function entriesOf(consumer: Running): Promise<Record<string, number>> {
  const page = await scrape(consumer.opsPort);
  const results = ['started', 'no_subscribers', 'duplicate', 'dead_letter'];
  return Object.fromEntries(results.map((r) => [r, page.sum('wss_consumer_entries_total', { result: r })]));
}

/**
 * A tenant with two endpoints on one receiver: `/all` takes every event, `/orders` only `order.*`. Events alternate
 * between `order.paid` (2 deliveries) and `user.created` (1 delivery).
 */
async function tenantWithEndpoints(name: string, reply?: () => ReceiverReply) {
  const tenant = uniqueName(name);
  const receiver = await startReceiver(reply);
  const tenantId = parseTenantId(tenant);
  await stores.tenants.ensure(tenantId);
  const base = `http://127.0.0.1:${receiver.port}`;
  await stores.endpoints.create(tenantId, { url: `${base}/all`, eventTypes: ['*'] }, randomBytes(24).toString('hex'));
  await stores.endpoints.create(
    tenantId,
    { url: `${base}/orders`, eventTypes: ['order.*'] },
    randomBytes(24).toString('hex'),
  );
  /** `<path> <event id>` of every delivery the events published so far must produce. */
  const expected = new Set<string>();
  const eventIds: string[] = [];
  return {
    tenant,
    receiver,
    expected,
    eventIds,
    /** XADDs events `<first>`..`<first+count-1>` in one pipeline. */
    async publish(stream: string, first: number, count: number): Promise<void> {
      const pipeline = redis.pipeline();
      for (let i = first; i < first + count; i++) {
        const id = `e-${i}`;
        const type = i % 2 === 0 ? 'order.paid' : 'user.created';
        pipeline.xadd(stream, '*', 'tenant', tenant, 'type', type, 'id', id, 'data', JSON.stringify({ i }));
        eventIds.push(id);
        expected.add(`/all ${id}`);
        if (type === 'order.paid') expected.add(`/orders ${id}`);
      }
      const results = (await pipeline.exec()) ?? [];
      for (const [err] of results) assert.ifError(err);
    },
  };
}

/** `<path> <event id>` of what a receiver got, each request once (duplicates count in `total`). */
function received(receiver: Receiver): { distinct: Set<string>; total: number } {
  const distinct = new Set(receiver.requests.map((r) => `${r.url} ${String(r.headers['x-wss-event-id'])}`));
  return { distinct, total: receiver.requests.length };
}

async function waitDelivered(receiver: Receiver, expected: ReadonlySet<string>): Promise<void> {
  await waitFor(
    `${expected.size} distinct deliveries`,
    () => [...expected].every((key) => received(receiver).distinct.has(key)),
    DELIVERY_MS,
    250,
  ).catch((err: unknown) => {
    const missing = [...expected].filter((key) => !received(receiver).distinct.has(key));
    throw new Error(`${String(err)}; ${missing.length} missing, e.g. ${missing.slice(0, 5).join(', ')}`);
  });
}

/**
 * The delivery workflows of a tenant in Temporal's visibility, waited for until there are at least `count`: their
 * ids with how many runs each has.
 */
async function workflowRuns(tenant: string, count: number): Promise<Map<string, number>> {
  return waitFor(
    `${count} workflows of ${tenant} in visibility`,
    async () => {
      const runs = new Map<string, number>();
      for await (const wf of temporal.workflow.list({ query: `TenantId = '${tenant}'` })) {
        runs.set(wf.workflowId, (runs.get(wf.workflowId) ?? 0) + 1);
      }
      const total = [...runs.values()].reduce((a, b) => a + b, 0);
      return total >= count ? runs : undefined;
    },
    DELIVERY_MS,
    500,
  );
}

/** One workflow per event, each with exactly one run: no event was started twice. */
async function assertOneWorkflowPerEvent(tenant: string, eventIds: readonly string[]): Promise<void> {
  const runs = await workflowRuns(tenant, eventIds.length);
  assert.deepEqual(
    [...runs.keys()].sort(),
    eventIds.map((id) => workflowIdOf(tenant, id)).sort(),
    'one workflow per event id',
  );
  const repeated = [...runs].filter(([, n]) => n !== 1);
  assert.deepEqual(repeated, [], 'no workflow id has a second run');
}

/** XINFO GROUPS of one group, as a record (`lag` is null when Redis cannot tell). */
async function groupInfo(stream: string, group: string): Promise<Record<string, string | number | null>> {
  const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
  const found = groups.find((g) => g[g.indexOf('name') + 1] === group);
  assert.ok(found, `group ${group} on ${stream}`);
  const info: Record<string, string | number | null> = {};
  for (let i = 0; i < found.length; i += 2) info[String(found[i])] = found[i + 1] as string | number | null;
  return info;
}

/** Entry ids pending on one consumer of a group. */
async function pendingOn(stream: string, group: string, consumer: string): Promise<string[]> {
  const rows = (await redis.xpending(stream, group, '-', '+', 10_000, consumer)) as [string, ...unknown[]][];
  return rows.map((row) => row[0]);
}

before(async () => {
  const config = loadConfig({}, sharedEnv as Record<string, string>);
  stores = createStores(config, 'scaling-test');
  redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  connection = await Connection.connect({ address: temporalAddress });
  temporal = new Client({ connection });
  // Two replicas of the worker Deployment, started together as a rollout would.
  workers.push(
    ...(await Promise.all([start('worker', 'worker-1', sharedEnv), start('worker', 'worker-2', sharedEnv)])),
  );
});

after(async () => {
  await stopAllRoles();
  redis?.disconnect();
  await stores?.close();
  await connection?.close();
});

describe('scaling: several replicas of each role on one stream and task queue', () => {
  it('two consumers and two workers share a burst: every delivery once, every event started once', async (ctx) => {
    const events = 300;
    const { stream, group, consumerEnv } = streamOf('share');
    const t = await tenantWithEndpoints('share');
    const [a, b] = await Promise.all([
      start('consumer', 'consumer-a', consumerEnv('share-a')),
      start('consumer', 'consumer-b', consumerEnv('share-b')),
    ]);
    const attemptsBefore = await Promise.all(workers.map(attemptsOf));
    try {
      // In chunks, each after the group has read the one before, so both consumers are waiting when it lands.
      const chunk = 30;
      for (let first = 0; first < events; first += chunk) {
        await t.publish(stream, first, chunk);
        await waitFor('the group read the chunk', async () => (await groupInfo(stream, group)).lag === 0, 60_000);
      }
      await waitDelivered(t.receiver, t.expected);
      await waitFor('every entry acked', async () => (await groupInfo(stream, group)).pending === 0, 60_000);

      const got = received(t.receiver);
      assert.equal(t.expected.size, 450);
      assert.equal(got.total, t.expected.size, 'no delivery was made twice');

      const [entriesA, entriesB] = await Promise.all([entriesOf(a), entriesOf(b)]);
      assert.equal((entriesA.started ?? 0) + (entriesB.started ?? 0), events, JSON.stringify({ entriesA, entriesB }));
      assert.ok((entriesA.started ?? 0) > 0, `consumer a started some: ${JSON.stringify(entriesA)}`);
      assert.ok((entriesB.started ?? 0) > 0, `consumer b started some: ${JSON.stringify(entriesB)}`);
      for (const e of [entriesA, entriesB]) {
        assert.equal(e.duplicate, 0, JSON.stringify(e));
        assert.equal(e.dead_letter, 0, JSON.stringify(e));
      }
      await assertOneWorkflowPerEvent(t.tenant, t.eventIds);

      const attemptsAfter = await Promise.all(workers.map(attemptsOf));
      const ran = attemptsAfter.map((n, i) => n - (attemptsBefore[i] ?? 0));
      assert.equal(
        ran.reduce((x, y) => x + y, 0),
        t.expected.size,
        `attempts per worker ${JSON.stringify(ran)}`,
      );
      for (const [i, n] of ran.entries()) assert.ok(n > 0, `worker ${i + 1} ran attempts: ${JSON.stringify(ran)}`);
      ctx.diagnostic(`share: consumers started ${entriesA.started}/${entriesB.started}; workers ran ${ran}`);
    } finally {
      await Promise.all([stopRole(a.role), stopRole(b.role)]);
      await t.receiver.close();
    }
  });

  it('a consumer killed with entries pending: the other claims them, starts none twice, delivers each once', async (ctx) => {
    const events = 300;
    /** In-flight starts of the consumer that will be killed: its pending entries at the kill. */
    const window = 8;
    /** Idle time before the survivor claims: well above the time from the victim's read to its kill. */
    const claimIdleMs = 10_000;
    const { stream, group, consumerEnv } = streamOf('claim');
    const t = await tenantWithEndpoints('claim');
    const proxy: HoldingProxy = await startHoldingProxy(temporalAddress);
    const [victim, survivor] = await Promise.all([
      start(
        'consumer',
        'victim',
        consumerEnv('claim-victim', {
          TEMPORAL_ADDRESS: proxy.address,
          WSS_CONSUMER_CONCURRENCY: String(window),
          WSS_CONSUMER_BATCH: String(window),
        }),
      ),
      start('consumer', 'survivor', consumerEnv('claim-survivor', { WSS_CONSUMER_CLAIM_IDLE_MS: String(claimIdleMs) })),
    ]);
    try {
      // The victim's workflow starts reach Temporal, but it never hears back: as if it crashed after each start and
      // before its ack. Its window fills, it stops reading, and the survivor takes the rest of the burst.
      proxy.hold();
      await t.publish(stream, 0, events);
      const held = await waitFor(
        "the victim's window full of started, unacked entries",
        async () => {
          const ids = await pendingOn(stream, group, 'claim-victim');
          const info = await groupInfo(stream, group);
          if (ids.length < window && !(info.lag === 0 && ids.length > 0)) return undefined;
          const entries = await Promise.all(ids.map((id) => redis.xrange(stream, id, id)));
          for (const [entry] of entries) {
            const fields = entry?.[1] ?? [];
            const eventId = fields[fields.indexOf('id') + 1] ?? '';
            await temporal.workflow.getHandle(workflowIdOf(t.tenant, eventId)).describe();
          }
          return ids;
        },
        60_000,
        100,
      );
      await killRole(victim.role);
      const atKill = await pendingOn(stream, group, 'claim-victim');
      assert.ok(atKill.length > 0, 'the killed consumer left entries pending');
      assert.deepEqual(atKill, held, 'nobody claimed them before the kill');

      await waitDelivered(t.receiver, t.expected);
      await waitFor(
        "the victim's entries claimed and acked",
        async () => (await pendingOn(stream, group, 'claim-victim')).length === 0,
        DELIVERY_MS,
        250,
      );
      await waitFor('every entry acked', async () => (await groupInfo(stream, group)).pending === 0, 60_000);
      // A few more seconds: a duplicate start would deliver again.
      await sleep(2000);
      const got = received(t.receiver);
      assert.equal(got.total, t.expected.size, 'no delivery was made twice');

      const entries = await entriesOf(survivor);
      assert.equal(
        entries.duplicate,
        atKill.length,
        `claimed entries found already started: ${JSON.stringify(entries)}`,
      );
      const claimed = survivor.role.output
        .filter((l) => l.includes('claimed entries abandoned by another consumer'))
        .reduce((n, l) => n + (JSON.parse(l) as { count: number }).count, 0);
      assert.equal(claimed, atKill.length, "the survivor claimed exactly the killed consumer's entries");
      await assertOneWorkflowPerEvent(t.tenant, t.eventIds);
      ctx.diagnostic(`claim: ${atKill.length} pending at the kill, claimed by the survivor, none re-sent`);
    } finally {
      await stopRole(survivor.role);
      await proxy.close();
      await t.receiver.close();
    }
  });

  it('a worker added and another removed (SIGTERM) mid-burst: nothing lost, nothing sent twice', async (ctx) => {
    const chunk = 10;
    const maxChunks = 80;
    const { stream, group, consumerEnv } = streamOf('workers');
    // A little slow, so attempts are running when a worker is told to stop.
    const t = await tenantWithEndpoints('workers', () => ({ status: 200, delayMs: 150 }));
    const consumer = await start('consumer', 'consumer-w', consumerEnv('workers-c'));
    const [leaving, staying] = [workers[0], workers[1]];
    assert.ok(leaving && staying);
    const added = startRole('worker', 'worker-3', sharedEnv);
    let addedPort: number | undefined;
    let leavingExit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
    let leavingAttempts = 0;
    let chunks = 0;
    try {
      // The burst goes on until the new worker has run attempts and the removed one has exited, then a little more.
      let chunksAfterExit = 0;
      while (chunks < maxChunks && chunksAfterExit < 3) {
        await t.publish(stream, chunks * chunk, chunk);
        chunks++;
        if (addedPort === undefined) {
          const line = added.output.find((l) => l.includes('ops port listening'));
          if (line) addedPort = (JSON.parse(line) as { port: number }).port;
        } else if (leavingExit === undefined) {
          if ((await scrape(addedPort)).sum('wss_delivery_attempts_total') > 0) {
            leavingAttempts = await attemptsOf(leaving);
            leaving.role.process.kill('SIGTERM');
            leavingExit = leaving.role.exited;
          }
        } else if (!leaving.role.running()) {
          chunksAfterExit++;
        }
        if (!added.running()) assert.fail(`worker-3 exited:\n${added.tail()}`);
        await sleep(1000);
      }
      assert.ok(leavingExit, `worker-3 ran no attempt within ${maxChunks} chunks:\n${added.tail()}`);
      assert.ok(chunksAfterExit >= 3, 'the removed worker exited during the burst');
      assert.deepEqual(await leavingExit, { code: 0, signal: null }, `worker-1 drained:\n${leaving.role.tail()}`);
      assert.ok(leavingAttempts > 0, 'worker-1 had been working before it was removed');

      await waitDelivered(t.receiver, t.expected);
      await waitFor('every entry acked', async () => (await groupInfo(stream, group)).pending === 0, 60_000);
      await sleep(2000);
      assert.equal(received(t.receiver).total, t.expected.size, 'no delivery was made twice');
      await assertOneWorkflowPerEvent(t.tenant, t.eventIds);
      const addedAttempts = await scrape(addedPort ?? 0).then((p) => p.sum('wss_delivery_attempts_total'));
      assert.ok(addedAttempts > 0);
      ctx.diagnostic(`workers: ${chunks * chunk} events, ${t.expected.size} deliveries; worker-3 ran ${addedAttempts}`);
    } finally {
      await Promise.all([stopRole(consumer.role), stopRole(added)]);
      await t.receiver.close();
    }
  });

  it("wss_consumer_stream_lag equals the group's lag as XINFO GROUPS (KEDA's lag mode) and the test's own count", async (ctx) => {
    const events = 20;
    const ghostReads = 5;
    const { stream, group, consumerEnv } = streamOf('lag');
    const proxy = await startHoldingProxy(temporalAddress);
    // One start at a time, through a proxy that can hold Temporal's answers: with them held, the consumer holds
    // one entry and reads no further, and the backlog stands still while its gauge keeps sampling.
    const consumer = await start(
      'consumer',
      'consumer-lag',
      consumerEnv('lag-c', {
        TEMPORAL_ADDRESS: proxy.address,
        WSS_CONSUMER_CONCURRENCY: '1',
        WSS_CONSUMER_BATCH: '1',
        WSS_METRICS_SAMPLE_MS: '100',
        WSS_CONSUMER_CLAIM_IDLE_MS: '2000',
      }),
    );
    const gauges = async () => {
      const page = await scrape(consumer.opsPort);
      return { lag: page.value('wss_consumer_stream_lag'), pending: page.value('wss_consumer_pending') };
    };
    try {
      await waitFor('lag 0 on an empty stream', async () => (await gauges()).lag === 0, 30_000);
      proxy.hold();
      const quiet = uniqueName('lag'); // no endpoints: each entry ends as no_subscribers
      for (let i = 0; i < events; i++) {
        await redis.xadd(stream, '*', 'tenant', quiet, 'type', 'x.y', 'id', `l-${i}`, 'data', '{}');
      }
      // Another consumer of the group reads some and never acks: pending that is not lag.
      await redis.xreadgroup('GROUP', group, 'ghost', 'COUNT', ghostReads, 'STREAMS', stream, '>');
      const steady = await waitFor(
        'the consumer holding one entry, the backlog still',
        async () => {
          const first = await groupInfo(stream, group);
          await sleep(500);
          const second = await groupInfo(stream, group);
          return first.pending === ghostReads + 1 && JSON.stringify(first) === JSON.stringify(second)
            ? second
            : undefined;
        },
        60_000,
        100,
      );
      // The group lag counted by hand: entries after the last id delivered to the group.
      const unread = await redis.xrange(stream, `(${String(steady['last-delivered-id'])}`, '+');
      const xlen = await redis.xlen(stream);
      assert.equal(unread.length, events - ghostReads - 1);
      assert.equal(steady.lag, unread.length, 'XINFO GROUPS lag');
      assert.equal(xlen - Number(steady['entries-read']), unread.length, 'XLEN minus entries-read');
      const shown = await waitFor(
        'the gauge sampled the standing backlog',
        async () => {
          const g = await gauges();
          return g.pending === steady.pending ? g : undefined;
        },
        30_000,
        100,
      );
      assert.equal(shown.lag, unread.length, 'wss_consumer_stream_lag is the lag KEDA reads');
      assert.deepEqual(await groupInfo(stream, group), steady, 'the backlog stood still while the gauge was read');
      ctx.diagnostic(
        `lag: gauge ${String(shown.lag)} = XINFO GROUPS ${String(steady.lag)} = counted ${unread.length}; pending ${String(shown.pending)}`,
      );

      // Answers flow again: the consumer drains the backlog and claims the ghost's entries; everything reads 0.
      proxy.release();
      await waitFor(
        'lag and pending 0 on the gauge and in XINFO GROUPS',
        async () => {
          const [g, info] = [await gauges(), await groupInfo(stream, group)];
          return g.lag === 0 && g.pending === 0 && info.lag === 0 && info.pending === 0;
        },
        60_000,
        200,
      );
      assert.equal((await entriesOf(consumer)).no_subscribers, events);
    } finally {
      await stopRole(consumer.role);
      await proxy.close();
    }
  });
});
