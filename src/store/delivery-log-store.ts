import type { RedisClient } from '../infra/redis';
import type { AttemptLogEntry, DeadLetter } from '../domain/delivery-log';
import type { EndpointId, EventId, TenantId } from '../domain/ids';
import type { RedisKeys } from './redis-keys';

const MAX_ATTEMPTS_LOGGED = 200;

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
  ) {}

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
    return raw === null ? undefined : (JSON.parse(raw) as DeadLetter);
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
      return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as DeadLetter);
    }
    const all = (await this.redis.hvals(this.keys.deadLetters(tenantId))).map((r) => JSON.parse(r) as DeadLetter);
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
