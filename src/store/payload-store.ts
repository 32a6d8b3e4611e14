import type { Redis } from 'ioredis';
import type { RedisKeys } from '../infra/redis-keys';

/**
 * Event payloads live in Redis, not in Temporal history: workflows carry ids, and the delivery activity loads the
 * payload at attempt time. The TTL must outlast the longest retry window plus the time operators may want to
 * replay.
 */
export class PayloadStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly ttlSeconds: number,
  ) {}

  /**
   * Stores the payload unless one is already stored for this event id: the first write wins, matching the
   * workflow-id dedupe, so a duplicate XADD cannot change what an in-flight delivery sends.
   */
  async put(tenantId: string, eventId: string, dataJson: string): Promise<void> {
    await this.redis.set(this.keys.payload(tenantId, eventId), dataJson, 'EX', this.ttlSeconds, 'NX');
  }

  async get(tenantId: string, eventId: string): Promise<string | undefined> {
    return (await this.redis.get(this.keys.payload(tenantId, eventId))) ?? undefined;
  }

  /** Extends the TTL, e.g. when an operator replays an old delivery. */
  async touch(tenantId: string, eventId: string): Promise<boolean> {
    return (await this.redis.expire(this.keys.payload(tenantId, eventId), this.ttlSeconds)) === 1;
  }
}
