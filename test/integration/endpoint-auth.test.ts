import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import { after, before, describe, it } from 'node:test';
import type { ResolvedAddress } from '../../src/infra/egress/destination-policy';
import { createStores } from '../../src/main/services';
import type { Stores } from '../../src/main/services';
import { createDeliveryWorker } from '../../src/main/worker';
import type { DeliveryWorker } from '../../src/main/worker';
import { createReceiverPki, startHttpsReceiver } from '../support/https-receiver';
import type { IssuedCertificate, ReceiverPki } from '../support/https-receiver';
import type { ReceivedRequest } from '../support/receiver';
import { historyText, uniqueName, waitFor, workflowIdOf } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

/**
 * Endpoint authentication end to end, on loopback HTTPS receivers with a generated CA: basic, bearer, OAuth2
 * client credentials (a real token server that counts its token requests, shared across two workers) and mutual
 * TLS. Secrets go in through the API and must come out only on the wire to their own receiver.
 */

const PASSWORD = 'pw-Zq81vXk2-basic-secret';
const BEARER = 'tok-Hh73Lp0w-static-bearer';
const CLIENT_SECRET = 'cs-Wm27Rt5q-oauth-client-secret';

interface TokenServer {
  readonly url: string;
  /** Token requests received, with their decoded form fields and Authorization header. */
  readonly requests: { form: URLSearchParams; authorization?: string }[];
  /** Tokens issued, in order; a receiver checks against `valid`. */
  readonly issued: string[];
  readonly valid: Set<string>;
  /** Set to make the token endpoint answer this status instead of a token. */
  failWith?: number;
  close(): Promise<void>;
}

async function startTokenServer(cert: IssuedCertificate, host: string): Promise<TokenServer> {
  const state: TokenServer = {
    url: '',
    requests: [],
    issued: [],
    valid: new Set(),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server: Server = createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      state.requests.push({
        form,
        ...(req.headers.authorization !== undefined ? { authorization: req.headers.authorization } : {}),
      });
      if (state.failWith !== undefined) {
        res.writeHead(state.failWith, { 'content-type': 'application/json' });
        res.end('{"error":"server_error"}');
        return;
      }
      const token = `at-${state.issued.length + 1}-${Math.random().toString(36).slice(2, 10)}`;
      state.issued.push(token);
      state.valid.add(token);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 3600 }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  (state as { url: string }).url = `https://${host}:${(server.address() as { port: number }).port}/oauth/token`;
  return state;
}

describe('endpoint authentication', () => {
  let stack: TestStack;
  let pki: ReceiverPki;
  let tokens: TokenServer;
  const closers: (() => Promise<unknown>)[] = [];
  const lookups = new Map<string, number>();
  const apiResponses: unknown[] = [];
  const workflowIds: string[] = [];

  async function resolver(hostname: string): Promise<ResolvedAddress[]> {
    const n = (lookups.get(hostname) ?? 0) + 1;
    lookups.set(hostname, n);
    if (hostname === 'private.test') return [{ address: '10.0.0.5', family: 4 }];
    // A token host that is public at registration and private afterwards.
    if (hostname === 'token-rebind.test') return [{ address: n === 1 ? '93.184.215.14' : '10.0.0.5', family: 4 }];
    if (hostname.endsWith('.test')) return [{ address: '127.0.0.1', family: 4 }];
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  }

  async function receiver(options: Parameters<typeof startHttpsReceiver>[0]) {
    const r = await startHttpsReceiver(options);
    closers.push(() => r.close());
    return r;
  }

  async function api(method: string, path: string, body?: unknown) {
    const res = await stack.api(method, path, body);
    apiResponses.push(res.body);
    return res;
  }

  async function endpoint(tenant: string, body: Record<string, unknown>) {
    const res = await api('POST', `/v1/tenants/${tenant}/endpoints`, {
      eventTypes: ['*'],
      retryPolicy: { maximumAttempts: 2, initialIntervalMs: 200, backoffCoefficient: 1, jitterPercent: 0 },
      ...body,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { id: string; auth?: Record<string, unknown> };
  }

  async function publish(tenant: string, id: string) {
    await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{"n":1}', 'id', id);
    workflowIds.push(workflowIdOf(tenant, id));
    return stack.temporal.workflow.getHandle(workflowIdOf(tenant, id));
  }

  async function deliver(tenant: string, id: string) {
    const handle = await publish(tenant, id);
    return waitFor('result', () => handle.result(), 90_000);
  }

  async function attempts(tenant: string, eventId: string) {
    const view = await api('GET', `/v1/tenants/${tenant}/deliveries/${eventId}`);
    assert.equal(view.status, 200, JSON.stringify(view.body));
    return (view.body.endpoints[0]?.attempts ?? []) as { outcome: string; statusCode?: number; error?: string }[];
  }

  const requiring =
    (expected: (req: ReceivedRequest) => boolean) =>
    (req: ReceivedRequest): { status: number } => ({ status: expected(req) ? 200 : 401 });

  before(async () => {
    pki = createReceiverPki();
    tokens = await startTokenServer(pki.issue('token.test'), 'token.test');
    closers.push(() => tokens.close());
    stack = await startStack({ env: { WSS_HTTP_CA_FILE: pki.caFile }, resolver });
  });
  after(async () => {
    await stack?.stop();
    for (const close of closers.reverse()) await close();
    pki?.remove();
  });

  describe('basic and bearer', () => {
    it('sends basic credentials in Authorization, shows only the username, and redacts the dry run', async () => {
      const tenant = uniqueName('t');
      const expected = `Basic ${Buffer.from(`hook-user:${PASSWORD}`).toString('base64')}`;
      const hook = await receiver({
        cert: pki.issue('basic.test'),
        reply: requiring((req) => req.headers.authorization === expected),
      });
      const ep = await endpoint(tenant, {
        url: hook.url('basic.test'),
        auth: { type: 'basic', username: 'hook-user', password: PASSWORD },
      });
      assert.deepEqual(ep.auth, { type: 'basic', username: 'hook-user' });
      const read = await api('GET', `/v1/tenants/${tenant}/endpoints/${ep.id}`);
      assert.deepEqual(read.body.auth, { type: 'basic', username: 'hook-user' });

      const dry = await api('POST', `/v1/tenants/${tenant}/endpoints/${ep.id}/test`, {
        type: 'order.created',
        data: { n: 1 },
      });
      assert.equal(dry.status, 200, JSON.stringify(dry.body));
      assert.equal(dry.body.headers.authorization, 'Basic [redacted]');

      const result = await deliver(tenant, 'evt-basic');
      assert.equal(result.status, 'delivered');
      assert.equal(hook.requests.length, 1);
      assert.equal(hook.requests[0]?.headers.authorization, expected);
    });

    it('sends a bearer token that a static Authorization header cannot replace', async () => {
      const tenant = uniqueName('t');
      const hook = await receiver({
        cert: pki.issue('bearer.test'),
        reply: requiring((req) => req.headers.authorization === `Bearer ${BEARER}`),
      });
      const refused = await api('POST', `/v1/tenants/${tenant}/endpoints`, {
        url: hook.url('bearer.test'),
        eventTypes: ['*'],
        headers: { Authorization: 'Bearer someone-else' },
        auth: { type: 'bearer', token: BEARER },
      });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.error.code, 'validation_failed');
      assert.match(refused.body.error.message, /authorization/i);

      const ep = await endpoint(tenant, {
        url: hook.url('bearer.test'),
        headers: { 'X-Team': 'payments' },
        auth: { type: 'bearer', token: BEARER },
      });
      assert.deepEqual(ep.auth, { type: 'bearer' });
      const result = await deliver(tenant, 'evt-bearer');
      assert.equal(result.status, 'delivered');
      assert.equal(hook.requests[0]?.headers.authorization, `Bearer ${BEARER}`);
      assert.equal(hook.requests[0]?.headers['x-team'], 'payments');

      // A PATCH may add the header only while no auth is set; clearing auth then allows it.
      const patched = await api('PATCH', `/v1/tenants/${tenant}/endpoints/${ep.id}`, {
        headers: { authorization: 'Bearer x' },
      });
      assert.equal(patched.status, 400);
      const cleared = await api('PATCH', `/v1/tenants/${tenant}/endpoints/${ep.id}`, { auth: null });
      assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
      assert.equal(cleared.body.auth, undefined);
    });
  });

  describe('credentials follow the URL they were given for', () => {
    it('refuses a URL change to another origin unless auth is sent again or removed; the path may change', async () => {
      const tenant = uniqueName('t');
      const hook = await receiver({ cert: pki.issue('bearer.test'), reply: () => ({ status: 200 }) });
      const ep = await endpoint(tenant, { url: hook.url('bearer.test'), auth: { type: 'bearer', token: BEARER } });
      const other = new URL(hook.url('bearer.test'));
      const moves = [
        // Plain http (a downgrade), another host, another port: each could hand the token to someone else.
        `http://bearer.test:${other.port}${other.pathname}`,
        hook.url('other-host.test'),
        `https://bearer.test:${Number(other.port) + 1}${other.pathname}`,
      ];
      for (const url of moves) {
        const refused = await api('PATCH', `/v1/tenants/${tenant}/endpoints/${ep.id}`, { url });
        assert.equal(refused.status, 400, `${url}: ${JSON.stringify(refused.body)}`);
        assert.equal(refused.body.error.code, 'validation_failed');
        assert.equal(refused.body.error.field, 'auth');
        assert.doesNotMatch(JSON.stringify(refused.body), new RegExp(BEARER));
      }
      // Same origin, another path: the credentials already go there.
      const samePath = await api('PATCH', `/v1/tenants/${tenant}/endpoints/${ep.id}`, {
        url: `${other.origin}/elsewhere`,
      });
      assert.equal(samePath.status, 200, JSON.stringify(samePath.body));
      // With the auth sent again (or removed), the origin may change.
      const resent = await api('PATCH', `/v1/tenants/${tenant}/endpoints/${ep.id}`, {
        url: hook.url('other-host.test'),
        auth: { type: 'bearer', token: BEARER },
      });
      assert.equal(resent.status, 200, JSON.stringify(resent.body));
      const removed = await api('PATCH', `/v1/tenants/${tenant}/endpoints/${ep.id}`, {
        url: moves[0],
        auth: null,
      });
      assert.equal(removed.status, 200, JSON.stringify(removed.body));
    });
  });

  describe('OAuth2 client credentials', () => {
    let secondWorker: DeliveryWorker | undefined;
    let secondStores: Stores | undefined;

    after(async () => {
      await secondWorker?.close();
      await secondStores?.close();
    });

    function oauth(extra: Record<string, unknown> = {}) {
      return {
        type: 'oauth2_client_credentials',
        tokenUrl: tokens.url,
        clientId: 'wss-client',
        clientSecret: CLIENT_SECRET,
        scope: 'webhooks:write',
        audience: 'https://receiver.example',
        ...extra,
      };
    }

    it('uses about one token for 100 deliveries across two workers', async (t) => {
      secondStores = createStores(stack.config, 'second-worker');
      secondWorker = await createDeliveryWorker(stack.config, stack.log, secondStores, { resolver });
      void secondWorker.run();
      const tenant = uniqueName('t');
      const hook = await receiver({
        cert: pki.issue('oauth.test'),
        reply: requiring((req) => tokens.valid.has(String(req.headers.authorization).replace(/^Bearer /, ''))),
      });
      // More attempts than elsewhere: the point is the token count, on a machine that may be busy.
      const ep = await endpoint(tenant, {
        url: hook.url('oauth.test'),
        auth: oauth(),
        retryPolicy: { maximumAttempts: 5, initialIntervalMs: 500, backoffCoefficient: 1, jitterPercent: 0 },
      });
      assert.deepEqual(ep.auth, {
        type: 'oauth2_client_credentials',
        tokenUrl: tokens.url,
        clientId: 'wss-client',
        scope: 'webhooks:write',
        audience: 'https://receiver.example',
        clientAuthMethod: 'client_secret_basic',
      });
      const before = tokens.requests.length;
      const handles: Awaited<ReturnType<typeof publish>>[] = [];
      for (let i = 0; i < 100; i++) handles.push(await publish(tenant, `evt-oauth-${i}`));
      const results = await waitFor('results', () => Promise.all(handles.map((h) => h.result())), 180_000);
      const undelivered = results.filter((r) => r.status !== 'delivered');
      assert.deepEqual(
        undelivered.map((r) => r.deliveries[0]?.lastError),
        [],
        'every event delivered',
      );
      const authorized = hook.requests.filter((r) => /^Bearer at-/.test(String(r.headers.authorization)));
      assert.equal(new Set(authorized.map((r) => r.headers['x-wss-event-id'])).size, 100);
      const used = tokens.requests.length - before;
      t.diagnostic(`token requests for 100 deliveries across 2 workers: ${used}`);
      assert.ok(used >= 1 && used <= 2, `token requests: ${used}`);
      const first = tokens.requests[before]!;
      assert.equal(first.form.get('grant_type'), 'client_credentials');
      assert.equal(first.form.get('scope'), 'webhooks:write');
      assert.equal(first.form.get('audience'), 'https://receiver.example');
      assert.equal(first.authorization, `Basic ${Buffer.from(`wss-client:${CLIENT_SECRET}`).toString('base64')}`);
      // The dry run shows the header the deliveries got, with the token redacted.
      const dry = await api('POST', `/v1/tenants/${tenant}/endpoints/${ep.id}/test`, {
        type: 'order.created',
        data: {},
      });
      assert.equal(dry.body.headers.authorization, 'Bearer [redacted]');
    });

    it('refreshes a token the receiver rejects with 401 once, and delivers in the same attempt', async () => {
      const tenant = uniqueName('t');
      const hook = await receiver({
        cert: pki.issue('refresh.test'),
        reply: requiring((req) => tokens.valid.has(String(req.headers.authorization).replace(/^Bearer /, ''))),
      });
      await endpoint(tenant, { url: hook.url('refresh.test'), auth: oauth() });
      assert.equal((await deliver(tenant, 'evt-refresh-1')).status, 'delivered');
      // The receiver now considers every token issued so far expired.
      tokens.valid.clear();
      const before = tokens.requests.length;
      const result = await deliver(tenant, 'evt-refresh-2');
      assert.equal(result.status, 'delivered');
      assert.equal(result.deliveries[0]?.attempts, 1);
      assert.equal(tokens.requests.length - before, 1, 'exactly one new token');
      const forEvent = hook.requests.filter((r) => r.headers['x-wss-event-id'] === 'evt-refresh-2');
      assert.equal(forEvent.length, 2, 'the 401, then the retry with the new token');

      // A receiver that rejects every token: one refresh per attempt, never a loop.
      const rejecting = await receiver({ cert: pki.issue('reject.test'), reply: () => ({ status: 401 }) });
      const tenant2 = uniqueName('t');
      await endpoint(tenant2, { url: rejecting.url('reject.test'), auth: oauth({ clientId: 'other-client' }) });
      const before2 = tokens.requests.length;
      const failed = await deliver(tenant2, 'evt-reject');
      assert.equal(failed.status, 'failed');
      assert.equal(failed.deliveries[0]?.attempts, 2);
      assert.equal(rejecting.requests.length, 4, 'two sends per attempt');
      assert.equal(tokens.requests.length - before2, 3, 'one token, then one refresh per attempt');
      assert.match(failed.deliveries[0]?.lastError ?? '', /401/);
    });

    it('fails a token-endpoint error as a classified, retried attempt, sending nothing to the receiver', async () => {
      const tenant = uniqueName('t');
      const hook = await receiver({ cert: pki.issue('tokenfail.test') });
      await endpoint(tenant, { url: hook.url('tokenfail.test'), auth: oauth({ clientId: 'failing-client' }) });
      tokens.failWith = 503;
      try {
        const result = await deliver(tenant, 'evt-tokenfail');
        assert.equal(result.status, 'failed');
        assert.deepEqual(
          (await attempts(tenant, 'evt-tokenfail')).map((a) => [a.outcome, a.error]),
          [
            ['retry', 'oauth2_token_error'],
            ['failed', 'retries_exhausted'],
          ],
        );
        assert.equal(hook.requests.length, 0);
      } finally {
        tokens.failWith = undefined;
      }
    });

    it('refuses a token URL on a private address, at registration and at delivery', async () => {
      const tenant = uniqueName('t');
      const hook = await receiver({ cert: pki.issue('tokenpriv.test') });
      for (const tokenUrl of ['https://private.test/token', 'https://10.0.0.5/token', 'https://127.0.0.2:1/token']) {
        const res = await api('POST', `/v1/tenants/${tenant}/endpoints`, {
          url: hook.url('tokenpriv.test'),
          eventTypes: ['*'],
          auth: oauth({ tokenUrl }),
        });
        // 127.0.0.2 is inside the stack's allowlist (127.0.0.0/8): it passes the egress rules.
        if (tokenUrl.includes('127.0.0.2')) {
          assert.equal(res.status, 201, JSON.stringify(res.body));
          continue;
        }
        assert.equal(res.status, 400, tokenUrl);
        assert.equal(res.body.error.code, 'destination_not_allowed', tokenUrl);
        assert.match(res.body.error.message, /token/i);
      }
      const tenant2 = uniqueName('t');
      await endpoint(tenant2, {
        url: hook.url('tokenpriv.test'),
        auth: oauth({ tokenUrl: 'https://token-rebind.test/token' }),
      });
      const result = await deliver(tenant2, 'evt-tokenrebind');
      assert.equal(result.status, 'failed');
      assert.equal(result.deliveries[0]?.attempts, 1);
      assert.match(result.deliveries[0]?.lastError ?? '', /destination_not_allowed/);
      assert.equal(hook.requests.length, 0);
    });
  });

  describe('mutual TLS', () => {
    it("presents the endpoint's client certificate to its receiver and to no other endpoint", async () => {
      const tenant = uniqueName('t');
      const client = pki.issue('wss-client', { usage: 'client' });
      const demanding = await receiver({ cert: pki.issue('mtls.test'), clientCa: pki.caPem });
      const optional = await receiver({
        cert: pki.issue('optional.test'),
        clientCa: pki.caPem,
        clientCertificate: 'optional',
      });
      const ep = await endpoint(tenant, {
        url: demanding.url('mtls.test'),
        auth: { type: 'mtls', certificate: client.cert, privateKey: client.key },
      });
      assert.equal(ep.auth?.type, 'mtls');
      assert.equal((ep.auth?.certificate as { fingerprint256: string }).fingerprint256, client.fingerprint256);

      assert.equal((await deliver(tenant, 'evt-mtls')).status, 'delivered');
      assert.equal(demanding.requests.length, 1);
      assert.equal(demanding.requests[0]?.clientFingerprint, client.fingerprint256);

      // Another endpoint of the same tenant, to the same receiver, without mTLS: the pooled connection that
      // carries the certificate is not reused for it, so the receiver refuses it at the handshake.
      const other = uniqueName('t');
      await endpoint(other, { url: demanding.url('mtls.test') });
      const refused = await deliver(other, 'evt-nocert');
      assert.equal(refused.status, 'failed');
      assert.match(refused.deliveries[0]?.lastError ?? '', /tls_error|connection_reset/);
      assert.equal(demanding.requests.length, 1, 'nothing but the mTLS endpoint got through');
      assert.ok(demanding.tlsErrors.length > 0 || demanding.handshakes.length === 1);

      // A receiver that only asks for a certificate sees none from an endpoint without mTLS.
      const third = uniqueName('t');
      await endpoint(third, { url: optional.url('optional.test') });
      assert.equal((await deliver(third, 'evt-optional')).status, 'delivered');
      assert.ok(optional.handshakes.length >= 1);
      assert.ok(optional.handshakes.every((h) => h.clientFingerprint === undefined));

      // A key that does not belong to the certificate is refused at registration.
      const stranger = pki.issue('stranger', { usage: 'client' });
      const mismatch = await api('POST', `/v1/tenants/${tenant}/endpoints`, {
        url: demanding.url('mtls.test'),
        eventTypes: ['*'],
        auth: { type: 'mtls', certificate: client.cert, privateKey: stranger.key },
      });
      assert.equal(mismatch.status, 400);
      assert.equal(mismatch.body.error.code, 'validation_failed');
    });
  });

  describe('secrets', () => {
    it('keeps auth secrets, private keys and tokens out of API reads, Redis, logs and Temporal history', async () => {
      const tenant = uniqueName('t');
      const client = pki.issue('grep-client', { usage: 'client' });
      const hook = await receiver({ cert: pki.issue('grep.test') });
      for (const auth of [
        { type: 'basic', username: 'u', password: PASSWORD },
        { type: 'bearer', token: BEARER },
        { type: 'mtls', certificate: client.cert, privateKey: client.key },
      ]) {
        const ep = await endpoint(tenant, { url: hook.url('grep.test'), auth });
        await api('GET', `/v1/tenants/${tenant}/endpoints/${ep.id}`);
        await api('PATCH', `/v1/tenants/${tenant}/endpoints/${ep.id}`, { description: 'seen' });
      }
      await api('GET', `/v1/tenants/${tenant}/endpoints`);
      assert.equal((await deliver(tenant, 'evt-grep')).status, 'delivered');

      const keyBody = client.key
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('-----'))
        .join('');
      const secrets: [string, string][] = [
        ['basic password', PASSWORD],
        ['bearer token', BEARER],
        ['client secret', CLIENT_SECRET],
        ['private key', keyBody.slice(0, 40)],
      ];
      assert.ok(tokens.issued.length > 0, 'the OAuth2 tests ran first and issued tokens');
      const issued = tokens.issued.map((t, i): [string, string] => [`access token ${i}`, t]);
      const redis = await dumpRedis();
      assert.ok(redis.includes(stack.config.WSS_KEY_PREFIX), 'the dump covers the service keys');
      const histories: string[] = [];
      for (const id of workflowIds) {
        try {
          histories.push(historyText(await stack.temporal.workflow.getHandle(id).fetchHistory()));
        } catch {
          // A workflow of a refused registration never started.
        }
      }
      assert.ok(histories.length > 0);
      for (const [label, secret] of [...secrets, ...issued]) {
        for (const [where, text] of [
          ['API responses', JSON.stringify(apiResponses)],
          ['Redis', redis],
          ['logs', stack.logs.join('\n')],
          ['Temporal history', histories.join('\n')],
        ] as const) {
          assert.equal(text.includes(secret), false, `${label} found in ${where}`);
        }
      }
    });
  });

  async function dumpRedis(): Promise<string> {
    const parts: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await stack.redis.scan(cursor, 'MATCH', `*${stack.config.WSS_KEY_PREFIX}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of batch) {
        const type = await stack.redis.type(key);
        const value =
          type === 'string'
            ? await stack.redis.get(key)
            : type === 'hash'
              ? await stack.redis.hgetall(key)
              : type === 'list'
                ? await stack.redis.lrange(key, 0, -1)
                : type === 'set'
                  ? await stack.redis.smembers(key)
                  : type === 'zset'
                    ? await stack.redis.zrange(key, 0, -1)
                    : type === 'stream'
                      ? await stack.redis.xrange(key, '-', '+')
                      : type;
        parts.push(key, JSON.stringify(value));
      }
    } while (cursor !== '0');
    return parts.join('\n');
  }
});
