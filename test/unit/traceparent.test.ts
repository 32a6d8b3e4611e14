import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROOT_CONTEXT, defaultTextMapGetter, isSpanContextValid, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { parseStreamEntry } from '../../src/domain/stream-entry';
import { parseTraceparent, parseTraceHeaders } from '../../src/domain/trace-context';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const VALID = `00-${TRACE_ID}-${SPAN_ID}-01`;

/** [name, value, valid] per W3C Trace Context level 1, section 3.2 (traceparent) and 4.3 (versioning). */
const CASES: [string, string, boolean][] = [
  ['version 00, sampled', VALID, true],
  ['version 00, not sampled', `00-${TRACE_ID}-${SPAN_ID}-00`, true],
  ['version 00, unknown flag bits kept', `00-${TRACE_ID}-${SPAN_ID}-09`, true],
  ['a future version, exactly the version 00 length', `cc-${TRACE_ID}-${SPAN_ID}-01`, true],
  ['a future version with more fields after a dash', `cc-${TRACE_ID}-${SPAN_ID}-01-what-the-future-holds`, true],
  ['version ff (forbidden)', `ff-${TRACE_ID}-${SPAN_ID}-01`, false],
  ['version 00 with trailing fields', `00-${TRACE_ID}-${SPAN_ID}-01-extra`, false],
  ['a future version with trailing text but no dash', `cc-${TRACE_ID}-${SPAN_ID}-01x`, false],
  ['all-zero trace id', `00-${'0'.repeat(32)}-${SPAN_ID}-01`, false],
  ['all-zero span id', `00-${TRACE_ID}-${'0'.repeat(16)}-01`, false],
  ['upper-case hex', `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`, false],
  ['short trace id', `00-${TRACE_ID.slice(1)}-${SPAN_ID}-01`, false],
  ['long span id', `00-${TRACE_ID}-${SPAN_ID}0-01`, false],
  ['non-hex flags', `00-${TRACE_ID}-${SPAN_ID}-0g`, false],
  ['one-digit flags', `00-${TRACE_ID}-${SPAN_ID}-1`, false],
  ['non-hex version', `0x-${TRACE_ID}-${SPAN_ID}-01`, false],
  ['underscores for dashes', `00_${TRACE_ID}_${SPAN_ID}_01`, false],
  ['empty', '', false],
  ['garbage', 'not a traceparent', false],
];

describe('parseTraceparent (W3C Trace Context)', () => {
  for (const [name, value, valid] of CASES) {
    it(`${valid ? 'accepts' : 'refuses'} ${name}`, () => {
      const parsed = parseTraceparent(value);
      assert.equal(parsed.ok, valid, JSON.stringify(parsed));
      if (parsed.ok) {
        assert.equal(parsed.traceId, value.slice(3, 35));
        assert.equal(parsed.spanId, value.slice(36, 52));
      } else {
        // The reason never quotes the value (it is producer input).
        assert.ok(value === '' || !parsed.reason.includes(value), parsed.reason);
      }
    });
  }

  it("agrees with OpenTelemetry's own W3C propagator on every case", () => {
    const propagator = new W3CTraceContextPropagator();
    for (const [name, value] of CASES) {
      const ctx = propagator.extract(ROOT_CONTEXT, { traceparent: value }, defaultTextMapGetter);
      const span = trace.getSpanContext(ctx);
      const otelValid = span !== undefined && isSpanContextValid(span);
      assert.equal(parseTraceparent(value).ok, otelValid, name);
    }
  });
});

describe('parseTraceHeaders', () => {
  it('keeps a valid tracestate with a valid traceparent', () => {
    assert.deepEqual(parseTraceHeaders(VALID, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'), {
      ok: true,
      headers: { traceparent: VALID, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' },
    });
  });

  it('drops a tracestate that is not printable ASCII or too long, and keeps the traceparent', () => {
    for (const bad of ['a=\u00e9', 'a=b\n', `a=${'x'.repeat(600)}`]) {
      const parsed = parseTraceHeaders(VALID, bad);
      assert.deepEqual(parsed, {
        ok: true,
        headers: { traceparent: VALID },
        problem: 'field "tracestate" is not a valid W3C tracestate; dropped',
      });
    }
  });

  it('refuses a tracestate without a traceparent', () => {
    const parsed = parseTraceHeaders(undefined, 'a=b');
    assert.equal(parsed.ok, false);
  });
});

describe('parseStreamEntry with trace context', () => {
  const limits = { maxDataBytes: 64, maxDepth: 4 };
  const base = ['tenant', 'acme', 'type', 'order.created', 'data', '{}'];

  it('carries a valid traceparent (and tracestate) of the producer', () => {
    const parsed = parseStreamEntry('1-0', [...base, 'traceparent', VALID, 'tracestate', 'k=v'], limits);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.entry.trace, { traceparent: VALID, tracestate: 'k=v' });
    assert.equal(parsed.entry.traceProblem, undefined);
  });

  it('accepts the event with an invalid traceparent, without the trace and with the reason', () => {
    const parsed = parseStreamEntry('1-0', [...base, 'traceparent', `00-${'0'.repeat(32)}-${SPAN_ID}-01`], limits);
    assert.ok(parsed.ok, 'never dead-lettered for its trace context');
    assert.equal(parsed.entry.trace, undefined);
    assert.match(parsed.entry.traceProblem ?? '', /traceparent.*trace id that is all zeros/);
  });

  it('treats a repeated traceparent as invalid (W3C: several traceparent headers are invalid)', () => {
    const parsed = parseStreamEntry('1-0', [...base, 'traceparent', VALID, 'traceparent', VALID], limits);
    assert.ok(parsed.ok);
    assert.equal(parsed.entry.trace, undefined);
    assert.match(parsed.entry.traceProblem ?? '', /more than once/);
  });

  it('leaves trace and traceProblem out when the producer sent neither field', () => {
    const parsed = parseStreamEntry('1-0', base, limits);
    assert.ok(parsed.ok);
    assert.ok(!('trace' in parsed.entry) && !('traceProblem' in parsed.entry));
  });
});
