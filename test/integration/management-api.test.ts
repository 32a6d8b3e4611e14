import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { verifyWssRequest } from '../support/independent-verifier';
import { startReceiver } from '../support/receiver';
import type { Receiver } from '../support/receiver';
import { parseEndpointId, parseTenantId } from '../../src/domain/ids';
import { uniqueName, waitFor, workflowIdOf } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

const GRACE_MS = 3000;
const MAX_EVENT_BYTES = 2048;

describe('management API against real Redis and Temporal', () => {
  let stack: TestStack;
  const receivers: Receiver[] = [];

  before(async () => {
    stack = await startStack({
      env: { WSS_SECRET_GRACE_MS: String(GRACE_MS), WSS_MAX_EVENT_BYTES: String(MAX_EVENT_BYTES) },
    });
  });
  after(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await stack.stop();
  });

  async function receiver(): Promise<Receiver> {
    const r = await startReceiver();
    receivers.push(r);
    return r;
  }

  /** A tenant id that no other test (or earlier run against the same Redis) uses. */
  const tenantId = (label: string) => uniqueName(label).replace(/[^A-Za-z0-9_-]/g, '_');

  async function createTenant(label: string): Promise<string> {
    const id = tenantId(label);
    const res = await stack.api('POST', '/v1/tenants', { id });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return id;
  }

  async function createEndpoint(
    tenant: string,
    body: Record<string, unknown> = {},
    token?: string,
  ): Promise<{ id: string; secret: string; url: string; [k: string]: any }> {
    const res = await stack.api(
      'POST',
      `/v1/tenants/${tenant}/endpoints`,
      { url: 'http://127.0.0.1:9/hook', eventTypes: ['order.*'], ...body },
      token,
    );
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  }

  /** A request the stack helper cannot make: raw body, custom headers, no token. */
  async function raw(
    method: string,
    path: string,
    init: { body?: string | Buffer; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; headers: Headers; text: string; body: any }> {
    const res = await fetch(`${stack.apiUrl}${path}`, {
      method,
      headers: init.headers ?? {},
      ...(init.body !== undefined ? { body: init.body } : {}),
    });
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.status, headers: res.headers, text, body };
  }

  function assertError(res: { status: number; body: any }, status: number, code: string, field?: string): void {
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body?.error?.code, code, JSON.stringify(res.body));
    assert.equal(typeof res.body.error.message, 'string');
    if (field !== undefined) assert.equal(res.body.error.field, field, JSON.stringify(res.body));
  }

  describe('documentation', () => {
    it('serves the OpenAPI document without a token', async () => {
      const res = await raw('GET', '/openapi.json');
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.openapi, '3.1.0');
      assert.ok(res.body.paths['/v1/tenants/{tenantId}/endpoints']?.post?.requestBody);
    });

    it('serves a self-contained HTML reference at /docs without a token', async () => {
      const res = await raw('GET', '/docs');
      assert.equal(res.status, 200, res.text);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(res.text, /<!doctype html>/i);
      // Swagger UI renders the document in the browser; every asset it loads comes from the API itself.
      const assets = [...res.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
      assert.ok(assets.length >= 3, res.text);
      for (const asset of assets) {
        assert.match(asset, /^\/docs\//);
        assert.equal((await raw('GET', asset)).status, 200, asset);
      }
      const rendered = await raw('GET', '/docs/json');
      assert.deepEqual(rendered.body, (await raw('GET', '/openapi.json')).body);
      assert.ok(rendered.body.paths['/v1/tenants/{tenantId}/endpoints']);
    });
  });

  describe('tenants', () => {
    it('creates, gets and lists a tenant, and refuses a duplicate id', async () => {
      const id = tenantId('crud');
      const created = await stack.api('POST', '/v1/tenants', { id, name: 'Acme', metadata: { plan: 'gold' } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.id, id);
      assert.equal(created.body.name, 'Acme');
      assert.deepEqual(created.body.metadata, { plan: 'gold' });

      const got = await stack.api('GET', `/v1/tenants/${id}`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body, created.body);

      const list = await stack.api('GET', '/v1/tenants');
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.items.filter((t: any) => t.id === id),
        [created.body],
      );

      assertError(await stack.api('POST', '/v1/tenants', { id }), 409, 'conflict');
      assertError(await stack.api('GET', `/v1/tenants/${tenantId('missing')}`), 404, 'not_found');
    });

    it('deletes a tenant together with its endpoints and API keys', async () => {
      const id = await createTenant('del');
      const endpoint = await createEndpoint(id);
      const key = (await stack.api('POST', `/v1/tenants/${id}/api-keys`, { name: 'ci' })).body.key as string;
      assert.equal((await stack.api('GET', `/v1/tenants/${id}`, undefined, key)).status, 200);

      const deleted = await stack.api('DELETE', `/v1/tenants/${id}`);
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
      assert.equal(deleted.body.deleted, id);
      assert.equal(deleted.body.endpoints, 1);

      assertError(await stack.api('GET', `/v1/tenants/${id}`), 404, 'not_found');
      assertError(await stack.api('GET', `/v1/tenants/${id}/endpoints/${endpoint.id}`), 404, 'not_found');
      assertError(await stack.api('GET', `/v1/tenants/${id}/endpoints`), 404, 'not_found');
      assert.equal(
        (await stack.api('GET', '/v1/tenants')).body.items.some((t: any) => t.id === id),
        false,
      );
      assertError(await stack.api('GET', `/v1/tenants/${id}`, undefined, key), 401, 'unauthorized');
      assert.equal(
        await stack.redis.exists(stack.stores.keys.endpoint(parseTenantId(id), parseEndpointId(endpoint.id))),
        0,
      );
      assertError(await stack.api('DELETE', `/v1/tenants/${id}`), 404, 'not_found');
    });
  });

  describe('endpoints', () => {
    it('creates an endpoint with its secret once, and shows it without the secret afterwards', async () => {
      const tenant = await createTenant('ep');
      const created = await createEndpoint(tenant, { description: 'orders', headers: { 'X-Team': 'billing' } });
      assert.match(created.id, /^ep_[0-9a-z]+$/);
      assert.equal(typeof created.secret, 'string');
      assert.ok(created.secret.length >= 24);
      assert.equal(created.enabled, true);
      assert.equal(created.signatureScheme, 'wss');

      const got = await stack.api('GET', `/v1/tenants/${tenant}/endpoints/${created.id}`);
      assert.equal(got.status, 200);
      const { secret: _secret, ...withoutSecret } = created;
      assert.deepEqual(got.body, withoutSecret);
      assert.equal('secret' in got.body, false);
    });

    it('pages through endpoints with limit and cursor in a stable order without duplicates', async () => {
      const tenant = await createTenant('page');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await createEndpoint(tenant, { description: `n${i}` })).id);

      const walk = async () => {
        const sizes: number[] = [];
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 10; page++) {
          const res = await stack.api(
            'GET',
            `/v1/tenants/${tenant}/endpoints?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
          );
          assert.equal(res.status, 200, JSON.stringify(res.body));
          sizes.push(res.body.items.length);
          seen.push(...res.body.items.map((e: any) => e.id));
          for (const e of res.body.items) assert.equal('secret' in e, false);
          cursor = res.body.nextCursor;
          if (cursor === undefined) break;
        }
        return { sizes, seen };
      };
      const first = await walk();
      assert.deepEqual(first.sizes, [2, 2, 1]);
      assert.equal(new Set(first.seen).size, 5);
      assert.deepEqual([...first.seen].sort(), [...ids].sort());
      // Ids sort by creation time, and the listing follows them: oldest first, the same on every walk.
      assert.deepEqual(first.seen, [...first.seen].sort());
      assert.deepEqual((await walk()).seen, first.seen);
      const all = await stack.api('GET', `/v1/tenants/${tenant}/endpoints`);
      assert.deepEqual(
        all.body.items.map((e: any) => e.id),
        first.seen,
      );
      assert.equal(all.body.nextCursor, undefined);
    });

    it('updates every mutable field with PATCH and keeps the fields it does not name', async () => {
      const tenant = await createTenant('patch');
      const hook = await receiver();
      const endpoint = await createEndpoint(tenant, {
        description: 'before',
        metadata: { a: '1' },
        signatureScheme: 'wss',
      });
      const patch = {
        url: hook.url,
        description: 'after',
        eventTypes: ['invoice.paid', 'order.*'],
        headers: { 'X-Tenant-Ref': 'r-1' },
        metadata: { b: '2' },
        rateLimit: 5,
        retryPolicy: { initialIntervalMs: 500, maximumAttempts: 3, permanentStatusCodes: [422] },
      };
      const res = await stack.api('PATCH', `/v1/tenants/${tenant}/endpoints/${endpoint.id}`, patch);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      for (const [field, value] of Object.entries(patch)) assert.deepEqual(res.body[field], value, field);
      assert.ok(Date.parse(res.body.updatedAt) >= Date.parse(endpoint.updatedAt));
      assert.deepEqual((await stack.api('GET', `/v1/tenants/${tenant}/endpoints/${endpoint.id}`)).body, res.body);

      const partial = await stack.api('PATCH', `/v1/tenants/${tenant}/endpoints/${endpoint.id}`, { rateLimit: 7 });
      assert.equal(partial.status, 200, JSON.stringify(partial.body));
      // The live flow control state (issue 17) follows the new limit.
      assert.deepEqual(partial.body, {
        ...res.body,
        rateLimit: 7,
        updatedAt: partial.body.updatedAt,
        flowControlState: { effectiveRate: 7, inFlight: 0 },
      });
    });

    it('clears the description, filter and transform with null', async () => {
      const tenant = await createTenant('clear');
      const endpoint = await createEndpoint(tenant, {
        description: 'to be cleared',
        filter: { type: 'order.created' },
        transform: '$',
      });
      const path = `/v1/tenants/${tenant}/endpoints/${endpoint.id}`;
      const cleared = await stack.api('PATCH', path, { description: null, filter: null, transform: null });
      assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
      const reread = (await stack.api('GET', path)).body;
      for (const field of ['description', 'filter', 'transform']) {
        assert.equal(
          field in cleared.body,
          false,
          `PATCH response still has ${field}: ${JSON.stringify(cleared.body)}`,
        );
        assert.equal(field in reread, false, `stored endpoint still has ${field}: ${JSON.stringify(reread)}`);
      }
      assert.deepEqual(reread.eventTypes, ['order.*'], 'fields not in the patch are kept');
    });

    it('disables and re-enables an endpoint', async () => {
      const tenant = await createTenant('toggle');
      const endpoint = await createEndpoint(tenant);
      const disabled = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${endpoint.id}/disable`);
      assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
      assert.equal(disabled.body.enabled, false);
      assert.equal((await stack.api('GET', `/v1/tenants/${tenant}/endpoints/${endpoint.id}`)).body.enabled, false);
      const enabled = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${endpoint.id}/enable`);
      assert.equal(enabled.status, 200, JSON.stringify(enabled.body));
      assert.equal(enabled.body.enabled, true);
      assert.equal(enabled.body.disabledReason, undefined);
    });

    it('deletes an endpoint, after which every route for it answers 404', async () => {
      const tenant = await createTenant('rm');
      const endpoint = await createEndpoint(tenant);
      const base = `/v1/tenants/${tenant}/endpoints/${endpoint.id}`;
      const deleted = await stack.api('DELETE', base);
      assert.equal(deleted.status, 204);
      assert.equal(deleted.body, undefined);
      assertError(await stack.api('GET', base), 404, 'not_found');
      assertError(await stack.api('PATCH', base, { description: 'x' }), 404, 'not_found');
      assertError(await stack.api('POST', `${base}/enable`), 404, 'not_found');
      assertError(await stack.api('POST', `${base}/secret/rotate`), 404, 'not_found');
      assertError(await stack.api('DELETE', base), 404, 'not_found');
      assert.deepEqual((await stack.api('GET', `/v1/tenants/${tenant}/endpoints`)).body.items, []);
    });
  });

  describe('tenant isolation', () => {
    let a: string;
    let b: string;
    let keyA: string;
    let keyIdA: string;
    let endpointB: { id: string; url: string };
    const eventB = 'evt-isolation-b';

    before(async () => {
      a = await createTenant('iso-a');
      b = await createTenant('iso-b');
      const created = await stack.api('POST', `/v1/tenants/${a}/api-keys`, { name: 'a-ci' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      keyA = created.body.key;
      keyIdA = created.body.id;
      endpointB = await createEndpoint(b);
      assert.equal(
        (await stack.api('POST', `/v1/tenants/${b}/events`, { type: 'order.created', data: {}, id: eventB })).status,
        202,
      );
    });

    it('shows a new API key once and never lists it', async () => {
      assert.match(keyA, /^wsk_/);
      const list = await stack.api('GET', `/v1/tenants/${a}/api-keys`);
      assert.equal(list.status, 200);
      assert.equal(list.body.items.length, 1);
      assert.equal(list.body.items[0].id, keyIdA);
      assert.equal(list.body.items[0].name, 'a-ci');
      assert.equal('key' in list.body.items[0], false);
      assert.equal(JSON.stringify(list.body).includes(keyA), false);
      assert.equal(JSON.stringify(list.body).includes(keyA.slice(10)), false);
    });

    it('answers 404 (never 403) to every route under another tenant, and changes nothing there', async () => {
      const ep = `/v1/tenants/${b}/endpoints/${endpointB.id}`;
      const since = new Date(Date.now() - 3_600_000).toISOString();
      const calls: [string, string, unknown?][] = [
        ['GET', `/v1/tenants/${b}`],
        ['GET', `/v1/tenants/${b}/endpoints`],
        ['POST', `/v1/tenants/${b}/endpoints`, { url: 'http://127.0.0.1:9/x', eventTypes: ['*'] }],
        ['GET', ep],
        ['PATCH', ep, { description: 'hijacked' }],
        ['POST', `${ep}/disable`],
        ['POST', `${ep}/enable`],
        ['POST', `${ep}/secret/rotate`],
        ['POST', `${ep}/test`, { type: 'order.created', data: {} }],
        ['POST', `${ep}/replay`, { since }],
        ['DELETE', ep],
        ['POST', `/v1/tenants/${b}/events`, { type: 'order.created', data: {} }],
        ['GET', `/v1/tenants/${b}/deliveries`],
        ['GET', `/v1/tenants/${b}/deliveries/${eventB}`],
        ['POST', `/v1/tenants/${b}/deliveries/${eventB}/cancel`],
        ['POST', `/v1/tenants/${b}/deliveries/${eventB}/retry`],
        ['GET', `/v1/tenants/${b}/dead-letters`],
      ];
      for (const [method, path, body] of calls) {
        const res = await stack.api(method, path, body, keyA);
        assert.equal(res.status, 404, `${method} ${path}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'not_found', `${method} ${path}`);
      }
      const after = await stack.api('GET', ep);
      assert.equal(after.status, 200);
      assert.equal(after.body.enabled, true);
      assert.equal(after.body.description, undefined);
      assert.equal(after.body.url, endpointB.url);
      assert.equal((await stack.api('GET', `/v1/tenants/${b}/endpoints`)).body.items.length, 1);
    });

    it('answers 404 to a tenant key on admin-only routes, even for its own tenant', async () => {
      const calls: [string, string, unknown?][] = [
        ['POST', '/v1/tenants', { id: tenantId('sneaky') }],
        ['POST', `/v1/tenants/${a}/api-keys`, {}],
        ['GET', `/v1/tenants/${a}/api-keys`],
        ['DELETE', `/v1/tenants/${a}/api-keys/${keyIdA}`],
        ['DELETE', `/v1/tenants/${a}`],
        ['DELETE', `/v1/tenants/${b}`],
        ['POST', `/v1/tenants/${b}/api-keys`, {}],
      ];
      for (const [method, path, body] of calls) {
        const res = await stack.api(method, path, body, keyA);
        assert.equal(res.status, 404, `${method} ${path}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'not_found', `${method} ${path}`);
      }
      assert.equal((await stack.api('GET', `/v1/tenants/${a}`)).status, 200);
      assert.equal((await stack.api('GET', `/v1/tenants/${b}`)).status, 200);
      assert.equal((await stack.api('GET', `/v1/tenants/${a}/api-keys`)).body.items.length, 1);
    });

    it('lets a tenant key manage its own tenant and see only itself', async () => {
      assert.equal((await stack.api('GET', `/v1/tenants/${a}`, undefined, keyA)).status, 200);
      const list = await stack.api('GET', '/v1/tenants', undefined, keyA);
      assert.deepEqual(
        list.body.items.map((t: any) => t.id),
        [a],
      );
      const endpoint = await createEndpoint(a, {}, keyA);
      assert.equal((await stack.api('GET', `/v1/tenants/${a}/endpoints/${endpoint.id}`, undefined, keyA)).status, 200);
      assert.equal(
        (await stack.api('PATCH', `/v1/tenants/${a}/endpoints/${endpoint.id}`, { description: 'mine' }, keyA)).status,
        200,
      );
      assert.equal(
        (await stack.api('POST', `/v1/tenants/${a}/events`, { type: 'order.created', data: { n: 1 } }, keyA)).status,
        202,
      );
      assert.equal((await stack.api('GET', `/v1/tenants/${a}/dead-letters`, undefined, keyA)).status, 200);
    });

    it('answers 401 to a revoked key', async () => {
      const created = await stack.api('POST', `/v1/tenants/${a}/api-keys`, { name: 'short-lived' });
      assert.equal((await stack.api('GET', `/v1/tenants/${a}`, undefined, created.body.key)).status, 200);
      assert.equal((await stack.api('DELETE', `/v1/tenants/${a}/api-keys/${created.body.id}`)).status, 204);
      assertError(await stack.api('GET', `/v1/tenants/${a}`, undefined, created.body.key), 401, 'unauthorized');
      assertError(await stack.api('DELETE', `/v1/tenants/${a}/api-keys/${created.body.id}`), 404, 'not_found');
      // The other key of the tenant is untouched.
      assert.equal((await stack.api('GET', `/v1/tenants/${a}`, undefined, keyA)).status, 200);
    });
  });

  describe('secrets', () => {
    /** Every value under the stack's prefix (its streams included), whatever the type. */
    async function dumpRedis(): Promise<{ keys: string[]; text: string }> {
      const keys: string[] = [];
      const parts: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await stack.redis.scan(
          cursor,
          'MATCH',
          // Keys start with their hash tag (`{<prefix>...}`), the streams with the stream names.
          `*${stack.config.WSS_KEY_PREFIX}*`,
          'COUNT',
          1000,
        );
        cursor = next;
        for (const key of batch) {
          keys.push(key);
          const type = await stack.redis.type(key);
          let value: unknown;
          switch (type) {
            case 'string':
              value = await stack.redis.get(key);
              break;
            case 'hash':
              value = await stack.redis.hgetall(key);
              break;
            case 'list':
              value = await stack.redis.lrange(key, 0, -1);
              break;
            case 'set':
              value = await stack.redis.smembers(key);
              break;
            case 'zset':
              value = await stack.redis.zrange(key, 0, -1, 'WITHSCORES');
              break;
            case 'stream':
              value = await stack.redis.xrange(key, '-', '+');
              break;
            case 'none':
              continue; // expired between SCAN and TYPE
            default:
              throw new Error(`key ${key} has a type the dump does not read: ${type}`);
          }
          parts.push(key, JSON.stringify(value));
        }
      } while (cursor !== '0');
      return { keys, text: parts.join('\n') };
    }

    /**
     * Every string and every byte field of the history, bytes decoded as UTF-8. (JSON.stringify of the history
     * would not do: the protobuf messages serialise their payload bytes as base64, which no secret check can see.)
     */
    async function historyText(workflowId: string): Promise<string> {
      const history = await stack.temporal.workflow.getHandle(workflowId).fetchHistory();
      const out: string[] = [];
      const seen = new Set<object>();
      const walk = (value: unknown): void => {
        if (typeof value === 'string') out.push(value);
        else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
        else if (value !== null && typeof value === 'object' && !seen.has(value)) {
          seen.add(value);
          for (const v of Object.values(value)) walk(v);
        }
      };
      walk(history);
      return out.join('\n');
    }

    it('never shows, stores, logs or records a secret in plaintext, before or after rotation', async () => {
      const tenant = await createTenant('secret');
      const hook = await receiver();
      // Endpoint authentication secrets are held to the same rule as the signing secret.
      const password = `pw_${randomBytes(12).toString('hex')}`;
      const created = await createEndpoint(tenant, {
        url: hook.url,
        auth: { type: 'basic', username: 'hook-user', password },
      });
      assert.deepEqual(created.auth, { type: 'basic', username: 'hook-user' });
      const original = created.secret;
      const base = `/v1/tenants/${tenant}/endpoints/${created.id}`;
      const responses: unknown[] = [];
      const collect = async (method: string, path: string, body?: unknown) => {
        const res = await stack.api(method, path, body);
        assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
        responses.push(res.body);
        return res;
      };
      const readEverything = async () => {
        await collect('GET', base);
        await collect('GET', `/v1/tenants/${tenant}/endpoints`);
        await collect('PATCH', base, { description: `seen ${responses.length}` });
        await collect('POST', `${base}/disable`);
        await collect('POST', `${base}/enable`);
      };
      await readEverything();

      const rotated = await stack.api('POST', `${base}/secret/rotate`);
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      const next = rotated.body.secret as string;
      assert.notEqual(next, original);
      assert.equal(JSON.stringify(rotated.body).includes(original), false, 'rotation must not echo the old secret');
      await readEverything();

      const published = await stack.api('POST', `/v1/tenants/${tenant}/events`, {
        type: 'order.paid',
        data: { total: 1 },
      });
      assert.equal(published.status, 202);
      await waitFor('delivery', () => hook.requests.length === 1);
      assert.equal(
        hook.requests[0]?.headers.authorization,
        `Basic ${Buffer.from(`hook-user:${password}`).toString('base64')}`,
      );
      const workflowId = workflowIdOf(tenant, published.body.id);
      await stack.temporal.workflow.getHandle(workflowId).result();
      await collect('GET', `/v1/tenants/${tenant}/deliveries/${published.body.id}`);

      const redis = await dumpRedis();
      assert.ok(redis.keys.includes(stack.config.WSS_STREAM), 'the dump covers the event stream');
      assert.ok(redis.text.includes(created.id), 'the dump covers the endpoint record');
      const history = await historyText(workflowId);
      assert.ok(history.includes(created.id), 'history payloads are decoded');
      const logs = stack.logs.join('\n');
      assert.ok(stack.logs.length > 0);

      for (const [label, secret] of [
        ['original', original],
        ['rotated', next],
        ['basic auth password', password],
      ] as const) {
        const payload = secret.replace(/^[a-z]+_/, ''); // the random part alone, in case a prefix is stripped
        for (const [where, text] of [
          ['API responses', JSON.stringify(responses)],
          ['Redis', redis.text],
          ['Temporal history', history],
          ['logs', logs],
        ] as const) {
          assert.equal(text.includes(secret), false, `${label} secret found in ${where}`);
          assert.equal(text.includes(payload), false, `${label} secret's random part found in ${where}`);
        }
      }
    });
  });

  describe('secret rotation', () => {
    it('signs with new and old secrets during the grace period and with the new one only after it', async () => {
      const tenant = await createTenant('rotate');
      const hook = await receiver();
      const endpoint = await createEndpoint(tenant, { url: hook.url });
      const oldSecret = endpoint.secret;
      const rotated = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${endpoint.id}/secret/rotate`);
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      const newSecret = rotated.body.secret as string;
      const graceEnds = Date.parse(rotated.body.previousSecretValidUntil);
      assert.ok(Math.abs(graceEnds - (Date.now() + GRACE_MS)) < 2000, rotated.body.previousSecretValidUntil);

      assert.equal(
        (await stack.api('POST', `/v1/tenants/${tenant}/events`, { type: 'order.created', data: { n: 1 } })).status,
        202,
      );
      await waitFor('delivery during grace', () => hook.requests.length === 1);
      const during = hook.requests[0]!;
      assert.ok(during.receivedAt < graceEnds, 'the first delivery must land inside the grace period');
      const signatures = String(during.headers['x-wss-signature']).split(',');
      assert.equal(signatures.length, 2, String(during.headers['x-wss-signature']));
      assert.equal(
        verifyWssRequest(newSecret, { ...during.headers, 'x-wss-signature': signatures[0] }, during.body).ok,
        true,
        'first is the new secret',
      );
      assert.equal(
        verifyWssRequest(oldSecret, { ...during.headers, 'x-wss-signature': signatures[1] }, during.body).ok,
        true,
        'second is the old secret',
      );
      assert.equal(verifyWssRequest(oldSecret, during.headers, during.body).ok, true);
      assert.equal(verifyWssRequest(newSecret, during.headers, during.body).ok, true);

      await new Promise((r) => setTimeout(r, Math.max(0, graceEnds - Date.now()) + 300));
      assert.equal(
        (await stack.api('POST', `/v1/tenants/${tenant}/events`, { type: 'order.created', data: { n: 2 } })).status,
        202,
      );
      await waitFor('delivery after grace', () => hook.requests.length === 2);
      const afterGrace = hook.requests[1]!;
      assert.equal(String(afterGrace.headers['x-wss-signature']).split(',').length, 1);
      assert.deepEqual(verifyWssRequest(oldSecret, afterGrace.headers, afterGrace.body), {
        ok: false,
        reason: 'signature mismatch',
      });
      assert.equal(verifyWssRequest(newSecret, afterGrace.headers, afterGrace.body).ok, true);
    });
  });

  describe('validation', () => {
    let tenant: string;
    let endpoint: { id: string };
    const valid = { url: 'http://127.0.0.1:9/hook', eventTypes: ['order.*'] };

    before(async () => {
      tenant = await createTenant('valid');
      endpoint = await createEndpoint(tenant);
    });

    const createCases: {
      name: string;
      body: Record<string, unknown>;
      status?: number;
      code: string;
      field?: string;
    }[] = [
      { name: 'a URL that is not a URL', body: { url: 'not a url' }, code: 'validation_failed', field: 'url' },
      { name: 'a non-http(s) URL', body: { url: 'ftp://example.com/hook' }, code: 'validation_failed', field: 'url' },
      {
        name: 'a URL with credentials',
        body: { url: 'https://user:pass@example.com/hook' },
        code: 'validation_failed',
        field: 'url',
      },
      {
        name: 'a URL with a fragment',
        body: { url: 'https://example.com/hook#part' },
        code: 'validation_failed',
        field: 'url',
      },
      { name: 'a private IPv4 URL', body: { url: 'http://10.0.0.1/hook' }, code: 'destination_not_allowed' },
      { name: 'a 192.168 URL', body: { url: 'http://192.168.1.10/hook' }, code: 'destination_not_allowed' },
      {
        name: 'the cloud metadata address',
        body: { url: 'http://169.254.169.254/latest/meta-data/' },
        code: 'destination_not_allowed',
      },
      { name: 'IPv6 loopback', body: { url: 'http://[::1]:8080/hook' }, code: 'destination_not_allowed' },
      {
        name: 'an IPv4-mapped private address',
        body: { url: 'http://[::ffff:10.0.0.1]/hook' },
        code: 'destination_not_allowed',
      },
      { name: 'the unspecified address', body: { url: 'http://0.0.0.0/hook' }, code: 'destination_not_allowed' },
      { name: 'a .localhost name', body: { url: 'http://api.localhost/hook' }, code: 'destination_not_allowed' },
      {
        name: 'an illegal header name',
        body: { headers: { 'Bad Header': 'x' } },
        code: 'validation_failed',
        field: 'headers.Bad Header',
      },
      {
        name: 'a header value with CR/LF',
        body: { headers: { 'X-Ok': 'a\r\nX-Injected: 1' } },
        code: 'validation_failed',
        field: 'headers.X-Ok',
      },
      {
        name: 'a header value with a bare LF',
        body: { headers: { 'X-Ok': 'a\nb' } },
        code: 'validation_failed',
        field: 'headers.X-Ok',
      },
      {
        name: 'the reserved Host header',
        body: { headers: { Host: 'evil.example' } },
        code: 'validation_failed',
        field: 'headers.Host',
      },
      {
        name: 'the reserved Content-Length header',
        body: { headers: { 'content-length': '0' } },
        code: 'validation_failed',
        field: 'headers.content-length',
      },
      {
        name: 'the reserved Transfer-Encoding header',
        body: { headers: { 'Transfer-Encoding': 'chunked' } },
        code: 'validation_failed',
        field: 'headers.Transfer-Encoding',
      },
      {
        name: 'a header in the X-WSS- namespace',
        body: { headers: { 'X-WSS-Foo': '1' } },
        code: 'validation_failed',
        field: 'headers.X-WSS-Foo',
      },
      {
        name: 'an empty event type pattern',
        body: { eventTypes: [''] },
        code: 'validation_failed',
        field: 'eventTypes.0',
      },
      {
        name: 'an event type with an empty segment',
        body: { eventTypes: ['order..created'] },
        code: 'validation_failed',
        field: 'eventTypes.0',
      },
      {
        name: 'a wildcard in the middle',
        body: { eventTypes: ['order.*.created'] },
        code: 'validation_failed',
        field: 'eventTypes.0',
      },
      {
        name: 'a leading wildcard',
        body: { eventTypes: ['ok.type', '*.created'] },
        code: 'validation_failed',
        field: 'eventTypes.1',
      },
      {
        name: 'an event type with a space',
        body: { eventTypes: ['order created'] },
        code: 'validation_failed',
        field: 'eventTypes.0',
      },
      { name: 'no event types', body: { eventTypes: [] }, code: 'validation_failed', field: 'eventTypes' },
      {
        name: 'too many event types',
        body: { eventTypes: Array.from({ length: 65 }, (_, i) => `t${i}.x`) },
        code: 'validation_failed',
        field: 'eventTypes',
      },
      {
        name: 'an oversized description',
        body: { description: 'd'.repeat(1025) },
        code: 'validation_failed',
        field: 'description',
      },
      { name: 'an unknown field', body: { colour: 'red' }, code: 'validation_failed', field: 'colour' },
      {
        name: 'a retry interval under 100 ms',
        body: { retryPolicy: { initialIntervalMs: 10 } },
        code: 'validation_failed',
        field: 'retryPolicy.initialIntervalMs',
      },
      {
        name: 'a backoff under 1',
        body: { retryPolicy: { backoffCoefficient: 0.5 } },
        code: 'validation_failed',
        field: 'retryPolicy.backoffCoefficient',
      },
      {
        name: 'zero attempts',
        body: { retryPolicy: { maximumAttempts: 0 } },
        code: 'validation_failed',
        field: 'retryPolicy.maximumAttempts',
      },
      {
        name: 'fractional attempts',
        body: { retryPolicy: { maximumAttempts: 2.5 } },
        code: 'validation_failed',
        field: 'retryPolicy.maximumAttempts',
      },
      {
        name: 'jitter over 50%',
        body: { retryPolicy: { jitterPercent: 80 } },
        code: 'validation_failed',
        field: 'retryPolicy.jitterPercent',
      },
      {
        name: 'a 2xx permanent status',
        body: { retryPolicy: { permanentStatusCodes: [200] } },
        code: 'validation_failed',
        field: 'retryPolicy.permanentStatusCodes.0',
      },
      {
        name: 'an unknown retry policy field',
        body: { retryPolicy: { retries: 3 } },
        code: 'validation_failed',
        field: 'retryPolicy.retries',
      },
      {
        name: 'a retry window as a string',
        body: { retryPolicy: { retryWindowMs: '1h' } },
        code: 'validation_failed',
        field: 'retryPolicy.retryWindowMs',
      },
      {
        name: 'a maximum retry interval below the initial one',
        body: { retryPolicy: { initialIntervalMs: 5_000, maximumIntervalMs: 1_000 } },
        code: 'validation_failed',
        field: 'retryPolicy.maximumIntervalMs',
      },
      {
        name: 'an unknown signature scheme',
        body: { signatureScheme: 'md5' },
        code: 'validation_failed',
        field: 'signatureScheme',
      },
      { name: 'a short secret', body: { secret: 'short' }, code: 'validation_failed', field: 'secret' },
      { name: 'a rate limit of zero', body: { rateLimit: 0 }, code: 'validation_failed', field: 'rateLimit' },
    ];

    for (const c of createCases) {
      it(`refuses an endpoint with ${c.name}`, async () => {
        const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { ...valid, ...c.body });
        assertError(res, c.status ?? 400, c.code, c.field);
      });
    }

    it('names the unknown field in the message', async () => {
      const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { ...valid, colour: 'red' });
      assertError(res, 400, 'validation_failed');
      assert.match(res.body.error.message, /colour/);
    });

    it('lists every issue in details when there are several', async () => {
      const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
        url: 'ftp://x',
        eventTypes: [],
        description: 'd'.repeat(2000),
      });
      assertError(res, 400, 'validation_failed');
      const fields = res.body.error.details.map((d: any) => d.field);
      for (const f of ['url', 'eventTypes', 'description']) assert.ok(fields.includes(f), JSON.stringify(res.body));
    });

    it('applies the same rules to PATCH, and leaves the endpoint unchanged', async () => {
      const base = `/v1/tenants/${tenant}/endpoints/${endpoint.id}`;
      const before = (await stack.api('GET', base)).body;
      assertError(await stack.api('PATCH', base, { url: 'http://10.1.2.3/' }), 400, 'destination_not_allowed');
      assertError(await stack.api('PATCH', base, { url: 'https://a:b@example.com/' }), 400, 'validation_failed', 'url');
      assertError(await stack.api('PATCH', base, { headers: { Host: 'x' } }), 400, 'validation_failed', 'headers.Host');
      assertError(await stack.api('PATCH', base, { eventTypes: ['a.*.b'] }), 400, 'validation_failed', 'eventTypes.0');
      assertError(await stack.api('PATCH', base, { eventTypes: null }), 400, 'validation_failed', 'eventTypes');
      assertError(
        await stack.api('PATCH', base, { retryPolicy: { maximumAttempts: 1000 } }),
        400,
        'validation_failed',
        'retryPolicy.maximumAttempts',
      );
      assertError(
        await stack.api('PATCH', base, { retryPolicy: { initialIntervalMs: 60_000, maximumIntervalMs: 1_000 } }),
        400,
        'validation_failed',
        'retryPolicy.maximumIntervalMs',
      );
      assertError(await stack.api('PATCH', base, { secret: 'x'.repeat(32) }), 400, 'validation_failed');
      assertError(await stack.api('PATCH', base, { id: 'ep_other' }), 400, 'validation_failed');
      assert.deepEqual((await stack.api('GET', base)).body, before);
    });

    it('refuses bad bodies on the action routes', async () => {
      const base = `/v1/tenants/${tenant}/endpoints/${endpoint.id}`;
      assertError(
        await stack.api('POST', `${base}/secret/rotate`, { secret: 'too-short' }),
        400,
        'validation_failed',
        'secret',
      );
      assertError(
        await stack.api('POST', `${base}/enable`, { replayFailedSince: 'yesterday' }),
        400,
        'validation_failed',
        'replayFailedSince',
      );
      assertError(await stack.api('POST', `${base}/replay`, {}), 400, 'validation_failed', 'since');
      assertError(
        await stack.api('POST', `/v1/tenants/${tenant}/api-keys`, { name: '' }),
        400,
        'validation_failed',
        'name',
      );
    });

    it('refuses a tenant with an invalid id or an unknown field', async () => {
      assertError(await stack.api('POST', '/v1/tenants', { id: 'has space' }), 400, 'validation_failed', 'id');
      assertError(await stack.api('POST', '/v1/tenants', { id: 'a:b' }), 400, 'validation_failed', 'id');
      assertError(await stack.api('POST', '/v1/tenants', { id: 'x'.repeat(65) }), 400, 'validation_failed', 'id');
      assertError(
        await stack.api('POST', '/v1/tenants', { id: tenantId('ok'), plan: 'gold' }),
        400,
        'validation_failed',
      );
      assertError(await stack.api('POST', '/v1/tenants', {}), 400, 'validation_failed', 'id');
    });

    it('refuses a body that is not JSON, or not an object', async () => {
      const headers = { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' };
      assertError(
        await raw('POST', `/v1/tenants/${tenant}/endpoints`, { headers, body: '{"url":' }),
        400,
        'validation_failed',
      );
      assertError(
        await raw('POST', `/v1/tenants/${tenant}/endpoints`, { headers, body: '' }),
        400,
        'validation_failed',
      );
      assertError(
        await raw('POST', `/v1/tenants/${tenant}/endpoints`, { headers, body: '[1,2]' }),
        400,
        'validation_failed',
      );
      assertError(
        await raw('POST', `/v1/tenants/${tenant}/endpoints`, { headers, body: 'null' }),
        400,
        'validation_failed',
      );
    });

    it('refuses a body over 1 MiB with 413', async () => {
      const headers = { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' };
      const big = JSON.stringify({ ...valid, description: 'x'.repeat(1024 * 1024 + 10) });
      assertError(
        await raw('POST', `/v1/tenants/${tenant}/endpoints`, { headers, body: big }),
        413,
        'payload_too_large',
      );
      // Without a Content-Length the limit is enforced while streaming.
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= 1024 * 1024 + chunk.length) controller.close();
          else {
            controller.enqueue(chunk);
            sent += chunk.length;
          }
        },
      });
      const chunked = await fetch(`${stack.apiUrl}/v1/tenants/${tenant}/endpoints`, {
        method: 'POST',
        headers,
        body: stream,
        duplex: 'half',
      } as RequestInit);
      assertError({ status: chunked.status, body: await chunked.json() }, 413, 'payload_too_large');
      // The API still answers on a fresh request.
      assert.equal((await stack.api('GET', `/v1/tenants/${tenant}`)).status, 200);
    });

    it('refuses an invalid tenant or endpoint id in the path', async () => {
      assertError(await stack.api('GET', '/v1/tenants/bad%20id'), 400, 'validation_failed', 'tenantId');
      assertError(await stack.api('GET', '/v1/tenants/-dash'), 400, 'validation_failed', 'tenantId');
      assertError(
        await stack.api('GET', `/v1/tenants/${'t'.repeat(65)}/endpoints`),
        400,
        'validation_failed',
        'tenantId',
      );
      assertError(
        await stack.api('POST', '/v1/tenants/a%3Ab/events', { type: 'a.b', data: {} }),
        400,
        'validation_failed',
        'tenantId',
      );
      assertError(
        await stack.api('GET', `/v1/tenants/${tenant}/endpoints/ep.bad`),
        400,
        'validation_failed',
        'endpointId',
      );
      assertError(await stack.api('GET', `/v1/tenants/${tenant}/deliveries/-bad`), 400, 'validation_failed', 'eventId');
    });

    it('refuses a bad limit or cursor', async () => {
      for (const limit of ['0', '201', 'abc', '1.5', '-1', '']) {
        assertError(
          await stack.api('GET', `/v1/tenants/${tenant}/endpoints?limit=${limit}`),
          400,
          'validation_failed',
          'limit',
        );
      }
      for (const cursor of ['!!!', Buffer.from('tenant:other').toString('base64url'), 'Zm9v']) {
        assertError(
          await stack.api('GET', `/v1/tenants/${tenant}/endpoints?cursor=${encodeURIComponent(cursor)}`),
          400,
          'validation_failed',
          'cursor',
        );
      }
    });

    it('refuses an event with a bad type, id or missing data, and data over the size limit', async () => {
      const path = `/v1/tenants/${tenant}/events`;
      assertError(await stack.api('POST', path, { type: 'order created', data: {} }), 400, 'validation_failed', 'type');
      assertError(
        await stack.api('POST', path, { type: 'order..created', data: {} }),
        400,
        'validation_failed',
        'type',
      );
      assertError(await stack.api('POST', path, { type: 'order.*', data: {} }), 400, 'validation_failed', 'type');
      assertError(await stack.api('POST', path, { type: '', data: {} }), 400, 'validation_failed', 'type');
      assertError(await stack.api('POST', path, { type: 'order.created' }), 400, 'validation_failed', 'data');
      assertError(
        await stack.api('POST', path, { type: 'order.created', data: {}, id: 'has space' }),
        400,
        'validation_failed',
        'id',
      );
      assertError(
        await stack.api('POST', path, { type: 'order.created', data: {}, extra: 1 }),
        400,
        'validation_failed',
      );
      assertError(
        await stack.api('POST', path, { type: 'order.created', data: { pad: 'x'.repeat(MAX_EVENT_BYTES) } }),
        413,
        'payload_too_large',
      );
      // Exactly at the limit is accepted.
      const atLimit = { pad: 'x'.repeat(MAX_EVENT_BYTES - JSON.stringify({ pad: '' }).length) };
      assert.equal(JSON.stringify(atLimit).length, MAX_EVENT_BYTES);
      assert.equal((await stack.api('POST', path, { type: 'order.created', data: atLimit })).status, 202);
      assertError(
        await stack.api('POST', `/v1/tenants/${tenantId('ghost')}/events`, { type: 'order.created', data: {} }),
        404,
        'not_found',
      );
    });

    it('answers an unknown route with 404 route_not_found and a wrong method with 405', async () => {
      assertError(await stack.api('GET', '/v1/nothing-here'), 404, 'route_not_found');
      assertError(
        await stack.api('GET', `/v1/tenants/${tenant}/endpoints/${endpoint.id}/unknown`),
        404,
        'route_not_found',
      );
      assertError(await raw('GET', '/v2/tenants'), 404, 'route_not_found');
      assertError(await stack.api('PUT', '/v1/tenants'), 405, 'method_not_allowed');
      assertError(await stack.api('DELETE', `/v1/tenants/${tenant}/endpoints`), 405, 'method_not_allowed');
      assertError(
        await stack.api('GET', `/v1/tenants/${tenant}/endpoints/${endpoint.id}/secret/rotate`),
        405,
        'method_not_allowed',
      );
    });

    it('answers a wrong method on a public route with 405', async () => {
      assertError(await raw('POST', '/healthz'), 405, 'method_not_allowed');
      assertError(await raw('DELETE', '/openapi.json'), 405, 'method_not_allowed');
    });

    it('answers a missing, malformed or unknown token with 401', async () => {
      const path = `/v1/tenants/${tenant}`;
      assertError(await raw('GET', path), 401, 'unauthorized');
      assertError(await raw('GET', path, { headers: { authorization: 'Bearer' } }), 401, 'unauthorized');
      assertError(
        await raw('GET', path, { headers: { authorization: `Basic ${Buffer.from('admin:x').toString('base64')}` } }),
        401,
        'unauthorized',
      );
      assertError(
        await raw('GET', path, { headers: { authorization: `Bearer ${stack.adminToken}x` } }),
        401,
        'unauthorized',
      );
      assertError(await raw('GET', path, { headers: { authorization: 'Bearer wsk_forged' } }), 401, 'unauthorized');
      assertError(
        await raw('POST', '/v1/tenants', {
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id: tenantId('anon') }),
        }),
        401,
        'unauthorized',
      );
      assert.equal((await raw('GET', '/healthz')).status, 200, 'public routes need no token');
    });
  });

  describe('endpoint settings that can never work (issue 11, item 11)', () => {
    let tenant: string;
    let endpoint: { id: string };
    const valid = { url: 'http://127.0.0.1:9/hook', eventTypes: ['order.*'] };

    before(async () => {
      tenant = await createTenant('impossible');
      endpoint = await createEndpoint(tenant);
    });

    it('refuses a rateLimitBurst with no rateLimit to shape, on POST and PATCH; removing the rate removes its burst', async () => {
      const created = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { ...valid, rateLimitBurst: 5 });
      assertError(created, 400, 'validation_failed', 'rateLimitBurst');
      const patched = await stack.api('PATCH', `/v1/tenants/${tenant}/endpoints/${endpoint.id}`, {
        rateLimitBurst: 5,
      });
      assertError(patched, 400, 'validation_failed', 'rateLimitBurst');
      const removing = await stack.api('PATCH', `/v1/tenants/${tenant}/endpoints/${endpoint.id}`, {
        rateLimit: null,
        rateLimitBurst: 5,
      });
      assertError(removing, 400, 'validation_failed', 'rateLimitBurst');

      const shaped = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
        ...valid,
        rateLimit: 10,
        rateLimitBurst: 5,
      });
      assert.equal(shaped.status, 201, JSON.stringify(shaped.body));
      const path = `/v1/tenants/${tenant}/endpoints/${shaped.body.id}`;
      assert.equal((await stack.api('PATCH', path, { rateLimitBurst: 8 })).body.rateLimitBurst, 8);
      const unlimited = await stack.api('PATCH', path, { rateLimit: null });
      assert.equal(unlimited.status, 200, JSON.stringify(unlimited.body));
      assert.equal(unlimited.body.rateLimit, undefined);
      assert.equal(unlimited.body.rateLimitBurst, undefined);
    });

    it('takes adaptiveBackoff: null on PATCH as "back to the default" (on), like the other nullable settings', async () => {
      const created = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
        ...valid,
        maxInFlight: 2,
        adaptiveBackoff: false,
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.adaptiveBackoff, false);
      const path = `/v1/tenants/${tenant}/endpoints/${created.body.id}`;
      const reset = await stack.api('PATCH', path, { adaptiveBackoff: null });
      assert.equal(reset.status, 200, JSON.stringify(reset.body));
      assert.equal(reset.body.adaptiveBackoff, undefined);
      assert.equal((await stack.api('GET', path)).body.adaptiveBackoff, undefined);
    });

    // Each would make every delivery fail in the HTTP client (or reach the receiver rewritten), so each is refused
    // when the endpoint is registered, and the message names the header.
    const impossibleHeaders: Record<string, string> = {
      Expect: '100-continue',
      'Keep-Alive': 'timeout=5',
      Upgrade: 'websocket',
      Connection: 'close',
      'Proxy-Connection': 'keep-alive',
      TE: 'trailers',
      Trailer: 'X-Checksum',
      'HTTP2-Settings': 'AAMAAABkAAQAoAAAAAIAAAAA',
      'Transfer-Encoding': 'gzip',
      Host: 'other.example',
      'Content-Length': '10',
      'Content-Encoding': 'gzip',
      'Content-Type': 'text/plain',
      'Content-Range': 'bytes 0-1/2',
      'Proxy-Authorization': 'Basic eDp5',
      'User-Agent': 'mine/1.0',
      'X-WSS-Signature': 'forged',
      'Webhook-Signature': 'v1,forged',
    };
    for (const [name, value] of Object.entries(impossibleHeaders)) {
      it(`refuses the static header ${name} on POST and PATCH, naming it`, async () => {
        for (const spelling of [name, name.toLowerCase(), name.toUpperCase()]) {
          const created = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
            ...valid,
            headers: { 'X-Fine': 'yes', [spelling]: value },
          });
          assertError(created, 400, 'validation_failed', `headers.${spelling}`);
          assert.ok(created.body.error.message.includes(spelling), created.body.error.message);
          const patched = await stack.api('PATCH', `/v1/tenants/${tenant}/endpoints/${endpoint.id}`, {
            headers: { [spelling]: value },
          });
          assertError(patched, 400, 'validation_failed', `headers.${spelling}`);
          assert.ok(patched.body.error.message.includes(spelling), patched.body.error.message);
        }
      });
    }

    const malformedHeaders: { name: string; headers: Record<string, string>; field: string }[] = [
      { name: 'an HTTP/2 pseudo-header', headers: { ':authority': 'x.example' }, field: 'headers.:authority' },
      { name: 'a pseudo-header :method', headers: { ':method': 'GET' }, field: 'headers.:method' },
      { name: 'an empty header name', headers: { '': 'x' }, field: 'headers.' },
      { name: 'a name with a colon', headers: { 'X-A:B': 'x' }, field: 'headers.X-A:B' },
      { name: 'a name with a non-ASCII letter', headers: { 'X-Café': 'x' }, field: 'headers.X-Café' },
      {
        name: 'a name over 128 characters',
        headers: { ['X-' + 'a'.repeat(127)]: 'x' },
        field: `headers.X-${'a'.repeat(127)}`,
      },
      { name: 'a NUL in a value', headers: { 'X-Nul': 'a\u0000b' }, field: 'headers.X-Nul' },
      { name: 'a DEL in a value', headers: { 'X-Del': 'a\u007fb' }, field: 'headers.X-Del' },
      { name: 'a vertical tab in a value', headers: { 'X-Vt': 'a\u000bb' }, field: 'headers.X-Vt' },
      { name: 'a bare CR in a value', headers: { 'X-Cr': 'a\rb' }, field: 'headers.X-Cr' },
      { name: 'a character above U+00FF in a value', headers: { 'X-Euro': '5 €' }, field: 'headers.X-Euro' },
      { name: 'a C1 control (NEL) in a value', headers: { 'X-A': 'a\u0085b' }, field: 'headers.X-A' },
      { name: 'a C1 control (U+0080) in a value', headers: { 'X-A': '\u0080' }, field: 'headers.X-A' },
      { name: 'a C1 control (U+009F) in a value', headers: { 'X-A': 'x\u009fy' }, field: 'headers.X-A' },
      { name: 'a value with a leading space', headers: { 'X-Lead': ' token' }, field: 'headers.X-Lead' },
      { name: 'a value with a trailing tab', headers: { 'X-Trail': 'token\t' }, field: 'headers.X-Trail' },
      { name: 'a value over 2048 characters', headers: { 'X-Long': 'v'.repeat(2049) }, field: 'headers.X-Long' },
      {
        name: 'the same header twice in different cases',
        headers: { 'X-Team': 'a', 'x-team': 'b' },
        field: 'headers.x-team',
      },
      {
        name: 'more than 32 headers',
        headers: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`X-H${i}`, 'v'])),
        field: 'headers',
      },
      {
        name: 'headers over 8 KiB in all',
        headers: Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`X-Big${i}`, 'v'.repeat(2000)])),
        field: 'headers',
      },
    ];
    for (const c of malformedHeaders) {
      it(`refuses ${c.name} on POST and PATCH`, async () => {
        assertError(
          await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { ...valid, headers: c.headers }),
          400,
          'validation_failed',
          c.field,
        );
        assertError(
          await stack.api('PATCH', `/v1/tenants/${tenant}/endpoints/${endpoint.id}`, { headers: c.headers }),
          400,
          'validation_failed',
          c.field,
        );
      });
    }

    it('accepts end-to-end headers a receiver may need, and delivers them as given', async () => {
      const rx = await receiver();
      const headers = {
        Authorization: 'Bearer tenant-token',
        Cookie: 'session=abc; theme=dark',
        'X-Api-Key': 'k-123',
        Accept: 'application/json',
        'X-Latin1': 'café',
        'X-Empty': '',
      };
      const ep = await createEndpoint(tenant, { url: rx.url, eventTypes: ['hdr.ok'], headers });
      assert.deepEqual(ep.headers, headers);
      const published = await stack.api('POST', `/v1/tenants/${tenant}/events`, { type: 'hdr.ok', data: {} });
      assert.equal(published.status, 202, JSON.stringify(published.body));
      const got = await waitFor('the delivery', () => rx.requests[0]);
      assert.equal(got.headers.authorization, 'Bearer tenant-token');
      assert.equal(got.headers.cookie, 'session=abc; theme=dark');
      assert.equal(got.headers['x-api-key'], 'k-123');
      assert.equal(got.headers.accept, 'application/json');
      assert.equal(got.headers['x-latin1'], 'café');
      assert.equal(got.headers['x-empty'], '');
      assert.equal(got.headers['content-type'], 'application/json');
    });

    const impossibleUrls: { name: string; url: string; code?: string }[] = [
      { name: 'port 0', url: 'http://127.0.0.1:0/hook' },
      { name: 'port 0 on a name', url: 'https://example.com:0/hook' },
      { name: 'port 0 spelled 00000', url: 'http://127.0.0.1:00000/hook' },
      { name: 'port 65536', url: 'http://127.0.0.1:65536/hook' },
      { name: 'port 99999', url: 'https://example.com:99999/' },
      { name: 'a negative port', url: 'http://127.0.0.1:-1/hook' },
      { name: 'an empty host', url: 'http://:8080/hook' },
      { name: 'an empty host with userinfo', url: 'http://user@/hook' },
      { name: 'credentials', url: 'https://user:pass@example.com/hook' },
      { name: 'a user name only', url: 'https://token@example.com/hook' },
      { name: 'an empty fragment', url: 'https://example.com/hook#' },
      { name: 'a fragment', url: 'https://example.com/hook#frag' },
      { name: 'a leading space', url: ' http://127.0.0.1:9/hook' },
      { name: 'a trailing newline', url: 'http://127.0.0.1:9/hook\n' },
      { name: 'a tab inside the host', url: 'http://127.0.\t0.1:9/hook' },
      { name: 'a newline inside the path', url: 'http://127.0.0.1:9/ho\nok' },
      { name: 'a NUL', url: 'http://127.0.0.1:9/ho\u0000ok' },
      { name: 'a space in the path', url: 'http://127.0.0.1:9/a b' },
      { name: 'a ws: scheme', url: 'ws://example.com/hook' },
      { name: 'a file: URL', url: 'file:///etc/passwd' },
      { name: 'a javascript: URL', url: 'javascript:alert(1)' },
      { name: 'a data: URL', url: 'data:text/plain,hi' },
      { name: 'a relative URL', url: '/hook' },
      { name: 'a scheme-relative URL', url: '//example.com/hook' },
      // Written otherwise than the URL parser reads them (issue 11, item 11): stored as written, sent elsewhere.
      { name: 'an empty userinfo with a colon', url: 'http://:@127.0.0.1:9100/x' },
      { name: 'an empty userinfo', url: 'http://@127.0.0.1:9100/x' },
      { name: 'one slash', url: 'http:/127.0.0.1:9100/x' },
      { name: 'no slashes', url: 'http:127.0.0.1:9100/x' },
      { name: 'backslashes', url: 'http:\\\\127.0.0.1:9100\\x' },
      { name: 'a backslash before an @', url: 'http://127.0.0.1:9100\\@evil.example/x' },
      { name: 'three slashes', url: 'http:///127.0.0.1:9100/x' },
      { name: 'an upper-case scheme', url: 'HTTP://127.0.0.1:9100/x' },
      { name: 'an upper-case host', url: 'https://Example.COM/hook' },
      { name: 'an IPv4 address as one number', url: 'http://2130706433/x' },
      { name: 'a shortened IPv4 address', url: 'http://127.1:9100/x' },
      { name: 'a percent-encoded host', url: 'http://%31%32%37.0.0.1/x' },
      { name: 'the default port written out', url: 'https://example.com:443/hook' },
    ];
    for (const c of impossibleUrls) {
      it(`refuses a URL with ${c.name} on POST and PATCH`, async () => {
        const base = `/v1/tenants/${tenant}/endpoints`;
        assertError(await stack.api('POST', base, { ...valid, url: c.url }), 400, 'validation_failed', 'url');
        assertError(
          await stack.api('PATCH', `${base}/${endpoint.id}`, { url: c.url }),
          400,
          'validation_failed',
          'url',
        );
      });
    }

    it('keeps serving an endpoint stored with such a header before this check existed', async () => {
      // Stored directly, as an older version of the service would have accepted it; there is no migration.
      const stored = await stack.stores.endpoints.create(
        parseTenantId(tenant),
        { url: 'http://127.0.0.1:9/hook', eventTypes: ['legacy.*'], headers: { Expect: '100-continue', 'X-Ok': '1' } },
        'legacy-secret-legacy-secret-123',
      );
      const base = `/v1/tenants/${tenant}/endpoints/${stored.endpoint.id}`;
      const got = await stack.api('GET', base);
      assert.equal(got.status, 200, JSON.stringify(got.body));
      assert.deepEqual(got.body.headers, { Expect: '100-continue', 'X-Ok': '1' });
      const listed = await stack.api('GET', `/v1/tenants/${tenant}/endpoints?limit=200`);
      assert.equal(listed.status, 200);
      // A PATCH that does not touch the headers still works; one that sets them must set valid ones.
      const renamed = await stack.api('PATCH', base, { description: 'legacy' });
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
      const fixed = await stack.api('PATCH', base, { headers: { 'X-Ok': '1' } });
      assert.equal(fixed.status, 200, JSON.stringify(fixed.body));
      assert.deepEqual(fixed.body.headers, { 'X-Ok': '1' });
    });

    // Such an endpoint must send nothing: `Host`, `Connection` and a forged signature used to be sent as stored,
    // and `Content-Length` was retried as a network error for days.
    const legacyHeaders: [name: string, value: string][] = [
      ['Content-Length', '5'],
      ['Host', 'evil.example'],
      ['Connection', 'close'],
      ['x-wss-signature', 'forged'],
      ['X-Nel', 'a\u0085b'],
    ];
    for (const [name, value] of legacyHeaders) {
      it(`fails the deliveries and the dry run of a stored endpoint with ${name} at once, sending nothing`, async () => {
        const rx = await receiver();
        const type = `legacy${legacyHeaders.findIndex(([n]) => n === name)}.sent`;
        const stored = await stack.stores.endpoints.create(
          parseTenantId(tenant),
          { url: rx.url, eventTypes: [type], headers: { 'X-Ok': '1', [name]: value } },
          'legacy-secret-legacy-secret-123',
        );
        const eventId = `legacy-${uniqueName('e').replace(/[^A-Za-z0-9_-]/g, '_')}`;
        const published = await stack.api('POST', `/v1/tenants/${tenant}/events`, { type, data: {}, id: eventId });
        assert.equal(published.status, 202, JSON.stringify(published.body));
        const result = await waitFor('the delivery result', () =>
          stack.temporal.workflow.getHandle(workflowIdOf(tenant, eventId)).result(),
        );
        const delivery = result.deliveries.find((d: { endpointId: string }) => d.endpointId === stored.endpoint.id);
        assert.equal(delivery?.status, 'failed', JSON.stringify(result));
        assert.equal(delivery?.attempts, 1, 'not retried');
        assert.match(delivery?.lastError ?? '', /invalid_request/);
        assert.ok((delivery?.lastError ?? '').includes(`"${name}"`), delivery?.lastError);
        assert.equal(rx.requests.length, 0, 'nothing is sent');

        const dry = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${stored.endpoint.id}/test`, {
          type,
          data: {},
        });
        assertError(dry, 422, 'invalid_request');
        assert.ok(dry.body.error.message.includes(`"${name}"`), dry.body.error.message);
        if (value.length >= 6) assert.ok(!dry.body.error.message.includes(value), dry.body.error.message);
      });
    }
  });

  describe('publishing keeps data byte for byte (issue 11, item 1)', () => {
    let tenant: string;
    before(async () => {
      tenant = await createTenant('bytes');
    });

    const admin = () => ({ authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' });

    /** The `data` field of one stream entry, as the bytes Redis holds. */
    async function streamData(entryId: string): Promise<Buffer> {
      const entries = await stack.redis.xrangeBuffer(stack.config.WSS_STREAM, entryId, entryId);
      const fields = entries[0]?.[1] ?? [];
      for (let i = 0; i + 1 < fields.length; i += 2) {
        if (fields[i]!.toString('latin1') === 'data') return fields[i + 1]!;
      }
      throw new Error(`stream entry ${entryId} has no data field`);
    }

    const dataTexts: Record<string, string> = {
      'an integer above 2^53': '{"orderId":12345678901234567890}',
      'a negative integer above 2^63': '{"n":-98765432109876543210987654321}',
      'a bare big integer': '18446744073709551616',
      '1.0': '1.0',
      '1E5': '1E5',
      '1e-7': '1e-7',
      '-0': '-0',
      '-0.0 and trailing zeros': '[-0.0, 0.10, 2.50000]',
      'an exponent with a sign': '{"x":6.02214076E+23}',
      'more digits than a double holds': '0.1000000000000000055511151231257827021181583404541015625',
      'a number that overflows a double': '1e400',
      'unicode escapes': '{"s":"caf\\u00e9 \\u20ac \\ud83d\\ude00 \\u2028\\u0000"}',
      'escaped solidus and a lowercase escape': '"\\/path\\u00E9\\u00e9"',
      'raw UTF-8 text': '{"s":"café € 😀 日本"}',
      'whitespace inside data': '{ "a" : [ 1 ,\n\t2 ] ,\r\n "b" : { } }',
      'duplicate keys inside data': '{"a":1,"a":2}',
      'a __proto__ key': '{"__proto__":{"polluted":true},"constructor":{"prototype":1}}',
      'key order': '{"z":1,"a":2,"m":3}',
      null: 'null',
      'a string': '"just text"',
      'an empty array': '[]',
    };
    for (const [name, text] of Object.entries(dataTexts)) {
      it(`XADDs the exact bytes of data with ${name}`, async () => {
        // Spacing around the member, and `data` before `type`, must not matter.
        for (const body of [`{"type":"num.big","data":${text}}`, `{ "data" :\n ${text} \t, "type" : "num.big" }`]) {
          const res = await raw('POST', `/v1/tenants/${tenant}/events`, { headers: admin(), body });
          assert.equal(res.status, 202, res.text);
          const stored = await streamData(res.body.streamEntryId);
          assert.equal(
            stored.toString('hex'),
            Buffer.from(text, 'utf8').toString('hex'),
            `stored: ${stored.toString('utf8')}`,
          );
        }
      });
    }

    it('counts the size limit on the bytes as sent', async () => {
      const pad = 'x'.repeat(MAX_EVENT_BYTES - '{"p":""}'.length);
      const atLimit = `{"p":"${pad}"}`;
      assert.equal(Buffer.byteLength(atLimit), MAX_EVENT_BYTES);
      const ok = await raw('POST', `/v1/tenants/${tenant}/events`, {
        headers: admin(),
        body: `{"type":"a.b","data":${atLimit}}`,
      });
      assert.equal(ok.status, 202, ok.text);
      // The same value with one more space inside is one byte over.
      const over = `{"p": "${pad}"}`;
      assertError(
        await raw('POST', `/v1/tenants/${tenant}/events`, { headers: admin(), body: `{"type":"a.b","data":${over}}` }),
        413,
        'payload_too_large',
      );
    });

    it('refuses a body with the same top-level member twice, as JSON.parse would keep only the last', async () => {
      for (const body of [
        '{"type":"a.b","data":1,"data":2}',
        '{"type":"a.b","type":"c.d","data":1}',
        '{"type":"a.b","d\\u0061ta":1,"data":2}',
      ]) {
        assertError(
          await raw('POST', `/v1/tenants/${tenant}/events`, { headers: admin(), body }),
          400,
          'validation_failed',
        );
      }
    });

    it('still accepts only strict JSON', async () => {
      for (const body of [
        '{"type":"a.b","data":{"a":1,}}',
        '{"type":"a.b","data":[1,2,]}',
        '{"type":"a.b","data":1 /* c */}',
        '{"type":"a.b","data":1} // c',
        "{'type':'a.b','data':1}",
        '{"type":"a.b","data":NaN}',
        '{"type":"a.b","data":0x10}',
        '{"type":"a.b","data":01}',
        '{"type":"a.b","data":.5}',
        '{"type":"a.b","data":+1}',
        '\ufeff{"type":"a.b","data":1}',
      ]) {
        assertError(
          await raw('POST', `/v1/tenants/${tenant}/events`, { headers: admin(), body }),
          400,
          'validation_failed',
        );
      }
    });

    it('delivers the published bytes to the receiver inside the default envelope', async () => {
      const rx = await receiver();
      await createEndpoint(tenant, { url: rx.url, eventTypes: ['bytes.e2e'] });
      const texts = ['{"orderId":12345678901234567890}', '1.0', '1E5', '-0', '{ "a" : [ 1 ,\n\t2 ] }', '"\\u00e9"'];
      for (const [i, text] of texts.entries()) {
        const res = await raw('POST', `/v1/tenants/${tenant}/events`, {
          headers: admin(),
          body: `{"type":"bytes.e2e","id":"e2e-${i}","data":${text}}`,
        });
        assert.equal(res.status, 202, res.text);
      }
      await waitFor('every delivery', () => rx.requests.length >= texts.length, 60_000);
      for (const [i, text] of texts.entries()) {
        const got = rx.requests.find((r) => r.headers['x-wss-event-id'] === `e2e-${i}`);
        assert.ok(got, `event e2e-${i} not delivered`);
        const body = got.body.toString('utf8');
        assert.ok(body.endsWith(`"data":${text}}`), `body: ${body}`);
      }
    });

    it('shows the published bytes in the dry run, as a delivery sends them', async () => {
      const endpoint = await createEndpoint(tenant, { eventTypes: ['bytes.dry'] });
      for (const text of ['{"orderId":12345678901234567890}', '1.0', '-0', '{ "a" : [ 1 ,\n\t2 ] }']) {
        const res = await raw('POST', `/v1/tenants/${tenant}/endpoints/${endpoint.id}/test`, {
          headers: admin(),
          body: `{"type":"bytes.dry","id":"dry-1","data":${text}}`,
        });
        assert.equal(res.status, 200, res.text);
        assert.ok(res.body.body.endsWith(`"data":${text}}`), `dry-run body: ${res.body.body}`);
      }
    });
  });

  describe('structure limits and hostile bodies (issue 11, item 10)', () => {
    let tenant: string;
    let endpoint: { id: string };
    before(async () => {
      tenant = await createTenant('hostile');
      endpoint = await createEndpoint(tenant);
    });

    const admin = () => ({ authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' });
    const nested = (depth: number, inner = '1') => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;
    const nestedObjects = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

    it('accepts data nested to WSS_MAX_EVENT_DEPTH and refuses deeper data with 400 on data', async () => {
      const max = 64;
      const path = `/v1/tenants/${tenant}/events`;
      const ok = await raw('POST', path, { headers: admin(), body: `{"type":"a.b","data":${nested(max)}}` });
      assert.equal(ok.status, 202, ok.text);
      for (const data of [
        nested(max + 1),
        nestedObjects(max + 1),
        nested(5000),
        nested(100_000),
        nestedObjects(50_000),
      ]) {
        const res = await raw('POST', path, { headers: admin(), body: `{"type":"a.b","data":${data}}` });
        assertError(res, 400, 'validation_failed', 'data');
        assert.match(res.body.error.message, /nest/);
      }
      // The dry run refuses it the same way.
      const dry = await raw('POST', `/v1/tenants/${tenant}/endpoints/${endpoint.id}/test`, {
        headers: admin(),
        body: `{"type":"order.x","data":${nested(5000)}}`,
      });
      assertError(dry, 400, 'validation_failed', 'data');
    });

    /** Every route that reads a body, with the path of a resource that exists. */
    function bodyRoutes(): [string, string][] {
      const t = `/v1/tenants/${tenant}`;
      const e = `${t}/endpoints/${endpoint.id}`;
      return [
        ['POST', '/v1/tenants'],
        ['POST', `${t}/api-keys`],
        ['POST', `${t}/endpoints`],
        ['PATCH', e],
        ['POST', `${e}/enable`],
        ['POST', `${e}/secret/rotate`],
        ['POST', `${e}/test`],
        ['POST', `${e}/replay`],
        ['POST', `${t}/events`],
        ['POST', `${t}/deliveries/no-such-event/retry`],
        ['POST', `${t}/deliveries/no-such-event/cancel`],
      ];
    }

    const hostileBodies: Record<string, string | Buffer> = {
      'deep arrays at the top': nested(5000),
      'very deep arrays at the top': nested(200_000),
      'deep objects at the top': nestedObjects(20_000),
      'deep metadata': `{"id":"x1","metadata":${nestedObjects(5000)}}`,
      'deep filter': `{"url":"http://127.0.0.1:9/h","eventTypes":["a.*"],"filter":${nestedObjects(5000)}}`,
      'deep $and filter': `{"url":"http://127.0.0.1:9/h","eventTypes":["a.*"],"filter":${'{"$and":['.repeat(3000)}{}${']}'.repeat(3000)}}`,
      'deep retryPolicy': `{"retryPolicy":${nestedObjects(5000)}}`,
      'deep headers': `{"headers":${nestedObjects(5000)}}`,
      'deep type': `{"type":${nested(5000)},"data":1}`,
      'deep data': `{"type":"order.x","data":${nested(5000)}}`,
      'a huge number': `{"type":"order.x","data":1e999999,"id":1e999999,"name":1e400,"secret":1e400,"since":-1e400}`,
      'a thousand-digit number': `{"type":"order.x","data":${'9'.repeat(1000)},"rateLimit":${'9'.repeat(1000)}}`,
      'invalid UTF-8 bytes': Buffer.concat([
        Buffer.from('{"type":"order.x","data":"caf'),
        Buffer.from([0xff, 0xfe, 0xe9]),
        Buffer.from('"}'),
      ]),
      'an overlong UTF-8 encoding': Buffer.concat([
        Buffer.from('{"id":"'),
        Buffer.from([0xc0, 0xaf]),
        Buffer.from('"}'),
      ]),
      'a raw UTF-8 surrogate': Buffer.concat([
        Buffer.from('{"type":"order.x","data":"'),
        Buffer.from([0xed, 0xa0, 0x80]),
        Buffer.from('"}'),
      ]),
      'a lone surrogate escape':
        '{"type":"order.x","data":"\\ud800","id":"\\udfff","name":"\\ud800","description":"\\udc00","url":"http://127.0.0.1:9/\\ud800","eventTypes":["\\ud800"],"headers":{"X-A":"\\ud800"},"metadata":{"\\ud800":"\\udfff"}}',
      'raw NUL bytes': '{"type":"order.x",\u0000"data":1}',
      'escaped NUL everywhere':
        '{"type":"order.x\\u0000","data":"\\u0000","id":"\\u0000","name":"\\u0000","secret":"\\u0000","since":"\\u0000","url":"http://127.0.0.1:9/\\u0000","eventTypes":["a\\u0000"],"metadata":{"\\u0000":"\\u0000"}}',
      'duplicate keys':
        '{"type":"order.x","type":"order.y","data":1,"data":2,"url":"x","url":"http://127.0.0.1:9/h","eventTypes":["a.*"],"eventTypes":["b.*"]}',
      '__proto__ keys':
        '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}},"type":"order.x","data":{"__proto__":1}}',
      '__proto__ in nested records':
        '{"url":"http://127.0.0.1:9/h","eventTypes":["a.*"],"metadata":{"__proto__":"x"},"headers":{"__proto__":"x"},"filter":{"__proto__":{"$eq":1}}}',
      'a very long string': `{"type":"order.x","data":"${'x'.repeat(900_000)}","description":"${'d'.repeat(100)}"}`,
      'a very long key': `{"${'k'.repeat(500_000)}":1}`,
      'a byte-order mark': '\ufeff{"type":"order.x","data":1}',
      'an unterminated string': '{"type":"order.x","data":"abc',
      'only whitespace': ' \n\t ',
      'a bare scalar': '12345678901234567890',
      'an array of objects': '[{"type":"order.x","data":1}]',
    };

    it('never answers 5xx to a hostile body on any route', async () => {
      const failures: string[] = [];
      for (const [name, body] of Object.entries(hostileBodies)) {
        for (const [method, path] of bodyRoutes()) {
          const res = await raw(method, path, { headers: admin(), body });
          if (res.status >= 500 || res.body?.error?.code === undefined) {
            failures.push(`${name}: ${method} ${path} -> ${res.status} ${res.text.slice(0, 200)}`);
          }
        }
      }
      assert.deepEqual(failures, []);
      // Nothing a hostile body did left the API unable to answer.
      assert.equal((await raw('GET', '/healthz')).status, 200);
    });

    it('never answers 5xx to a hostile path or query', async () => {
      const failures: string[] = [];
      const paths = [
        '/v1/tenants/%ff',
        '/v1/tenants/%E0%A4%A',
        '/v1/tenants/%',
        `/v1/tenants/${tenant}/endpoints/%c0%af`,
        `/v1/tenants/${tenant}/deliveries/%ud800`,
        `/v1/tenants/${tenant}/endpoints?limit=%ff`,
        `/v1/tenants/${tenant}/endpoints?cursor=%ff%fe`,
        `/v1/tenants/${tenant}/endpoints?limit=1e999`,
        `/v1/tenants/${tenant}/dead-letters?endpointId=%00`,
        `/v1/tenants/${tenant}/endpoints?cursor=${'A'.repeat(5000)}`,
      ];
      for (const path of paths) {
        const res = await raw('GET', path, { headers: admin() });
        if (res.status >= 500 || res.body?.error?.code === undefined) {
          failures.push(`GET ${path} -> ${res.status} ${res.text.slice(0, 200)}`);
        }
      }
      assert.deepEqual(failures, []);
    });
  });
});
