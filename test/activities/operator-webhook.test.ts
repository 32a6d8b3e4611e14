import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { parseEndpointId, parseTenantId } from '../../src/domain/ids';
import type { EndpointDisabledEvent } from '../../src/domain/operational-event';
import { DestinationPolicy } from '../../src/infra/egress/destination-policy';
import { createHttpClient } from '../../src/infra/http-client';
import type { HttpClient } from '../../src/infra/http-client';
import { createOperatorWebhook } from '../../src/notifications/operator-webhook';
import { verifyWssRequest } from '../support/independent-verifier';
import type { ReceivedRequest } from '../support/receiver';
import { receiverPool } from '../support/receiver';

/**
 * The operator webhook is built and signed like a delivery: the same header set, with the operational event's id
 * as the message id, verifiable by a wss verifier and, with a `whsec_` secret, by the standardwebhooks library.
 */

const receivers = receiverPool();
const clients: HttpClient[] = [];
after(async () => {
  await receivers.closeAll();
  await Promise.all(clients.map((c) => c.close()));
});

const EVENT: EndpointDisabledEvent = {
  type: 'endpoint.disabled',
  tenantId: parseTenantId('acme'),
  endpointId: parseEndpointId('ep_1'),
  reason: 'gone',
  detail: 'the endpoint answered 410 Gone',
  at: '2026-03-01T10:00:00.000Z',
};
const ID = 'ops_1772359200000-0';
const NOW_MS = Date.parse('2026-03-01T10:00:01.000Z');

async function notifyOnce(secret: string | undefined, now = () => NOW_MS): Promise<ReceivedRequest> {
  const hook = await receivers.start();
  const http = createHttpClient({
    connectTimeoutMs: 2000,
    headersTimeoutMs: 5000,
    totalTimeoutMs: 10_000,
    maxResponseBytes: 64 * 1024,
    policy: new DestinationPolicy({ allowCidrs: ['127.0.0.0/8'], httpsOnly: false }),
  });
  clients.push(http);
  await createOperatorWebhook(hook.url, secret, http, now).notify(EVENT, ID);
  assert.equal(hook.requests.length, 1);
  return hook.requests[0]!;
}

function names(req: ReceivedRequest): string[] {
  return req.rawHeaders
    .filter((_, i) => i % 2 === 0)
    .filter((n) => !['host', 'content-length', 'connection'].includes(n));
}

describe('operator webhook: built and signed like a delivery', () => {
  it('sends the delivery header set with the event id, unsigned without a secret', async () => {
    const req = await notifyOnce(undefined);
    assert.deepEqual(names(req), ['content-type', 'user-agent', 'x-wss-event-id', 'x-wss-event-type']);
    assert.equal(req.headers['x-wss-event-id'], ID);
    assert.equal(req.headers['x-wss-event-type'], 'endpoint.disabled');
    assert.deepEqual(JSON.parse(req.body.toString('utf8')), { type: EVENT.type, occurredAt: EVENT.at, data: EVENT });
  });

  it('signs with the wss scheme for a wss secret', async () => {
    const secret = 'wss_operator_' + 'c'.repeat(32);
    const req = await notifyOnce(secret);
    assert.deepEqual(names(req), [
      'content-type',
      'user-agent',
      'x-wss-event-id',
      'x-wss-event-type',
      'x-wss-timestamp',
      'x-wss-signature',
    ]);
    assert.deepEqual(verifyWssRequest(secret, req.headers, req.body, NOW_MS / 1000), {
      ok: true,
      timestamp: NOW_MS / 1000,
    });
  });

  it('adds webhook-id and the Standard Webhooks signature for a whsec_ secret', async () => {
    const secret = 'whsec_' + Buffer.alloc(32, 9).toString('base64');
    // Signed now: the library checks the timestamp against its own clock.
    const req = await notifyOnce(secret, Date.now);
    assert.equal(req.headers['webhook-id'], ID);
    assert.equal(verifyWssRequest(secret, req.headers, req.body).ok, true);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    assert.deepEqual(
      new Webhook(secret).verify(req.body.toString('utf8'), headers),
      JSON.parse(req.body.toString('utf8')),
    );
  });
});
