import { setTimeout as sleep } from 'node:timers/promises';
import { PRODUCER_FIELD_ESCAPE, RESERVED_FIELD_PREFIX } from '../domain/stream-entry';
import type { Logger } from '../infra/logger';
import type { RedisClient } from '../infra/redis';
import type { IngestResult } from './event-ingestor';

export interface StreamConsumerOptions {
  /** Connection used only for the blocking XREADGROUP, so a block never delays acks. */
  readonly reader: RedisClient;
  /** Connection for XACK, XADD to the dead-letter stream and XAUTOCLAIM. */
  readonly writer: RedisClient;
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
  /** Gets each entry's field names and values as the bytes Redis holds; decoding them is the handler's job. */
  readonly handle: (entryId: string, fields: readonly Buffer[]) => Promise<IngestResult>;
  /**
   * Called after this consumer recreated a lost group (e.g. to publish an operational event and record it for
   * health). A failure here is logged; it never stops consumption.
   */
  readonly onGroupRecreated?: (recreation: GroupRecreation) => Promise<void>;
  /**
   * Called when pending entries turn out to have been deleted from the stream (XTRIM, XADD MAXLEN, XDEL) before
   * their delivery was started: they are lost to the service, and this is where it counts them (a metric). They
   * are also logged, at error, with their ids.
   */
  readonly onEntriesTrimmed?: (trimmed: TrimmedEntries) => void;
  readonly log: Logger;
}

/** Pending entries found deleted from the stream: their events never reached Temporal through this group. */
export interface TrimmedEntries {
  readonly stream: string;
  readonly group: string;
  /** The consumer that noticed. */
  readonly consumer: string;
  readonly entryIds: readonly string[];
  /** own_pending: re-reading this consumer's pending entries; claim: XAUTOCLAIM of a dead consumer's entries. */
  readonly via: 'own_pending' | 'claim';
}

/** What a consumer did when a read, claim or pending read found its group gone. */
export interface GroupRecreation {
  readonly stream: string;
  readonly group: string;
  /** The consumer that recreated it. */
  readonly consumer: string;
  /** The group was created to deliver entries after this id: `0` (all) unless the stream survived the loss. */
  readonly fromId: string;
  /** The Redis error that revealed the loss (names the stream and group, nothing else). */
  readonly cause: string;
  /** ISO time of the recreation. */
  readonly at: string;
}

/** What the consumer can tell about itself, for health reporting. */
export interface StreamConsumerStatus {
  /** Times this consumer recreated its lost group since it started. */
  readonly groupRecreations: number;
  readonly lastGroupRecreatedAt?: string;
  readonly lastGroupRecreation?: GroupRecreation;
}

type StreamEntry = [id: string, fields: Buffer[] | null];
type RawStreamEntry = [id: Buffer, fields: Buffer[] | null];

const RESERVED_PREFIX_BYTES = Buffer.from(RESERVED_FIELD_PREFIX);
const PRODUCER_ESCAPE_BYTES = Buffer.from(PRODUCER_FIELD_ESCAPE);

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
  /** Highest entry id read with `>`: where a lost group is recreated when the stream itself survived. */
  private lastReadId: string | undefined;
  /** Entries handed to `handle` and not acked yet; a recreated group must deliver them again. */
  private readonly unacked = new Set<string>();
  private recreations: GroupRecreation[] = [];
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

  status(): StreamConsumerStatus {
    const last = this.recreations[this.recreations.length - 1];
    return {
      groupRecreations: this.recreations.length,
      ...(last ? { lastGroupRecreatedAt: last.at, lastGroupRecreation: last } : {}),
    };
  }

  private async loop(): Promise<void> {
    let backoffMs = 0;
    let pendingToRecover = true;
    let groupLostBefore = false;
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
        const last = entries[entries.length - 1];
        if (last) this.lastReadId = last[0];
        for (const entry of entries) this.track(entry);
        if (this.transientFailure) {
          await this.settle();
          this.transientFailure = false;
          pendingToRecover = true;
          backoffMs = nextBackoff(backoffMs);
          continue;
        }
        backoffMs = 0;
        groupLostBefore = false;
      } catch (err) {
        let failure = err;
        if (isGroupLost(err)) {
          // Backing off would stop all delivery until someone recreated the group by hand: recreate it now. Only
          // a group lost again right after its recreation backs off, so a tug of war cannot spin.
          try {
            await this.recoverGroup(describeError(err));
            backoffMs = groupLostBefore ? nextBackoff(backoffMs) : 0;
            groupLostBefore = true;
            pendingToRecover = true;
            continue;
          } catch (recreateErr) {
            failure = recreateErr;
          }
        }
        this.o.log.error({ err: describeError(failure) }, 'stream read failed; backing off');
        backoffMs = nextBackoff(backoffMs);
      }
    }
    await this.settle();
  }

  /**
   * Recreates the group (and the stream, if it is gone too). Where from:
   * - the stream survived (XGROUP DESTROY): after the last entry this consumer read, or before the oldest entry it
   *   has not acked, so nothing it was working on is lost and history is not read again;
   * - the stream was deleted or Redis came back empty: from `0`, so every entry of the new stream is read, even
   *   one whose id is lower than the ones read before (explicit ids, a failover to a replica whose clock lags).
   *
   * Entries that were pending on other consumers of the lost group are gone from Redis's knowledge. If they are
   * read again, the dedupe record and the deterministic workflow id keep them from being delivered twice.
   */
  private async recoverGroup(cause: string): Promise<void> {
    await this.settle();
    const fromId = await this.recreateFrom();
    try {
      await this.o.writer.xgroup('CREATE', this.o.stream, this.o.group, fromId, 'MKSTREAM');
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('BUSYGROUP')) {
        this.o.log.info(
          { stream: this.o.stream, group: this.o.group },
          'consumer group was recreated by another consumer',
        );
        return;
      }
      throw err;
    }
    const recreation: GroupRecreation = {
      stream: this.o.stream,
      group: this.o.group,
      consumer: this.o.consumer,
      fromId,
      cause: cause.slice(0, 300),
      at: new Date().toISOString(),
    };
    this.recreations = [...this.recreations.slice(-9), recreation];
    this.o.log.error({ ...recreation }, 'consumer group was lost; recreated it');
    if (this.o.onGroupRecreated) {
      await this.o.onGroupRecreated(recreation).catch((err: unknown) => {
        this.o.log.error({ err: describeError(err) }, 'could not report the recreated consumer group');
      });
    }
  }

  private async recreateFrom(): Promise<string> {
    if (this.lastReadId === undefined) return '0';
    const survived = (await this.o.writer.xrange(this.o.stream, this.lastReadId, this.lastReadId)).length > 0;
    if (!survived) return '0';
    let from = this.lastReadId;
    for (const id of this.unacked) {
      const before = previousStreamId(id);
      if (compareStreamIds(before, from) < 0) from = before;
    }
    return from;
  }

  private reportTrimmed(entryIds: readonly string[], via: TrimmedEntries['via']): void {
    const trimmed: TrimmedEntries = {
      stream: this.o.stream,
      group: this.o.group,
      consumer: this.o.consumer,
      entryIds,
      via,
    };
    this.o.log.error(
      { stream: trimmed.stream, group: trimmed.group, via, count: entryIds.length, entryIds: entryIds.slice(0, 100) },
      'pending entries were deleted from the stream (trimmed) before their delivery started; their events are lost',
    );
    try {
      this.o.onEntriesTrimmed?.(trimmed);
    } catch (err) {
      this.o.log.error({ err: describeError(err) }, 'could not report trimmed entries');
    }
  }

  /** Handles an entry in the background, within the in-flight window. */
  private track(entry: StreamEntry): void {
    this.unacked.add(entry[0]);
    const done: Promise<void> = this.processOne(entry)
      .then(
        (ok) => {
          if (ok) this.unacked.delete(entry[0]);
          else this.transientFailure = true;
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
      const gone = entries.filter(([, fields]) => fields === null).map(([id]) => id);
      if (gone.length > 0) {
        // Acked first: a crash between the ack and the report loses a count, never re-reports a loss as new.
        await this.o.writer.xack(this.o.stream, this.o.group, ...gone);
        this.reportTrimmed(gone, 'own_pending');
      }
      if (!(await this.processAll(entries.filter(([, fields]) => fields !== null)))) return false;
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
      const reply = (await bufferCommands(this.o.writer).xautoclaimBuffer(
        this.o.stream,
        this.o.group,
        this.o.consumer,
        this.o.claimIdleMs,
        cursor,
        'COUNT',
        this.o.batchSize,
      )) as [Buffer, RawStreamEntry[], Buffer[]?];
      const next = reply[0].toString();
      const entries = reply[1].map(toEntry);
      // Redis 7 lists the pending entries that no longer exist in the stream and drops them from the PEL itself.
      const deleted = (reply[2] ?? []).map((id) => id.toString());
      if (deleted.length > 0) this.reportTrimmed(deleted, 'claim');
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
    // As bytes: decoding here would replace invalid UTF-8 silently, and dead letters must keep the original bytes.
    const reply = (await bufferCommands(this.o.reader).xreadgroupBuffer(...args)) as
      [Buffer, RawStreamEntry[]][] | null;
    return (reply?.[0]?.[1] ?? []).map(toEntry);
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
      await this.o.writer.xack(this.o.stream, this.o.group, entryId);
      this.reportTrimmed([entryId], 'own_pending');
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
      // Two steps, not one MULTI: the operator names both streams, and in a Redis Cluster they need not share a
      // slot. The copy goes first and the ack after it, so a crash in between leaves the entry pending: it is read
      // again and copied again (a second copy with the same wss_source_id), never acked without its copy.
      await this.o.writer.xadd(
        this.o.deadLetterStream,
        '*',
        ...fields.map((item, i) => (i % 2 === 0 ? escapeProducerField(item) : item)),
        'wss_reason',
        result.reason,
        'wss_reason_code',
        result.code,
        'wss_source_stream',
        this.o.stream,
        'wss_source_id',
        entryId,
        'wss_consumer',
        this.o.consumer,
        'wss_failed_at',
        new Date().toISOString(),
      );
      await this.o.writer.xack(this.o.stream, this.o.group, entryId);
      this.o.log.error(
        { entryId, code: result.code, reason: result.reason },
        'malformed entry moved to the dead-letter stream',
      );
      return true;
    }
    await this.o.writer.xack(this.o.stream, this.o.group, entryId);
    return true;
  }
}

/** Creates the consumer group at the start of the stream (and the stream itself) unless it exists. */
export async function ensureGroup(redis: RedisClient, stream: string, group: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('BUSYGROUP')) throw err;
  }
}

/**
 * NOGROUP: the group (or the whole stream) is gone. UNBLOCKED: a blocked read was woken because its stream key
 * was deleted; the group went with it.
 */
function isGroupLost(err: unknown): boolean {
  return err instanceof Error && (err.message.startsWith('NOGROUP') || err.message.startsWith('UNBLOCKED'));
}

/**
 * ioredis defines a `…Buffer` variant of every command at runtime, but types only some; these two it does not.
 * (`callBuffer` would do, but with auto-pipelining on it drops the command name.)
 */
interface BufferStreamCommands {
  xreadgroupBuffer(...args: (string | number)[]): Promise<unknown>;
  xautoclaimBuffer(...args: (string | number)[]): Promise<unknown>;
}

function bufferCommands(redis: RedisClient): BufferStreamCommands {
  return redis as unknown as BufferStreamCommands;
}

function toEntry([id, fields]: RawStreamEntry): StreamEntry {
  return [id.toString(), fields];
}

/**
 * A producer's field in the service's `wss_` namespace gets {@link PRODUCER_FIELD_ESCAPE} in front in the
 * dead-letter copy, so `wss_reason` and friends there are always ours. Applied to every such name, escapes
 * included, so the rule reverses unambiguously: strip one `wss_producer_`.
 */
function escapeProducerField(name: Buffer): Buffer {
  return name.subarray(0, RESERVED_PREFIX_BYTES.length).equals(RESERVED_PREFIX_BYTES)
    ? Buffer.concat([PRODUCER_ESCAPE_BYTES, name])
    : name;
}

function parseStreamId(id: string): [bigint, bigint] {
  const [ms = '0', seq = '0'] = id.split('-');
  return [BigInt(ms), BigInt(seq)];
}

function compareStreamIds(a: string, b: string): number {
  const [am, as] = parseStreamId(a);
  const [bm, bs] = parseStreamId(b);
  if (am !== bm) return am < bm ? -1 : 1;
  return as === bs ? 0 : as < bs ? -1 : 1;
}

/** The greatest possible id below `id`: a group created at it delivers `id` next. */
function previousStreamId(id: string): string {
  const [ms, seq] = parseStreamId(id);
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  if (ms > 0n) return `${ms - 1n}-18446744073709551615`;
  return '0';
}

function nextBackoff(current: number): number {
  return Math.min(MAX_BACKOFF_MS, current === 0 ? 250 : current * 2);
}

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
