import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { IngestResult } from '../../src/consumer/event-ingestor';
import { StreamConsumer } from '../../src/consumer/stream-consumer';
import { createLogger } from '../../src/infra/logger';
import { serviceAddresses, uniqueName, waitFor } from '../support/services';

/** The consumer's Redis mechanics against real Redis, with the workflow start replaced by a recording handler. */
describe('stream consumer (real Redis)', () => {
  let reader: Redis;
  let writer: Redis;
  const log = createLogger('silent');

  before(() => {
    const { redisUrl } = serviceAddresses();
    reader = new Redis(redisUrl);
    writer = new Redis(redisUrl);
  });
  after(async () => {
    reader.disconnect();
    writer.disconnect();
  });

  function consumer(
    stream: string,
    handle: (id: string, fields: readonly string[]) => Promise<IngestResult>,
    concurrency = 8,
  ) {
    return new StreamConsumer({
      reader,
      writer,
      stream,
      deadLetterStream: `${stream}:dead`,
      group: 'g',
      consumer: 'c1',
      batchSize: 4,
      blockMs: 100,
      concurrency,
      claimIdleMs: 60_000,
      handle,
      log,
    });
  }

  async function pending(stream: string): Promise<number> {
    return Number(((await writer.xpending(stream, 'g')) as [number])[0]);
  }

  it('retries an entry whose handling failed transiently, and acks it once it succeeds', async () => {
    const stream = uniqueName('s');
    let calls = 0;
    const c = consumer(stream, async () => {
      calls++;
      if (calls === 1) throw new Error('temporal unavailable');
      return { kind: 'started', workflowId: 'w', endpoints: 1 };
    });
    await c.start();
    await writer.xadd(stream, '*', 'tenant', 't', 'type', 'x', 'data', '{}');
    await waitFor('second attempt', () => calls >= 2, 10_000);
    await waitFor('acked', async () => (await pending(stream)) === 0);
    await c.stop();
    assert.equal(calls, 2);
  });

  it('keeps at most `concurrency` entries in flight and acks every one', async () => {
    const stream = uniqueName('s');
    let inFlight = 0;
    let peak = 0;
    const handled = new Set<string>();
    const c = consumer(
      stream,
      async (id) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 20));
        inFlight--;
        handled.add(id);
        return { kind: 'started', workflowId: id, endpoints: 1 };
      },
      3,
    );
    for (let i = 0; i < 30; i++) await writer.xadd(stream, '*', 'n', String(i));
    await c.start();
    await waitFor('all handled', () => handled.size === 30, 15_000);
    await waitFor('all acked', async () => (await pending(stream)) === 0);
    await c.stop();
    assert.ok(peak <= 3, `peak in flight ${peak}`);
    assert.ok(peak >= 2, 'entries were handled concurrently');
  });

  it('finishes and acks in-flight entries on stop()', async () => {
    const stream = uniqueName('s');
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let started = 0;
    const c = consumer(stream, async () => {
      started++;
      await gate;
      return { kind: 'started', workflowId: 'w', endpoints: 1 };
    });
    await c.start();
    await writer.xadd(stream, '*', 'a', '1');
    await waitFor('handling started', () => started === 1);
    const stopping = c.stop();
    release();
    await stopping;
    assert.equal(await pending(stream), 0);
  });

  it('dead-letters with the original fields and a reason, then acks', async () => {
    const stream = uniqueName('s');
    const c = consumer(stream, async () => ({ kind: 'dead_letter', reason: 'missing field "data"' }));
    await c.start();
    const id = await writer.xadd(stream, '*', 'tenant', 't', 'type', 'x');
    await waitFor('dead letter', async () => (await writer.xlen(`${stream}:dead`)) === 1);
    await waitFor('acked', async () => (await pending(stream)) === 0);
    await c.stop();
    const [entry] = (await writer.xrange(`${stream}:dead`, '-', '+')) as [string, string[]][];
    const fields = entry?.[1] ?? [];
    assert.deepEqual(fields.slice(0, 4), ['tenant', 't', 'type', 'x']);
    assert.equal(fields[fields.indexOf('wss_reason') + 1], 'missing field "data"');
    assert.equal(fields[fields.indexOf('wss_source_id') + 1], id);
  });
});
