import { deliveryWorkflowId, parseEventId, parseTenantId } from '../../src/domain/ids';

/**
 * The real services under test. `npm test` runs the suites through scripts/local-stack.mjs, which starts Redis and
 * the Temporal dev server and exports their addresses. Running a file by hand needs the same variables.
 */
export function serviceAddresses(): { redisUrl: string; temporalAddress: string } {
  const redisUrl = process.env.REDIS_URL;
  const temporalAddress = process.env.TEMPORAL_ADDRESS;
  if (!redisUrl || !temporalAddress) {
    throw new Error(
      'REDIS_URL and TEMPORAL_ADDRESS must point at real servers. Run `npm run test:integration` through ' +
        '`node scripts/local-stack.mjs run --ephemeral -- ...` (npm test does this).',
    );
  }
  return { redisUrl, temporalAddress };
}

/** Unique names per test so suites never see each other's streams, queues or tenants. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * The delivery workflow id of an event, from ids as a producer writes them. Tests stand outside the service, so
 * they parse the ids, as the service does at its edges.
 */
export function workflowIdOf(tenantId: string, eventId: string): string {
  return deliveryWorkflowId(parseTenantId(tenantId), parseEventId(eventId));
}

/** Polls `check` until it returns a truthy value, at most `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

/**
 * Everything a Temporal history says, as searchable text: payloads are bytes (base64 in JSON), so they are
 * decoded here. Use it to assert that a secret is absent from history.
 */
export function historyText(history: unknown): string {
  const parts: string[] = [];
  const visit = (value: unknown): void => {
    if (value instanceof Uint8Array) parts.push(Buffer.from(value).toString('utf8'));
    else if (typeof value === 'string') parts.push(value);
    else if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') Object.values(value).forEach(visit);
  };
  visit(history);
  return parts.join('\n');
}
