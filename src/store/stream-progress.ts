import { compareStreamIds } from '../domain/ordering';
import type { RedisClient } from '../infra/redis';

/**
 * How far a consumer group has handled its stream, for the ordered-delivery lanes' order check. The stream and
 * group are the names the consumer read from (`keys.eventStream()` and `WSS_CONSUMER_GROUP`), carried in the lane's
 * input, so a worker needs no stream configuration of its own.
 *
 * `handledBelow` is the id below which every entry is handled: XREADGROUP hands entries out in id order, so every
 * entry up to the group's last-delivered id was read by some consumer, and one that is not pending was acked. With
 * entries pending it is the oldest pending id; with none, the id just after the last-delivered one.
 */
export class StreamProgress {
  constructor(private readonly redis: RedisClient) {}

  async handledBelow(source: { readonly stream: string; readonly group: string }): Promise<string> {
    const summary = (await this.redis.xpending(source.stream, source.group)) as [number, string | null, ...unknown[]];
    const oldestPending = summary[1];
    if (summary[0] > 0 && typeof oldestPending === 'string') return oldestPending;
    const groups = (await this.redis.xinfo('GROUPS', source.stream)) as unknown[][];
    for (const fields of groups) {
      const info = new Map<string, unknown>();
      for (let i = 0; i + 1 < fields.length; i += 2) info.set(String(fields[i]), fields[i + 1]);
      if (String(info.get('name')) !== source.group) continue;
      const last = String(info.get('last-delivered-id') ?? '0-0');
      return nextStreamId(last);
    }
    throw new Error(`consumer group ${source.group} of stream ${source.stream} not found`);
  }
}

/** The smallest id after `id`. */
function nextStreamId(id: string): string {
  const [ms = '0', seq = '0'] = id.split('-');
  const next = `${ms}-${(BigInt(seq) + 1n).toString()}`;
  // An id at the sequence maximum is followed by the next millisecond's first id.
  return compareStreamIds(next, id) > 0 && BigInt(seq) < 18446744073709551615n ? next : `${BigInt(ms) + 1n}-0`;
}
