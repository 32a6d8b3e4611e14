import type { RedisClient } from '../infra/redis';
import type { RedisKeys } from './redis-keys';

/**
 * How long health mentions a recreated consumer group after the recreation. It is a notice, not a failed check:
 * the group works again, and a readiness probe must not take healthy pods out of service for it.
 */
export const GROUP_RECOVERY_REPORT_SECONDS = 15 * 60;

/** What the consumer records when it recreated its group, for every process's health check to see. */
export interface GroupRecoveryRecord {
  readonly at: string;
  readonly consumer: string;
  readonly fromId: string;
}

/**
 * The consumer group's health as any process sees it (the API's `/healthz` included): the group must exist, and a
 * recent recreation is reported, because entries pending in the lost group were dropped.
 */
export class ConsumerGroupHealth {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly group: string,
  ) {}

  async recordRecreation(record: GroupRecoveryRecord): Promise<void> {
    await this.redis.set(
      this.keys.consumerGroupRecovery(this.group),
      JSON.stringify(record),
      'EX',
      GROUP_RECOVERY_REPORT_SECONDS,
    );
  }

  /** `ok`, or what is wrong: the stream or the group is missing. */
  async check(): Promise<'ok' | string> {
    let groups: unknown[];
    try {
      groups = (await this.redis.xinfo('GROUPS', this.keys.eventStream())) as unknown[];
    } catch (err) {
      if (err instanceof Error && /no such key/i.test(err.message)) return 'missing: the stream does not exist';
      throw err;
    }
    const exists = groups.some((g) => Array.isArray(g) && g[g.indexOf('name') + 1] === this.group);
    if (!exists) return 'missing: the consumer group does not exist';
    return 'ok';
  }

  /**
   * The group's backlog for the metrics: `lag` (entries not yet read; Redis 7 reports it, and leaves it out when it
   * cannot tell, e.g. after an XDEL), `pending` (read, not acked) and the length of the dead-letter stream. Without
   * the group or the stream, lag and pending are unknown.
   */
  async streamStats(): Promise<{ lag?: number; pending?: number; deadLetterLength: number }> {
    const [groups, deadLetterLength] = await Promise.all([
      (this.redis.xinfo('GROUPS', this.keys.eventStream()) as Promise<unknown[]>).catch((err: unknown) => {
        if (err instanceof Error && /no such key/i.test(err.message)) return [];
        throw err;
      }),
      this.redis.xlen(this.keys.rejectedEntryStream()),
    ]);
    const group = groups.find((g) => Array.isArray(g) && g[g.indexOf('name') + 1] === this.group) as
      unknown[] | undefined;
    if (!group) return { deadLetterLength };
    const field = (name: string): number | undefined => {
      const value = group[group.indexOf(name) + 1];
      return group.includes(name) && typeof value === 'number' ? value : undefined;
    };
    const lag = field('lag');
    const pending = field('pending');
    return { ...(lag !== undefined ? { lag } : {}), ...(pending !== undefined ? { pending } : {}), deadLetterLength };
  }

  /** A recreation within the last {@link GROUP_RECOVERY_REPORT_SECONDS}, described for operators, if any. */
  async recentRecovery(): Promise<string | undefined> {
    const raw = await this.redis.get(this.keys.consumerGroupRecovery(this.group));
    if (raw === null) return undefined;
    const record = JSON.parse(raw) as GroupRecoveryRecord;
    return `consumer group recreated at ${record.at} by ${record.consumer} (from entry ${record.fromId}); entries pending in the lost group were dropped`;
  }
}
