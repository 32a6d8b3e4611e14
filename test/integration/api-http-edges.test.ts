import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { uniqueName } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

/** HTTP framing the management API answers the same way on every route: media types, methods, paths. */
describe('management API HTTP edges', () => {
  let stack: TestStack;
  let tenant: string;

  before(async () => {
    stack = await startStack({ consumer: false, worker: false });
    tenant = uniqueName('edges').replace(/[^A-Za-z0-9_-]/g, '_');
    assert.equal((await stack.api('POST', '/v1/tenants', { id: tenant })).status, 201);
  });
  after(() => stack.stop());

  async function send(method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}) {
    const res = await fetch(`${stack.apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${stack.adminToken}`, ...init.headers },
      ...(init.body !== undefined ? { body: init.body } : {}),
    });
    const text = await res.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, headers: res.headers, body, text };
  }

  const tenantBody = () => JSON.stringify({ id: uniqueName('t').replace(/[^A-Za-z0-9_-]/g, '_') });

  it('refuses a body whose Content-Type is not JSON in UTF-8 with 415 unsupported_media_type', async () => {
    for (const type of [
      'text/plain',
      'text/plain;charset=UTF-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/json; charset=iso-8859-1',
      'application/jsonx',
      'not a media type',
    ]) {
      for (const [method, path, body] of [
        ['POST', '/v1/tenants', tenantBody()],
        ['POST', `/v1/tenants/${tenant}/events`, '{"type":"a.b","data":1}'],
        ['PATCH', `/v1/tenants/${tenant}/endpoints/ep_none`, '{"description":"x"}'],
      ] as const) {
        const res = await send(method, path, { body, headers: { 'content-type': type } });
        assert.equal(res.status, 415, `${type} ${method} ${path}: ${res.text}`);
        assert.equal(res.body?.error?.code, 'unsupported_media_type', res.text);
      }
    }
    // The type of a body that is not there does not matter.
    const noBody = { headers: { 'content-type': 'text/plain' } };
    assert.equal((await send('GET', `/v1/tenants/${tenant}`, noBody)).status, 200);
    assert.equal((await send('POST', `/v1/tenants/${tenant}/api-keys`, noBody)).status, 201);
    // Nothing was created by the refused requests.
    const events = await stack.redis.xlen(stack.config.WSS_STREAM);
    assert.equal(events, 0);
  });

  it('reads JSON bodies sent as application/json (any case, UTF-8 charset), a +json type, or with no Content-Type', async () => {
    for (const type of [
      'application/json',
      'Application/JSON; charset=utf-8',
      'application/json;charset="UTF-8"',
      'application/merge-patch+json',
    ]) {
      const res = await send('POST', '/v1/tenants', { body: tenantBody(), headers: { 'content-type': type } });
      assert.equal(res.status, 201, `${type}: ${res.text}`);
    }
    // fetch labels a string body text/plain; a Blob without a type goes without a Content-Type.
    const untyped = await fetch(`${stack.apiUrl}/v1/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}` },
      body: new Blob([tenantBody()]),
    });
    assert.equal(untyped.status, 201, await untyped.text());
  });

  it('answers a known path with a wrong method 405, naming the allowed methods in Allow', async () => {
    for (const [method, path, allowed] of [
      ['PUT', '/v1/tenants', ['GET', 'POST']],
      ['DELETE', `/v1/tenants/${tenant}/endpoints`, ['GET', 'POST']],
      ['GET', `/v1/tenants/${tenant}/events`, ['POST']],
      ['HEAD', '/v1/tenants', ['GET', 'POST']],
      ['HEAD', `/v1/tenants/${tenant}`, ['DELETE', 'GET']],
      ['POST', '/healthz', ['GET', 'HEAD']],
      ['DELETE', '/openapi.json', ['GET', 'HEAD']],
      ['OPTIONS', `/v1/tenants/${tenant}`, ['DELETE', 'GET']],
    ] as const) {
      const res = await send(method, path);
      assert.equal(res.status, 405, `${method} ${path}`);
      if (method !== 'HEAD') assert.equal(res.body?.error?.code, 'method_not_allowed');
      const allow = (res.headers.get('allow') ?? '').split(/,\s*/).filter(Boolean).sort();
      assert.deepEqual(allow, [...allowed].sort(), `${method} ${path}`);
    }
  });

  it('answers HEAD on the public routes like GET, without a body (load balancers probe /healthz with HEAD)', async () => {
    for (const path of ['/healthz', '/openapi.json']) {
      const get = await fetch(`${stack.apiUrl}${path}`);
      const head = await fetch(`${stack.apiUrl}${path}`, { method: 'HEAD' });
      // Whatever GET answers (this stack runs no worker, so /healthz may well say 503).
      assert.equal(head.status, get.status, path);
      assert.equal(head.headers.get('content-type'), get.headers.get('content-type'), path);
      assert.equal((await head.arrayBuffer()).byteLength, 0, path);
      assert.ok((await get.text()).length > 0, path);
    }
  });

  it('accepts the Bearer auth scheme in any case, as RFC 9110 §11.1 makes it case-insensitive', async () => {
    const token = stack.adminToken;
    for (const header of [`bearer ${token}`, `BEARER ${token}`, `bEaReR ${token}`, `Bearer  ${token}`]) {
      const res = await send('GET', `/v1/tenants/${tenant}`, { headers: { authorization: header } });
      assert.equal(res.status, 200, `${header.replace(token, '<token>')}: ${res.text}`);
    }
    for (const header of [`Bearer${token}`, 'bearer', 'bearer ', `Basic ${token}`, `bearer ${token} extra`]) {
      const res = await send('GET', `/v1/tenants/${tenant}`, { headers: { authorization: header } });
      assert.equal(res.status, 401, `${header.replace(token, '<token>')}: ${res.text}`);
      assert.equal(res.body?.error?.code, 'unauthorized');
    }
  });

  it('answers 405 and 404 without reading the body, whatever it holds', async () => {
    const bad = { body: '{"not json', headers: { 'content-type': 'application/json' } };
    const wrongMethod = await send('PUT', '/v1/tenants', bad);
    assert.equal(wrongMethod.status, 405, wrongMethod.text);
    const unknown = await send('POST', '/v1/no-such-route', bad);
    assert.equal(unknown.status, 404, unknown.text);
    assert.equal(unknown.body?.error?.code, 'route_not_found');
  });

  it('answers a malformed percent-escape anywhere in a route path with 400 validation_failed', async () => {
    for (const path of [
      '/v1/tenants/%ff',
      '/v1/tenants/%',
      '/v1/tenants/%zz/endpoints',
      `/v1/tenants/${tenant}/endpoints/%E0%A4%A`,
      `/v1/tenants/${tenant}/deliveries/%ud800/retry`,
      `/v1/tenants/${tenant}/endpoints/%c0%af/secret/rotate`,
    ]) {
      for (const method of ['GET', 'POST', 'DELETE']) {
        const res = await send(method, path);
        assert.ok(res.status === 400 || res.status === 405, `${method} ${path}: ${res.status} ${res.text}`);
        if (res.status === 400) assert.equal(res.body?.error?.code, 'validation_failed', res.text);
      }
    }
  });

  it("answers headers or a URL over Node's limit with 431 headers_too_large in the API's error shape", async () => {
    for (const init of [
      { path: `/v1/tenants/${tenant}/deliveries?cursor=${'a'.repeat(20_000)}`, headers: {} as Record<string, string> },
      { path: `/v1/tenants/${tenant}`, headers: { 'x-padding': 'p'.repeat(20_000) } },
    ]) {
      const res = await send('GET', init.path, { headers: init.headers });
      assert.equal(res.status, 431, res.text);
      assert.equal(res.body?.error?.code, 'headers_too_large', res.text);
      assert.equal(res.headers.get('cache-control'), 'no-store');
    }
    // The server still answers afterwards.
    assert.equal((await send('GET', `/v1/tenants/${tenant}`)).status, 200);
  });
});
