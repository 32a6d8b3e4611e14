import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { IngestResult } from '../../src/consumer/event-ingestor';
import { StreamConsumer } from '../../src/consumer/stream-consumer';
import type { GroupRecreation, StreamConsumerOptions } from '../../src/consumer/stream-consumer';
import { createLogger } from '../../src/infra/logger';
import { serviceAddresses, uniqueName, waitFor } from '../support/services';

/** The consumer's Redis mechanics against real Redis, with the workflow start replaced by a recording handler. */
describe('stream consumer (real Redis)', () => {
  let reader: Redis;
  let writer: Redis;
  const log = createLogger('silent');

  before(() => {
    const { redisUrl } = serviceAddresses();
    // Auto-pipelining as in production (src/main/services.ts): it changes how some ioredis calls are sent.
    reader = new Redis(redisUrl, { enableAutoPipelining: true });
    writer = new Redis(redisUrl, { enableAutoPipelining: true });
  });
  after(async () => {
    reader.disconnect();
    writer.disconnect();
  });

  function consumer(
    stream: string,
    handle: (id: string, fields: readonly Buffer[]) => Promise<IngestResult>,
    concurrency = 8,
    extra: Partial<StreamConsumerOptions> = {},
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
      ...extra,
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
    const c = consumer(stream, async () => ({
      kind: 'dead_letter',
      code: 'missing_field',
      reason: 'missing field "data"',
    }));
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

  it('dead-letters with the exact original bytes of every field, invalid UTF-8 included', async () => {
    const stream = uniqueName('s');
    const c = consumer(stream, async () => ({
      kind: 'dead_letter',
      code: 'invalid_utf8',
      reason: 'field "data" is not valid UTF-8',
    }));
    await c.start();
    const original = [
      Buffer.from('tenant'),
      Buffer.from('t'),
      Buffer.from('type'),
      Buffer.from('utf.x'),
      Buffer.from('data'),
      Buffer.from('{"name":"caf\xe9"}', 'latin1'),
      Buffer.from('n\xe4me', 'latin1'),
      Buffer.from([0xff, 0xfe, 0x00, 0xc0, 0xaf]),
    ];
    const id = (await writer.xadd(stream, '*', ...original)) as string;
    await waitFor('dead letter', async () => (await writer.xlen(`${stream}:dead`)) === 1);
    await c.stop();
    const [entry] = (await writer.xrangeBuffer(`${stream}:dead`, '-', '+')) as [Buffer, Buffer[]][];
    const fields = entry?.[1] ?? [];
    assert.equal(fields.length, original.length + 12);
    for (const [i, bytes] of original.entries()) {
      assert.ok(bytes.equals(fields[i]!), `field item ${i}: ${fields[i]?.toString('hex')} != ${bytes.toString('hex')}`);
    }
    const ours = new Map<string, string>();
    for (let i = original.length; i < fields.length; i += 2) ours.set(fields[i]!.toString(), fields[i + 1]!.toString());
    assert.equal(ours.get('wss_reason'), 'field "data" is not valid UTF-8');
    assert.equal(ours.get('wss_reason_code'), 'invalid_utf8');
    assert.equal(ours.get('wss_source_id'), id);
  });

  it("renames a producer's wss_ fields in the dead-letter copy so they never collide with the service's own", async () => {
    const stream = uniqueName('s');
    const c = consumer(stream, async () => ({ kind: 'dead_letter', code: 'reserved_field', reason: 'reserved' }));
    await c.start();
    await writer.xadd(
      stream,
      '*',
      'wss_reason',
      'forged',
      'tenant',
      't',
      'wss_source_id',
      '0-1',
      'wss_producer_x',
      'y',
    );
    await waitFor('dead letter', async () => (await writer.xlen(`${stream}:dead`)) === 1);
    await c.stop();
    const [entry] = (await writer.xrange(`${stream}:dead`, '-', '+')) as [string, string[]][];
    const fields = entry?.[1] ?? [];
    const names = fields.filter((_, i) => i % 2 === 0);
    assert.equal(new Set(names).size, names.length, `no field appears twice: ${names.join(' ')}`);
    assert.deepEqual(fields.slice(0, 8), [
      'wss_producer_wss_reason',
      'forged',
      'tenant',
      't',
      'wss_producer_wss_source_id',
      '0-1',
      'wss_producer_wss_producer_x',
      'y',
    ]);
    assert.equal(fields[fields.indexOf('wss_reason') + 1], 'reserved');
  });

  describe('a lost consumer group', () => {
    async function groupExists(redis: Redis, stream: string): Promise<boolean> {
      const groups = (await redis.xinfo('GROUPS', stream).catch(() => [])) as unknown[][];
      return groups.some((g) => g[g.indexOf('name') + 1] === 'g');
    }

    function recording() {
      const handled: string[] = [];
      const recreations: GroupRecreation[] = [];
      const handle = async (id: string): Promise<IngestResult> => {
        handled.push(id);
        return { kind: 'started', workflowId: id, endpoints: 1 };
      };
      return { handled, recreations, handle, onGroupRecreated: async (r: GroupRecreation) => void recreations.push(r) };
    }

    it('is recreated at once after XGROUP DESTROY, and the next entry is read without re-reading older ones', async () => {
      const stream = uniqueName('s');
      const r = recording();
      const c = consumer(stream, r.handle, 8, { onGroupRecreated: r.onGroupRecreated });
      await c.start();
      const first = (await writer.xadd(stream, '*', 'n', '1')) as string;
      await waitFor('first entry', () => r.handled.includes(first));
      await writer.xgroup('DESTROY', stream, 'g');
      const second = (await writer.xadd(stream, '*', 'n', '2')) as string;
      await waitFor('entry added after the loss', () => r.handled.includes(second), 15_000);
      const third = (await writer.xadd(stream, '*', 'n', '3')) as string;
      await waitFor('later entry', () => r.handled.includes(third), 15_000);
      await waitFor('acked', async () => (await pending(stream)) === 0);
      await c.stop();
      assert.deepEqual(r.handled, [first, second, third]);
      assert.equal(r.recreations.length, 1);
      assert.equal(r.recreations[0]?.stream, stream);
      assert.equal(r.recreations[0]?.group, 'g');
      assert.equal(r.recreations[0]?.fromId, first, 'recreated after the last entry read, as the stream survived');
      assert.equal(c.status().groupRecreations, 1);
      assert.ok(c.status().lastGroupRecreatedAt);
      assert.ok(await groupExists(writer, stream));
    });

    it('is recreated with its stream after DEL of the stream key, and reads every entry of the new stream', async () => {
      const stream = uniqueName('s');
      const r = recording();
      const c = consumer(stream, r.handle, 8, { onGroupRecreated: r.onGroupRecreated });
      await c.start();
      const first = (await writer.xadd(stream, '*', 'n', '1')) as string;
      await waitFor('first entry', () => r.handled.includes(first));
      await writer.del(stream);
      // A producer that writes the new stream first, with ids below the ones read before: all must be read.
      await writer.xadd(stream, '1-1', 'n', 'a');
      await writer.xadd(stream, '1-2', 'n', 'b');
      await waitFor('entries of the new stream', () => r.handled.includes('1-1') && r.handled.includes('1-2'), 15_000);
      await waitFor('acked', async () => (await pending(stream)) === 0);
      await c.stop();
      assert.deepEqual(r.handled, [first, '1-1', '1-2']);
      assert.equal(r.recreations.length, 1);
      assert.equal(r.recreations[0]?.fromId, '0');
    });

    it('is recreated when Redis comes back empty (connections dropped, database flushed)', async () => {
      const { redisUrl } = serviceAddresses();
      // A database of its own, so flushing it touches nothing else.
      const url = new URL(redisUrl);
      url.pathname = '/9';
      const r9 = new Redis(url.toString());
      const w9 = new Redis(url.toString());
      const admin = new Redis(url.toString());
      try {
        const stream = uniqueName('s');
        const r = recording();
        const c = new StreamConsumer({
          reader: r9,
          writer: w9,
          stream,
          deadLetterStream: `${stream}:dead`,
          group: 'g',
          consumer: 'c1',
          batchSize: 4,
          blockMs: 100,
          concurrency: 4,
          claimIdleMs: 1000,
          handle: r.handle,
          onGroupRecreated: r.onGroupRecreated,
          log,
        });
        await c.start();
        const first = (await admin.xadd(stream, '*', 'n', '1')) as string;
        await waitFor('first entry', () => r.handled.includes(first));
        await admin.flushdb();
        for (const conn of [r9, w9]) await admin.client('KILL', 'ID', String(await conn.client('ID')));
        const after1 = (await admin.xadd(stream, '*', 'n', '2')) as string;
        await waitFor('entry written to the empty Redis', () => r.handled.includes(after1), 15_000);
        await c.stop();
        assert.deepEqual(r.handled, [first, after1]);
        assert.equal(r.recreations.length, 1);
        assert.ok(await groupExists(admin, stream));
      } finally {
        r9.disconnect();
        w9.disconnect();
        admin.disconnect();
      }
    });

    it('is recreated when a claim (XAUTOCLAIM) is the first to hit NOGROUP', async () => {
      const stream = uniqueName('s');
      const r = recording();
      // The group disappears right before a claim, so the claim is the command that meets the loss.
      let armed = false;
      const claimer = new Proxy(writer, {
        get(target, prop, receiver) {
          if (prop !== 'xautoclaimBuffer') return Reflect.get(target, prop, receiver);
          return async (...args: (string | number)[]) => {
            if (armed) {
              armed = false;
              await target.xgroup('DESTROY', stream, 'g');
            }
            return (target as any).xautoclaimBuffer(...args);
          };
        },
      });
      const c = consumer(stream, r.handle, 8, {
        onGroupRecreated: r.onGroupRecreated,
        writer: claimer,
        claimIdleMs: 1000,
      });
      await c.start();
      const first = (await writer.xadd(stream, '*', 'n', '1')) as string;
      await waitFor('first entry', () => r.handled.includes(first));
      armed = true;
      await waitFor('recreation', () => r.recreations.length === 1, 15_000);
      const second = (await writer.xadd(stream, '*', 'n', '2')) as string;
      await waitFor('entry after the loss', () => r.handled.includes(second), 15_000);
      await c.stop();
      assert.equal(r.recreations.length, 1);
      assert.doesNotMatch(r.recreations[0]!.cause, /XREADGROUP/, 'the claim met the loss');
      assert.match(r.recreations[0]!.cause, /NOGROUP/);
      assert.deepEqual(r.handled, [first, second]);
    });

    it('two consumers recreate the group once between them', async () => {
      const stream = uniqueName('s');
      const r = recording();
      const a = consumer(stream, r.handle, 8, { onGroupRecreated: r.onGroupRecreated });
      const readerB = new Redis(serviceAddresses().redisUrl);
      const b = consumer(stream, r.handle, 8, {
        onGroupRecreated: r.onGroupRecreated,
        consumer: 'c2',
        reader: readerB,
      });
      await a.start();
      await b.start();
      await writer.xgroup('DESTROY', stream, 'g');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await writer.xadd(stream, '*', 'n', String(i))) as string);
      await waitFor('all entries', () => ids.every((id) => r.handled.includes(id)), 15_000);
      await a.stop();
      await b.stop();
      readerB.disconnect();
      assert.equal(r.recreations.length, 1);
      assert.equal(r.handled.length, 5);
    });
  });
});
