// Flow control per endpoint (issue 17, items 1-3) on the real Temporal dev server and Redis, with TWO worker
// processes (the real entry point, src/main/worker.ts) sharing one task queue, and the consumer and API in this
// process: an enforced rate limit shared across workers (and a raised limit taking effect while events wait), a cap
// on requests in flight, AIMD on 429s, and an endpoint-wide pause on Retry-After. A worker is SIGKILLed in the
// middle of the rate test.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { killRole, opsPortOf, scrape, startRole, stopAllRoles, waitReady } from '../support/role-process';
import type { RoleProcess } from '../support/role-process';
import { serviceAddresses, uniqueName, waitFor } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

const SECOND = 1_000;
/** Hang guards only: a healthy run needs a fraction of these on a busy 2-core machine. */
const START_MS = 240 * SECOND;
const DELIVERY_MS = 240 * SECOND;

const { redisUrl, temporalAddress } = serviceAddresses();
const prefix = uniqueName('fc').replace(/-/g, '_');
const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSS_')));
/** What the in-process stack and the worker processes share. */
const sharedEnv: Record<string, string> = {
  REDIS_URL: redisUrl,
  TEMPORAL_ADDRESS: temporalAddress,
  WSS_KEY_PREFIX: prefix,
  WSS_STREAM: `${prefix}:events`,
  WSS_CONSUMER_GROUP: `${prefix}-group`,
  WSS_TASK_QUEUE: `${prefix}-queue`,
  WSS_MASTER_KEY: randomBytes(32).toString('base64'),
  WSS_EGRESS_ALLOW_CIDRS: '127.0.0.0/8',
  WSS_RETRY_INITIAL_MS: '300',
  WSS_RETRY_BACKOFF: '1.5',
  WSS_RETRY_MAX_INTERVAL_MS: '2000',
  WSS_RETRY_MAX_ATTEMPTS: '5',
  WSS_RETRY_JITTER_PERCENT: '0',
  WSS_LOG_LEVEL: 'info',
};

interface Running {
  readonly role: RoleProcess;
  readonly opsPort: number;
}

async function startWorker(name: string): Promise<Running> {
  const role = startRole('worker', name, { ...inherited, ...sharedEnv, WSS_OPS_PORT: '0' });
  const opsPort = await opsPortOf(role, START_MS);
  await waitReady(role, opsPort, START_MS);
  return { role, opsPort };
}

/** One request as the receiver saw it: when it arrived, when it was answered, and the event it carried. */
interface Seen {
  readonly at: number;
  doneAt?: number;
  readonly eventId: string;
  readonly status: number;
}

interface Reply {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly delayMs?: number;
}

/** A loopback receiver that records arrival and answer times, and the most requests it ever had open at once. */
async function startTimedReceiver(
  reply: (now: number, seen: readonly Seen[], eventId: string) => Reply = () => ({ status: 200 }),
) {
  const seen: Seen[] = [];
  let open = 0;
  let maxOpen = 0;
  const server: Server = createServer((req, res) => {
    open += 1;
    maxOpen = Math.max(maxOpen, open);
    req.resume();
    req.on('end', () => {
      const now = Date.now();
      const eventId = String(req.headers['x-wss-event-id']);
      const answer = reply(now, seen, eventId);
      const entry: Seen = { at: now, eventId, status: answer.status };
      seen.push(entry);
      const send = () => {
        open -= 1;
        entry.doneAt = Date.now();
        res.writeHead(answer.status, answer.headers);
        res.end();
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  receivers.push(server);
  return {
    url: `http://127.0.0.1:${port}/hook`,
    seen,
    maxOpen: () => maxOpen,
    delivered: () => new Set(seen.filter((s) => s.status < 300).map((s) => s.eventId)),
  };
}

/** The most requests in any window of `windowMs` that starts at a request, over `times` (sorted). */
function busiestWindow(times: readonly number[], windowMs: number): number {
  let most = 0;
  let end = 0;
  for (let start = 0; start < times.length; start++) {
    while (end < times.length && (times[end] ?? 0) < (times[start] ?? 0) + windowMs) end++;
    most = Math.max(most, end - start);
  }
  return most;
}

let stack: TestStack;
const workers: Running[] = [];
const receivers: Server[] = [];

async function createEndpoint(tenant: string, body: Record<string, unknown>): Promise<string> {
  const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { eventTypes: ['*'], ...body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.id as string;
}

async function publish(tenant: string, count: number, first = 0): Promise<string[]> {
  const ids: string[] = [];
  const pipeline = stack.redis.pipeline();
  for (let i = first; i < first + count; i++) {
    const id = `e-${i}`;
    ids.push(id);
    pipeline.xadd(stack.config.WSS_STREAM, '*', 'tenant', tenant, 'type', 'order.paid', 'id', id, 'data', `{"i":${i}}`);
  }
  const results = (await pipeline.exec()) ?? [];
  for (const [err] of results) assert.ifError(err);
  return ids;
}

async function waitAllDelivered(receiver: { delivered(): Set<string> }, ids: readonly string[]): Promise<void> {
  await waitFor(
    `${ids.length} deliveries`,
    () => ids.every((id) => receiver.delivered().has(id)),
    DELIVERY_MS,
    250,
  ).catch((err: unknown) => {
    const missing = ids.filter((id) => !receiver.delivered().has(id));
    throw new Error(`${String(err)}; ${missing.length} missing, e.g. ${missing.slice(0, 5).join(', ')}`);
  });
}

/** Throttles counted by the running workers, every endpoint together. */
async function throttledTotal(): Promise<number> {
  const counts = await Promise.all(
    workers.map(async (w) => (await scrape(w.opsPort)).sum('wss_endpoint_throttled_total')),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** A generous retry policy: the tests count 429s, not dead letters. */
const patientRetries = { initialIntervalMs: 500, maximumIntervalMs: 2000, maximumAttempts: 100 };

before(async () => {
  stack = await startStack({ worker: false, env: sharedEnv });
  workers.push(...(await Promise.all([startWorker('worker-1'), startWorker('worker-2')])));
});

after(async () => {
  await stopAllRoles();
  await Promise.all(receivers.map((s) => new Promise((resolve) => s.close(resolve))));
  await stack?.stop();
});

describe('flow control per endpoint, with two workers', () => {
  it('holds an endpoint to 5/s across both workers, through a kill -9, and speeds up within 5 s when raised to 50/s', async (t) => {
    const tenant = uniqueName('rate');
    const receiver = await startTimedReceiver();
    const endpointId = await createEndpoint(tenant, { url: receiver.url, rateLimit: 5 });
    const ids = await publish(tenant, 200);

    // A worker dies mid-run (no drain): its attempts come back on the other workers, still through the shared limit.
    await waitFor('40 deliveries', () => receiver.seen.length >= 40, DELIVERY_MS, 100);
    const victim = workers.shift();
    assert.ok(victim);
    await killRole(victim.role);
    // Its replacement starts meanwhile (slowly, on a busy machine); the survivor carries on alone until then.
    const replacement = startWorker('worker-3');

    await waitFor('70 deliveries', () => receiver.seen.length >= 70, DELIVERY_MS, 100);
    const raised = await stack.api('PATCH', `/v1/tenants/${tenant}/endpoints/${endpointId}`, { rateLimit: 50 });
    assert.equal(raised.status, 200, JSON.stringify(raised.body));
    assert.equal(raised.body.rateLimit, 50);
    const raisedAt = Date.now();

    await waitAllDelivered(receiver, ids);
    workers.push(await replacement);
    const before = receiver.seen.filter((s) => s.at < raisedAt).map((s) => s.at);
    const busiest = busiestWindow(before, 5 * SECOND);
    assert.ok(busiest <= 27, `at most 5.5/s in every 5-second window at 5/s, got ${busiest} in one window`);
    assert.ok(before.length >= 70, `${before.length} requests before the raise`);

    // Within 5 s of the raise the endpoint runs above the old limit: some 5-second window that starts by then carries
    // more than 5.5/s would allow (unless too few events were left to show it).
    const after = receiver.seen.filter((s) => s.at >= raisedAt).map((s) => s.at);
    const starts = after.filter((at) => at <= raisedAt + 5 * SECOND);
    const fastest = Math.max(
      0,
      ...starts.map((start) => after.filter((at) => at >= start && at < start + 5 * SECOND).length),
    );
    assert.ok(after.length >= 50, `${after.length} requests after the raise: too few to show it`);
    assert.ok(
      fastest > 27,
      `after the raise: at most ${fastest} requests in a 5 s window starting within 5 s (${after.length} in all)`,
    );
    t.diagnostic(
      `busiest 5 s window at 5/s: ${busiest}; after the raise: ${after.length} requests, ${fastest} in the busiest ` +
        `5 s window starting within 5 s, the last ${Math.max(...after) - raisedAt} ms after the raise; ` +
        `${receiver.seen.length} requests for ${ids.length} events`,
    );
    const view = await stack.api('GET', `/v1/tenants/${tenant}/endpoints/${endpointId}`);
    assert.equal(view.status, 200);
    assert.equal(view.body.flowControlState?.effectiveRate, 50, JSON.stringify(view.body));
  });

  it('a throttle wait is no attempt: with two attempts allowed, 20 events at 2/s, each failing once, all delivered on attempt 2', async (t) => {
    const tenant = uniqueName('count');
    // The first request of every event fails, so each needs both of its attempts, and most wait for the rate before
    // each: were a throttle counted as an attempt, they would run out and be dead-lettered.
    const receiver = await startTimedReceiver((_now, seen, eventId) =>
      seen.some((s) => s.eventId === eventId) ? { status: 200 } : { status: 500 },
    );
    await createEndpoint(tenant, {
      url: receiver.url,
      rateLimit: 2,
      retryPolicy: { initialIntervalMs: 100, maximumIntervalMs: 100, maximumAttempts: 2 },
    });
    const throttledAtStart = await throttledTotal();
    const ids = await publish(tenant, 20);
    await waitAllDelivered(receiver, ids);
    assert.equal(receiver.seen.length, 40, 'two requests per event');
    for (const id of ids.slice(0, 5)) {
      const view = await stack.api('GET', `/v1/tenants/${tenant}/deliveries/${id}`);
      const attempts = view.body.endpoints[0].attempts as { attempt: number; outcome: string }[];
      assert.deepEqual(
        attempts.map((a) => [a.attempt, a.outcome]),
        [
          [1, 'retry'],
          [2, 'delivered'],
        ],
        `${id}: ${JSON.stringify(view.body)}`,
      );
    }
    const dead = await stack.api('GET', `/v1/tenants/${tenant}/dead-letters`);
    assert.deepEqual(dead.body.items, []);
    const throttled = (await throttledTotal()) - throttledAtStart;
    // 40 requests at 2/s while 20 events wait: most attempts are held back at least once.
    assert.ok(throttled >= 10, `the rate held attempts back ${throttled} times`);
    t.diagnostic(`throttled ${throttled} times for 40 requests`);
  });

  it('refuses flow control settings it cannot enforce with 400 naming the field, and a PATCH with null removes a limit', async () => {
    const tenant = uniqueName('fields');
    const base = { url: 'http://127.0.0.1:9/hook', eventTypes: ['*'] };
    for (const [body, field] of [
      [{ rateLimit: 0 }, 'rateLimit'],
      [{ rateLimit: -1 }, 'rateLimit'],
      [{ rateLimit: 100_001 }, 'rateLimit'],
      [{ rateLimit: 5, rateLimitBurst: 0 }, 'rateLimitBurst'],
      [{ rateLimit: 5, rateLimitBurst: 1.5 }, 'rateLimitBurst'],
      [{ maxInFlight: 0 }, 'maxInFlight'],
      [{ maxInFlight: 2.5 }, 'maxInFlight'],
      [{ maxInFlight: '2' }, 'maxInFlight'],
      [{ adaptiveBackoff: 'no' }, 'adaptiveBackoff'],
    ] as const) {
      const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { ...base, ...body });
      assert.equal(res.status, 400, JSON.stringify({ body, res: res.body }));
      assert.equal(res.body.error.code, 'validation_failed');
      assert.equal(res.body.error.field, field, JSON.stringify(res.body));
    }
    const id = await createEndpoint(tenant, { ...base, rateLimit: 3, rateLimitBurst: 2, maxInFlight: 4 });
    const read = await stack.api('GET', `/v1/tenants/${tenant}/endpoints/${id}`);
    assert.deepEqual(
      [read.body.rateLimit, read.body.rateLimitBurst, read.body.maxInFlight, read.body.flowControlState],
      [3, 2, 4, { effectiveRate: 3, inFlight: 0 }],
    );
    const cleared = await stack.api('PATCH', `/v1/tenants/${tenant}/endpoints/${id}`, {
      rateLimit: null,
      maxInFlight: null,
      adaptiveBackoff: false,
    });
    assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
    assert.deepEqual(
      [cleared.body.rateLimit, cleared.body.maxInFlight, cleared.body.adaptiveBackoff, cleared.body.flowControlState],
      [undefined, undefined, false, undefined],
    );
  });

  it('never has more than maxInFlight requests open at a slow receiver', async (t) => {
    const tenant = uniqueName('inflight');
    const receiver = await startTimedReceiver(() => ({ status: 200, delayMs: 500 }));
    await createEndpoint(tenant, { url: receiver.url, maxInFlight: 2 });
    const ids = await publish(tenant, 24);
    await waitAllDelivered(receiver, ids);
    assert.ok(receiver.maxOpen() <= 2, `at most 2 open requests, saw ${receiver.maxOpen()}`);
    assert.equal(receiver.maxOpen(), 2, 'both slots were used');
    t.diagnostic(`most open at once: ${receiver.maxOpen()}; ${receiver.seen.length} requests for ${ids.length} events`);
  });

  it('adapts to a receiver that answers 429 above 10 requests/s: at most 20% 429s after 30 s, all delivered', async (t) => {
    const tenant = uniqueName('aimd');
    const receiver = await startTimedReceiver((now, seen) => {
      let recent = 1;
      for (let i = seen.length - 1; i >= 0 && (seen[i]?.at ?? 0) > now - SECOND; i--) recent++;
      return { status: recent > 10 ? 429 : 200 };
    });
    const endpointId = await createEndpoint(tenant, {
      url: receiver.url,
      rateLimit: 50,
      retryPolicy: patientRetries,
    });
    const ids = await publish(tenant, 400);
    await waitAllDelivered(receiver, ids);

    const first = receiver.seen[0]?.at ?? 0;
    const adapted = receiver.seen.filter((s) => s.at >= first + 30 * SECOND);
    const throttled = adapted.filter((s) => s.status === 429).length;
    assert.ok(adapted.length >= 50, `${adapted.length} requests after 30 s: too few to measure`);
    assert.ok(
      throttled <= 0.2 * adapted.length,
      `${throttled} of ${adapted.length} requests after 30 s were answered 429`,
    );
    const all429 = receiver.seen.filter((s) => s.status === 429).length;
    const spanS = ((receiver.seen.at(-1)?.at ?? first) - first) / 1000;
    t.diagnostic(
      `after 30 s: ${throttled} of ${adapted.length} answered 429; overall ${all429} of ${receiver.seen.length}; ` +
        `${ids.length} events in ${spanS.toFixed(1)} s`,
    );
    assert.ok(all429 > 0, 'the receiver did push back');

    const view = await stack.api('GET', `/v1/tenants/${tenant}/endpoints/${endpointId}`);
    const rate = view.body.flowControlState?.effectiveRate as number | undefined;
    assert.ok(rate !== undefined && rate < 50, `effective rate below the limit: ${JSON.stringify(view.body)}`);
    const gauges = await Promise.all(
      workers.map(async (w) =>
        (await scrape(w.opsPort)).sum('wss_endpoint_effective_rate', { tenant, endpoint: endpointId }),
      ),
    );
    assert.ok(
      gauges.some((g) => g > 0 && g < 50),
      `a worker exports the adapted rate: ${JSON.stringify(gauges)}`,
    );
  });

  it('one Retry-After: 5 holds every delivery to the endpoint for 5 s', async (t) => {
    const tenant = uniqueName('pause');
    const receiver = await startTimedReceiver((_now, seen) =>
      seen.length === 5 ? { status: 429, headers: { 'retry-after': '5' } } : { status: 200 },
    );
    // The pause is clamped to the policy's maximum interval: 10 s here, so the receiver's 5 s hold whole.
    const endpointId = await createEndpoint(tenant, {
      url: receiver.url,
      rateLimit: 10,
      retryPolicy: { ...patientRetries, maximumIntervalMs: 10_000 },
    });
    const ids = await publish(tenant, 30);
    await waitFor('the 429', () => receiver.seen.length > 5, DELIVERY_MS, 20);
    const pausedAt = receiver.seen[5]?.at ?? 0;
    await sleep(1000);
    const view = await stack.api('GET', `/v1/tenants/${tenant}/endpoints/${endpointId}`);
    const until = view.body.flowControlState?.pausedUntil as string | undefined;
    assert.ok(until !== undefined && Date.parse(until) > Date.now(), `paused: ${JSON.stringify(view.body)}`);

    await waitAllDelivered(receiver, ids);
    const during = receiver.seen.filter((s) => s.at > pausedAt && s.at < pausedAt + 4900);
    assert.deepEqual(
      during.map((s) => s.at - pausedAt),
      [],
      'no request reached the endpoint during the pause (ms after the 429)',
    );
    assert.equal(receiver.seen.filter((s) => s.status === 429).length, 1);
    const resumed = receiver.seen.find((s) => s.at > pausedAt);
    t.diagnostic(`first request after the 429: ${(resumed?.at ?? 0) - pausedAt} ms later`);
  });
});
