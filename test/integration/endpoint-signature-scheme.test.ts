import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { uniqueName } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

const GRACE_MS = 1000;

/** Found by schemathesis: a PATCH could give an endpoint a signature scheme its secrets cannot sign with. */
describe('changing an endpoint signature scheme', () => {
  let stack: TestStack;
  let tenant: string;

  before(async () => {
    stack = await startStack({ consumer: false, worker: false, env: { WSS_SECRET_GRACE_MS: String(GRACE_MS) } });
    tenant = uniqueName('scheme').replace(/[^A-Za-z0-9_-]/g, '_');
    assert.equal((await stack.api('POST', '/v1/tenants', { id: tenant })).status, 201);
  });
  after(() => stack.stop());

  async function endpoint(body: Record<string, unknown> = {}): Promise<string> {
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
      url: 'http://127.0.0.1:9/hook',
      eventTypes: ['*'],
      ...body,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id;
  }

  const dryRun = (id: string) =>
    stack.api('POST', `/v1/tenants/${tenant}/endpoints/${id}/test`, { type: 'a.b', data: { n: 1 } });

  it('refuses a Standard Webhooks scheme while a signing secret is not a whsec_ one, and keeps the endpoint', async () => {
    const id = await endpoint();
    const path = `/v1/tenants/${tenant}/endpoints/${id}`;
    const before = (await stack.api('GET', path)).body;
    for (const scheme of ['standard-webhooks', 'both']) {
      const res = await stack.api('PATCH', path, { signatureScheme: scheme });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'validation_failed');
      assert.equal(res.body.error.field, 'signatureScheme');
      assert.match(res.body.error.message, /whsec_/);
    }
    assert.deepEqual((await stack.api('GET', path)).body, before);
    assert.equal((await dryRun(id)).status, 200);
  });

  it('allows the change once every signing secret is a whsec_ one, and the dry run signs with it', async () => {
    const id = await endpoint();
    const path = `/v1/tenants/${tenant}/endpoints/${id}`;
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    assert.equal((await stack.api('POST', `${path}/secret/rotate`, { secret })).status, 200);
    // The previous (wss) secret still signs during the grace period.
    assert.equal((await stack.api('PATCH', path, { signatureScheme: 'both' })).status, 400);
    await new Promise((r) => setTimeout(r, GRACE_MS + 200));
    const changed = await stack.api('PATCH', path, { signatureScheme: 'both' });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    const dry = await dryRun(id);
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assert.match(dry.body.headers['webhook-signature'], /^v1,/);
  });

  it('allows any scheme change that the secrets can sign with', async () => {
    const secret = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    const id = await endpoint({ signatureScheme: 'standard-webhooks', secret });
    const path = `/v1/tenants/${tenant}/endpoints/${id}`;
    for (const scheme of ['wss', 'both', 'standard-webhooks']) {
      const res = await stack.api('PATCH', path, { signatureScheme: scheme });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal((await dryRun(id)).status, 200, scheme);
    }
  });
});
