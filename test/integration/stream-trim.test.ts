import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { IngestResult } from '../../src/consumer/event-ingestor';
import { StreamConsumer } from '../../src/consumer/stream-consumer';
import type { StreamConsumerOptions, TrimmedEntries } from '../../src/consumer/stream-consumer';
import { createLogger } from '../../src/infra/logger';
import { createMetrics } from '../../src/infra/metrics';
import { serviceAddresses, uniqueName, waitFor } from '../support/services';

/**
 * A stream trimmed (XTRIM / XADD MAXLEN) while entries are pending: those entries are gone before the service
 * started their delivery. The consumer must notice, count and log them, never skip them silently. Real Redis 7:
 * XAUTOCLAIM returns the ids of pending entries that no longer exist, and a read of the consumer's own pending
 * entries returns them with no fields.
 */
describe('stream trimmed while entries are pending (real Redis)', () => {
  let reader: Redis;
  let writer: Redis;
  const log = createLogger('silent');

  before(() => {
    const { redisUrl } = serviceAddresses();
    reader = new Redis(redisUrl, { enableAutoPipelining: true });
    writer = new Redis(redisUrl, { enableAutoPipelining: true });
  });
  after(() => {
    reader.disconnect();
    writer.disconnect();
  });

  function consumer(stream: string, extra: Partial<StreamConsumerOptions>) {
    const handled: string[] = [];
    const trimmed: TrimmedEntries[] = [];
    const c = new StreamConsumer({
      reader,
      writer,
      stream,
      deadLetterStream: `${stream}:dead`,
      group: 'g',
      consumer: 'c1',
      batchSize: 4,
      blockMs: 100,
      concurrency: 4,
      claimIdleMs: 60_000,
      handle: async (id): Promise<IngestResult> => {
        handled.push(id);
        return { kind: 'started', workflowId: id, endpoints: 1 };
      },
      onEntriesTrimmed: (t) => trimmed.push(t),
      log,
      ...extra,
    });
    return { c, handled, trimmed };
  }

  /** XADDs `count` entries and reads them all as `as` without acking (a consumer that then died). */
  async function pendingOn(stream: string, as: string, count: number): Promise<string[]> {
    await writer.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
    const ids: string[] = [];
    for (let i = 0; i < count; i++) ids.push((await writer.xadd(stream, '*', 'n', String(i))) as string);
    await writer.xreadgroup('GROUP', 'g', as, 'COUNT', count, 'STREAMS', stream, '>');
    return ids;
  }

  it('counts its own pending entries that were trimmed away, handles the rest, and leaves nothing pending', async () => {
    const stream = uniqueName('trim-own');
    const ids = await pendingOn(stream, 'c1', 6);
    await writer.xtrim(stream, 'MAXLEN', 2);
    const { c, handled, trimmed } = consumer(stream, {});
    await c.start();
    await waitFor('survivors handled', () => handled.length === 2, 15_000);
    await waitFor('nothing pending', async () => Number(((await writer.xpending(stream, 'g')) as [number])[0]) === 0);
    await c.stop();
    assert.deepEqual(handled, ids.slice(4));
    assert.deepEqual(
      trimmed.flatMap((t) => t.entryIds),
      ids.slice(0, 4),
    );
    assert.ok(trimmed.every((t) => t.stream === stream && t.consumer === 'c1'));
  });

  it("counts a dead consumer's pending entries that were trimmed away when it claims them (XAUTOCLAIM)", async () => {
    const stream = uniqueName('trim-claim');
    const ids = await pendingOn(stream, 'ghost', 5);
    await writer.xtrim(stream, 'MAXLEN', 1);
    const { c, handled, trimmed } = consumer(stream, { claimIdleMs: 1000 });
    await new Promise((r) => setTimeout(r, 1100));
    await c.start();
    await waitFor('claimed survivor handled', () => handled.length === 1, 15_000);
    await waitFor('trimmed reported', () => trimmed.flatMap((t) => t.entryIds).length === 4, 15_000);
    await waitFor('nothing pending', async () => Number(((await writer.xpending(stream, 'g')) as [number])[0]) === 0);
    await c.stop();
    assert.deepEqual(handled, ids.slice(4));
    assert.deepEqual(trimmed.flatMap((t) => t.entryIds).sort(), ids.slice(0, 4).sort());
  });

  it('exposes wss_consumer_entries_trimmed_total, zero from the start', async () => {
    const m = createMetrics({ tenantLabel: false, processMetrics: false });
    const read = async () =>
      (await m.registry.getMetricsAsJSON()).find((x) => x.name === 'wss_consumer_entries_trimmed_total')?.values[0]
        ?.value;
    assert.equal(await read(), 0);
    m.recordEntriesTrimmed(3);
    assert.equal(await read(), 3);
  });
});
