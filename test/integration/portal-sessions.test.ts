import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { uniqueName } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

/**
 * A portal session link carries a tenant's rights only as long as what it came from: the tenant API key that minted
 * it, and the tenant itself. Found by a README-only review: a link outlived the revocation of its key, and worked on
 * a new tenant created later under the same id.
 */
describe('portal sessions end with what they came from', () => {
  let stack: TestStack;

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.stop();
  });

  async function tenantWithKey(id: string): Promise<{ key: string; keyId: string }> {
    assert.equal((await stack.api('POST', '/v1/tenants', { id })).status, 201);
    const created = await stack.api('POST', `/v1/tenants/${id}/api-keys`, {});
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return { key: created.body.key as string, keyId: created.body.id as string };
  }

  async function mint(tenant: string, token: string): Promise<string> {
    const res = await stack.api('POST', `/v1/tenants/${tenant}/portal-sessions`, { ttlSeconds: 3600 }, token);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.token as string;
  }

  const endpoints = (tenant: string, token: string) =>
    stack.api('GET', `/v1/tenants/${tenant}/endpoints`, undefined, token);

  it('a link minted with a tenant API key stops working when that key is revoked', async () => {
    const tenant = uniqueName('ps-key').replace(/-/g, '_');
    const { key, keyId } = await tenantWithKey(tenant);
    const session = await mint(tenant, key);
    assert.equal((await endpoints(tenant, session)).status, 200);
    const revoked = await stack.api('DELETE', `/v1/tenants/${tenant}/api-keys/${keyId}`);
    assert.equal(revoked.status, 204, JSON.stringify(revoked.body));
    assert.equal((await endpoints(tenant, key)).status, 401);
    assert.equal((await endpoints(tenant, session)).status, 401, 'the link outlived the key that minted it');
  });

  it('a link does not survive its tenant: a new tenant under the same id is not reachable with it', async () => {
    const tenant = uniqueName('ps-ten').replace(/-/g, '_');
    await tenantWithKey(tenant);
    const session = await mint(tenant, stack.adminToken);
    assert.equal((await endpoints(tenant, session)).status, 200);
    assert.equal((await stack.api('DELETE', `/v1/tenants/${tenant}`)).status, 200);
    assert.equal((await stack.api('POST', '/v1/tenants', { id: tenant })).status, 201);
    const res = await endpoints(tenant, session);
    assert.equal(res.status, 401, `the old link reached the new tenant: ${JSON.stringify(res.body)}`);
  });

  it('a link minted by the admin keeps working while the tenant exists', async () => {
    const tenant = uniqueName('ps-adm').replace(/-/g, '_');
    await tenantWithKey(tenant);
    const session = await mint(tenant, stack.adminToken);
    assert.equal((await endpoints(tenant, session)).status, 200);
  });
});
