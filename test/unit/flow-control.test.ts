import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Endpoint } from '../../src/domain/endpoint';
import type { GateRefusal } from '../../src/domain/flow-control';
import {
  MAX_ANY_THROTTLE_WAIT_MS,
  LONG_WAIT_AFTER_THROTTLES,
  MAX_LONG_THROTTLE_WAIT_MS,
  MAX_THROTTLE_WAIT_MS,
  MIN_THROTTLE_WAIT_MS,
  flowControlSettings,
  flowSignal,
  throttleWaitMs,
} from '../../src/domain/flow-control';
import type { EndpointId, TenantId } from '../../src/domain/ids';

const BASE: Endpoint = {
  id: 'ep_1' as EndpointId,
  tenantId: 't' as TenantId,
  url: 'https://example.com/hook',
  eventTypes: ['*'],
  enabled: true,
  signatureScheme: 'wss',
  sendTraceparent: false,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

describe('flowControlSettings', () => {
  it('is undefined for an endpoint without a rate limit or an in-flight cap: no gate, no Redis round trip', () => {
    assert.equal(flowControlSettings(BASE), undefined);
    assert.equal(flowControlSettings({ ...BASE, adaptiveBackoff: true, rateLimitBurst: 5 }), undefined);
  });
  it('paces evenly by default and adapts unless turned off', () => {
    assert.deepEqual(flowControlSettings({ ...BASE, rateLimit: 5 }), { rate: 5, burst: 1, adaptive: true });
    assert.deepEqual(flowControlSettings({ ...BASE, maxInFlight: 2, adaptiveBackoff: false }), {
      burst: 1,
      maxInFlight: 2,
      adaptive: false,
    });
    assert.deepEqual(flowControlSettings({ ...BASE, rateLimit: 0.5, rateLimitBurst: 3 }), {
      rate: 0.5,
      burst: 3,
      adaptive: true,
    });
  });
});

describe('flowSignal', () => {
  const cases: [string, Parameters<typeof flowSignal>[0], ReturnType<typeof flowSignal>][] = [
    ['a 2xx', { outcome: 'delivered' }, 'success'],
    ['a 429', { outcome: 'retry', reason: 'http_429' }, 'overload'],
    ['a 429 with Retry-After', { outcome: 'retry', reason: 'http_429', retryAfterMs: 5000 }, 'overload'],
    ['a 503', { outcome: 'retry', reason: 'http_503' }, 'overload'],
    ['a timeout', { outcome: 'retry', reason: 'timeout' }, 'overload'],
    ['a 500', { outcome: 'retry', reason: 'http_500' }, 'none'],
    ['a refused connection', { outcome: 'retry', reason: 'connect_refused' }, 'none'],
    ['a 410', { outcome: 'gone' }, 'none'],
    ['a permanent 400', { outcome: 'permanent', reason: 'http_400' }, 'none'],
  ];
  for (const [name, classification, expected] of cases) {
    it(`${name} is ${expected}`, () => assert.equal(flowSignal(classification), expected));
  }
});

describe('throttleWaitMs', () => {
  const rate = (ahead: number, minWaitMs = 0, effectiveRate = 5): GateRefusal => ({
    reason: 'rate',
    ahead,
    minWaitMs,
    effectiveRate,
  });
  it('waits for its place in the queue at the current rate, ±10%', () => {
    assert.equal(throttleWaitMs(rate(10), 0, 0.5), 2000);
    assert.equal(throttleWaitMs(rate(10), 0, 0), 1800);
    assert.equal(throttleWaitMs(rate(10), 0, 0.999999), 2200);
  });
  it('at least until the next slot', () => {
    assert.equal(throttleWaitMs(rate(1, 1500), 0, 0.5), 1500);
  });
  it('a raised limit shortens the waits of attempts that ask again', () => {
    assert.equal(throttleWaitMs(rate(10, 0, 50), 0, 0.5), 200);
  });
  it(`caps a long queue at ${MAX_THROTTLE_WAIT_MS} ms, then at ${MAX_LONG_THROTTLE_WAIT_MS} ms after many throttles`, () => {
    assert.equal(throttleWaitMs(rate(100), 0, 0.5), MAX_THROTTLE_WAIT_MS);
    assert.equal(throttleWaitMs(rate(100), LONG_WAIT_AFTER_THROTTLES, 0.5), MAX_LONG_THROTTLE_WAIT_MS);
  });
  it('deep in a long queue, waits a tenth of the way to its slot', () => {
    // 10,000 ahead at 5/s: 2,000 s to its slot, woken after 200 s to look again.
    assert.equal(throttleWaitMs(rate(10_000), 0, 0.5), 200_000);
  });
  it('waits out a pause whole, never less', () => {
    const paused: GateRefusal = { reason: 'paused', ahead: 0, minWaitMs: 30_000 };
    assert.ok(throttleWaitMs(paused, 0, 0) >= 30_000);
    assert.ok(throttleWaitMs(paused, 0, 0.99) <= 30_100);
  });
  it(`never sleeps longer than ${MAX_ANY_THROTTLE_WAIT_MS} ms, so a changed limit or a lifted pause reaches every waiting attempt`, () => {
    // A rate so small that the slot is centuries away, and a receiver's 12-hour Retry-After pause.
    assert.ok(throttleWaitMs(rate(3, 0, 1e-300), 0, 0.5) <= MAX_ANY_THROTTLE_WAIT_MS * 1.1);
    assert.ok(throttleWaitMs(rate(1_000_000, 0, 0.001), 0, 0.5) <= MAX_ANY_THROTTLE_WAIT_MS * 1.1);
    const longPause: GateRefusal = { reason: 'paused', ahead: 0, minWaitMs: 12 * 3600_000 };
    assert.ok(throttleWaitMs(longPause, 0, 0.5) <= MAX_ANY_THROTTLE_WAIT_MS * 1.1);
  });
  it('backs off exponentially while the in-flight cap is full', () => {
    const full: GateRefusal = { reason: 'in_flight', ahead: 3, minWaitMs: 0 };
    assert.deepEqual(
      [0, 1, 2, 3, 10].map((n) => throttleWaitMs(full, n, 0.5)),
      [100, 200, 400, 800, MAX_THROTTLE_WAIT_MS],
    );
  });
  it(`never below ${MIN_THROTTLE_WAIT_MS} ms, and a bad draw counts as the middle`, () => {
    assert.equal(throttleWaitMs(rate(0), 0, 0.5), MIN_THROTTLE_WAIT_MS);
    assert.equal(throttleWaitMs(rate(10), 0, Number.NaN), 2000);
  });
});
