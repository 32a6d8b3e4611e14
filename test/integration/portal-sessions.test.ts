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

  it('the tenant (or the admin) ends every link at once; a link minted after works; a link cannot do it', async () => {
    const tenant = uniqueName('ps-all').replace(/-/g, '_');
    const { key } = await tenantWithKey(tenant);
    const first = await mint(tenant, key);
    const second = await mint(tenant, stack.adminToken);
    const refused = await stack.api('DELETE', `/v1/tenants/${tenant}/portal-sessions`, undefined, first);
    assert.equal(refused.status, 404, JSON.stringify(refused.body));
    assert.equal((await endpoints(tenant, first)).status, 200);

    const res = await stack.api('DELETE', `/v1/tenants/${tenant}/portal-sessions`, undefined, key);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(!Number.isNaN(Date.parse(res.body.revokedBefore)));
    assert.equal((await endpoints(tenant, first)).status, 401);
    assert.equal((await endpoints(tenant, second)).status, 401);
    assert.equal((await endpoints(tenant, key)).status, 200, 'API keys are not portal sessions');

    await new Promise((r) => setTimeout(r, 5));
    const later = await mint(tenant, key);
    assert.equal((await endpoints(tenant, later)).status, 200);
    // The admin can do it too, and another tenant's key cannot.
    const other = uniqueName('ps-oth').replace(/-/g, '_');
    const otherKey = await tenantWithKey(other);
    const cross = await stack.api('DELETE', `/v1/tenants/${tenant}/portal-sessions`, undefined, otherKey.key);
    assert.equal(cross.status, 404);
    assert.equal((await endpoints(tenant, later)).status, 200);
    assert.equal((await stack.api('DELETE', `/v1/tenants/${tenant}/portal-sessions`)).status, 200);
    assert.equal((await endpoints(tenant, later)).status, 401);
  });

  it('signing out ends that link only, on the server; an API key has no session to end', async () => {
    const tenant = uniqueName('ps-out').replace(/-/g, '_');
    const { key } = await tenantWithKey(tenant);
    const mine = await mint(tenant, key);
    const theirs = await mint(tenant, key);
    const out = await stack.api('DELETE', `/v1/tenants/${tenant}/portal-sessions/current`, undefined, mine);
    assert.equal(out.status, 204, JSON.stringify(out.body));
    assert.equal((await endpoints(tenant, mine)).status, 401);
    assert.equal((await endpoints(tenant, theirs)).status, 200);
    const byKey = await stack.api('DELETE', `/v1/tenants/${tenant}/portal-sessions/current`, undefined, key);
    assert.equal(byKey.status, 404);
  });

  it('no /v1 answer may be cached: secrets shown once, errors included', async () => {
    const tenant = uniqueName('ps-cache').replace(/-/g, '_');
    const { key } = await tenantWithKey(tenant);
    for (const [method, path, body, token] of [
      ['POST', `/v1/tenants/${tenant}/portal-sessions`, {}, key],
      ['POST', `/v1/tenants/${tenant}/endpoints`, { url: 'http://127.0.0.1:9/x', eventTypes: ['*'] }, key],
      ['GET', `/v1/tenants/${tenant}/endpoints`, undefined, 'wrong-token'],
      ['GET', '/v1/no-such-route', undefined, key],
      ['PUT', `/v1/tenants/${tenant}/deliveries`, undefined, key],
    ] as const) {
      const res = await fetch(`${stack.apiUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      assert.equal(res.headers.get('cache-control'), 'no-store', `${method} ${path} (${res.status})`);
    }
  });
});
