import { proxyActivities, proxySinks, upsertSearchAttributes } from '@temporalio/workflow';
import type { Sinks } from '@temporalio/workflow';
import { DeliveryStatusKey } from '../src/delivery/search-attributes';

/** The floor's only activity: does nothing but note when it ran. */
export interface FloorActivities {
  noop(sentAt: number): Promise<void>;
}

/** How the empty workflow reports that it ran (it has no activity to do it). */
export interface FloorSinks extends Sinks {
  floor: { ran(sentAt: number): void };
}

const { noop } = proxyActivities<FloorActivities>({ startToCloseTimeout: '30 seconds' });
const { floor } = proxySinks<FloorSinks>();

/**
 * The least a one-workflow-per-event design can do: start, run one activity, complete. Its throughput on a given
 * Temporal server is the ceiling for the delivery pipeline on that server.
 */
export async function floorWorkflow(sentAt: number): Promise<void> {
  await noop(sentAt);
}

/**
 * The floor plus what the delivery workflow adds on the server: it is started with the same five search attributes
 * (see run.ts `--floor-variant status`) and upserts DeliveryStatus at the end. The difference from
 * {@link floorWorkflow} is the price of the searchable status.
 */
export async function floorWorkflowWithStatus(sentAt: number): Promise<void> {
  await noop(sentAt);
  upsertSearchAttributes([{ key: DeliveryStatusKey, value: 'delivered' }]);
}

/**
 * The server's own limit for one workflow per event: start and complete in the first workflow task, no activity.
 * It reports through a sink, which the worker calls when the workflow task's work is done (just before the
 * completion goes to the server).
 */
export async function emptyWorkflow(sentAt: number): Promise<void> {
  floor.ran(sentAt);
}
