/**
 * Flow control per endpoint: the settings an endpoint asks for, and the pure decisions around the shared state in
 * Redis (store/flow-control-store.ts holds the atomic scripts): which answers mean overload, how long a throttled
 * attempt waits, and the AIMD constants.
 *
 * An attempt passes one gate before it is sent: the endpoint's pause (a `Retry-After`), its cap on requests in
 * flight and its rate (GCRA). An attempt that finds no room does not wait in the worker: the activity returns
 * `throttled` with a wait, and the workflow sleeps on a durable Temporal timer and runs the attempt again. A
 * throttled attempt is no attempt: it is not logged, does not count against the retry policy (its attempts or its
 * window) and not against the endpoint's health.
 */
import type { Endpoint } from './endpoint';
import type { DeliveryClassification } from './classify-response';
import type { ErrorCode } from './errors';
import type { EndpointId, TenantId } from './ids';

/** What an endpoint configured; undefined when it configured nothing (today's path, no Redis round trip). */
export interface FlowControlSettings {
  /** Deliveries per second, or undefined for no rate limit. */
  readonly rate?: number;
  /** Requests that may go at once after a quiet spell (GCRA burst); 1 paces evenly. */
  readonly burst: number;
  /** Requests in flight at once, or undefined for no cap. */
  readonly maxInFlight?: number;
  /** AIMD on overload and the endpoint-wide `Retry-After` pause. */
  readonly adaptive: boolean;
}

/** Bounds the API accepts. */
export const FLOW_CONTROL_LIMITS = Object.freeze({
  // The smallest rate: one delivery every 1,000 s. Below it a slot is centuries away (or, for a subnormal number,
  // 1/rate is Infinity and the limit would let everything through).
  rate: { min: 0.001, max: 100_000 },
  burst: { min: 1, max: 10_000 },
  maxInFlight: { min: 1, max: 10_000 },
});

/**
 * How far ahead an attempt may book its slot and wait for it in the worker, in ms: a short, bounded hold of the
 * worker slot that keeps pacing smooth. Anything further waits on a Temporal timer.
 */
export const RESERVE_HORIZON_MS = 1_000;
/**
 * The longest single durable wait, in ms, while a throttled attempt has waited fewer than
 * {@link LONG_WAIT_AFTER_THROTTLES} times: a raised limit reaches the waiting attempts within this long.
 */
export const MAX_THROTTLE_WAIT_MS = 4_000;
/** Waits after this many throttles in a row may be up to {@link MAX_LONG_THROTTLE_WAIT_MS}: bounds history growth. */
export const LONG_WAIT_AFTER_THROTTLES = 16;
export const MAX_LONG_THROTTLE_WAIT_MS = 15_000;
/**
 * No throttled attempt sleeps longer than this, whatever the queue or the receiver's pause: a raised limit, a pause
 * lifted (`adaptiveBackoff: false`) or a removed limit reaches every waiting attempt within it.
 */
export const MAX_ANY_THROTTLE_WAIT_MS = 300_000;
/** Shortest durable wait, in ms: a timer shorter than this costs more than it saves. */
export const MIN_THROTTLE_WAIT_MS = 50;
/** An in-flight lease lives this long without renewal (a worker killed mid-request frees its slot by then). */
export const LEASE_TTL_MS = 20_000;
/** Running attempts renew their lease this often. */
export const LEASE_RENEW_MS = 5_000;

/** AIMD: the effective rate is multiplied by this on overload… */
export const AIMD_DECREASE = 0.5;
/** …at most once per this many ms (the answers to requests already sent do not cut it again)… */
export const AIMD_DECREASE_COOLDOWN_MS = 1_000;
/** …and grows by this many deliveries/s per second of successes (`+ AIMD_INCREASE / rate` per success). */
export const AIMD_INCREASE = 1;
/** The effective rate never goes below this (or the limit, when lower). */
export const AIMD_FLOOR = 1;

/** The settings of an endpoint, or undefined when it has none (`adaptiveBackoff` alone configures nothing). */
export function flowControlSettings(endpoint: Endpoint): FlowControlSettings | undefined {
  const { rateLimit, maxInFlight } = endpoint;
  if (rateLimit === undefined && maxInFlight === undefined) return undefined;
  return {
    ...(rateLimit !== undefined ? { rate: rateLimit } : {}),
    burst: endpoint.rateLimitBurst ?? 1,
    ...(maxInFlight !== undefined ? { maxInFlight } : {}),
    adaptive: endpoint.adaptiveBackoff !== false,
  };
}

/** What an attempt's outcome tells the endpoint's AIMD: overload (429, 503, a timeout), a success, or nothing. */
export type FlowSignal = 'overload' | 'success' | 'none';

export function flowSignal(classification: DeliveryClassification): FlowSignal {
  switch (classification.outcome) {
    case 'delivered':
      return 'success';
    case 'retry':
      return classification.reason === 'http_429' ||
        classification.reason === 'http_503' ||
        classification.reason === 'timeout'
        ? 'overload'
        : 'none';
    case 'gone':
    case 'permanent':
      return 'none';
    default: {
      const unreachable: never = classification;
      return unreachable;
    }
  }
}

/** Why the gate said no. */
export type ThrottleReason = 'paused' | 'in_flight' | 'rate';

/** The gate's answer when it said no, as the store reads it from Redis. */
export interface GateRefusal {
  readonly reason: ThrottleReason;
  /** The earliest the attempt could pass, in ms from now (pause end, rate slot); 0 when unknown (in flight). */
  readonly minWaitMs: number;
  /** Attempts queued ahead of this one, by the endpoint's ticket counters (an estimate). */
  readonly ahead: number;
  /** The rate the gate applied, deliveries/s (undefined: no rate limit). */
  readonly effectiveRate?: number;
}

/**
 * How long a throttled attempt sleeps before it tries again, in ms.
 * - paused: until the pause ends (the pause is already clamped);
 * - rate: its place in the queue at the current rate (`ahead / rate`), at least until the next slot;
 * - in flight: an exponential back-off from 100 ms, doubling per throttle in a row;
 * then capped at {@link MAX_THROTTLE_WAIT_MS} (a raised limit must reach sleeping attempts quickly; after
 * {@link LONG_WAIT_AFTER_THROTTLES} throttles in a row at {@link MAX_LONG_THROTTLE_WAIT_MS}; for the rate, at least a
 * tenth of the queue's wait; never above {@link MAX_ANY_THROTTLE_WAIT_MS}, a pause included), spread by ±10% so
 * a crowd does not wake at once, and at least {@link MIN_THROTTLE_WAIT_MS}.
 *
 * @param throttles throttles in a row of this delivery before this one.
 * @param random01 a uniform draw in [0, 1).
 */
export function throttleWaitMs(refusal: GateRefusal, throttles: number, random01: number): number {
  let cap = throttles >= LONG_WAIT_AFTER_THROTTLES ? MAX_LONG_THROTTLE_WAIT_MS : MAX_THROTTLE_WAIT_MS;
  let wait: number;
  switch (refusal.reason) {
    case 'paused':
      // The pause is the receiver's explicit ask: no early wake, except to look again after the longest sleep.
      return Math.max(
        MIN_THROTTLE_WAIT_MS,
        Math.min(Math.ceil(refusal.minWaitMs), MAX_ANY_THROTTLE_WAIT_MS) + Math.round(random01 * 100),
      );
    case 'rate': {
      const perSlot = refusal.effectiveRate ? 1_000 / refusal.effectiveRate : 0;
      wait = Math.max(refusal.minWaitMs, refusal.ahead * perSlot);
      // Deep in a long queue, wake up to a tenth of the way to the slot: a raised limit still reaches the attempt
      // well before its turn at the old rate, and a backlog of N costs far fewer than N / cap wake-ups per second.
      cap = Math.min(Math.max(cap, wait / 10), MAX_ANY_THROTTLE_WAIT_MS);
      break;
    }
    case 'in_flight':
      wait = 100 * 2 ** Math.min(throttles, 10);
      break;
    default: {
      const unreachable: never = refusal.reason;
      return unreachable;
    }
  }
  const spread = 0.9 + 0.2 * (Number.isFinite(random01) ? Math.min(Math.max(random01, 0), 1) : 0.5);
  // A wait that is no number (a rate so small that a slot is infinitely far) is the longest sleep.
  const capped = Number.isNaN(wait) ? MAX_ANY_THROTTLE_WAIT_MS : Math.min(wait, cap, MAX_ANY_THROTTLE_WAIT_MS);
  return Math.max(MIN_THROTTLE_WAIT_MS, Math.round(capped * spread));
}

/** Which endpoint, for the gate. */
export interface FlowEndpoint {
  readonly tenantId: TenantId;
  readonly endpointId: EndpointId;
}

/** The gate let the attempt through: wait `delayMs` (its booked slot), send, then the release. */
export interface GatePass {
  readonly admitted: true;
  readonly delayMs: number;
  /** The in-flight lease to renew and release; undefined without a cap. */
  readonly lease?: string;
  readonly effectiveRate?: number;
}

export type GateAnswer = GatePass | ({ readonly admitted: false; readonly ticket: number } & GateRefusal);

/** What the endpoint's AIMD and pause are after a release. */
export interface FlowState {
  readonly effectiveRate?: number;
  /** Epoch ms, when paused. */
  readonly pausedUntilMs?: number;
}

/** The shared gate (store/flow-control-store.ts implements it), as the delivery activity uses it. */
export interface FlowControlPort {
  /** @param ticket the ticket of an attempt that waited before (0: none yet). */
  take(target: FlowEndpoint, settings: FlowControlSettings, ticket: number): Promise<GateAnswer>;
  renew(target: FlowEndpoint, lease: string): Promise<boolean>;
  /** How long the endpoint's pause still runs, ms (0: not paused). */
  pauseRemainingMs(target: FlowEndpoint): Promise<number>;
  release(
    target: FlowEndpoint,
    settings: FlowControlSettings,
    lease: string | undefined,
    signal: FlowSignal,
    retryAfterMs: number,
  ): Promise<FlowState>;
}

/**
 * The failure type a throttled attempt ends its activity with (non-retryable, benign); the workflow waits it out
 * (src/workflows/flow-control-wait.ts). Not an error code of the registry: it never ends a delivery.
 */
export const THROTTLED_FAILURE_TYPE = 'endpoint_throttled' satisfies ErrorCode;

/**
 * What a throttled attempt hands back to the workflow instead of an outcome. Small: it is stored in history.
 */
export interface ThrottledAttempt {
  readonly outcome: 'throttled';
  readonly reason: ThrottleReason;
  /** How long to wait before trying again, ms. */
  readonly waitMs: number;
  /** Attempts made before this one (Temporal's count restarts with the next activity). */
  readonly attemptsBefore: number;
  readonly ticket: number;
  /** Throttles in a row so far, this one included. */
  readonly throttles: number;
}

/** What the workflow passes to the attempt it runs again after a throttle wait. */
export interface ThrottleResume {
  readonly attemptsBefore: number;
  /**
   * When the retry window ends, epoch ms: the original end moved by the time spent waiting, since a throttle wait
   * does not count against the window.
   */
  readonly windowEndsAtMs: number;
  readonly ticket: number;
  readonly throttles: number;
}
