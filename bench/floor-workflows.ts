import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import { DeliveryStatusKey } from '../src/delivery/search-attributes';

/** The floor's only activity: does nothing but note when it ran. */
export interface FloorActivities {
  noop(sentAt: number): Promise<void>;
}

const { noop } = proxyActivities<FloorActivities>({ startToCloseTimeout: '30 seconds' });

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
