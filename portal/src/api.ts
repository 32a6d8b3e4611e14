/*
 * The portal's only way to the service: the public /v1 management API with a bearer token. The token lives in
 * this module's memory only (never localStorage, sessionStorage or a cookie): closing or reloading the tab signs
 * out.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

let token: string | undefined;
let onUnauthorized: () => void = () => undefined;

export function setToken(value: string | undefined): void {
  token = value;
}

/** Called when the API refuses the token (expired portal link, revoked key). */
export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

/** Calls the API; `body` is sent as given when a string (exact bytes), else as JSON. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${token ?? ''}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'omit',
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
  } catch {
    throw new ApiError(0, 'network', 'The service cannot be reached. Check your connection and try again.');
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const error = (parsed as { error?: { code?: string; message?: string; field?: string } } | undefined)?.error;
    if (res.status === 401) onUnauthorized();
    throw new ApiError(res.status, error?.code ?? 'http_error', error?.message ?? `HTTP ${res.status}`, error?.field);
  }
  return parsed as T;
}

/**
 * Ends a portal link's session on the server (`DELETE …/portal-sessions/current` with the link's own token:
 * `linkToken`, by default the tab's token at the call), for Sign out and for a link replaced by another. Best
 * effort: a link that cannot be ended now expires on its own, and a refusal here (an expired link: 401) does not
 * sign the tab out.
 */
export async function endLinkSession(tenantId: string, linkToken = token): Promise<void> {
  if (linkToken === undefined) return;
  try {
    await fetch(`/v1/tenants/${encodeURIComponent(tenantId)}/portal-sessions/current`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${linkToken}` },
      credentials: 'omit',
    });
  } catch {
    // No answer: the link expires on its own.
  }
}

export interface Endpoint {
  id: string;
  url: string;
  description?: string;
  eventTypes: string[];
  enabled: boolean;
  disabledReason?: string;
  filter?: unknown;
  transform?: string;
  signatureScheme?: string;
  createdAt: string;
  updatedAt: string;
  [other: string]: unknown;
}

export type DryRun =
  | { matches: false; reason: 'endpoint_disabled' | 'event_type' | 'filter' | string }
  | { matches: true; eventType: string; headers: Record<string, string>; body: string };

export interface Attempt {
  attempt: number;
  at: string;
  outcome: string;
  statusCode?: number;
  durationMs: number;
  error?: string;
  responseBodyExcerpt?: string;
}

export interface Delivery {
  eventId: string;
  eventType?: string;
  status: string;
  endpoints: { endpointId: string; status: string; attempts: Attempt[]; lastError?: string }[];
}

export interface DeliverySummary {
  eventId: string;
  eventType?: string;
  status: string;
  workflowStatus: string;
  endpointIds: string[];
  startedAt: string;
  closedAt?: string;
}

/** One page of a cursor-paged list. */
export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
}

export type DeliveryPage = Page<DeliverySummary>;

/** Answer of `POST …/endpoints/{id}/send-test`: the test event, delivered to that endpoint only. */
export interface SentTest {
  id: string;
  endpointId: string;
}

export interface DeadLetter {
  eventId: string;
  eventType: string;
  occurredAt: string;
  endpointId: string;
  failedAt: string;
  attempts: number;
  lastStatusCode?: number;
  [other: string]: unknown;
}
