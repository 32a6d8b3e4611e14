import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities/deliver-webhook';
import type { DeliveryAttemptResult, DeliveryDependencies } from '../../src/activities/deliver-webhook';
import { RequestBuilder } from '../../src/delivery/signed-request';
import type { Endpoint } from '../../src/domain/endpoint';
import type { EventRef } from '../../src/domain/event';
import { parseEndpointId, parseEventId, parseTenantId } from '../../src/domain/ids';
import { DEFAULT_RETRY_POLICY } from '../../src/domain/retry-policy';
import type { ResolvedRetryPolicy } from '../../src/domain/retry-policy';
import { DestinationPolicy } from '../../src/infra/egress/destination-policy';
import { createHttpClient } from '../../src/infra/http-client';
import type { HttpClient } from '../../src/infra/http-client';
import { createLogger } from '../../src/infra/logger';
import type { AttemptLogEntry, DeadLetter } from '../../src/domain/delivery-log';
import { MAX_RESPONSE_BODY_EXCERPT_LENGTH } from '../../src/domain/delivery-log';
import type { ReceiverReply } from '../support/receiver';
import { receiverPool } from '../support/receiver';

/**
 * The delivery activity with in-memory ports, real loopback receivers and the real HTTP client, run in Temporal's
 * MockActivityEnvironment. Each port can be made to fail, to check that no late or unexpected error changes an
 * outcome or goes unrecorded.
 */

const receivers = receiverPool();
const clients: HttpClient[] = [];
const rawServers: net.Server[] = [];
after(async () => {
  await receivers.closeAll();
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(rawServers.map((s) => new Promise((resolve) => s.close(resolve))));
});

const POLICY: ResolvedRetryPolicy = {
  ...DEFAULT_RETRY_POLICY,
  scheduleMs: [1000, 2000, 3000],
  maximumAttempts: 4,
  jitterPercent: 0,
};
const SECRET = 'whsec_' + Buffer.alloc(32, 7).toString('base64');
const EVENT: EventRef = {
  tenantId: parseTenantId('acme'),
  eventId: parseEventId('evt_1'),
  eventType: 'unsub.order',
  occurredAt: '2026-01-01T00:00:00.000Z',
};
const ENDPOINT_ID = parseEndpointId('ep_1');

interface Harness {
  readonly deps: DeliveryDependencies;
  readonly attempts: AttemptLogEntry[];
  readonly deadLetters: DeadLetter[];
  readonly removedDeadLetters: string[];
  readonly failureStreaks: string[];
  readonly logs: string[];
  endpoint: Endpoint;
  payloads: Map<string, string>;
  /** Set to make the named port throw. */
  fail: Partial<
    Record<
      'recordAttempt' | 'addDeadLetter' | 'removeDeadLetter' | 'health' | 'onAttempt' | 'getForDelivery' | 'payloads',
      Error
    >
  >;
}

function harness(url: string, overrides: Partial<Endpoint> = {}, build?: DeliveryDependencies['requests']): Harness {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const http = createHttpClient({
    connectTimeoutMs: 2000,
    headersTimeoutMs: 2000,
    totalTimeoutMs: 1500,
    bodyReadTimeoutMs: 300,
    maxResponseBytes: 64 * 1024,
    policy: new DestinationPolicy({ allowCidrs: ['127.0.0.0/8'], httpsOnly: false }),
  });
  clients.push(http);
  const h: Harness = {
    attempts: [],
    deadLetters: [],
    removedDeadLetters: [],
    failureStreaks: [],
    logs,
    fail: {},
    payloads: new Map([[`${EVENT.tenantId}/${EVENT.eventId}`, '{"total":250,"region":"eu"}']]),
    endpoint: {
      id: ENDPOINT_ID,
      tenantId: EVENT.tenantId,
      url,
      eventTypes: ['unsub.*'],
      enabled: true,
      signatureScheme: 'standard-webhooks',
      sendTraceparent: false,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
      ...overrides,
    },
    deps: undefined as unknown as DeliveryDependencies,
  };
  const check = (port: keyof Harness['fail']): void => {
    const err = h.fail[port];
    if (err) throw err;
  };
  const payloads = {
    async get(tenantId: string, eventId: string) {
      check('payloads');
      return h.payloads.get(`${tenantId}/${eventId}`);
    },
  };
  (h as { deps: DeliveryDependencies }).deps = {
    endpoints: {
      async getForDelivery(tenantId, endpointId) {
        check('getForDelivery');
        const endpoint = h.endpoint;
        if (endpoint.tenantId !== tenantId || endpoint.id !== endpointId) return undefined;
        return { endpoint, signingSecrets: () => [SECRET] };
      },
      async setEnabled() {
        return undefined;
      },
    },
    payloads,
    requests: build ?? new RequestBuilder({ payloads }),
    http,
    deliveryLog: {
      async recordAttempt(_tenantId, _eventId, entry) {
        check('recordAttempt');
        h.attempts.push(entry);
      },
      async recordFailedDelivery(letter, { countsAgainstEndpoint, nowMs }) {
        check('addDeadLetter');
        h.deadLetters.push(letter);
        if (!countsAgainstEndpoint) return { recorded: true, streak: { count: 0, sinceMs: nowMs } };
        check('health');
        h.failureStreaks.push(letter.endpointId);
        return { recorded: true, streak: { count: 1, sinceMs: nowMs } };
      },
      async removeDeadLetter(_t, eventId, endpointId) {
        check('removeDeadLetter');
        h.removedDeadLetters.push(`${eventId}/${endpointId}`);
      },
      async resetEndpointFailures() {
        return undefined;
      },
    },
    operationalEvents: { publish: async () => undefined },
    health: { disableAfterFailures: 0, disableAfterMs: 0 },
    log: createLogger('info', {}, sink),
    random: () => 0.5,
    onAttempt: () => check('onAttempt'),
  };
  return h;
}

function run(h: Harness, attempt = 1, redelivery = false): Promise<DeliveryAttemptResult> {
  const env = new MockActivityEnvironment({ attempt, scheduledTimestampMs: Date.now() });
  const { deliverWebhook } = createActivities(h.deps);
  return env.run(deliverWebhook, {
    event: EVENT,
    endpointId: ENDPOINT_ID,
    retryPolicy: POLICY,
    ...(redelivery ? { redelivery: true } : {}),
  });
}

/** What an activity threw, as Temporal would see it. */
async function failureOf(work: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await work;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    return err;
  }
  assert.fail('the attempt did not fail');
}

function receiver(reply: (index: number) => ReceiverReply = () => ({ status: 200 })) {
  return receivers.start((_req, i) => reply(i));
}

/** Sends the status line and headers at once, then the body one byte every `everyMs`. */
async function slowBodyReceiver(
  head: string,
  bodyBytes: number,
  everyMs: number,
): Promise<{ url: string; requests: number }> {
  const state = { requests: 0 };
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => {
      state.requests += 1;
      socket.write(head);
      let sent = 0;
      const timer = setInterval(() => {
        if (sent >= bodyBytes || socket.destroyed) return clearInterval(timer);
        socket.write('.');
        sent += 1;
      }, everyMs);
      socket.on('close', () => clearInterval(timer));
    });
  });
  rawServers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, { url: `http://127.0.0.1:${port}/hook` });
}

const redisDown = (): Error =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED', errno: -111 });

describe('deliverWebhook: an answer that arrived decides the outcome', () => {
  it('records a 200 whose body trickles in as delivered on the first attempt', async () => {
    const hook = await slowBodyReceiver('HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n', 15, 2000);
    const h = harness(hook.url);

    const result = await run(h);

    assert.equal(result.outcome, 'delivered');
    assert.equal(result.statusCode, 200);
    assert.deepEqual(
      h.attempts.map((a) => [a.outcome, a.statusCode]),
      [['delivered', 200]],
    );
    assert.equal(hook.requests, 1);
  });

  it('retries a 503 whose body trickles in after its Retry-After, as an http_503', async () => {
    const hook = await slowBodyReceiver(
      'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 50\r\n\r\n',
      50,
      200,
    );
    const h = harness(hook.url);

    const failure = await failureOf(run(h));

    assert.equal(failure.nonRetryable, false);
    assert.equal(failure.nextRetryDelay, 7000);
    assert.deepEqual(
      h.attempts.map((a) => [a.outcome, a.statusCode, a.error]),
      [['retry', 503, 'http_503']],
    );
  });

  it('returns delivered when recording the attempt fails after a 2xx, so Temporal does not send it again', async () => {
    const hook = await receiver();
    const h = harness(hook.url);
    h.fail.recordAttempt = redisDown();

    const result = await run(h);

    assert.equal(result.outcome, 'delivered');
    assert.equal(hook.requests.length, 1);
    assert.ok(
      h.logs.some((l) => l.includes('could not record') && l.includes('"outcome":"delivered"')),
      h.logs.join('\n'),
    );
  });

  it('returns delivered when the metrics hook throws after a 2xx', async () => {
    const hook = await receiver();
    const h = harness(hook.url);
    h.fail.onAttempt = new TypeError('counter is not a function');

    const result = await run(h);

    assert.equal(result.outcome, 'delivered');
    assert.deepEqual(
      h.attempts.map((a) => a.outcome),
      ['delivered'],
    );
  });

  it('returns delivered when clearing the dead letter of a redelivery fails', async () => {
    const hook = await receiver();
    const h = harness(hook.url);
    h.fail.removeDeadLetter = redisDown();

    const result = await run(h, 1, true);

    assert.equal(result.outcome, 'delivered');
    assert.equal(hook.requests.length, 1);
  });

  it('ends a 410 for good even when its dead letter and health bookkeeping fail', async () => {
    const hook = await receiver(() => ({ status: 410 }));
    const h = harness(hook.url);
    h.fail.addDeadLetter = redisDown();
    h.fail.recordAttempt = redisDown();

    const failure = await failureOf(run(h));

    assert.equal(failure.type, 'endpoint_gone');
    assert.equal(failure.nonRetryable, true);
    assert.ok(
      h.logs.some((l) => l.includes('could not record')),
      h.logs.join('\n'),
    );
  });

  it('still schedules the retry of a 503 after its Retry-After when recording the attempt fails', async () => {
    const hook = await receiver(() => ({ status: 503, headers: { 'retry-after': '7' } }));
    const h = harness(hook.url);
    h.fail.recordAttempt = redisDown();

    const failure = await failureOf(run(h));

    assert.equal(failure.type, 'delivery_attempt_failed');
    assert.equal(failure.nonRetryable, false);
    assert.equal(failure.nextRetryDelay, 7000);
  });
});

describe('deliverWebhook: the subscription is checked again before every attempt', () => {
  it('skips as unsubscribed when the endpoint no longer subscribes to the type, and records it', async () => {
    const hook = await receiver();
    const h = harness(hook.url, { eventTypes: ['other.only'] });

    const result = await run(h, 2);

    assert.deepEqual(result, { outcome: 'skipped', attempt: 2, durationMs: result.durationMs, reason: 'unsubscribed' });
    assert.equal(hook.requests.length, 0);
    assert.deepEqual(
      h.attempts.map((a) => [a.outcome, a.error]),
      [['skipped', 'unsubscribed']],
    );
    assert.ok(h.logs.some((l) => l.includes('delivery skipped') && l.includes('unsubscribed')));
  });

  it('skips as unsubscribed when the endpoint filter no longer matches the event data', async () => {
    const hook = await receiver();
    const h = harness(hook.url, { filter: { 'data.total': { $gt: 1000 } } });

    const result = await run(h, 2);

    assert.equal(result.outcome, 'skipped');
    assert.equal(result.reason, 'unsubscribed');
    assert.equal(hook.requests.length, 0);
  });

  it('skips as unsubscribed when the filter now tests the envelope type or tenant', async () => {
    const hook = await receiver();
    const h = harness(hook.url, { filter: { $or: [{ type: 'unsub.refund' }, { tenant: 'other' }] } });

    const result = await run(h, 2);

    assert.equal(result.reason, 'unsubscribed');
    assert.equal(hook.requests.length, 0);
  });

  it('skips as unsubscribed when the stored filter no longer compiles', async () => {
    const hook = await receiver();
    const h = harness(hook.url, { filter: { 'data.total': { $where: 'sleep(1)' } } });

    const result = await run(h, 2);

    assert.equal(result.reason, 'unsubscribed');
    assert.equal(hook.requests.length, 0);
  });

  it('keeps delivering after a change that still matches: other types added, a filter the event passes', async () => {
    const hook = await receiver();
    const h = harness(hook.url, {
      eventTypes: ['other.only', 'unsub.order'],
      filter: { 'data.total': { $gte: 250 }, 'data.region': { $in: ['eu', 'us'] }, type: 'unsub.order' },
    });

    const result = await run(h, 2);

    assert.equal(result.outcome, 'delivered');
    assert.equal(hook.requests.length, 1);
  });

  it('uses the filter of the endpoint version it sees, not one compiled for an older version', async () => {
    const hook = await receiver();
    const h = harness(hook.url, { filter: { 'data.region': 'eu' } });
    const { deliverWebhook } = createActivities(h.deps);
    const attempt = (n: number): Promise<DeliveryAttemptResult> =>
      new MockActivityEnvironment({ attempt: n, scheduledTimestampMs: Date.now() }).run(deliverWebhook, {
        event: EVENT,
        endpointId: ENDPOINT_ID,
        retryPolicy: POLICY,
      });

    assert.equal((await attempt(1)).outcome, 'delivered');
    h.endpoint = { ...h.endpoint, filter: { 'data.region': 'us' }, updatedAt: '2026-01-02T00:00:00.000Z' };
    assert.equal((await attempt(2)).reason, 'unsubscribed');
    assert.equal(hook.requests.length, 1);
  });
});

describe('deliverWebhook: an unexpected error is recorded, and a deterministic one is final', () => {
  const throwingBuilder = (err: Error): DeliveryDependencies['requests'] => ({
    build: async () => {
      throw err;
    },
  });

  for (const err of [
    new RangeError('Maximum call stack size exceeded'),
    new TypeError("Cannot read properties of undefined (reading 'x')"),
    new SyntaxError('Unexpected token \'c\', "card=41111"... is not valid JSON'),
  ]) {
    it(`fails finally as unprocessable_event when building the request throws a ${err.name}`, async () => {
      const hook = await receiver();
      const h = harness(hook.url, {}, throwingBuilder(err));

      const failure = await failureOf(run(h));

      assert.equal(failure.type, 'unprocessable_event');
      assert.equal(failure.nonRetryable, true);
      assert.deepEqual(
        h.attempts.map((a) => [a.outcome, a.error]),
        [['failed', 'unprocessable_event']],
      );
      assert.equal(h.deadLetters.length, 1);
      assert.match(h.deadLetters[0]!.lastError, new RegExp(err.name));
      assert.equal(h.failureStreaks.length, 0, 'the receiver did nothing wrong: no failure counted against it');
      assert.equal(hook.requests.length, 0);
      assert.ok(h.logs.some((l) => l.includes('delivery failed') && l.includes('unprocessable_event')));
      // Error messages may quote the payload: none of it reaches reasons, dead letters, history or logs.
      const everything = [failure.message, JSON.stringify(h.deadLetters), JSON.stringify(h.attempts), ...h.logs];
      assert.ok(!everything.some((text) => text.includes('card=4111')), everything.join('\n'));
    });
  }

  it('records a stored payload of 100,000 nested arrays as an attempt instead of failing silently', async () => {
    const hook = await receiver();
    const h = harness(hook.url);
    h.payloads.set(`${EVENT.tenantId}/${EVENT.eventId}`, '['.repeat(100_000) + ']'.repeat(100_000));

    let outcome: string;
    try {
      outcome = (await run(h)).outcome;
    } catch (err) {
      assert.ok(err instanceof ApplicationFailure, `unrecorded ${String(err)}`);
      assert.equal(err.nonRetryable, true);
      outcome = err.type ?? '';
    }

    assert.equal(h.attempts.length, 1, `outcome ${outcome}`);
    assert.ok(['delivered', 'unprocessable_event'].includes(outcome), outcome);
  });

  it('fails finally as internal_error when signing throws (a secret unusable for the scheme)', async () => {
    const hook = await receiver();
    const h = harness(hook.url);
    const getForDelivery = h.deps.endpoints.getForDelivery.bind(h.deps.endpoints);
    (h.deps.endpoints as { getForDelivery: typeof getForDelivery }).getForDelivery = async (t, e) => {
      const loaded = await getForDelivery(t, e);
      return loaded && { endpoint: loaded.endpoint, signingSecrets: () => ['not-a-whsec-secret'] };
    };

    const failure = await failureOf(run(h));

    assert.equal(failure.type, 'internal_error');
    assert.equal(failure.nonRetryable, true);
    assert.deepEqual(
      h.attempts.map((a) => [a.outcome, a.error]),
      [['failed', 'internal_error']],
    );
    assert.equal(hook.requests.length, 0);
  });

  it('retries on the schedule, and records, when building the request hits Redis being unreachable', async () => {
    const hook = await receiver();
    const h = harness(hook.url, {}, throwingBuilder(redisDown()));

    const failure = await failureOf(run(h, 2));

    assert.equal(failure.nonRetryable, false);
    assert.equal(failure.nextRetryDelay, 2000);
    assert.deepEqual(
      h.attempts.map((a) => [a.outcome, a.attempt, a.error]),
      [['retry', 2, 'transient_error']],
    );
    assert.ok(
      h.logs.some((l) => l.includes('ECONNREFUSED')),
      'the log names the cause',
    );
  });

  it('retries when loading the endpoint fails, recording the attempt when recording works', async () => {
    const hook = await receiver();
    const h = harness(hook.url);
    h.fail.getForDelivery = redisDown();

    const failure = await failureOf(run(h));

    assert.equal(failure.nonRetryable, false);
    assert.deepEqual(
      h.attempts.map((a) => [a.outcome, a.error]),
      [['retry', 'transient_error']],
    );
  });

  it('still throws the retryable failure, not the recording error, when Redis is down for both', async () => {
    const hook = await receiver();
    const h = harness(hook.url);
    h.fail.getForDelivery = redisDown();
    h.fail.recordAttempt = redisDown();

    const failure = await failureOf(run(h));

    assert.equal(failure.type, 'transient_error');
    assert.equal(failure.nonRetryable, false);
    assert.ok(h.logs.some((l) => l.includes('could not record')));
  });

  it('fails finally as retries_exhausted when a transient error hits the last allowed attempt', async () => {
    const hook = await receiver();
    const h = harness(hook.url, {}, throwingBuilder(redisDown()));

    const failure = await failureOf(run(h, POLICY.maximumAttempts));

    assert.equal(failure.type, 'retries_exhausted');
    assert.equal(failure.nonRetryable, true);
    assert.deepEqual(
      h.attempts.map((a) => [a.outcome, a.error]),
      [['failed', 'retries_exhausted']],
    );
    assert.equal(h.deadLetters.length, 1);
  });
});

describe('deliverWebhook: a request that cannot be sent as built is a permanent failure, and nothing is sent', () => {
  // Issue 11, item 11: stored before the registration checks existed (or written to Redis by hand). `Host`,
  // `Connection` and a forged signature used to be sent as stored; `Content-Length` was retried as a network error.
  for (const [name, value] of [
    ['Content-Length', '5'],
    ['Host', 'evil.example'],
    ['Connection', 'close'],
    ['x-wss-signature', 'forged'],
    ['expect', '100-continue'],
    ['keep-alive', 'timeout=5'],
    ['upgrade', 'websocket'],
    ['transfer-encoding', 'chunked'],
    ['X-Nel', 'a\u0085b'],
  ] as const) {
    it(`fails at once, without sending, an endpoint whose stored static headers hold ${name}`, async () => {
      const hook = await receiver();
      const h = harness(hook.url, { headers: { 'X-Ok': '1', [name]: value } });

      const failure = await failureOf(run(h));

      assert.equal(failure.type, 'invalid_request');
      assert.equal(failure.nonRetryable, true);
      assert.deepEqual(
        h.attempts.map((a) => [a.outcome, a.error]),
        [['failed', 'invalid_request']],
      );
      assert.ok(h.deadLetters[0]?.lastError.includes(`"${name}"`), h.deadLetters[0]?.lastError);
      assert.equal(hook.requests.length, 0);
    });
  }

  it('fails at once as invalid_request when the HTTP client itself refuses the request as built', async () => {
    const hook = await receiver();
    // A builder that lets a header through which undici refuses: the last line of defence, never reached by an
    // endpoint the rules accept.
    const h = harness(
      hook.url,
      {},
      {
        build: async () => ({
          id: EVENT.eventId,
          body: '{}',
          eventType: EVENT.eventType,
          headers: { expect: '100-continue' },
        }),
      },
    );

    const failure = await failureOf(run(h));

    assert.equal(failure.type, 'invalid_request');
    assert.equal(failure.nonRetryable, true);
    assert.match(h.deadLetters[0]?.lastError ?? '', /invalid_request/);
    assert.equal(hook.requests.length, 0);
  });
});

describe("deliverWebhook: the receiver's answer body is kept for the tenant, never in logs, failures or dead letters", () => {
  const CARD = '4111111111111111';
  const SSN = '078-05-1120';
  const PAYLOAD = JSON.stringify({ card: CARD, ssn: SSN });
  /** Everything but the per-attempt log: what an operator, Temporal history or a log shipper would see. */
  const outsideTheAttemptLog = (h: Harness, failure: ApplicationFailure): string[] => [
    failure.message,
    JSON.stringify(failure.details ?? []),
    String(failure.stack ?? ''),
    JSON.stringify(h.deadLetters),
    ...h.logs,
  ];
  const assertNoPayload = (texts: string[]): void => {
    for (const text of texts) {
      for (const secret of [CARD, SSN, '41111111', '078-05']) {
        assert.ok(!text.includes(secret), `${secret} leaked into: ${text}`);
      }
    }
  };
  /** A receiver that answers `status` and echoes the request body back, as many validation errors do. */
  const echoing = (status: number, shape: (body: string) => string, headers?: Record<string, string>) =>
    receivers.start((req) => ({
      status,
      ...(headers ? { headers } : {}),
      body: shape(req.body.toString('utf8')),
    }));

  const cases: {
    name: string;
    status: number;
    attempt: number;
    policy?: Partial<ResolvedRetryPolicy>;
    headers?: Record<string, string>;
    shape: (body: string) => string;
    type: string;
    lastError?: string;
  }[] = [
    {
      name: 'a 400 echoing the JSON body on the last attempt',
      status: 400,
      attempt: POLICY.maximumAttempts,
      shape: (body) => JSON.stringify({ error: 'invalid', received: JSON.parse(body) }),
      type: 'retries_exhausted',
      lastError: 'HTTP 400 (http_400); gave up after 4 attempts',
    },
    {
      name: 'a 500 whose HTML error page quotes the body, retried',
      status: 500,
      attempt: 1,
      shape: (body) => `<html>\n  <body><pre>${body}</pre>\n</body></html>`,
      type: 'delivery_attempt_failed',
    },
    {
      name: 'a 503 with Retry-After quoting one field in plain text, retried',
      status: 503,
      attempt: 2,
      headers: { 'retry-after': '3' },
      shape: (body) => `busy; card ${String((JSON.parse(body) as { data: { card: string } }).data.card)} later`,
      type: 'delivery_attempt_failed',
    },
    {
      name: 'a 422 the policy lists as permanent, echoing the body',
      status: 422,
      attempt: 1,
      policy: { permanentStatusCodes: [422] },
      shape: (body) => `unprocessable: ${body}`,
      type: 'delivery_permanent_failure',
      lastError: 'HTTP 422 (http_422)',
    },
    {
      name: 'a 410 Gone whose body quotes the payload',
      status: 410,
      attempt: 1,
      shape: (body) => `gone, not taking ${body}`,
      type: 'endpoint_gone',
      lastError: 'HTTP 410 Gone: endpoint disabled',
    },
  ];

  for (const c of cases) {
    it(`keeps the excerpt of ${c.name} in the attempt log only`, async () => {
      const hook = await echoing(c.status, c.shape, c.headers);
      const h = harness(hook.url);
      h.payloads.set(`${EVENT.tenantId}/${EVENT.eventId}`, PAYLOAD);
      const { deliverWebhook } = createActivities(h.deps);
      const env = new MockActivityEnvironment({ attempt: c.attempt, scheduledTimestampMs: Date.now() });

      const failure = await failureOf(
        env.run(deliverWebhook, {
          event: EVENT,
          endpointId: parseEndpointId('ep_1'),
          retryPolicy: { ...POLICY, ...c.policy },
        }),
      );

      assert.equal(hook.requests.length, 1);
      assert.equal(failure.type, c.type);
      assertNoPayload(outsideTheAttemptLog(h, failure));
      assert.match(failure.message, new RegExp(`^HTTP ${c.status} `));
      if (c.lastError !== undefined) assert.equal(h.deadLetters[0]?.lastError, c.lastError);
      // The tenant can still see what their server said, through the attempt log (GET …/deliveries/{eventId}).
      const [entry] = h.attempts;
      assert.equal(entry?.statusCode, c.status);
      const sent = c.shape(hook.requests[0]!.body.toString('utf8'));
      assert.equal(entry?.responseBodyExcerpt, sent);
      assert.ok(entry?.responseBodyExcerpt?.includes(CARD));
    });
  }

  it('bounds the excerpt of a large answer body', async () => {
    const hook = await echoing(400, (body) => `${body}\n${'x'.repeat(20_000)}`);
    const h = harness(hook.url);
    h.payloads.set(`${EVENT.tenantId}/${EVENT.eventId}`, PAYLOAD);

    const failure = await failureOf(run(h));

    assertNoPayload(outsideTheAttemptLog(h, failure));
    const excerpt = h.attempts[0]?.responseBodyExcerpt ?? '';
    assert.ok(excerpt.includes(CARD));
    assert.ok(excerpt.length <= MAX_RESPONSE_BODY_EXCERPT_LENGTH, `excerpt of ${excerpt.length} chars`);
    assert.ok(excerpt.endsWith('…'), 'marks the cut');
  });

  it('keeps no excerpt for an answer with an empty body, or for a delivered attempt', async () => {
    const empty = await receivers.start(() => ({ status: 500 }));
    const h = harness(empty.url);
    await failureOf(run(h));
    assert.equal(h.attempts[0]?.responseBodyExcerpt, undefined);

    const ok = await receivers.start(() => ({ status: 200, body: 'thanks' }));
    const h2 = harness(ok.url);
    assert.equal((await run(h2)).outcome, 'delivered');
    assert.equal(h2.attempts[0]?.responseBodyExcerpt, undefined);
  });
});
