import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { verifyWssRequest } from '../support/independent-verifier';
import { receiverPool } from '../support/receiver';
import type { ReceivedRequest } from '../support/receiver';
import { uniqueName, waitFor } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

/** Verification with the npm `standardwebhooks` package: an implementation we did not write. */
function verifyWithLibrary(secret: string, req: ReceivedRequest): unknown {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
  return new Webhook(secret).verify(req.body.toString('utf8'), headers);
}

describe('Standard Webhooks signature scheme', () => {
  let stack: TestStack;
  const receivers = receiverPool();

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await receivers.closeAll();
    await stack.stop();
  });

  async function deliverOnce(scheme: string, eventId: string) {
    const tenant = uniqueName('sw');
    const hook = await receivers.start();
    const created = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
      url: hook.url,
      eventTypes: ['*'],
      signatureScheme: scheme,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await stack.xadd(
      'tenant',
      tenant,
      'type',
      'order.created',
      'data',
      '{"amount":12.5,"currency":"EUR"}',
      'id',
      eventId,
    );
    await waitFor('delivery', () => hook.requests.length === 1);
    return { tenant, hook, endpoint: created.body as { id: string; secret: string } };
  }

  it('sends webhook-id, webhook-timestamp and webhook-signature that the standardwebhooks library verifies', async () => {
    const { hook, endpoint } = await deliverOnce('standard-webhooks', 'evt-sw-1');
    assert.match(endpoint.secret, /^whsec_[A-Za-z0-9+/]+=*$/);
    const req = hook.requests[0]!;
    assert.equal(req.headers['webhook-id'], 'evt-sw-1');
    assert.match(String(req.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]+=*$/);
    assert.equal(req.headers['x-wss-signature'], undefined, 'standard-webhooks mode sends only its own headers');
    const payload = verifyWithLibrary(endpoint.secret, req) as { data: unknown };
    assert.deepEqual(payload.data, { amount: 12.5, currency: 'EUR' });
    assert.throws(() => verifyWithLibrary(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, req));
  });

  it('in "both" mode, one delivery verifies under both schemes', async () => {
    const { hook, endpoint } = await deliverOnce('both', 'evt-sw-both');
    const req = hook.requests[0]!;
    verifyWithLibrary(endpoint.secret, req);
    assert.equal(verifyWssRequest(endpoint.secret, req.headers, req.body).ok, true);
    assert.equal(req.headers['x-wss-timestamp'], req.headers['webhook-timestamp']);
  });

  it('signs with both secrets during rotation (space-separated), and each verifies alone', async () => {
    const { tenant, hook, endpoint } = await deliverOnce('standard-webhooks', 'evt-sw-rot-0');
    const rotated = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${endpoint.id}/secret/rotate`, {});
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{}', 'id', 'evt-sw-rot-1');
    await waitFor('second delivery', () => hook.requests.length === 2);
    const req = hook.requests[1]!;
    assert.equal(String(req.headers['webhook-signature']).split(' ').length, 2);
    verifyWithLibrary(endpoint.secret, req);
    verifyWithLibrary(rotated.body.secret, req);
  });

  it('refuses a non-whsec secret for a standard-webhooks endpoint', async () => {
    const res = await stack.api('POST', `/v1/tenants/${uniqueName('sw')}/endpoints`, {
      url: 'http://127.0.0.1:9/hook',
      eventTypes: ['*'],
      signatureScheme: 'standard-webhooks',
      secret: 'not-a-standard-webhooks-secret-at-all',
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.field, 'secret');
  });
});
