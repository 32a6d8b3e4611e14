import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { google } from '@temporalio/proto';
import { temporal } from '@temporalio/proto';
import { SecretUnavailableError, ValidationError } from '../domain/errors';
import type { EndpointId, TenantId } from '../domain/ids';
import type { SecretBox } from '../security/secret-box';

/** The delivery statuses a list can be filtered by, as `GET …/deliveries/{eventId}` reports them. */
export const DELIVERY_LIST_STATUSES = [
  'pending',
  'delivered',
  'failed',
  'cancelled',
  'skipped',
  'no_subscribers',
] as const;
export type DeliveryListStatus = (typeof DELIVERY_LIST_STATUSES)[number];

/** What `GET /v1/tenants/{t}/deliveries` filters on. Every field narrows the list (AND). */
export interface DeliveryListFilter {
  readonly status?: DeliveryListStatus;
  /** An exact event type (`order.created`), as published. */
  readonly eventType?: string;
  readonly endpointId?: EndpointId;
  /** Deliveries whose latest run started at or after this time, epoch milliseconds. */
  readonly sinceMs?: number;
  /** ... and at or before this time, epoch milliseconds. */
  readonly untilMs?: number;
}

/** One row of the list: the latest run of one event's delivery. */
export interface DeliverySummary {
  readonly eventId: string;
  readonly eventType?: string;
  /** pending, delivered, failed, cancelled, skipped or no_subscribers (see {@link deliveryStatusOf}). */
  readonly status: string;
  /** Temporal's execution status of the run: RUNNING, COMPLETED, CANCELED, TERMINATED, TIMED_OUT or FAILED. */
  readonly workflowStatus: string;
  /** Endpoints the run delivers to. */
  readonly endpointIds: string[];
  /** When the run started (ISO-8601); a retry's run starts when it was asked for. */
  readonly startedAt: string;
  readonly closedAt?: string;
}

export interface DeliveryPage {
  readonly items: DeliverySummary[];
  /** Opaque; pass as `cursor` for the next page. Absent on the last page. */
  readonly nextCursor?: string;
}

const DELIVERY_WORKFLOW_TYPE = 'deliverEvent';

/**
 * The delivery status of a run, from Temporal's execution status, the `DeliveryStatus` search attribute and (when
 * known) the workflow's result. A completed run without `DeliveryStatus` delivered (the workflow upserts it only for
 * other outcomes); a run that Temporal ended (terminated, timed out, failed) did not deliver, so it is `failed`.
 *
 * @param workflowStatus Temporal's status name, either spelling (`CANCELLED` from describe, `CANCELED` from lists).
 */
export function deliveryStatusOf(workflowStatus: string, searchStatus?: string, resultStatus?: string): string {
  switch (workflowStatus) {
    case 'RUNNING':
      return 'pending';
    case 'COMPLETED':
      return resultStatus ?? (searchStatus && searchStatus !== 'pending' ? searchStatus : 'delivered');
    case 'CANCELED':
    case 'CANCELLED':
      return 'cancelled';
    default:
      return 'failed';
  }
}

/** The visibility clause of each status filter; the inverse of {@link deliveryStatusOf}. */
const STATUS_CLAUSES: Record<DeliveryListStatus, string> = {
  pending: `ExecutionStatus = 'Running'`,
  delivered: `ExecutionStatus = 'Completed' AND (DeliveryStatus IS NULL OR DeliveryStatus IN ('delivered', 'pending'))`,
  failed: `ExecutionStatus IN ('Failed', 'Terminated', 'TimedOut') OR (ExecutionStatus = 'Completed' AND DeliveryStatus = 'failed')`,
  cancelled: `ExecutionStatus = 'Canceled' OR (ExecutionStatus = 'Completed' AND DeliveryStatus = 'cancelled')`,
  skipped: `ExecutionStatus = 'Completed' AND DeliveryStatus = 'skipped'`,
  no_subscribers: `ExecutionStatus = 'Completed' AND DeliveryStatus = 'no_subscribers'`,
};

/** A visibility string literal. Callers pass validated ids and types; quotes and backslashes are escaped anyway. */
function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * The Temporal visibility query of a filter: always scoped to the tenant's delivery workflows.
 * Pure, so the mapping is unit-tested; the integration test runs it on a real server.
 */
export function deliveryListQuery(tenantId: TenantId, filter: DeliveryListFilter): string {
  const clauses = [`WorkflowType = ${literal(DELIVERY_WORKFLOW_TYPE)}`, `TenantId = ${literal(tenantId)}`];
  if (filter.eventType !== undefined) clauses.push(`EventType = ${literal(filter.eventType)}`);
  if (filter.endpointId !== undefined) clauses.push(`EndpointId = ${literal(filter.endpointId)}`);
  if (filter.sinceMs !== undefined) clauses.push(`StartTime >= ${time(filter.sinceMs)}`);
  // Visibility keeps microseconds: a row shown as 12:00:00.123 started within that millisecond, and is included.
  if (filter.untilMs !== undefined) clauses.push(`StartTime < ${time(filter.untilMs + 1)}`);
  if (filter.status !== undefined) clauses.push(`(${STATUS_CLAUSES[filter.status]})`);
  return clauses.join(' AND ');
}

function time(ms: number): string {
  return literal(new Date(ms).toISOString());
}

function keyword(fields: Record<string, temporal.api.common.v1.IPayload> | null | undefined, name: string): unknown {
  const payload = fields?.[name];
  return payload ? defaultPayloadConverter.fromPayload(payload) : undefined;
}

/** `WORKFLOW_EXECUTION_STATUS_TIMED_OUT` → `TIMED_OUT`. */
function statusName(status: temporal.api.enums.v1.WorkflowExecutionStatus | null | undefined): string {
  const name = temporal.api.enums.v1.WorkflowExecutionStatus[status ?? 0] ?? 'UNSPECIFIED';
  return name.replace(/^WORKFLOW_EXECUTION_STATUS_/, '');
}

function msOf(time: google.protobuf.ITimestamp | null | undefined): number | undefined {
  if (!time?.seconds) return undefined;
  return Number(time.seconds) * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
}

function isoOf(time: google.protobuf.ITimestamp | null | undefined): string | undefined {
  const ms = msOf(time);
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

/** Where a walk over the pages is: visibility's page token, and the time of its first page. */
interface ListPosition {
  readonly token: Uint8Array;
  readonly snapshotMs: number;
}

/**
 * Cursors are the walk's position sealed (AES-256-GCM) with the query as additional data: a client can neither
 * forge a token for visibility to parse nor carry a cursor over to other filters or another tenant.
 */
function openCursor(box: SecretBox, cursor: string, query: string): ListPosition {
  let text: string;
  try {
    text = box.open(cursor, `delivery-list-cursor\n${query}`);
  } catch (err) {
    if (err instanceof SecretUnavailableError) {
      throw new ValidationError(
        'cursor is not valid for these filters (pass the nextCursor of the same list)',
        'cursor',
      );
    }
    throw err;
  }
  const parsed = JSON.parse(text) as { token?: unknown; snapshotMs?: unknown };
  if (typeof parsed.token !== 'string' || typeof parsed.snapshotMs !== 'number') {
    throw new ValidationError('cursor is not valid (start the list again)', 'cursor');
  }
  return { token: Buffer.from(parsed.token, 'base64url'), snapshotMs: parsed.snapshotMs };
}

function sealCursor(box: SecretBox, position: ListPosition, query: string): string {
  const text = JSON.stringify({
    token: Buffer.from(position.token).toString('base64url'),
    snapshotMs: position.snapshotMs,
  });
  return box.seal(text, `delivery-list-cursor\n${query}`);
}

/**
 * One page of a tenant's deliveries from Temporal visibility, latest run per event.
 *
 * - A walk over the pages (following `nextCursor`) sees the runs started up to its first page (the snapshot): new
 *   events and retries that start meanwhile do not shift its pages, and an event retried meanwhile keeps its row
 *   as it was. A run that ends during the walk can still move from the running rows to the closed ones.
 * - A retry starts a new run of the same workflow id; rows of earlier runs are left out, so a page can hold fewer
 *   than `limit` rows and still have a `nextCursor`.
 * - Runs started before `notBeforeMs` (the tenant's creation) belong to an earlier tenant of the same id: never
 *   listed.
 * - Order is visibility's: running deliveries first, then by close time, newest first.
 *
 * @throws ValidationError (400) for a cursor this list did not hand out, or one handed out for other filters.
 */
export async function listDeliveries(
  client: Client,
  namespace: string,
  cursors: SecretBox,
  tenantId: TenantId,
  filter: DeliveryListFilter,
  page: { limit: number; cursor?: string; notBeforeMs?: number },
): Promise<DeliveryPage> {
  const bounded: DeliveryListFilter =
    page.notBeforeMs === undefined
      ? filter
      : { ...filter, sinceMs: Math.max(filter.sinceMs ?? page.notBeforeMs, page.notBeforeMs) };
  const base = deliveryListQuery(tenantId, bounded);
  const position = page.cursor !== undefined ? openCursor(cursors, page.cursor, base) : undefined;
  const snapshotMs = position?.snapshotMs ?? Date.now();
  const response = await client.workflowService.listWorkflowExecutions({
    namespace,
    query: `${base} AND StartTime < ${time(snapshotMs + 1)}`,
    pageSize: page.limit,
    ...(position ? { nextPageToken: position.token } : {}),
  });
  const runs = (response.executions ?? []).map((raw) => {
    const fields = raw.searchAttributes?.indexedFields;
    const workflowStatus = statusName(raw.status);
    const searchStatus = keyword(fields, 'DeliveryStatus');
    const eventType = keyword(fields, 'EventType');
    const endpointIds = keyword(fields, 'EndpointId');
    const closedAt = workflowStatus === 'RUNNING' ? undefined : isoOf(raw.closeTime);
    return {
      workflowId: raw.execution?.workflowId ?? '',
      runId: raw.execution?.runId ?? '',
      summary: {
        eventId: String(keyword(fields, 'EventId') ?? ''),
        ...(typeof eventType === 'string' ? { eventType } : {}),
        status: deliveryStatusOf(workflowStatus, typeof searchStatus === 'string' ? searchStatus : undefined),
        workflowStatus,
        endpointIds: Array.isArray(endpointIds) ? endpointIds.map(String) : [],
        startedAt: isoOf(raw.startTime) ?? new Date(0).toISOString(),
        ...(closedAt ? { closedAt } : {}),
      } satisfies DeliverySummary,
    };
  });
  const latest = await latestRuns(
    client,
    namespace,
    tenantId,
    runs.filter((r) => r.summary.workflowStatus !== 'RUNNING').map((r) => r.workflowId),
    snapshotMs,
  );
  const items = runs
    .filter((r) => r.summary.workflowStatus === 'RUNNING' || latest.get(r.workflowId) === r.runId)
    .map((r) => r.summary);
  const next = response.nextPageToken;
  return {
    items,
    ...(next && next.length > 0 ? { nextCursor: sealCursor(cursors, { token: next, snapshotMs }, base) } : {}),
  };
}

/**
 * The latest run id of each closed workflow as of the snapshot: the run with the newest start up to it. A running
 * run is always the latest (Temporal allows one running run per workflow id), so only closed rows are looked up,
 * in one visibility query.
 */
async function latestRuns(
  client: Client,
  namespace: string,
  tenantId: TenantId,
  workflowIds: readonly string[],
  snapshotMs: number,
): Promise<Map<string, string>> {
  const latest = new Map<string, { runId: string; startMs: number }>();
  const ids = [...new Set(workflowIds)];
  if (ids.length === 0) return new Map();
  const query =
    `WorkflowType = ${literal(DELIVERY_WORKFLOW_TYPE)} AND TenantId = ${literal(tenantId)} AND ` +
    `WorkflowId IN (${ids.map(literal).join(', ')}) AND StartTime < ${time(snapshotMs + 1)}`;
  let nextPageToken: Uint8Array | undefined;
  do {
    const response = await client.workflowService.listWorkflowExecutions({
      namespace,
      query,
      pageSize: 1000,
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    for (const raw of response.executions ?? []) {
      const workflowId = raw.execution?.workflowId ?? '';
      const startMs = msOf(raw.startTime) ?? 0;
      const seen = latest.get(workflowId);
      if (!seen || startMs > seen.startMs) latest.set(workflowId, { runId: raw.execution?.runId ?? '', startMs });
    }
    nextPageToken = response.nextPageToken?.length ? response.nextPageToken : undefined;
  } while (nextPageToken);
  return new Map([...latest].map(([id, { runId }]) => [id, runId]));
}
