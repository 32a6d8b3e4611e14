import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { setTimeout as sleep } from 'node:timers/promises';

/** Temporal cost of a sample of workflows, averaged per workflow (one workflow = one event). */
export interface HistoryCost {
  readonly workflows: number;
  readonly historyEventsPerEvent: number;
  readonly billableActionsPerEvent: number;
  /** Average count of each history event type per workflow. */
  readonly eventTypes: Record<string, number>;
  /** Average billable actions per workflow by kind. */
  readonly actions: Record<string, number>;
}

const EventType = temporal.api.enums.v1.EventType;

function typeName(eventType: unknown): string {
  const name = typeof eventType === 'number' ? EventType[eventType] : String(eventType);
  return (name ?? 'UNKNOWN').replace(/^EVENT_TYPE_/, '');
}

/**
 * Fetches each workflow's history (waiting up to `waitMs` for it to close) and counts its events and its billable
 * actions: the start 1, each ActivityTaskScheduled 1, each activity retry 1 (attempt − 1 on ActivityTaskStarted,
 * which Temporal records once, for the last attempt), each UpsertWorkflowSearchAttributes 1, each signal and timer 1.
 *
 * @throws Error if a workflow did not complete within `waitMs`: the sample would not be representative.
 */
export async function measureHistoryCost(
  client: Client,
  workflowIds: readonly string[],
  waitMs = 20_000,
): Promise<HistoryCost> {
  const eventTypes: Record<string, number> = {};
  const actions: Record<string, number> = { start: 0, activity: 0, retry: 0, upsert: 0, signal: 0, timer: 0 };
  let events = 0;
  for (const workflowId of workflowIds) {
    const deadline = Date.now() + waitMs;
    let history = await client.workflow.getHandle(workflowId).fetchHistory();
    const closed = () =>
      typeName(history.events?.[history.events.length - 1]?.eventType).startsWith('WORKFLOW_EXECUTION_');
    while (!closed() && Date.now() < deadline) {
      await sleep(250);
      history = await client.workflow.getHandle(workflowId).fetchHistory();
    }
    if (!closed()) throw new Error(`workflow ${workflowId} did not close within ${waitMs} ms`);
    for (const event of history.events ?? []) {
      const name = typeName(event.eventType);
      events++;
      eventTypes[name] = (eventTypes[name] ?? 0) + 1;
      switch (name) {
        case 'WORKFLOW_EXECUTION_STARTED':
          actions.start! += 1;
          break;
        case 'ACTIVITY_TASK_SCHEDULED':
          actions.activity! += 1;
          break;
        case 'ACTIVITY_TASK_STARTED':
          actions.retry! += Math.max(0, (event.activityTaskStartedEventAttributes?.attempt ?? 1) - 1);
          break;
        case 'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES':
          actions.upsert! += 1;
          break;
        case 'WORKFLOW_EXECUTION_SIGNALED':
        case 'SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED':
          actions.signal! += 1;
          break;
        case 'TIMER_STARTED':
          actions.timer! += 1;
          break;
        default:
          break;
      }
    }
  }
  const n = Math.max(1, workflowIds.length);
  const avg = (record: Record<string, number>) =>
    Object.fromEntries(Object.entries(record).map(([k, v]) => [k, round(v / n, 3)]));
  const billable = Object.values(actions).reduce((a, b) => a + b, 0);
  return {
    workflows: workflowIds.length,
    historyEventsPerEvent: round(events / n, 3),
    billableActionsPerEvent: round(billable / n, 3),
    eventTypes: avg(eventTypes),
    actions: avg(actions),
  };
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}
