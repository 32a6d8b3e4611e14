import { ApplicationFailure } from '@temporalio/activity';
import { compareStreamIds } from '../domain/ordering';
import type { StreamGroupRef } from '../delivery/ordered-contract';

/**
 * How far a consumer group has handled its stream: every entry with an id below `handledBelow` was read and acked
 * (its delivery started or signalled, or it was dead-lettered). Implemented over XPENDING and XINFO GROUPS.
 */
export interface StreamProgressPort {
  handledBelow(source: StreamGroupRef): Promise<string>;
}

export interface AwaitPredecessorsInput {
  readonly source: StreamGroupRef;
  /** The stream entry id of the lane's head. */
  readonly seq: string;
}

/**
 * The order guarantee's check (README "Ordered delivery"): a lane may deliver its head only when no stream entry
 * before it is still unhandled, because an unhandled earlier entry may carry an event of the same key that has not
 * been signalled yet. Not yet: a retryable failure, and Temporal tries again shortly (retries add no history).
 */
export function createStreamOrderActivities(deps: { readonly progress: StreamProgressPort }) {
  return {
    /** Returns the group's `handledBelow` once it is past `seq`'s predecessors; throws (retryable) until then. */
    async awaitStreamPredecessors(input: AwaitPredecessorsInput): Promise<{ handledBelow: string }> {
      const handledBelow = await deps.progress.handledBelow(input.source);
      if (compareStreamIds(input.seq, handledBelow) <= 0) return { handledBelow };
      throw ApplicationFailure.retryable(
        'an earlier stream entry is still being handled by the consumer',
        'ordering_predecessors_pending',
      );
    },
    /** The group's `handledBelow` now (an idle lane asks before it ends: no re-read of its entries can follow). */
    async streamHandledBelow(source: StreamGroupRef): Promise<string> {
      return deps.progress.handledBelow(source);
    },
  };
}

export type StreamOrderActivities = ReturnType<typeof createStreamOrderActivities>;
