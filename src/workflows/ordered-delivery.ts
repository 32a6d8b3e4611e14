import {
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { StreamOrderActivities } from '../activities/stream-order';
import { DeliveryStatusKey } from '../delivery/search-attributes';
import type { OrderedItem, OrderedLaneInput, OrderedLaneState, PausedHead } from '../delivery/ordered-contract';
import {
  LANE_STATUS_PAUSED,
  LANE_STATUS_RUNNING,
  ORDERED_ENQUEUE_SIGNAL,
  ORDERED_RESUME_SIGNAL,
  ORDERED_STATE_QUERY,
} from '../delivery/ordered-contract';
import { compareStreamIds } from '../domain/ordering';
import { deliverToEndpoint } from './deliver-event';

export const orderedEnqueueSignal = defineSignal<[OrderedItem]>(ORDERED_ENQUEUE_SIGNAL);
export const orderedResumeSignal = defineSignal<[]>(ORDERED_RESUME_SIGNAL);
export const orderedStateQuery = defineQuery<OrderedLaneState>(ORDERED_STATE_QUERY);

/** Events handled per run before continue-as-new (each costs about ten history events). */
const EVENTS_PER_RUN = 200;
/** History length at which a run continues as new even without events handled (signals to a paused lane). */
const HISTORY_LIMIT = 5_000;
const DEFAULT_IDLE_MS = 60_000;

/**
 * The order check: retried every few hundred ms until the consumer has handled every stream entry before the head.
 * Retries cost no history; the workflow cancels it when an earlier event of the lane arrives meanwhile.
 */
const { awaitStreamPredecessors, streamHandledBelow } = proxyActivities<StreamOrderActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 1.5, maximumInterval: '2 seconds' },
});

/**
 * One lane of ordered delivery: the events of one (tenant, endpoint, key), delivered to the endpoint one at a time in
 * stream order. Fed by signal-with-start from the consumer; the design and its failure cases are in the README
 * ("Ordered delivery").
 *
 * Each event goes through the same delivery as an unordered one ({@link deliverToEndpoint}: the delivery activity
 * with the endpoint's retry policy, and the terminal bookkeeping that writes the dead letter). A head that fails
 * holds the lane until it is delivered or dead-lettered; then the lane goes on (`continue`) or waits for a resume
 * signal (`pause`).
 */
export async function orderedDelivery(input: OrderedLaneInput): Promise<void> {
  const queue: OrderedItem[] = [...(input.queue ?? [])];
  let lastSeq = input.lastSeq;
  let handledBelow = input.handledBelow;
  let paused: PausedHead | undefined = input.paused;
  /** The order check running for the head, cancelled when an earlier event arrives. */
  let checking: { scope: CancellationScope; seq: string } | undefined;

  setHandler(orderedEnqueueSignal, (item) => {
    // A re-read of an entry (a consumer crash before its ack) is signalled again: it is either delivered already
    // (at or below lastSeq) or still queued.
    if (lastSeq !== undefined && compareStreamIds(item.seq, lastSeq) <= 0) return;
    let at = queue.length;
    while (at > 0 && compareStreamIds((queue[at - 1] as OrderedItem).seq, item.seq) > 0) at -= 1;
    if (at > 0 && (queue[at - 1] as OrderedItem).seq === item.seq) return;
    queue.splice(at, 0, item);
    if (checking && compareStreamIds(item.seq, checking.seq) < 0) checking.scope.cancel();
  });
  setHandler(orderedResumeSignal, () => {
    if (paused === undefined) return;
    log.info('ordered lane resumed', { eventId: paused.eventId });
    paused = undefined;
    upsertSearchAttributes([{ key: DeliveryStatusKey, value: LANE_STATUS_RUNNING }]);
  });
  setHandler(orderedStateQuery, () => ({
    ...(paused ? { paused } : {}),
    queued: queue.length,
    ...(lastSeq !== undefined ? { lastSeq } : {}),
  }));

  let handled = 0;
  const historyFull = (): boolean =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= HISTORY_LIMIT;

  for (;;) {
    // A paused lane waits without a timer (it may wait long); a resume wakes it even with nothing queued, so that
    // an empty lane still ends when idle.
    const waitingPaused = paused !== undefined;
    const ready = await condition(
      () => (queue.length > 0 && paused === undefined) || historyFull() || (waitingPaused && paused === undefined),
      waitingPaused ? undefined : (input.idleMs ?? DEFAULT_IDLE_MS),
    );
    if (handled >= (input.eventsPerRun ?? EVENTS_PER_RUN) || historyFull()) {
      // Signals that came with this activation were handled above; one that arrives after it fails this
      // completion, and Temporal replays the task with the signal, so no event is lost across the new run.
      await condition(allHandlersFinished);
      await continueAsNew<typeof orderedDelivery>({
        ...input,
        queue,
        ...(lastSeq !== undefined ? { lastSeq } : {}),
        ...(handledBelow !== undefined ? { handledBelow } : {}),
        ...(paused ? { paused } : { paused: undefined }),
      });
    }
    if (!ready) {
      // Idle. The run may end only when no re-read of an event it delivered can still come: every entry up to
      // lastSeq must be acked. (The next event of the key then starts a new run with empty state.)
      if (lastSeq === undefined) return;
      handledBelow = await streamHandledBelow(input.source);
      if (queue.length === 0 && paused === undefined && compareStreamIds(lastSeq, handledBelow) < 0) {
        await condition(allHandlersFinished);
        return;
      }
      continue;
    }

    const head = queue[0];
    if (head === undefined || paused !== undefined) continue;
    if (handledBelow === undefined || compareStreamIds(head.seq, handledBelow) > 0) {
      const scope = new CancellationScope();
      checking = { scope, seq: head.seq };
      try {
        const checked = await scope.run(() => awaitStreamPredecessors({ source: input.source, seq: head.seq }));
        handledBelow = checked.handledBelow;
      } catch (err) {
        // An earlier event of the lane arrived: it is the head now.
        if (isCancellation(err)) continue;
        throw err;
      } finally {
        checking = undefined;
      }
      if (queue[0] !== head) continue;
    }

    queue.shift();
    lastSeq = head.seq;
    // Every attempt as a regular activity, never a local first attempt: the SDK may run a lane's successive local
    // attempts in one workflow task, and a worker killed in it re-runs all of them on replay, so the receiver would
    // see an earlier event again after a later one. A regular activity can only repeat the head itself.
    const result = await deliverToEndpoint(
      head.event,
      { endpointId: input.endpointId, retryPolicy: head.retryPolicy },
      false,
    );
    handled += 1;
    if (result.status === 'failed' && head.onFailure === 'pause') {
      paused = {
        eventId: head.event.eventId,
        seq: head.seq,
        pausedAt: new Date(Date.now()).toISOString(),
        ...(result.lastError !== undefined ? { lastError: result.lastError } : {}),
      };
      log.warn('ordered lane paused after a failed head', { eventId: head.event.eventId, queued: queue.length });
      upsertSearchAttributes([{ key: DeliveryStatusKey, value: LANE_STATUS_PAUSED }]);
    }
  }
}
