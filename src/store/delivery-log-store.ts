import type { Redis, Result } from 'ioredis';
import type { AttemptLogEntry, DeadLetter } from '../domain/delivery-log';
import type { EndpointId, EventId, TenantId } from '../domain/ids';
import type { RedisKeys } from './redis-keys';

const MAX_ATTEMPTS_LOGGED = 200;

/**
 * A delivery's terminal failure, once per workflow run: the dead letter, the attempt log's final entry (when
 * given) and one step of the endpoint's failure streak, together. A retried bookkeeping activity of the same run
 * finds its own dead letter (by the `run` field inside it) and changes nothing.
 * KEYS: dead letters, endpoint's dead letters by time, endpoint's failure streak, the event's attempts.
 * ARGV: member, letter JSON, failed-at ms, run id, counts against the endpoint (1/0), now ms, attempt entry JSON
 * (or empty), attempts kept, attempts TTL s.
 * Returns {1 when written now, 0 when already written by this run; streak count; streak start ms}.
 */
const RECORD_FAILED_DELIVERY_SCRIPT = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local ok, letter = pcall(cjson.decode, old)
  if ok and type(letter) == 'table' and letter['run'] == ARGV[4] then
    local f = redis.call('HMGET', KEYS[3], 'count', 'since')
    return {0, tonumber(f[1]) or 0, tonumber(f[2]) or tonumber(ARGV[6])}
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if ARGV[7] ~= '' then
  redis.call('RPUSH', KEYS[4], ARGV[7])
  redis.call('LTRIM', KEYS[4], -tonumber(ARGV[8]), -1)
  redis.call('EXPIRE', KEYS[4], ARGV[9])
end
if ARGV[5] == '1' then
  redis.call('HSETNX', KEYS[3], 'since', ARGV[6])
  local count = redis.call('HINCRBY', KEYS[3], 'count', 1)
  return {1, count, tonumber(redis.call('HGET', KEYS[3], 'since'))}
end
local f = redis.call('HMGET', KEYS[3], 'count', 'since')
return {1, tonumber(f[1]) or 0, tonumber(f[2]) or tonumber(ARGV[6])}
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    wssRecordFailedDelivery(
      deadLettersKey: string,
      endpointDeadLettersKey: string,
      endpointFailuresKey: string,
      attemptsKey: string,
      member: string,
      letterJson: string,
      failedAtMs: number,
      runId: string,
      countsAgainstEndpoint: '1' | '0',
      nowMs: number,
      attemptJson: string,
      attemptsKept: number,
      attemptsTtlSeconds: number,
    ): Result<[number, number, number], Context>;
  }
}

/** What {@link DeliveryLogStore.recordFailedDelivery} did, and the endpoint's failure streak after it. */
export interface FailedDeliveryRecord {
  /** False when this run's failure was already recorded (a retried bookkeeping call): nothing changed. */
  readonly recorded: boolean;
  readonly streak: { readonly count: number; readonly sinceMs: number };
}

/** The stored letter carries the run that wrote it, for idempotency only; readers never see it. */
function parseDeadLetter(raw: string): DeadLetter {
  const { run: _run, ...letter } = JSON.parse(raw) as DeadLetter & { run?: string };
  return letter;
}

/**
 * The delivery log: per-attempt records, dead letters and endpoint failure streaks. Temporal stays the source of
 * truth for a delivery's state; this adds what its history does not keep (each retried attempt) and what must be
 * queried across workflows (dead letters of an endpoint over a time range).
 */
export class DeliveryLogStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly ttlSeconds: number,
  ) {
    redis.defineCommand('wssRecordFailedDelivery', { numberOfKeys: 4, lua: RECORD_FAILED_DELIVERY_SCRIPT });
  }

  /** Appends an attempt to the event's log. A delivered attempt also ends its endpoint's failure streak. */
  async recordAttempt(tenantId: TenantId, eventId: EventId, entry: AttemptLogEntry): Promise<void> {
    const key = this.keys.attempts(tenantId, eventId);
    const tx = this.redis
      .multi()
      .rpush(key, JSON.stringify(entry))
      .ltrim(key, -MAX_ATTEMPTS_LOGGED, -1)
      .expire(key, this.ttlSeconds);
    if (entry.outcome === 'delivered') tx.del(this.keys.endpointFailures(tenantId, entry.endpointId));
    await tx.exec();
  }

  async attempts(tenantId: TenantId, eventId: EventId): Promise<AttemptLogEntry[]> {
    return (await this.redis.lrange(this.keys.attempts(tenantId, eventId), 0, -1)).map(
      (raw) => JSON.parse(raw) as AttemptLogEntry,
    );
  }

  async addDeadLetter(letter: DeadLetter): Promise<void> {
    const member = `${letter.eventId}/${letter.endpointId}`;
    await this.redis
      .multi()
      .hset(this.keys.deadLetters(letter.tenantId), member, JSON.stringify(letter))
      .zadd(this.keys.endpointDeadLetters(letter.tenantId, letter.endpointId), Date.parse(letter.failedAt), member)
      .exec();
  }

  /**
   * Records a delivery that failed for good, once per workflow run (`runId`), however often it is called: the dead
   * letter, `finalAttempt` in the attempt log when given, and, when the failure `countsAgainstEndpoint`, one more
   * failure in the endpoint's streak. Atomic, so a crash between the steps cannot count the streak twice or not at
   * all.
   */
  async recordFailedDelivery(
    letter: DeadLetter,
    options: { runId: string; countsAgainstEndpoint: boolean; nowMs: number; finalAttempt?: AttemptLogEntry },
  ): Promise<FailedDeliveryRecord> {
    const member = `${letter.eventId}/${letter.endpointId}`;
    const [recorded, count, sinceMs] = await this.redis.wssRecordFailedDelivery(
      this.keys.deadLetters(letter.tenantId),
      this.keys.endpointDeadLetters(letter.tenantId, letter.endpointId),
      this.keys.endpointFailures(letter.tenantId, letter.endpointId),
      this.keys.attempts(letter.tenantId, letter.eventId),
      member,
      JSON.stringify({ ...letter, run: options.runId }),
      Date.parse(letter.failedAt),
      options.runId,
      options.countsAgainstEndpoint ? '1' : '0',
      options.nowMs,
      options.finalAttempt ? JSON.stringify(options.finalAttempt) : '',
      MAX_ATTEMPTS_LOGGED,
      this.ttlSeconds,
    );
    return { recorded: recorded === 1, streak: { count, sinceMs } };
  }

  /** Removes a dead letter once its delivery succeeded on a retry or replay. */
  async removeDeadLetter(tenantId: TenantId, eventId: EventId, endpointId: EndpointId): Promise<void> {
    const member = `${eventId}/${endpointId}`;
    await this.redis
      .multi()
      .hdel(this.keys.deadLetters(tenantId), member)
      .zrem(this.keys.endpointDeadLetters(tenantId, endpointId), member)
      .exec();
  }

  async getDeadLetter(tenantId: TenantId, eventId: EventId, endpointId: EndpointId): Promise<DeadLetter | undefined> {
    const raw = await this.redis.hget(this.keys.deadLetters(tenantId), `${eventId}/${endpointId}`);
    return raw === null ? undefined : parseDeadLetter(raw);
  }

  /** Dead letters of a tenant (optionally one endpoint, optionally a failure-time range), oldest first. */
  async listDeadLetters(
    tenantId: TenantId,
    filter: { endpointId?: EndpointId; sinceMs?: number; untilMs?: number; limit?: number } = {},
  ): Promise<DeadLetter[]> {
    const limit = filter.limit ?? 1000;
    let members: string[];
    if (filter.endpointId !== undefined) {
      members = await this.redis.zrangebyscore(
        this.keys.endpointDeadLetters(tenantId, filter.endpointId),
        filter.sinceMs ?? '-inf',
        filter.untilMs ?? '+inf',
        'LIMIT',
        0,
        limit,
      );
      if (members.length === 0) return [];
      const raws = await this.redis.hmget(this.keys.deadLetters(tenantId), ...members);
      return raws.filter((r): r is string => r !== null).map(parseDeadLetter);
    }
    const all = (await this.redis.hvals(this.keys.deadLetters(tenantId))).map(parseDeadLetter);
    return all
      .filter(
        (d) =>
          (filter.sinceMs === undefined || Date.parse(d.failedAt) >= filter.sinceMs) &&
          (filter.untilMs === undefined || Date.parse(d.failedAt) <= filter.untilMs),
      )
      .sort((a, b) => a.failedAt.localeCompare(b.failedAt))
      .slice(0, limit);
  }

  /**
   * Counts a failed delivery towards the endpoint's failure streak. Returns the streak length and when it began.
   */
  async recordEndpointFailure(
    tenantId: TenantId,
    endpointId: EndpointId,
    nowMs: number,
  ): Promise<{ count: number; sinceMs: number }> {
    const key = this.keys.endpointFailures(tenantId, endpointId);
    const reply = await this.redis
      .multi()
      .hsetnx(key, 'since', String(nowMs))
      .hincrby(key, 'count', 1)
      .hget(key, 'since')
      .exec();
    const count = Number(reply?.[1]?.[1] ?? 1);
    const since = Number(reply?.[2]?.[1] ?? nowMs);
    return { count, sinceMs: since };
  }

  /** A delivered event ends the endpoint's failure streak. */
  async resetEndpointFailures(tenantId: TenantId, endpointId: EndpointId): Promise<void> {
    await this.redis.del(this.keys.endpointFailures(tenantId, endpointId));
  }
}
