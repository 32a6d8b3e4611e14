import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/infra/config';
import type { Config } from '../../src/infra/config';
import { createLogger } from '../../src/infra/logger';
import { startApi } from '../../src/main/api';
import type { RunningApi } from '../../src/main/api';
import { createStores } from '../../src/main/services';
import type { Stores } from '../../src/main/services';
import { startReceiver } from '../support/receiver';
import type { Receiver, ReceivedRequest } from '../support/receiver';
import { serviceAddresses, uniqueName, waitFor } from '../support/services';

/**
 * Tracing end to end: the real worker and consumer entry points as separate processes, exporting over OTLP/HTTP
 * (`http/json`) to a plain HTTP server in this test, against the real Redis and Temporal. A producer's
 * `traceparent` on the stream entry becomes the parent of the consumer's span; the workflow start, the workflow
 * and every delivery attempt follow in the same trace, across both processes. An endpoint that opted in gets the
 * attempt span's `traceparent`; one that did not gets none.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const STARTUP_MS = 120_000;
const WAIT_MS = 60_000;

const PRODUCER_TRACE_ID = randomBytes(16).toString('hex');
const PRODUCER_SPAN_ID = randomBytes(8).toString('hex');
const PRODUCER_TRACEPARENT = `00-${PRODUCER_TRACE_ID}-${PRODUCER_SPAN_ID}-01`;
/** Payload and URL parts that must never reach a span. */
const PAYLOAD_MARKER = 'card-4111111111111111';
const QUERY_SECRET = `qs${randomBytes(6).toString('hex')}`;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;

// ---------------------------------------------------------------------------------------------------------------
// An OTLP/HTTP receiver: every POST body (JSON) it got, decoded into flat spans.

interface ExportedSpan {
  readonly service: string;
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly kind: number;
  readonly attributes: Record<string, unknown>;
  /** The span as the exporter sent it, for searching every value. */
  readonly raw: string;
}

interface OtlpReceiver {
  readonly url: string;
  readonly spans: ExportedSpan[];
  /** Requests of any kind that reached the server. */
  readonly requests: { method: string; url: string }[];
  close(): Promise<void>;
}

function attributeValue(value: Record<string, unknown> | undefined): unknown {
  if (!value) return undefined;
  if ('stringValue' in value) return value.stringValue;
  if ('intValue' in value) return Number(value.intValue);
  if ('boolValue' in value) return value.boolValue;
  if ('doubleValue' in value) return value.doubleValue;
  return JSON.stringify(value);
}

function attributesOf(list: { key: string; value: Record<string, unknown> }[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((a) => [a.key, attributeValue(a.value)]));
}

async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ExportedSpan[] = [];
  const requests: { method: string; url: string }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '' });
      try {
        assert.equal(req.url, '/v1/traces');
        assert.match(String(req.headers['content-type']), /application\/json/);
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as any;
        for (const rs of body.resourceSpans ?? []) {
          const service = String(attributesOf(rs.resource?.attributes)['service.name']);
          for (const ss of rs.scopeSpans ?? []) {
            for (const span of ss.spans ?? []) {
              spans.push({
                service,
                name: span.name,
                traceId: span.traceId,
                spanId: span.spanId,
                parentSpanId: span.parentSpanId || undefined,
                kind: span.kind,
                attributes: attributesOf(span.attributes),
                raw: JSON.stringify(span),
              });
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      } catch (err) {
        res.writeHead(400);
        res.end(String(err));
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The service: worker and consumer as child processes, the API in this process (it takes no part in tracing).

interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly output: string[];
  readonly exited: Promise<number | null>;
}

const children = new Set<Child>();

function startRole(role: 'worker' | 'consumer', env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', `src/main/${role}.ts`], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => output.push(...chunk.split('\n').filter(Boolean)));
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started: Child = { name: role, process: child, output, exited };
  children.add(started);
  void exited.then(() => children.delete(started));
  return started;
}

async function stopChild(child: Child, graceMs = 30_000): Promise<number | null> {
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), graceMs);
  try {
    return await child.exited;
  } finally {
    clearTimeout(timer);
  }
}

async function waitForLine(child: Child, text: string): Promise<void> {
  const state = await waitFor(
    `${child.name}: "${text}"`,
    async () => {
      if (child.output.some((l) => l.includes(text))) return 'found';
      const exited = await Promise.race([child.exited.then(() => true), Promise.resolve(false)]);
      return exited ? 'exited' : undefined;
    },
    STARTUP_MS,
    100,
  );
  if (state === 'exited') assert.fail(`${child.name} exited: ${child.output.slice(-15).join('\n')}`);
}

interface Service {
  readonly config: Config;
  readonly stores: Stores;
  readonly api: RunningApi;
  readonly worker: Child;
  readonly consumer: Child;
  /** Registers an endpoint through the API; returns its id. */
  createEndpoint(tenant: string, body: Record<string, unknown>): Promise<{ id: string; sendTraceparent: unknown }>;
  /** Publishes through the API's publish route. */
  publish(tenant: string, body: Record<string, unknown>): Promise<{ status: number; body: any }>;
  xadd(...fields: string[]): Promise<string>;
  stop(): Promise<void>;
}

async function startService(otel: Record<string, string>): Promise<Service> {
  const { redisUrl, temporalAddress } = serviceAddresses();
  const id = uniqueName('trc').replace(/-/g, '_');
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('WSS_') && !k.startsWith('OTEL_')),
  );
  const env: Record<string, string> = {
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
    WSS_OPS_PORT: '0',
    WSS_LOG_LEVEL: 'info',
  };
  const worker = startRole('worker', { ...inherited, ...env, ...otel });
  const consumer = startRole('consumer', { ...inherited, ...env, ...otel });
  const config = loadConfig({}, env);
  const stores = createStores(config, 'tracing-test');
  const quiet = new Writable({ write: (_c, _e, done) => done() });
  const api = await startApi(config, createLogger('error', {}, quiet), stores);
  await waitForLine(consumer, 'consumer started');
  await waitForLine(worker, 'worker started');
  return {
    config,
    stores,
    api,
    worker,
    consumer,
    async createEndpoint(tenant, body) {
      const res = await fetch(`http://127.0.0.1:${api.port}/v1/tenants/${tenant}/endpoints`, {
        method: 'POST',
        headers: { authorization: `Bearer ${env.WSS_ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      assert.equal(res.status, 201, text);
      return JSON.parse(text) as { id: string; sendTraceparent: unknown };
    },
    async publish(tenant, body) {
      const res = await fetch(`http://127.0.0.1:${api.port}/v1/tenants/${tenant}/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${env.WSS_ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    },
    xadd: async (...fields) => (await stores.redis.xadd(config.WSS_STREAM, '*', ...fields)) as string,
    async stop() {
      await Promise.all([stopChild(consumer), stopChild(worker)]);
      await api.close();
      await stores.close();
    },
  };
}

after(async () => {
  for (const child of [...children]) await stopChild(child, 10_000);
});

function requestFor(receiver: Receiver, eventId: string): ReceivedRequest | undefined {
  return receiver.requests.find((r) => r.headers['x-wss-event-id'] === eventId);
}

// ---------------------------------------------------------------------------------------------------------------

describe('tracing on (OTEL_EXPORTER_OTLP_ENDPOINT set)', () => {
  let otlp: OtlpReceiver;
  let service: Service;
  let optedIn: Receiver;
  let optedOut: Receiver;
  const tenant = uniqueName('tn');
  const endpoints = { optedIn: '', optedOut: '' };

  before(async () => {
    otlp = await startOtlpReceiver();
    service = await startService({
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      // Export soon after a span ends, so the test need not wait the default 5 s.
      OTEL_BSP_SCHEDULE_DELAY: '200',
    });
    [optedIn, optedOut] = [await startReceiver(), await startReceiver()];
    const a = await service.createEndpoint(tenant, {
      url: `${optedIn.url}/hook?token=${QUERY_SECRET}`,
      eventTypes: ['*'],
      sendTraceparent: true,
    });
    assert.equal(a.sendTraceparent, true);
    const b = await service.createEndpoint(tenant, { url: `${optedOut.url}/hook`, eventTypes: ['*'] });
    assert.equal(b.sendTraceparent, false, 'sendTraceparent defaults to false');
    [endpoints.optedIn, endpoints.optedOut] = [a.id, b.id];
  });

  after(async () => {
    await service?.stop();
    await optedIn?.close();
    await optedOut?.close();
    await otlp?.close();
  });

  it("continues the producer's trace through consumer, workflow start, workflow and both attempts", async () => {
    const eventId = `evt_${uniqueName('traced').replace(/-/g, '_')}`;
    await service.xadd(
      'tenant',
      tenant,
      'type',
      'order.paid',
      'data',
      JSON.stringify({ card: PAYLOAD_MARKER }),
      'id',
      eventId,
      'traceparent',
      PRODUCER_TRACEPARENT,
      'tracestate',
      'vendor=opaque',
    );
    const [inReq, outReq] = await waitFor(
      'both receivers got the event',
      () => {
        const pair = [requestFor(optedIn, eventId), requestFor(optedOut, eventId)];
        return pair.every(Boolean) ? (pair as ReceivedRequest[]) : undefined;
      },
      WAIT_MS,
    );

    // The opted-in endpoint gets the attempt span's traceparent, in the producer's trace; the other gets none.
    const sent = TRACEPARENT.exec(String(inReq?.headers.traceparent));
    assert.ok(sent, `traceparent header: ${String(inReq?.headers.traceparent)}`);
    assert.equal(sent[1], PRODUCER_TRACE_ID);
    assert.equal(inReq?.headers.tracestate, 'vendor=opaque');
    assert.equal(outReq?.headers.traceparent, undefined);
    assert.equal(outReq?.headers.tracestate, undefined);

    const inTrace = (name: string) => otlp.spans.filter((s) => s.traceId === PRODUCER_TRACE_ID && s.name === name);
    const spans = await waitFor(
      'every span of the trace exported',
      () => {
        const found = {
          consume: inTrace('wss.consume'),
          start: inTrace('StartWorkflow:deliverEvent'),
          run: inTrace('RunWorkflow:deliverEvent'),
          schedule: inTrace('StartActivity:deliverWebhook'),
          attempt: inTrace('RunActivity:deliverWebhook'),
        };
        return Object.values(found).every((l) => l.length > 0) && found.attempt.length >= 2 ? found : undefined;
      },
      WAIT_MS,
    );
    const one = (list: ExportedSpan[], what: string): ExportedSpan => {
      assert.equal(list.length, 1, `${what}: ${list.length} spans`);
      return list[0] as ExportedSpan;
    };
    const consume = one(spans.consume, 'consumer span');
    const start = one(spans.start, 'workflow start span');
    const run = one(spans.run, 'workflow span');
    assert.equal(consume.parentSpanId, PRODUCER_SPAN_ID, "the consumer's span is the producer's child");
    assert.equal(consume.service, 'wss-consumer');
    assert.equal(consume.kind, 5, 'SPAN_KIND_CONSUMER');
    assert.equal(consume.attributes['wss.tenant_id'], tenant);
    assert.equal(consume.attributes['wss.event_id'], eventId);
    assert.equal(consume.attributes['wss.event_type'], 'order.paid');
    assert.equal(consume.attributes['wss.endpoint_count'], 2);
    assert.equal(consume.attributes['wss.ingest_result'], 'started');
    assert.equal(start.parentSpanId, consume.spanId);
    assert.equal(start.service, 'wss-consumer');
    assert.equal(run.parentSpanId, start.spanId, 'the workflow continues the start across Temporal');
    assert.equal(run.service, 'wss-worker');
    assert.equal(spans.schedule.length, 2);
    for (const schedule of spans.schedule) assert.equal(schedule.parentSpanId, run.spanId);

    assert.equal(spans.attempt.length, 2);
    const byEndpoint = new Map(spans.attempt.map((s) => [s.attributes['wss.endpoint_id'], s]));
    for (const endpointId of [endpoints.optedIn, endpoints.optedOut]) {
      const attempt = byEndpoint.get(endpointId);
      assert.ok(attempt, `attempt span of ${endpointId}`);
      assert.ok(spans.schedule.some((s) => s.spanId === attempt.parentSpanId), 'attempt under its schedule');
      assert.equal(attempt.service, 'wss-worker');
      assert.equal(attempt.attributes['wss.tenant_id'], tenant);
      assert.equal(attempt.attributes['wss.event_id'], eventId);
      assert.equal(attempt.attributes['wss.attempt'], 1);
      assert.equal(attempt.attributes['wss.outcome'], 'delivered');
      assert.equal(attempt.attributes['wss.http.status_class'], '2xx');
      assert.equal(attempt.attributes['http.response.status_code'], 200);
    }
    // The header is the opted-in endpoint's attempt span itself.
    assert.equal(sent[2], byEndpoint.get(endpoints.optedIn)?.spanId);

    // No span carries the payload, the URL's query string or the URL at all.
    for (const span of otlp.spans) {
      assert.ok(!span.raw.includes(PAYLOAD_MARKER), `${span.name} carries payload`);
      assert.ok(!span.raw.includes(QUERY_SECRET), `${span.name} carries the URL's query string`);
      assert.ok(!span.raw.includes(optedIn.url), `${span.name} carries an endpoint URL`);
    }
  });

  it('delivers an event with an invalid traceparent normally, in a fresh trace, with a warning', async () => {
    const eventId = `evt_${uniqueName('badtp').replace(/-/g, '_')}`;
    const zeroTrace = `00-${'0'.repeat(32)}-${PRODUCER_SPAN_ID}-01`;
    await service.xadd(
      'tenant',
      tenant,
      'type',
      'order.paid',
      'data',
      '{}',
      'id',
      eventId,
      'traceparent',
      zeroTrace,
    );
    const inReq = await waitFor('the opted-in receiver got it', () => requestFor(optedIn, eventId), WAIT_MS);
    await waitFor('the other receiver got it', () => requestFor(optedOut, eventId), WAIT_MS);
    const sent = TRACEPARENT.exec(String(inReq.headers.traceparent));
    assert.ok(sent, 'a fresh trace still gives the opted-in endpoint a traceparent');
    assert.notEqual(sent[1], '0'.repeat(32));
    assert.notEqual(sent[2], PRODUCER_SPAN_ID);

    const consume = await waitFor(
      'the consumer span of the event',
      () => otlp.spans.find((s) => s.name === 'wss.consume' && s.attributes['wss.event_id'] === eventId),
      WAIT_MS,
    );
    assert.equal(consume.traceId, sent[1], 'the delivery continues the fresh trace the consumer began');
    assert.equal(consume.parentSpanId, undefined, 'a root span: the invalid parent is ignored');
    assert.equal(consume.attributes['wss.traceparent_invalid'], true);
    const warning = service.consumer.output.find((l) => l.includes('traceparent ignored') && l.includes(eventId));
    assert.ok(warning, 'the consumer logs a warning naming the event');
    assert.ok(!warning.includes('0'.repeat(32)), 'the warning does not quote the value');
    // Not dead-lettered.
    assert.equal(await service.stores.redis.xlen(service.config.WSS_DEAD_LETTER_STREAM), 0);
  });

  it('takes the traceparent and tracestate of an API publish request as the trace parent', async () => {
    const traceId = randomBytes(16).toString('hex');
    const spanId = randomBytes(8).toString('hex');
    const published = await service.publish(tenant, {
      type: 'order.paid',
      data: {},
      traceparent: `00-${traceId}-${spanId}-01`,
      tracestate: 'vendor=api',
    });
    assert.equal(published.status, 202, JSON.stringify(published.body));
    const eventId = String(published.body.id);
    const req = await waitFor('delivered', () => requestFor(optedIn, eventId), WAIT_MS);
    assert.equal(TRACEPARENT.exec(String(req.headers.traceparent))?.[1], traceId);
    assert.equal(req.headers.tracestate, 'vendor=api');
    const consume = await waitFor(
      'the consumer span',
      () => otlp.spans.find((s) => s.name === 'wss.consume' && s.attributes['wss.event_id'] === eventId),
      WAIT_MS,
    );
    assert.equal(consume.traceId, traceId);
    assert.equal(consume.parentSpanId, spanId);

    // Unlike a stream entry, a request can be refused: an invalid trace context is a 400 naming the field.
    const refused = await service.publish(tenant, {
      type: 'order.paid',
      data: {},
      traceparent: `00-${'0'.repeat(32)}-${spanId}-01`,
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'validation_failed');
    assert.equal(refused.body.error.field, 'traceparent');
    const orphan = await service.publish(tenant, { type: 'order.paid', data: {}, tracestate: 'a=b' });
    assert.equal(orphan.status, 400);
    assert.equal(orphan.body.error.field, 'tracestate');
  });
});

describe('tracing off', () => {
  it('sends no span and no traceparent when OTEL_SDK_DISABLED=true, even with an endpoint configured', async () => {
    const otlp = await startOtlpReceiver();
    const receiver = await startReceiver();
    const service = await startService({
      OTEL_SDK_DISABLED: 'true',
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '200',
    });
    try {
      const tenant = uniqueName('tn');
      await service.createEndpoint(tenant, { url: receiver.url, eventTypes: ['*'], sendTraceparent: true });
      const n = 3;
      for (let i = 0; i < n; i++) {
        await service.xadd('tenant', tenant, 'type', 'x.y', 'data', `{"i":${i}}`, 'traceparent', PRODUCER_TRACEPARENT);
      }
      await waitFor('every event delivered', () => receiver.requests.length >= n, WAIT_MS);
      // Several export intervals: a span processor, had one started, would have sent by now.
      await new Promise((r) => setTimeout(r, 2000));
      assert.deepEqual(otlp.requests, [], 'no exporter traffic');
      for (const req of receiver.requests) {
        assert.equal(req.headers.traceparent, undefined, 'no traceparent without tracing');
      }
    } finally {
      await service.stop();
      await receiver.close();
      await otlp.close();
    }
  });
});
