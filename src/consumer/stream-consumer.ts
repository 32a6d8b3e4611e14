import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from '../infra/logger';
import type { IngestResult } from './event-ingestor';

export interface StreamConsumerOptions {
  /** Connection used only for the blocking XREADGROUP, so a block never delays acks. */
  readonly reader: Redis;
  /** Connection for XACK, XADD to the dead-letter stream and XAUTOCLAIM. */
  readonly writer: Redis;
  readonly stream: string;
  readonly deadLetterStream: string;
  readonly group: string;
  readonly consumer: string;
  /** Entries per read. */
  readonly batchSize: number;
  /** XREADGROUP BLOCK in ms; finite so that stop() is noticed promptly. */
  readonly blockMs: number;
  /** Entries handled at once. */
  readonly concurrency: number;
  /** Idle time after which another consumer's pending entry is claimed. */
  readonly claimIdleMs: number;
  readonly handle: (entryId: string, fields: readonly string[]) => Promise<IngestResult>;
  readonly log: Logger;
}

type StreamEntry = [id: string, fields: string[] | null];

const MAX_BACKOFF_MS = 30_000;

/**
 * Reads the event stream with a consumer group and hands each entry to `handle`.
 *
 * Delivery guarantee: an entry is acknowledged only after `handle` returned, i.e. after its workflow start is
 * durable in Temporal or it was written to the dead-letter stream. A crash before the ack leaves the entry
 * pending; this consumer re-reads its own pending entries on start, and any consumer claims entries that stayed
 * pending on a dead one. Because workflow ids are deterministic, handling an entry twice starts one workflow.
 */
export class StreamConsumer {
  private stopping = false;
  private readonly inFlight = new Set<Promise<void>>();
  /** Set when an in-flight entry failed transiently; its pending entry is re-read after a backoff. */
  private transientFailure = false;
  private running: Promise<void> | undefined;
  private lastClaimAt = 0;
  private readonly o: StreamConsumerOptions;

  constructor(options: StreamConsumerOptions) {
    this.o = options;
  }

  /** Creates the group if needed and starts the loop. Resolves once the loop is running. */
  async start(): Promise<void> {
    await ensureGroup(this.o.writer, this.o.stream, this.o.group);
    this.running = this.loop();
  }

  /** Stops reading, lets in-flight entries finish and be acked, then resolves. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  private async loop(): Promise<void> {
    let backoffMs = 0;
    let pendingToRecover = true;
    while (!this.stopping) {
      try {
        if (backoffMs > 0) await sleep(backoffMs);
        if (pendingToRecover || Date.now() - this.lastClaimAt >= this.o.claimIdleMs / 2) {
          // Re-reading pending entries while some are still in flight would handle them twice.
          await this.settle();
        }
        if (pendingToRecover) {
          // A restart, or a transient failure earlier: our own pending entries come first.
          pendingToRecover = !(await this.drainOwnPending());
          if (pendingToRecover) {
            backoffMs = nextBackoff(backoffMs);
            continue;
          }
        }
        if (Date.now() - this.lastClaimAt >= this.o.claimIdleMs / 2) {
          this.lastClaimAt = Date.now();
          if (!(await this.claimAbandoned())) {
            pendingToRecover = true;
            backoffMs = nextBackoff(backoffMs);
            continue;
          }
        }
        // New entries flow through a window of `concurrency` in-flight starts: the next read happens as soon as
        // there is room, not when a whole batch is done, so one slow start does not hold up the rest.
        const room = this.o.concurrency - this.inFlight.size;
        if (room <= 0) {
          await Promise.race(this.inFlight);
          continue;
        }
        const entries = await this.read('>', this.o.blockMs, Math.min(this.o.batchSize, room));
        for (const entry of entries) this.track(entry);
        if (this.transientFailure) {
          await this.settle();
          this.transientFailure = false;
          pendingToRecover = true;
          backoffMs = nextBackoff(backoffMs);
          continue;
        }
        backoffMs = 0;
      } catch (err) {
        this.o.log.error({ err: describeError(err) }, 'stream read failed; backing off');
        backoffMs = nextBackoff(backoffMs);
      }
    }
    await this.settle();
  }

  /** Handles an entry in the background, within the in-flight window. */
  private track(entry: StreamEntry): void {
    const done: Promise<void> = this.processOne(entry)
      .then(
        (ok) => {
          if (!ok) this.transientFailure = true;
        },
        (err: unknown) => {
          // The ack itself failed (Redis gone): the entry stays pending and is recovered.
          this.o.log.warn({ entryId: entry[0], err: describeError(err) }, 'ack failed; entry stays pending');
          this.transientFailure = true;
        },
      )
      .finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }

  /** Waits until every in-flight entry is acked or known to have failed. */
  private async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Re-handles entries delivered to this consumer but never acked. Returns false if some failed again. */
  private async drainOwnPending(): Promise<boolean> {
    let cursor = '0';
    for (;;) {
      const entries = await this.read(cursor, undefined);
      if (entries.length === 0) return true;
      if (!(await this.processAll(entries))) return false;
      const last = entries[entries.length - 1];
      if (!last) return true;
      cursor = last[0];
      if (this.stopping) return true;
    }
  }

  /** Claims entries left pending by consumers that died. Returns false if some failed. */
  private async claimAbandoned(): Promise<boolean> {
    let cursor = '0-0';
    for (let round = 0; round < 100; round++) {
      const reply = (await this.o.writer.xautoclaim(
        this.o.stream,
        this.o.group,
        this.o.consumer,
        this.o.claimIdleMs,
        cursor,
        'COUNT',
        this.o.batchSize,
      )) as [string, StreamEntry[], string[]?];
      const [next, entries] = reply;
      if (entries.length > 0) {
        this.o.log.warn({ count: entries.length }, 'claimed entries abandoned by another consumer');
        if (!(await this.processAll(entries))) return false;
      }
      if (next === '0-0') return true;
      cursor = next;
    }
    return true;
  }

  private async read(id: string, blockMs: number | undefined, count = this.o.batchSize): Promise<StreamEntry[]> {
    const args: (string | number)[] = ['GROUP', this.o.group, this.o.consumer, 'COUNT', count];
    if (blockMs !== undefined) args.push('BLOCK', blockMs);
    args.push('STREAMS', this.o.stream, id);
    const reply = (await this.o.reader.call('XREADGROUP', ...args)) as [string, StreamEntry[]][] | null;
    return reply?.[0]?.[1] ?? [];
  }

  /**
   * Handles a whole batch through the in-flight window and waits for all of it (pending recovery and claims run
   * with nothing else in flight). Returns false if any entry failed transiently and stays pending.
   */
  private async processAll(entries: readonly StreamEntry[]): Promise<boolean> {
    for (const entry of entries) {
      while (this.inFlight.size >= this.o.concurrency) await Promise.race(this.inFlight);
      this.track(entry);
    }
    await this.settle();
    const ok = !this.transientFailure;
    this.transientFailure = false;
    return ok;
  }

  private async processOne([entryId, fields]: StreamEntry): Promise<boolean> {
    if (fields === null) {
      // The entry was deleted (XDEL/XTRIM) while pending: nothing left to deliver.
      this.o.log.warn({ entryId }, 'pending entry no longer exists in the stream; acking');
      await this.o.writer.xack(this.o.stream, this.o.group, entryId);
      return true;
    }
    let result: IngestResult;
    try {
      result = await this.o.handle(entryId, fields);
    } catch (err) {
      this.o.log.warn({ entryId, err: describeError(err) }, 'entry not accepted yet; it stays pending and is retried');
      return false;
    }
    if (result.kind === 'dead_letter') {
      await this.o.writer
        .multi()
        .xadd(
          this.o.deadLetterStream,
          '*',
          ...fields,
          'wss_reason',
          result.reason,
          'wss_source_stream',
          this.o.stream,
          'wss_source_id',
          entryId,
          'wss_consumer',
          this.o.consumer,
          'wss_failed_at',
          new Date().toISOString(),
        )
        .xack(this.o.stream, this.o.group, entryId)
        .exec();
      this.o.log.error({ entryId, reason: result.reason }, 'malformed entry moved to the dead-letter stream');
      return true;
    }
    await this.o.writer.xack(this.o.stream, this.o.group, entryId);
    return true;
  }
}

/** Creates the consumer group at the start of the stream (and the stream itself) unless it exists. */
export async function ensureGroup(redis: Redis, stream: string, group: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('BUSYGROUP')) throw err;
  }
}

function nextBackoff(current: number): number {
  return Math.min(MAX_BACKOFF_MS, current === 0 ? 250 : current * 2);
}

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
