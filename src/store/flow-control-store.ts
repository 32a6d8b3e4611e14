import { randomUUID } from 'node:crypto';
import type { Result } from 'ioredis';
import type { RedisClient } from '../infra/redis';
import type {
  FlowControlSettings,
  FlowEndpoint,
  FlowSignal,
  FlowState,
  GateAnswer,
  ThrottleReason,
} from '../domain/flow-control';
import {
  AIMD_DECREASE,
  AIMD_DECREASE_COOLDOWN_MS,
  AIMD_FLOOR,
  AIMD_INCREASE,
  LEASE_TTL_MS,
  RESERVE_HORIZON_MS,
} from '../domain/flow-control';
import type { EndpointId, TenantId } from '../domain/ids';
import type { RedisKeys } from './redis-keys';

/**
 * Flow control state of an endpoint, shared by every worker, changed only by the Lua scripts below (one round trip,
 * atomic; the clock is Redis's own `TIME`, so workers' clocks do not matter).
 *
 * `endpointFlowControl` (hash):
 * - `tat`: GCRA theoretical arrival time, ms. A take is allowed when `max(tat, now) - (burst - 1) × interval` is
 *   at most {@link RESERVE_HORIZON_MS} away; it books its slot (`tat += interval`) and waits for it in the worker.
 *   The interval is read from the limit passed in on every take, so a changed limit applies at the next take.
 * - `eff`: the AIMD effective rate while it is below the limit (absent: the limit itself); `cut`: when it was
 *   last cut.
 * - `paused`: the end of an endpoint-wide `Retry-After` pause, ms.
 * - `issued`, `served`: ticket counters. A throttled attempt draws a ticket once and keeps it across its waits;
 *   `ticket - served` estimates how many wait ahead of it, which spreads the wake-ups at the current rate.
 *
 * `endpointLeases` (sorted set): one member per request in flight, scored by when its lease expires. Running
 * attempts renew theirs; a worker killed mid-request leaves a lease that expires ({@link LEASE_TTL_MS}) and is
 * swept by the next take. Both keys expire a day after their last write.
 */
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local maxIn = tonumber(ARGV[3])
local adaptive = ARGV[4] == '1'
local horizon = tonumber(ARGV[5])
local lease = ARGV[6]
local leaseTtl = tonumber(ARGV[7])
local ticket = tonumber(ARGV[8])
local keep = tonumber(ARGV[9])
local s = redis.call('HMGET', KEYS[1], 'tat', 'eff', 'paused', 'issued', 'served')
local tat = tonumber(s[1]) or 0
local eff = tonumber(s[2])
local paused = tonumber(s[3]) or 0
local issued = tonumber(s[4]) or 0
local served = tonumber(s[5]) or 0
local effective = rate
if adaptive and rate > 0 and eff and eff < rate then effective = eff end
local function refuse(why, waitMs)
  if ticket <= 0 then
    issued = math.max(issued, served) + 1
    ticket = issued
    redis.call('HSET', KEYS[1], 'issued', issued)
    redis.call('PEXPIRE', KEYS[1], keep)
  end
  return {0, why, string.format('%.0f', math.max(0, waitMs)), ticket, math.max(0, ticket - served), tostring(effective)}
end
if adaptive and paused > now then return refuse('paused', paused - now) end
if maxIn > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= maxIn then return refuse('in_flight', 0) end
end
local delay = 0
if effective > 0 then
  local interval = 1000 / effective
  local base = math.max(tat, now)
  local allowAt = base - (burst - 1) * interval
  if allowAt - now > horizon then return refuse('rate', allowAt - now) end
  delay = math.max(0, allowAt - now)
  redis.call('HSET', KEYS[1], 'tat', string.format('%.3f', base + interval))
end
redis.call('HSET', KEYS[1], 'served', served + 1)
redis.call('PEXPIRE', KEYS[1], keep)
if maxIn > 0 then
  redis.call('ZADD', KEYS[2], string.format('%.0f', now + delay + leaseTtl), lease)
  redis.call('PEXPIRE', KEYS[2], keep)
end
return {1, 'ok', string.format('%.0f', delay), 0, 0, tostring(effective)}
`;

/**
 * Ends a request: drops its lease, feeds the answer to AIMD (overload: `eff × decrease`, at most once per
 * cooldown, not below the floor; success: `eff + increase / eff`, back to the limit, where `eff` is dropped) and a
 * `Retry-After` into the endpoint's pause. Returns the effective rate and the pause end (0: none).
 */
const RELEASE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = ARGV[1]
local signal = ARGV[2]
local retryAfter = tonumber(ARGV[3])
local rate = tonumber(ARGV[4])
local adaptive = ARGV[5] == '1'
local cooldown = tonumber(ARGV[6])
local decrease = tonumber(ARGV[7])
local increase = tonumber(ARGV[8])
local floor = tonumber(ARGV[9])
local keep = tonumber(ARGV[10])
if lease ~= '' then redis.call('ZREM', KEYS[2], lease) end
local s = redis.call('HMGET', KEYS[1], 'eff', 'cut', 'paused')
local eff = tonumber(s[1])
local cut = tonumber(s[2]) or 0
local paused = tonumber(s[3]) or 0
if adaptive and rate > 0 then
  local current = eff or rate
  if current > rate then current = rate end
  if signal == 'overload' and now - cut >= cooldown then
    current = math.max(math.min(floor, rate), current * decrease)
    redis.call('HSET', KEYS[1], 'eff', string.format('%.4f', current), 'cut', now)
    redis.call('PEXPIRE', KEYS[1], keep)
  elseif signal == 'success' and eff then
    current = current + increase / current
    if current >= rate then
      redis.call('HDEL', KEYS[1], 'eff')
      current = rate
    else
      redis.call('HSET', KEYS[1], 'eff', string.format('%.4f', current))
    end
  end
  eff = current
end
if adaptive and retryAfter > 0 and now + retryAfter > paused then
  paused = now + retryAfter
  redis.call('HSET', KEYS[1], 'paused', paused)
  redis.call('PEXPIRE', KEYS[1], keep)
end
if paused <= now then paused = 0 end
return {tostring(eff or rate), string.format('%.0f', paused)}
`;

/** Extends a lease still held; 0 when it is gone (expired and swept). */
const RENEW_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZADD', KEYS[1], 'XX', 'CH', string.format('%.0f', now + tonumber(ARGV[2])), ARGV[1])
`;

/** How long the pause still runs, ms (0: none). */
const PAUSE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = tonumber(redis.call('HGET', KEYS[1], 'paused')) or 0
return math.max(0, paused - now)
`;

/** The live state for reads: effective rate, pause end (0: none), requests in flight. */
const STATE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 'eff', 'paused')
local paused = tonumber(s[2]) or 0
if paused <= now then paused = 0 end
return {s[1] or '', string.format('%.0f', paused), redis.call('ZCOUNT', KEYS[2], now, '+inf')}
`;

/** Keys expire this long after their last write. */
const KEEP_MS = 24 * 60 * 60 * 1000;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    wssFlowTake(state: string, leases: string, ...args: (string | number)[]): Result<unknown[], Context>;
    wssFlowRelease(state: string, leases: string, ...args: (string | number)[]): Result<string[], Context>;
    wssFlowRenew(leases: string, lease: string, ttlMs: number): Result<number, Context>;
    wssFlowPause(state: string): Result<number, Context>;
    wssFlowState(state: string, leases: string): Result<[string, string, number], Context>;
  }
}

/** The shared gate of every endpoint with flow control: implements the delivery activity's `FlowControlPort`. */
export class FlowControlStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('wssFlowTake', { numberOfKeys: 2, lua: TAKE_SCRIPT });
    redis.defineCommand('wssFlowRelease', { numberOfKeys: 2, lua: RELEASE_SCRIPT });
    redis.defineCommand('wssFlowRenew', { numberOfKeys: 1, lua: RENEW_SCRIPT });
    redis.defineCommand('wssFlowPause', { numberOfKeys: 1, lua: PAUSE_SCRIPT });
    redis.defineCommand('wssFlowState', { numberOfKeys: 2, lua: STATE_SCRIPT });
  }

  /**
   * One take at the gate: the pause, the in-flight cap, then the rate. Nothing is booked unless all three pass.
   * @param ticket the ticket of an attempt that waited before (0: none yet).
   */
  async take(target: FlowEndpoint, settings: FlowControlSettings, ticket: number): Promise<GateAnswer> {
    const lease = settings.maxInFlight !== undefined ? randomUUID() : '';
    const reply = await this.redis.wssFlowTake(
      ...this.keyPair(target),
      settings.rate ?? 0,
      settings.burst,
      settings.maxInFlight ?? 0,
      settings.adaptive ? '1' : '0',
      RESERVE_HORIZON_MS,
      lease,
      LEASE_TTL_MS,
      ticket,
      KEEP_MS,
    );
    const [ok, reason, waitMs, gotTicket, ahead, effective] = reply as [number, string, string, number, number, string];
    const effectiveRate = settings.rate !== undefined ? Number(effective) : undefined;
    const rate = effectiveRate !== undefined ? { effectiveRate } : {};
    if (ok === 1) {
      return { admitted: true, delayMs: Number(waitMs), ...(lease !== '' ? { lease } : {}), ...rate };
    }
    return {
      admitted: false,
      reason: reason as ThrottleReason,
      minWaitMs: Number(waitMs),
      ticket: Number(gotTicket),
      ahead: Number(ahead),
      ...rate,
    };
  }

  /** Keeps a running request's lease alive; false when it had already expired. */
  async renew(target: FlowEndpoint, lease: string): Promise<boolean> {
    return (
      (await this.redis.wssFlowRenew(
        this.keys.endpointLeases(target.tenantId, target.endpointId),
        lease,
        LEASE_TTL_MS,
      )) === 1
    );
  }

  async pauseRemainingMs(target: FlowEndpoint): Promise<number> {
    return this.redis.wssFlowPause(this.keys.endpointFlowControl(target.tenantId, target.endpointId));
  }

  /**
   * Ends a request (drops its lease) and feeds its answer to AIMD and the pause.
   * @param retryAfterMs the receiver's `Retry-After`, already clamped to the policy's maximum (0: none).
   */
  async release(
    target: FlowEndpoint,
    settings: FlowControlSettings,
    lease: string | undefined,
    signal: FlowSignal,
    retryAfterMs: number,
  ): Promise<FlowState> {
    const [eff, paused] = await this.redis.wssFlowRelease(
      ...this.keyPair(target),
      lease ?? '',
      signal,
      Math.max(0, Math.round(retryAfterMs)),
      settings.rate ?? 0,
      settings.adaptive ? '1' : '0',
      AIMD_DECREASE_COOLDOWN_MS,
      AIMD_DECREASE,
      AIMD_INCREASE,
      AIMD_FLOOR,
      KEEP_MS,
    );
    return {
      ...(settings.rate !== undefined ? { effectiveRate: Number(eff) } : {}),
      ...(Number(paused) > 0 ? { pausedUntilMs: Number(paused) } : {}),
    };
  }

  /** The live state, for the API's read of an endpoint. */
  async state(
    tenantId: TenantId,
    endpointId: EndpointId,
    settings: FlowControlSettings,
  ): Promise<FlowState & { inFlight: number }> {
    const [eff, paused, inFlight] = await this.redis.wssFlowState(...this.keyPair({ tenantId, endpointId }));
    const rate = settings.rate;
    const effectiveRate =
      rate === undefined ? undefined : settings.adaptive && eff !== '' ? Math.min(rate, Number(eff)) : rate;
    return {
      ...(effectiveRate !== undefined ? { effectiveRate } : {}),
      ...(settings.adaptive && Number(paused) > 0 ? { pausedUntilMs: Number(paused) } : {}),
      inFlight: Number(inFlight),
    };
  }

  private keyPair(target: FlowEndpoint): [string, string] {
    return [
      this.keys.endpointFlowControl(target.tenantId, target.endpointId),
      this.keys.endpointLeases(target.tenantId, target.endpointId),
    ];
  }
}
