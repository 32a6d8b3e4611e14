import type { Result } from 'ioredis';
import type { EventId, TenantId } from '../domain/ids';
import type { RedisClient } from '../infra/redis';
import { confirmReplicated } from '../infra/redis';
import type { RedisSettings } from '../infra/redis-settings';
import type { RedisKeys } from './redis-keys';

/** What claiming an event id for a stream entry found. */
export type EventClaim =
  /** The id was free (never used, or its dedupe window is over): it is this entry's now, with this entry's data. */
  | { readonly kind: 'claimed' }
  /** The same stream entry claimed it before (a re-read after a crash or a transient failure). */
  | { readonly kind: 'reclaimed' }
  /** Another stream entry holds the id within the dedupe window: this one is a duplicate. */
  | { readonly kind: 'duplicate'; readonly claimedBy: string };

/**
 * The dedupe claim and the payload in one step, so neither exists without the other: a claim names the stream
 * entry that made it (a re-read of that entry is not its own duplicate), and a fresh claim replaces any payload
 * left from an earlier event with the same id, so old data never goes out under a new event's time. Both keys
 * carry the event's hash tag (one Cluster slot); the service-wide duplicate counter does not, so it is counted
 * after the script (see {@link PayloadStore.claim}). `ARGV[5]`, when given, names a holder whose claim is void:
 * the script takes the id over from it (compare-and-set: a holder that changed meanwhile still makes a duplicate).
 */
const CLAIM_SCRIPT = `
local holder = redis.call('GET', KEYS[1])
if holder then
  if holder == ARGV[1] then return {'reclaimed', holder} end
  if holder ~= ARGV[5] then return {'duplicate', holder} end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[4])
return {'claimed', ARGV[1]}
`;

/** Extends the payload and keeps the claim alive at least as long, so a replayed payload is never overwritten. */
const TOUCH_SCRIPT = `
if redis.call('EXPIRE', KEYS[1], ARGV[1]) == 0 then return 0 end
local ttl = redis.call('TTL', KEYS[2])
if ttl == -2 then
  redis.call('SET', KEYS[2], '', 'EX', ARGV[1])
elseif ttl >= 0 and ttl < tonumber(ARGV[1]) then
  redis.call('EXPIRE', KEYS[2], ARGV[1])
end
return 1
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    wssClaimEvent(
      claimKey: string,
      payloadKey: string,
      entryId: string,
      dataJson: string,
      windowSeconds: number,
      payloadTtlSeconds: number,
      ...voidHolder: [] | [string]
    ): Result<[string, string], Context>;
    wssTouchPayload(payloadKey: string, claimKey: string, ttlSeconds: number): Result<number, Context>;
  }
}

/**
 * Event payloads live in Redis, not in Temporal history: workflows carry ids, and the delivery activity loads the
 * payload at attempt time. The TTL must outlast the longest retry window plus the time operators may want to
 * replay.
 *
 * Event ids are deduplicated here, by our own record rather than by Temporal's retention: "the same
 * `(tenant, id)` delivers once" holds for the dedupe window (`WSS_DEDUPE_WINDOW_SECONDS`). The window is at least
 * the payload TTL, so when an id becomes free again its earlier payload has expired and no delivery of the earlier
 * event can pick up the new data.
 */
export class PayloadStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly ttlSeconds: number,
    private readonly dedupeWindowSeconds: number,
    /** `REDIS_WAIT_REPLICAS`: a claimed payload is confirmed on this many replicas before the claim returns. */
    private readonly replication: Pick<RedisSettings, 'waitReplicas' | 'waitTimeoutMs'> = {
      waitReplicas: 0,
      waitTimeoutMs: 1000,
    },
  ) {
    if (dedupeWindowSeconds < ttlSeconds) throw new Error('the dedupe window must be at least the payload TTL');
    redis.defineCommand('wssClaimEvent', { numberOfKeys: 2, lua: CLAIM_SCRIPT });
    redis.defineCommand('wssTouchPayload', { numberOfKeys: 2, lua: TOUCH_SCRIPT });
  }

  /**
   * Claims `(tenantId, eventId)` for stream entry `entryId` and stores its payload, unless another entry holds
   * the id within the dedupe window (counted in the ingest stats as a duplicate).
   *
   * `isVoid` decides whether the holder of a taken id still counts (the consumer: not when it was added before the
   * tenant was created, i.e. by an earlier tenant of the same id); a void one is taken over. It is asked only for
   * a duplicate, so the common path costs one script call.
   *
   * With `REDIS_WAIT_REPLICAS`, a claim returns only once the replicas hold the payload (else it throws, and the
   * entry stays pending): a workflow is never started on a payload a failover could take back.
   */
  async claim(
    tenantId: TenantId,
    eventId: EventId,
    entryId: string,
    dataJson: string,
    isVoid?: (holder: string) => Promise<boolean>,
  ): Promise<EventClaim> {
    const run = (...voidHolder: [] | [string]) =>
      this.redis.wssClaimEvent(
        this.keys.eventClaim(tenantId, eventId),
        this.keys.payload(tenantId, eventId),
        entryId,
        dataJson,
        this.dedupeWindowSeconds,
        this.ttlSeconds,
        ...voidHolder,
      );
    let [kind, holder] = await run();
    if (kind === 'duplicate' && isVoid !== undefined && (await isVoid(holder))) [kind, holder] = await run(holder);
    if (kind === 'duplicate') {
      // A second step, in another slot: the counter is informational, and a crash in between only leaves one
      // duplicate uncounted; the decision itself was taken atomically above.
      await this.redis.hincrby(this.keys.ingestStats(), 'duplicates', 1);
      return { kind, claimedBy: holder };
    }
    if (kind === 'claimed' || kind === 'reclaimed') {
      await confirmReplicated(this.redis, this.replication);
      return { kind };
    }
    throw new Error(`unexpected claim answer ${kind}`);
  }

  async get(tenantId: TenantId, eventId: EventId): Promise<string | undefined> {
    return (await this.redis.get(this.keys.payload(tenantId, eventId))) ?? undefined;
  }

  /** Extends the TTL, e.g. when an operator replays an old delivery; the id stays taken while its payload lives. */
  async touch(tenantId: TenantId, eventId: EventId): Promise<boolean> {
    const touched = await this.redis.wssTouchPayload(
      this.keys.payload(tenantId, eventId),
      this.keys.eventClaim(tenantId, eventId),
      this.ttlSeconds,
    );
    return touched === 1;
  }

  /** Republished event ids ignored as duplicates since the counters were last reset. */
  async duplicateCount(): Promise<number> {
    return Number((await this.redis.hget(this.keys.ingestStats(), 'duplicates')) ?? 0);
  }
}
