import type { EndpointId, EventId, TenantId } from '../domain/ids';
import { ONLY_ENDPOINT_FIELD } from '../domain/stream-entry';
import type { TraceHeaders } from '../domain/trace-context';
import type { RedisClient } from '../infra/redis';
import { confirmReplicated } from '../infra/redis';
import type { RedisSettings } from '../infra/redis-settings';
import type { RedisKeys } from './redis-keys';

/**
 * Appends events to the stream exactly as an external producer would (`XADD <stream> * tenant .. type .. data ..
 * [id ..]`), so API-published events take the same path, and get the same guarantees, as any other.
 */
export class EventPublisher {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Pick<RedisKeys, 'eventStream'>,
    /** `REDIS_WAIT_REPLICAS`: publish returns only once this many replicas hold the entry. */
    private readonly replication: Pick<RedisSettings, 'waitReplicas' | 'waitTimeoutMs'> = {
      waitReplicas: 0,
      waitTimeoutMs: 1000,
    },
  ) {}

  /** Returns the stream entry id. `trace` goes into the entry's `traceparent` and `tracestate` fields. */
  async publish(event: {
    tenantId: TenantId;
    type: string;
    dataJson: string;
    id?: EventId;
    trace?: TraceHeaders;
    /** The entry's `orderingKey` field (ordered delivery). */
    orderingKey?: string;
    /** Routes the event to this endpoint only (a test send: the `wss_endpoint` field). */
    onlyEndpoint?: EndpointId;
  }): Promise<string> {
    const fields = ['tenant', event.tenantId, 'type', event.type, 'data', event.dataJson];
    if (event.id !== undefined) fields.push('id', event.id);
    if (event.onlyEndpoint !== undefined) fields.push(ONLY_ENDPOINT_FIELD, event.onlyEndpoint);
    if (event.orderingKey !== undefined) fields.push('orderingKey', event.orderingKey);
    if (event.trace !== undefined) {
      fields.push('traceparent', event.trace.traceparent);
      if (event.trace.tracestate !== undefined) fields.push('tracestate', event.trace.tracestate);
    }
    const entryId = await this.redis.xadd(this.keys.eventStream(), '*', ...fields);
    if (entryId === null) throw new Error('XADD returned no id');
    await confirmReplicated(this.redis, this.replication);
    return entryId;
  }
}
