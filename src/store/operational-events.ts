import type { RedisClient } from '../infra/redis';
import type { OperationalEvent, OperatorNotifier } from '../domain/operational-event';
import type { Logger } from '../infra/logger';
import type { RedisKeys } from './redis-keys';

/**
 * Publishes operational events to a Redis stream (`<prefix>:ops`, capped) and, when configured, to an operator
 * webhook. The webhook is best effort: a failure there is logged and never fails a delivery.
 */
export class OperationalEvents {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Pick<RedisKeys, 'operationalEvents'>,
    private readonly log: Logger,
    private readonly webhook?: OperatorNotifier,
  ) {}

  async publish(event: OperationalEvent): Promise<void> {
    const entryId = await this.redis.xadd(
      this.keys.operationalEvents(),
      'MAXLEN',
      '~',
      100_000,
      '*',
      'type',
      event.type,
      'event',
      JSON.stringify(event),
    );
    this.log.warn({ ...event }, 'operational event');
    if (this.webhook) {
      // XADD without NOMKSTREAM always answers with the entry id; the fallback only satisfies the type.
      await this.webhook.notify(event, `ops_${entryId ?? event.at}`).catch((err: unknown) => {
        this.log.error(
          { err: err instanceof Error ? err.message : String(err), type: event.type },
          'operator webhook failed',
        );
      });
    }
  }
}
