import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Temporal Cloud's billable actions, by the published rules (https://docs.temporal.io/cloud/actions, read
 * 2026-11-30), as far as a history shows them:
 * - `start`: the workflow start (search attributes given at start cost nothing more);
 * - `activity`: each activity started, and `retry`: each further attempt of it;
 * - `marker`: the RecordMarker commands of one workflow task together count once. Local activities are recorded as
 *   markers, so every local activity of a fan-out run in one workflow task is one action; a patch marker
 *   (`patched()`) recorded in the same task is part of that same action;
 * - `wftHeartbeat`: a workflow task completed only to keep a long local activity going (one with no command,
 *   immediately followed by the next workflow task): each counts once;
 * - `upsert`: each UpsertWorkflowSearchAttributes command, except the SDK's own upsert of `TemporalChangeVersion`
 *   that goes with a patch marker (exempt by the same rules);
 * - `timer`, `signal`: each timer started, each signal.
 * Queries and activity heartbeats are billed too but leave no trace in history; the delivery workflow is not queried,
 * and its local first attempt does not heartbeat.
 */
export type ActionKind = 'start' | 'activity' | 'retry' | 'marker' | 'wftHeartbeat' | 'upsert' | 'timer' | 'signal';

const ACTION_KINDS: readonly ActionKind[] = [
  'start',
  'activity',
  'retry',
  'marker',
  'wftHeartbeat',
  'upsert',
  'timer',
  'signal',
];

/** One history's size and Temporal Cloud price. */
export interface SingleHistoryCost {
  readonly events: number;
  readonly billableActions: number;
  readonly eventTypes: Record<string, number>;
  readonly actions: Record<ActionKind, number>;
}

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
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** `ACTIVITY_TASK_SCHEDULED`, from the enum number or name a history carries. */
export function eventTypeName(eventType: unknown): string {
  const name = typeof eventType === 'number' ? EventType[eventType] : String(eventType);
  return (name ?? 'UNKNOWN').replace(/^EVENT_TYPE_/, '');
}

/** Counts one history's events and its billable actions (see {@link ActionKind}). */
export function costOfHistory(history: { readonly events?: readonly HistoryEvent[] | null }): SingleHistoryCost {
  const events = history.events ?? [];
  const eventTypes: Record<string, number> = {};
  const actions = Object.fromEntries(ACTION_KINDS.map((kind) => [kind, 0])) as Record<ActionKind, number>;
  const tasksWithMarkers = new Set<string>();
  events.forEach((event, index) => {
    const name = eventTypeName(event.eventType);
    eventTypes[name] = (eventTypes[name] ?? 0) + 1;
    switch (name) {
      case 'WORKFLOW_EXECUTION_STARTED':
        actions.start += 1;
        break;
      case 'ACTIVITY_TASK_SCHEDULED':
        actions.activity += 1;
        break;
      case 'ACTIVITY_TASK_STARTED':
        // Recorded once, for the attempt that ended the activity: the attempts before it are its retries.
        actions.retry += Math.max(0, (event.activityTaskStartedEventAttributes?.attempt ?? 1) - 1);
        break;
      case 'MARKER_RECORDED':
        tasksWithMarkers.add(String(event.markerRecordedEventAttributes?.workflowTaskCompletedEventId ?? index));
        break;
      case 'WORKFLOW_TASK_COMPLETED': {
        const next = events[index + 1];
        if (next !== undefined && eventTypeName(next.eventType) === 'WORKFLOW_TASK_SCHEDULED')
          actions.wftHeartbeat += 1;
        break;
      }
      case 'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES':
        if (upsertedKeys(event).some((key) => key !== 'TemporalChangeVersion')) actions.upsert += 1;
        break;
      case 'WORKFLOW_EXECUTION_SIGNALED':
      case 'SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED':
        actions.signal += 1;
        break;
      case 'TIMER_STARTED':
        actions.timer += 1;
        break;
      default:
        break;
    }
  });
  actions.marker = tasksWithMarkers.size;
  return {
    events: events.length,
    billableActions: ACTION_KINDS.reduce((sum, kind) => sum + actions[kind], 0),
    eventTypes,
    actions,
  };
}

/** The search attributes an UpsertWorkflowSearchAttributes event sets. */
export function upsertedKeys(event: HistoryEvent): string[] {
  return Object.keys(event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {});
}

/** Whether the history ends with the workflow closed. */
function isClosed(history: { readonly events?: readonly HistoryEvent[] | null }): boolean {
  const last = history.events?.[history.events.length - 1];
  return last !== undefined && eventTypeName(last.eventType).startsWith('WORKFLOW_EXECUTION_');
}

/** Fetches a workflow's history once it is closed, polling up to `waitMs`. */
export async function fetchClosedHistory(client: Client, workflowId: string, waitMs = 20_000) {
  const deadline = Date.now() + waitMs;
  let history = await client.workflow.getHandle(workflowId).fetchHistory();
  while (!isClosed(history) && Date.now() < deadline) {
    await sleep(250);
    history = await client.workflow.getHandle(workflowId).fetchHistory();
  }
  if (!isClosed(history)) throw new Error(`workflow ${workflowId} did not close within ${waitMs} ms`);
  return history;
}

/**
 * Fetches each workflow's history (waiting up to `waitMs` for it to close) and averages its events and billable
 * actions ({@link costOfHistory}).
 *
 * @throws Error if a workflow did not complete within `waitMs`: the sample would not be representative.
 */
export async function measureHistoryCost(
  client: Client,
  workflowIds: readonly string[],
  waitMs = 20_000,
): Promise<HistoryCost> {
  const eventTypes: Record<string, number> = {};
  const actions: Record<string, number> = Object.fromEntries(ACTION_KINDS.map((kind) => [kind, 0]));
  let events = 0;
  let billable = 0;
  for (const workflowId of workflowIds) {
    const cost = costOfHistory(await fetchClosedHistory(client, workflowId, waitMs));
    events += cost.events;
    billable += cost.billableActions;
    for (const [name, count] of Object.entries(cost.eventTypes)) eventTypes[name] = (eventTypes[name] ?? 0) + count;
    for (const kind of ACTION_KINDS) actions[kind] = (actions[kind] ?? 0) + cost.actions[kind];
  }
  const n = Math.max(1, workflowIds.length);
  const avg = (record: Record<string, number>) =>
    Object.fromEntries(Object.entries(record).map(([k, v]) => [k, round(v / n, 3)]));
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
