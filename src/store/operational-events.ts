import type { Redis } from 'ioredis';
import type { Logger } from '../infra/logger';

/** Events about the service itself, for operators: endpoints the service disabled, consumer groups it recreated. */
export type OperationalEvent = EndpointDisabledEvent | ConsumerGroupRecreatedEvent;

/**
 * The stream consumer found its group gone (XGROUP DESTROY, the stream key deleted, Redis restarted empty) and
 * recreated it. Entries that were pending in the lost group are no longer known to Redis.
 */
export interface ConsumerGroupRecreatedEvent {
  readonly type: 'consumer.group_recreated';
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  /** The group delivers entries after this id (`0`: the whole stream). */
  readonly fromId: string;
  /** The Redis error that revealed the loss. */
  readonly detail: string;
  readonly at: string;
}

export interface EndpointDisabledEvent {
  readonly type: 'endpoint.disabled';
  readonly tenantId: string;
  readonly endpointId: string;
  /** `gone` (410), `failing` (failure threshold), ... */
  readonly reason: string;
  readonly detail: string;
  readonly at: string;
}

export interface OperatorNotifier {
  notify(event: OperationalEvent): Promise<void>;
}

/**
 * Publishes operational events to a Redis stream (`<prefix>:ops`, capped) and, when configured, to an operator
 * webhook. The webhook is best effort: a failure there is logged and never fails a delivery.
 */
export class OperationalEvents {
  constructor(
    private readonly redis: Redis,
    private readonly stream: string,
    private readonly log: Logger,
    private readonly webhook?: OperatorNotifier,
  ) {}

  async publish(event: OperationalEvent): Promise<void> {
    await this.redis.xadd(this.stream, 'MAXLEN', '~', 100_000, '*', 'type', event.type, 'event', JSON.stringify(event));
    this.log.warn({ ...event }, 'operational event');
    if (this.webhook) {
      await this.webhook.notify(event).catch((err: unknown) => {
        this.log.error(
          { err: err instanceof Error ? err.message : String(err), type: event.type },
          'operator webhook failed',
        );
      });
    }
  }
}
