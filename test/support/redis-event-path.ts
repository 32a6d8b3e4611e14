import assert from 'node:assert/strict';
import { verifyWssRequest } from './independent-verifier';
import type { Receiver } from './receiver';
import { waitFor } from './services';
import type { TestStack } from './stack';

/** Registers an endpoint for `order.*` through the API and returns its id and signing secret. */
export async function registerEndpoint(
  stack: TestStack,
  tenant: string,
  url: string,
): Promise<{ id: string; secret: string }> {
  const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { url, eventTypes: ['order.*'] });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { id: string; secret: string };
}

/**
 * The distinct event ids `receiver` got, after checking every request's signature with the independent verifier.
 */
export function deliveredEventIds(receiver: Receiver, secret: string): Set<string> {
  const ids = new Set<string>();
  for (const req of receiver.requests) {
    const verdict = verifyWssRequest(secret, req.headers, req.body);
    assert.equal(verdict.ok, true, JSON.stringify(verdict));
    ids.add(String(req.headers['x-wss-event-id']));
  }
  return ids;
}

/**
 * The whole event path once: XADD (as a producer) → consumer → workflow → a signed POST to `receiver`, for
 * `count` events of a fresh endpoint of `tenant`. Resolves when every one arrived, signed.
 */
export async function deliverThroughStack(
  stack: TestStack,
  receiver: Receiver,
  tenant: string,
  count: number,
): Promise<void> {
  const endpoint = await registerEndpoint(stack, tenant, receiver.url);
  const ids = Array.from({ length: count }, (_, i) => `evt-${i}`);
  for (const id of ids) await stack.xadd('tenant', tenant, 'type', 'order.paid', 'data', `{"n":"${id}"}`, 'id', id);
  await waitFor(
    `${count} deliveries for ${tenant}`,
    () => deliveredEventIds(receiver, endpoint.secret).size === count,
    60_000,
  );
  assert.deepEqual([...deliveredEventIds(receiver, endpoint.secret)].sort(), [...ids].sort());
}
