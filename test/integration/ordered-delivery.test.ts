// Opt-in ordered delivery per key (issue 17, item 4) on the real Temporal dev server and Redis, with two worker
// processes (the real entry point) and the consumer and API in this process. The receiver is a loopback server that
// records, per ordering key, the order in which events arrive and how many requests of a key overlap.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { orderedLaneWorkflowId, orderingKeyHash } from '../../src/domain/ordering';
import { parseEndpointId, parseTenantId } from '../../src/domain/ids';
import { killRole, opsPortOf, startRole, stopAllRoles, waitReady } from '../support/role-process';
import type { RoleProcess } from '../support/role-process';
import { uniqueName, waitFor } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

/** Hang guards only; a healthy run needs a fraction of these on a busy 2-core machine. */
const START_MS = 240_000;
const DELIVERY_MS = 420_000;

/** What one request to the ordered receiver carried. */
interface Arrival {
  readonly key: string;
  readonly n: number;
  readonly eventId: string;
  readonly status: number;
}

/**
 * A receiver that answers after `delayMs`, fails a request when `fail` says so, and counts overlaps: how often a
 * request started while a request of another key was in flight (keys in parallel), and the most requests of one
 * key ever in flight at once (must stay 1).
 */
async function orderedReceiver(options: { delayMs: number; fail: (arrival: { key: string; n: number }) => boolean }) {
  const arrivals: Arrival[] = [];
  const inFlight = new Map<string, number>();
  let total = 0;
  let overlaps = 0;
  let maxPerKey = 0;
  let maxTotal = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        id: string;
        data: { n: number; key: string };
      };
      const { key, n } = body.data;
      if (total > (inFlight.get(key) ?? 0)) overlaps += 1;
      const mine = (inFlight.get(key) ?? 0) + 1;
      inFlight.set(key, mine);
      total += 1;
      maxPerKey = Math.max(maxPerKey, mine);
      maxTotal = Math.max(maxTotal, total);
      const status = options.fail({ key, n }) ? 500 : 200;
      setTimeout(() => {
        inFlight.set(key, (inFlight.get(key) ?? 1) - 1);
        total -= 1;
        arrivals.push({ key, n, eventId: body.id, status });
        res.writeHead(status);
        res.end();
      }, options.delayMs);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    arrivals,
    stats: () => ({ overlaps, maxPerKey, maxTotal }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('ordered delivery per key, with two worker processes', () => {
  let stack: TestStack;
  const workers: RoleProcess[] = [];
  const closers: (() => Promise<void>)[] = [];

  async function startWorker(name: string): Promise<RoleProcess> {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSS_')));
    const child = startRole('worker', name, {
      ...inherited,
      REDIS_URL: process.env.REDIS_URL,
      TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS,
      WSS_KEY_PREFIX: stack.config.WSS_KEY_PREFIX,
      WSS_STREAM: stack.config.WSS_STREAM,
      WSS_CONSUMER_GROUP: stack.config.WSS_CONSUMER_GROUP,
      WSS_TASK_QUEUE: stack.config.WSS_TASK_QUEUE,
      WSS_MASTER_KEY: masterKey,
      WSS_EGRESS_ALLOW_CIDRS: '127.0.0.0/8',
      WSS_OPS_PORT: '0',
      WSS_LOG_LEVEL: 'info',
    });
    const port = await opsPortOf(child, START_MS);
    await waitReady(child, port, START_MS);
    workers.push(child);
    return child;
  }

  const masterKey = randomBytes(32).toString('base64');

  before(async () => {
    // A short claim time: the consumer-crash test waits for a dead consumer's entry to be claimed.
    stack = await startStack({
      worker: false,
      env: { WSS_MASTER_KEY: masterKey, WSS_CONSUMER_CLAIM_IDLE_MS: '3000' },
    });
    await Promise.all([startWorker('worker-1'), startWorker('worker-2')]);
  });
  after(async () => {
    await stopAllRoles();
    for (const close of closers) await close();
    await stack?.stop();
  });

  async function orderedEndpoint(tenant: string, url: string, ordering: Record<string, unknown>) {
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
      url,
      eventTypes: ['*'],
      ordering,
      // Short, so that a failing head is retried within the test's time.
      retryPolicy: { initialIntervalMs: 100, maximumIntervalMs: 400, backoffCoefficient: 2, jitterPercent: 0 },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body.ordering, { onFailure: 'continue', ...ordering });
    return res.body as { id: string };
  }

  it(
    'delivers 1,000 events over 20 keys in stream order per key, keys in parallel, through a kill -9 of a worker',
    { timeout: DELIVERY_MS + START_MS },
    async (t) => {
      const tenant = uniqueName('t');
      const KEYS = 20;
      const EVENTS = 1000;
      // 20% of first attempts fail, at random; a retry always succeeds.
      const firstSeen = new Set<string>();
      const receiver = await orderedReceiver({
        delayMs: 25,
        fail: ({ key, n }) => {
          const id = `${key}/${n}`;
          if (firstSeen.has(id)) return false;
          firstSeen.add(id);
          return Math.random() < 0.2;
        },
      });
      closers.push(receiver.close);
      await orderedEndpoint(tenant, receiver.url, { key: '$.data.key' });

      // Stream order is the publish order: one pipeline, one connection. Keys are shuffled through the stream.
      const expected = new Map<string, number[]>();
      const pipeline = stack.redis.pipeline();
      for (let n = 0; n < EVENTS; n++) {
        const key = `order-${Math.floor(Math.random() * KEYS)}`;
        expected.set(key, [...(expected.get(key) ?? []), n]);
        pipeline.xadd(
          stack.config.WSS_STREAM,
          '*',
          'tenant',
          tenant,
          'type',
          'order.updated',
          'id',
          `e-${n}`,
          'data',
          JSON.stringify({ key, n }),
        );
      }
      for (const [err] of (await pipeline.exec()) ?? []) assert.ifError(err);
      const publishedAt = Date.now();

      // A kill -9 of one worker once a third is through: its running attempts and workflow tasks move to the other.
      await waitFor(
        'a third delivered',
        () => receiver.arrivals.filter((a) => a.status === 200).length >= 330,
        DELIVERY_MS,
      );
      await killRole(workers[0]!);

      const delivered = () => new Set(receiver.arrivals.filter((a) => a.status === 200).map((a) => a.eventId));
      await waitFor('every event delivered', () => delivered().size === EVENTS, DELIVERY_MS, 500);

      // Per key: every request (failed attempts and duplicates included) in stream order, never going back; the
      // successful deliveries, without repeats, exactly the key's events in stream order.
      for (const [key, ns] of expected) {
        const seen = receiver.arrivals.filter((a) => a.key === key);
        for (let i = 1; i < seen.length; i++) {
          assert.ok(
            seen[i]!.n >= seen[i - 1]!.n,
            `key ${key}: event ${seen[i]!.n} arrived after event ${seen[i - 1]!.n}`,
          );
        }
        const firstSuccesses: number[] = [];
        for (const a of seen) if (a.status === 200 && !firstSuccesses.includes(a.n)) firstSuccesses.push(a.n);
        assert.deepEqual(firstSuccesses, ns, `key ${key}: delivered order`);
      }
      const failedFirst = receiver.arrivals.filter((a) => a.status === 500).length;
      assert.ok(failedFirst >= 100, `about 200 first attempts failed (${failedFirst})`);

      const { overlaps, maxPerKey, maxTotal } = receiver.stats();
      t.diagnostic(
        `requests ${receiver.arrivals.length}, failed first attempts ${failedFirst}, overlapping another key ${overlaps}, most in flight ${maxTotal}, in ${((Date.now() - publishedAt) / 1000).toFixed(1)} s`,
      );
      assert.equal(maxPerKey, 1, 'one request per key in flight at a time');
      // A serial run would have no overlap at all; keys in parallel overlap on most requests.
      assert.ok(overlaps >= 200, `requests that overlapped another key's: ${overlaps}`);
      assert.ok(maxTotal >= 4, `most requests in flight at once: ${maxTotal}`);
    },
  );

  it('pauses a key whose head failed, holds it while other keys flow, and resumes it through the API', async () => {
    const tenant = uniqueName('t');
    const receiver = await orderedReceiver({ delayMs: 5, fail: ({ key, n }) => key === 'A' && n === 1 });
    closers.push(receiver.close);
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
      url: receiver.url,
      eventTypes: ['*'],
      ordering: { key: 'orderingKey', onFailure: 'pause' },
      retryPolicy: { maximumAttempts: 2, initialIntervalMs: 100 },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const endpointId = res.body.id as string;

    // The dry run shows the key an event would get, from the stream field.
    const dry = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${endpointId}/test`, {
      type: 'order.updated',
      data: { key: 'A', n: 0 },
      orderingKey: 'A',
    });
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assert.deepEqual(dry.body.ordering, { key: 'A', keyHash: orderingKeyHash('A') });

    const plan: [string, number][] = [
      ['A', 0],
      ['B', 0],
      ['A', 1],
      ['B', 1],
      ['A', 2],
      ['B', 2],
      ['A', 3],
    ];
    for (const [key, n] of plan) {
      const pub = await stack.api('POST', `/v1/tenants/${tenant}/events`, {
        type: 'order.updated',
        id: `${key}-${n}`,
        data: { key, n },
        orderingKey: key,
      });
      assert.equal(pub.status, 202, JSON.stringify(pub.body));
    }
    const ok = (key: string) => receiver.arrivals.filter((a) => a.key === key && a.status === 200).map((a) => a.n);
    await waitFor('key B through', () => ok('B').length === 3, 120_000);
    const paused = await waitFor(
      'key A paused',
      async () => {
        const list = await stack.api('GET', `/v1/tenants/${tenant}/endpoints/${endpointId}/ordering/paused`);
        return list.body?.items?.length === 1 ? list.body : undefined;
      },
      60_000,
      250,
    );
    assert.equal(paused.items[0].eventId, 'A-1');
    assert.deepEqual(ok('A'), [0]);
    // The failing head was dead-lettered like any failed delivery.
    const dead = await stack.api('GET', `/v1/tenants/${tenant}/dead-letters?endpointId=${endpointId}`);
    assert.deepEqual(
      dead.body.items.map((d: { eventId: string }) => d.eventId),
      ['A-1'],
    );

    const notPaused = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${endpointId}/ordering/resume`, {
      key: 'B',
    });
    assert.equal(notPaused.status, 409, JSON.stringify(notPaused.body));
    assert.equal(notPaused.body.error.code, 'ordering_key_not_paused');

    const resumed = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${endpointId}/ordering/resume`, {
      key: 'A',
    });
    assert.equal(resumed.status, 202, JSON.stringify(resumed.body));
    await waitFor('key A through', () => ok('A').length === 3, 60_000);
    assert.deepEqual(ok('A'), [0, 2, 3]);
  });

  it('deleting an endpoint ends its lanes, a paused one included (nothing could resume it)', async () => {
    const tenant = uniqueName('t');
    const receiver = await orderedReceiver({ delayMs: 5, fail: ({ key }) => key === 'P' });
    closers.push(receiver.close);
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
      url: receiver.url,
      eventTypes: ['*'],
      ordering: { key: 'orderingKey', onFailure: 'pause' },
      retryPolicy: { maximumAttempts: 1 },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const endpointId = res.body.id as string;
    for (const n of [0, 1]) {
      const pub = await stack.api('POST', `/v1/tenants/${tenant}/events`, {
        type: 'order.updated',
        id: `P-${n}`,
        data: { key: 'P', n },
        orderingKey: 'P',
      });
      assert.equal(pub.status, 202, JSON.stringify(pub.body));
    }
    await waitFor(
      'key P paused',
      async () => {
        const list = await stack.api('GET', `/v1/tenants/${tenant}/endpoints/${endpointId}/ordering/paused`);
        return list.body?.items?.length === 1 ? true : undefined;
      },
      60_000,
      250,
    );
    const lane = stack.temporal.workflow.getHandle(
      orderedLaneWorkflowId(parseTenantId(tenant), parseEndpointId(endpointId), orderingKeyHash('P')),
    );
    assert.equal((await lane.describe()).status.name, 'RUNNING');
    assert.equal((await stack.api('DELETE', `/v1/tenants/${tenant}/endpoints/${endpointId}`)).status, 204);
    await waitFor('the lane ended', async () => (await lane.describe()).status.name !== 'RUNNING', 30_000, 250);
  });

  it('holds a key while an earlier entry of the stream sits unhandled on a crashed consumer, then delivers in order', async () => {
    const tenant = uniqueName('t');
    const receiver = await orderedReceiver({ delayMs: 5, fail: () => false });
    closers.push(receiver.close);
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
      url: receiver.url,
      eventTypes: ['*'],
      ordering: { key: 'orderingKey' },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const add = (n: number) =>
      stack.xadd(
        'tenant',
        tenant,
        'type',
        'order.updated',
        'id',
        `K-${n}`,
        'orderingKey',
        'K',
        'data',
        JSON.stringify({ key: 'K', n }),
      );

    // Event 0 is read by a consumer that dies before handling it: pending on it, unhandled.
    await stack.stopConsumer();
    await add(0);
    const read = await stack.redis.xreadgroup(
      'GROUP',
      stack.config.WSS_CONSUMER_GROUP,
      'crashed-consumer',
      'COUNT',
      1,
      'STREAMS',
      stack.config.WSS_STREAM,
      '>',
    );
    assert.equal((read as unknown[] | null)?.length, 1, 'the crashed consumer read event 0');
    await add(1);
    await add(2);
    // The live consumer signals events 1 and 2 at once; their lane must wait for event 0.
    await stack.startConsumer();
    await waitFor('all three delivered', () => receiver.arrivals.length >= 3, 60_000).catch((err: Error) =>
      // Delivered out of order, event 0 would be dropped as a re-read behind the lane's dedupe point: say so.
      assert.fail(`${err.message}; arrived in this order: ${JSON.stringify(receiver.arrivals.map((a) => a.n))}`),
    );
    assert.deepEqual(
      receiver.arrivals.map((a) => a.n),
      [0, 1, 2],
    );
  });

  it('refuses an ordering key that is neither a path nor "orderingKey"', async () => {
    const tenant = uniqueName('t');
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
      url: 'http://127.0.0.1:9/hook',
      eventTypes: ['*'],
      ordering: { key: 'data.key' },
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'validation_failed');
    assert.match(JSON.stringify(res.body), /ordering/);
  });
});
