import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestBuilder } from '../../src/delivery/signed-request';
import type { Endpoint } from '../../src/domain/endpoint';
import type { EventRef } from '../../src/domain/event';
import { parseEndpointId, parseEventId, parseTenantId } from '../../src/domain/ids';
import type { TraceHeaders } from '../../src/domain/trace-context';
import { ConfigError, loadConfig } from '../../src/infra/config';
import { tracingSettings } from '../../src/infra/tracing';

/** Tracing's on/off rule over OpenTelemetry's variables, and the per-endpoint traceparent opt-in. */

function settings(env: Record<string, string | undefined>) {
  return tracingSettings(loadConfig({}, env));
}

describe('tracingSettings: opt-in through the OTEL_* variables', () => {
  it('is off with no OTEL_* variable (nothing is sent to the SDK default localhost:4318)', () => {
    assert.deepEqual(settings({}), { enabled: false, why: 'no OTLP endpoint set' });
  });

  it('is on, OTLP over http/protobuf, once an endpoint is set', () => {
    assert.deepEqual(settings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), {
      enabled: true,
      exporter: 'otlp',
      protocol: 'http/protobuf',
      serviceName: undefined,
    });
    assert.equal(settings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }).enabled, true);
  });

  it('is on with OTEL_TRACES_EXPORTER=otlp alone (the SDK default endpoint) or console', () => {
    assert.equal(settings({ OTEL_TRACES_EXPORTER: 'otlp' }).enabled, true);
    const consoleOnly = settings({ OTEL_TRACES_EXPORTER: 'console' });
    assert.ok(consoleOnly.enabled && consoleOnly.exporter === 'console');
  });

  it('is off with OTEL_TRACES_EXPORTER=none, even with an endpoint', () => {
    assert.deepEqual(settings({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }), {
      enabled: false,
      why: 'OTEL_TRACES_EXPORTER=none',
    });
  });

  it('is off with OTEL_SDK_DISABLED=true, whatever else is set', () => {
    for (const extra of [{ OTEL_TRACES_EXPORTER: 'otlp' }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }]) {
      assert.deepEqual(settings({ OTEL_SDK_DISABLED: 'true', ...extra }), {
        enabled: false,
        why: 'OTEL_SDK_DISABLED=true',
      });
    }
    assert.equal(settings({ OTEL_SDK_DISABLED: 'false', OTEL_TRACES_EXPORTER: 'otlp' }).enabled, true);
  });

  it('takes the traces protocol over the general one, and the service name', () => {
    const s = settings({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'webhooks-eu',
    });
    assert.ok(s.enabled);
    assert.equal(s.protocol, 'http/json');
    assert.equal(s.serviceName, 'webhooks-eu');
  });

  it('stops start-up on a value it cannot honour, naming the variable', () => {
    const bad: [string, string][] = [
      ['OTEL_TRACES_EXPORTER', 'zipkin'],
      ['OTEL_EXPORTER_OTLP_PROTOCOL', 'http'],
      ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'thrift'],
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318'],
      ['OTEL_SDK_DISABLED', 'yes'],
    ];
    for (const [name, value] of bad) {
      assert.throws(
        () => loadConfig({}, { [name]: value }),
        (err: unknown) => err instanceof ConfigError && err.message.includes(`${name}:`),
        name,
      );
    }
  });
});

describe('the traceparent header of a delivery (endpoint opt-in)', () => {
  const EVENT: EventRef = {
    tenantId: parseTenantId('acme'),
    eventId: parseEventId('evt_1'),
    eventType: 'order.created',
    occurredAt: '2026-01-01T00:00:00.000Z',
  };
  const TRACE: TraceHeaders = {
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    tracestate: 'vendor=opaque',
  };
  const endpoint = (sendTraceparent: boolean): Endpoint => ({
    id: parseEndpointId('ep_1'),
    tenantId: EVENT.tenantId,
    url: 'https://receiver.example/hook',
    eventTypes: ['*'],
    enabled: true,
    signatureScheme: 'wss',
    sendTraceparent,
    headers: { traceparent: 'tenant-static-value', 'x-team': 'a' },
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  });
  const builder = (trace: TraceHeaders | undefined) =>
    new RequestBuilder({ payloads: { get: async () => '{"a":1}' }, traceHeaders: () => trace });

  it("sends the attempt's traceparent and tracestate to an endpoint that opted in, over a static header", async () => {
    const request = await builder(TRACE).build(EVENT, endpoint(true));
    assert.equal(request.headers.traceparent, TRACE.traceparent);
    assert.equal(request.headers.tracestate, TRACE.tracestate);
    assert.equal(request.headers['x-team'], 'a');
  });

  it('sends no trace context to an endpoint that did not opt in (its own static header stays as set)', async () => {
    const request = await builder(TRACE).build(EVENT, endpoint(false));
    assert.equal(request.headers.traceparent, 'tenant-static-value');
    assert.equal(request.headers.tracestate, undefined);
  });

  it('sends none when no attempt span is active (tracing off)', async () => {
    const request = await builder(undefined).build(EVENT, { ...endpoint(true), headers: {} });
    assert.ok(!('traceparent' in request.headers) && !('tracestate' in request.headers));
  });

  it('leaves it out of the dry run, which has no attempt span', async () => {
    const text = { id: 'evt_1', type: 'order.created', tenant: 'acme', occurredAt: EVENT.occurredAt, dataJson: '{}' };
    const request = await builder(TRACE).buildFromEnvelope(text, { ...endpoint(true), headers: {} });
    assert.ok(!('traceparent' in request.headers));
  });
});
