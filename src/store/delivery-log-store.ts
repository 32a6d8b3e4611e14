import type { Result } from 'ioredis';
import type { RedisClient } from '../infra/redis';
import type { AttemptLogEntry, DeadLetter } from '../domain/delivery-log';
import type { EndpointId, EventId, TenantId } from '../domain/ids';
import type { RedisKeys } from './redis-keys';

const MAX_ATTEMPTS_LOGGED = 200;

/**
 * A delivery's terminal failure, once per workflow run: the dead letter and one step of the endpoint's failure
 * streak, together (all in the tenant's slot). A retried bookkeeping activity of the same run finds its own dead
 * letter (by the `run` field inside it) and changes nothing.
 * KEYS: dead letters, endpoint's dead letters by time, endpoint's failure streak.
 * ARGV: member, letter JSON, failed-at ms, run id, counts against the endpoint (1/0), now ms.
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
if ARGV[5] == '1' then
  redis.call('HSETNX', KEYS[3], 'since', ARGV[6])
  local count = redis.call('HINCRBY', KEYS[3], 'count', 1)
  return {1, count, tonumber(redis.call('HGET', KEYS[3], 'since'))}
end
local f = redis.call('HMGET', KEYS[3], 'count', 'since')
return {1, tonumber(f[1]) or 0, tonumber(f[2]) or tonumber(ARGV[6])}
`;

/**
 * The final attempt entry of a failed delivery, once per workflow run and endpoint (all in the event's slot): an
 * entry already marked with this run's final marker (ARGV[2], a substring of the stored JSON) is not written again.
 * KEYS: the event's attempts. ARGV: entry JSON (with the marker), marker, attempts kept, TTL s.
 * Returns 1 when written now, 0 when already there.
 */
const RECORD_FINAL_ATTEMPT_SCRIPT = `
local kept = tonumber(ARGV[3])
for _, entry in ipairs(redis.call('LRANGE', KEYS[1], -kept, -1)) do
  if string.find(entry, ARGV[2], 1, true) then return 0 end
end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -kept, -1)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    wssRecordFailedDelivery(
      deadLettersKey: string,
      endpointDeadLettersKey: string,
      endpointFailuresKey: string,
      member: string,
      letterJson: string,
      failedAtMs: number,
      runId: string,
      countsAgainstEndpoint: '1' | '0',
      nowMs: number,
    ): Result<[number, number, number], Context>;
    wssRecordFinalAttempt(
      attemptsKey: string,
      entryJson: string,
      marker: string,
      attemptsKept: number,
      attemptsTtlSeconds: number,
    ): Result<number, Context>;
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
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly ttlSeconds: number,
  ) {
    redis.defineCommand('wssRecordFailedDelivery', { numberOfKeys: 3, lua: RECORD_FAILED_DELIVERY_SCRIPT });
    redis.defineCommand('wssRecordFinalAttempt', { numberOfKeys: 1, lua: RECORD_FINAL_ATTEMPT_SCRIPT });
  }

  /** Appends an attempt to the event's log. A delivered attempt also ends its endpoint's failure streak. */
  async recordAttempt(tenantId: TenantId, eventId: EventId, entry: AttemptLogEntry): Promise<void> {
    const key = this.keys.attempts(tenantId, eventId);
    await this.redis
      .multi()
      .rpush(key, JSON.stringify(entry))
      .ltrim(key, -MAX_ATTEMPTS_LOGGED, -1)
      .expire(key, this.ttlSeconds)
      .exec();
    // A second step: the attempt log lives in the event's slot, the streak in the tenant's. Ending a streak is
    // idempotent, and a crash between the two steps only leaves the streak one success behind until the next one.
    if (entry.outcome === 'delivered') await this.redis.del(this.keys.endpointFailures(tenantId, entry.endpointId));
  }

  async attempts(tenantId: TenantId, eventId: EventId): Promise<AttemptLogEntry[]> {
    return (await this.redis.lrange(this.keys.attempts(tenantId, eventId), 0, -1)).map((raw) => {
      // A final entry written by recordFailedDelivery carries its run's marker, for idempotency only.
      const { finalOfRun: _finalOfRun, ...entry } = JSON.parse(raw) as AttemptLogEntry & { finalOfRun?: string };
      return entry;
    });
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
   * failure in the endpoint's streak. The dead letter and the streak step are one atomic script, so a crash cannot
   * count the streak twice or not at all.
   */
  async recordFailedDelivery(
    letter: DeadLetter,
    options: { runId: string; countsAgainstEndpoint: boolean; nowMs: number; finalAttempt?: AttemptLogEntry },
  ): Promise<FailedDeliveryRecord> {
    const member = `${letter.eventId}/${letter.endpointId}`;
    // Two single-slot steps (the attempt log is in the event's slot, the dead letter and the streak in the tenant's),
    // each idempotent per run: the final attempt first, so a crash between the two leaves a log entry and a retried
    // call adds the dead letter; never a dead letter counted twice.
    if (options.finalAttempt) {
      const marker = `${options.runId}/${letter.endpointId}`;
      await this.redis.wssRecordFinalAttempt(
        this.keys.attempts(letter.tenantId, letter.eventId),
        JSON.stringify({ ...options.finalAttempt, finalOfRun: marker }),
        `"finalOfRun":${JSON.stringify(marker)}`,
        MAX_ATTEMPTS_LOGGED,
        this.ttlSeconds,
      );
    }
    const [recorded, count, sinceMs] = await this.redis.wssRecordFailedDelivery(
      this.keys.deadLetters(letter.tenantId),
      this.keys.endpointDeadLetters(letter.tenantId, letter.endpointId),
      this.keys.endpointFailures(letter.tenantId, letter.endpointId),
      member,
      JSON.stringify({ ...letter, run: options.runId }),
      Date.parse(letter.failedAt),
      options.runId,
      options.countsAgainstEndpoint ? '1' : '0',
      options.nowMs,
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

  /**
   * Deletes every dead letter of a tenant (when the tenant is deleted): a tenant created again under the same id
   * starts with none. One MULTI: the keys share the tenant's hash tag.
   */
  async deleteTenantDeadLetters(tenantId: TenantId): Promise<number> {
    const letters = (await this.redis.hvals(this.keys.deadLetters(tenantId))).map(parseDeadLetter);
    const endpoints = [...new Set(letters.map((d) => d.endpointId))];
    const tx = this.redis.multi().del(this.keys.deadLetters(tenantId));
    for (const endpointId of endpoints) tx.del(this.keys.endpointDeadLetters(tenantId, endpointId));
    await tx.exec();
    return letters.length;
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
