import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { METRICS, createMetrics, metricTable, statusClass } from '../../src/infra/metrics';

async function value(metrics: ReturnType<typeof createMetrics>, name: string, labels: Record<string, string> = {}) {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  assert.ok(metric, name);
  const match = metric.values.find(
    (v) =>
      Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want) &&
      !('le' in v.labels),
  );
  return match?.value;
}

describe('service metrics', () => {
  it('classifies statuses and transport errors', () => {
    const table: [Parameters<typeof statusClass>[0], string][] = [
      [{ statusCode: 200 }, '2xx'],
      [{ statusCode: 204 }, '2xx'],
      [{ statusCode: 302 }, '3xx'],
      [{ statusCode: 410 }, '4xx'],
      [{ statusCode: 503 }, '5xx'],
      [{ statusCode: 599 }, '5xx'],
      [{ statusCode: 600, reason: 'invalid_status' }, 'network'],
      [{ reason: 'timeout' }, 'timeout'],
      [{ reason: 'connect_refused' }, 'network'],
      [{ reason: 'tls_error' }, 'network'],
    ];
    for (const [sent, want] of table) assert.equal(statusClass(sent), want, JSON.stringify(sent));
  });

  it('counts a final outcome once per delivery and every HTTP attempt', async () => {
    const m = createMetrics({ tenantLabel: false, processMetrics: false });
    m.recordAttempt({ tenantId: 't', outcome: 'retry', sent: { statusCode: 503, durationMs: 10 } });
    m.recordAttempt({ tenantId: 't', outcome: 'retry', sent: { reason: 'timeout', durationMs: 15_000 } });
    m.recordAttempt(
      {
        tenantId: 't',
        outcome: 'delivered',
        occurredAt: '2026-01-01T00:00:00.000Z',
        sent: { statusCode: 200, durationMs: 5 },
      },
      Date.parse('2026-01-01T00:00:02.000Z'),
    );
    m.recordAttempt({ tenantId: 't', outcome: 'skipped' }); // endpoint deleted: no HTTP attempt
    m.recordAttempt({ tenantId: 't', outcome: 'failed', sent: { statusCode: 400, durationMs: 5 } });
    m.recordCancelled('t', 2);
    assert.equal(await value(m, 'wss_deliveries_total', { outcome: 'delivered' }), 1);
    assert.equal(await value(m, 'wss_deliveries_total', { outcome: 'skipped' }), 1);
    assert.equal(await value(m, 'wss_deliveries_total', { outcome: 'failed' }), 1);
    assert.equal(await value(m, 'wss_deliveries_total', { outcome: 'cancelled' }), 2);
    assert.equal(await value(m, 'wss_delivery_attempts_total', { result: 'retry', status_class: '5xx' }), 1);
    assert.equal(await value(m, 'wss_delivery_attempts_total', { result: 'retry', status_class: 'timeout' }), 1);
    assert.equal(await value(m, 'wss_delivery_attempts_total', { result: 'success', status_class: '2xx' }), 1);
    assert.equal(await value(m, 'wss_delivery_attempts_total', { result: 'permanent', status_class: '4xx' }), 1);
    const text = await m.registry.metrics();
    assert.match(text, /^wss_delivery_attempt_duration_seconds_count 4$/m);
    assert.match(text, /^wss_delivery_latency_seconds_sum 2$/m);
    assert.match(text, /^wss_delivery_latency_seconds_count 1$/m);
  });

  it('does not observe the latency of a redelivery', async () => {
    const m = createMetrics({ tenantLabel: false, processMetrics: false });
    m.recordAttempt({
      tenantId: 't',
      outcome: 'delivered',
      redelivery: true,
      occurredAt: '2020-01-01T00:00:00.000Z',
      sent: { statusCode: 200, durationMs: 1 },
    });
    assert.match(await m.registry.metrics(), /^wss_delivery_latency_seconds_count 0$/m);
  });

  it('exposes every series at 0 before the first event, so increase() sees the first one', async () => {
    const text = await createMetrics({ tenantLabel: false, processMetrics: false }).registry.metrics();
    for (const outcome of ['delivered', 'failed', 'skipped', 'cancelled']) {
      assert.match(text, new RegExp(`^wss_deliveries_total\\{outcome="${outcome}"\\} 0$`, 'm'));
    }
    assert.match(text, /^wss_consumer_entries_total\{result="dead_letter"\} 0$/m);
    assert.match(text, /^wss_endpoints_disabled_total\{reason="gone"\} 0$/m);
  });

  it('adds the tenant label only when asked to', async () => {
    const off = createMetrics({ tenantLabel: false, processMetrics: false });
    const on = createMetrics({ tenantLabel: true, processMetrics: false });
    for (const m of [off, on]) {
      m.recordAttempt({ tenantId: 'acme', outcome: 'delivered', sent: { statusCode: 200, durationMs: 1 } });
      m.recordEndpointDisabled('acme', 'gone');
    }
    assert.doesNotMatch(await off.registry.metrics(), /tenant=/);
    const text = await on.registry.metrics();
    assert.match(text, /^wss_deliveries_total\{tenant="acme",outcome="delivered"\} 1$/m);
    assert.match(text, /^wss_endpoints_disabled_total\{tenant="acme",reason="gone"\} 1$/m);
    assert.doesNotMatch(text, /wss_consumer_entries_total\{[^}]*tenant=/);
  });

  it('sets the stream gauges and keeps a value it was not given', async () => {
    const m = createMetrics({ tenantLabel: false, processMetrics: false });
    m.setStreamStats({ lag: 7, pending: 2, deadLetterLength: 1 });
    m.setStreamStats({ pending: 0, deadLetterLength: 1 });
    const text = await m.registry.metrics();
    assert.match(text, /^wss_consumer_stream_lag 7$/m);
    assert.match(text, /^wss_consumer_pending 0$/m);
    assert.match(text, /^wss_dead_letter_stream_length 1$/m);
  });

  it("registers on each role only that role's metrics (the all-in-one: all of them)", async () => {
    const names = async (roles?: readonly ('api' | 'consumer' | 'worker')[]) => {
      const m = createMetrics({ tenantLabel: false, processMetrics: false, ...(roles ? { roles } : {}) });
      return new Set((await m.registry.getMetricsAsJSON()).map((metric) => metric.name));
    };
    const all = Object.values(METRICS).map((spec) => spec.name);
    for (const role of ['api', 'consumer', 'worker'] as const) {
      const got = await names([role]);
      for (const spec of Object.values(METRICS)) {
        const emits = spec.role.split(', ').includes(role);
        assert.equal(got.has(spec.name), emits, `${role}: ${spec.name}`);
      }
    }
    assert.deepEqual([...(await names(['api', 'consumer', 'worker']))].sort(), [...all].sort());
    assert.deepEqual([...(await names())].sort(), [...all].sort());
    // Recording a metric the role does not export is a no-op, not an error.
    const api = createMetrics({ tenantLabel: false, processMetrics: false, roles: ['api'] });
    api.recordAttempt({ tenantId: 't', outcome: 'delivered', sent: { statusCode: 200, durationMs: 1 } });
    assert.doesNotMatch(await api.registry.metrics(), /wss_deliveries_total/);
  });

  it('documents every metric in the README table', () => {
    const table = metricTable();
    for (const spec of Object.values(METRICS)) assert.ok(table.includes(`| \`${spec.name}\` |`), spec.name);
  });
});
