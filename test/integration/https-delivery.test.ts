import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ResolvedAddress } from '../../src/infra/egress/destination-policy';
import { createReceiverPki, startHttpsReceiver } from '../support/https-receiver';
import type { HttpsReceiver, ReceiverPki } from '../support/https-receiver';
import { uniqueName, waitFor, workflowIdOf } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

/**
 * HTTPS delivery through the SSRF-pinned lookup, against real TLS receivers on loopback with certificates from a
 * CA the test makes. The URL names a host (the stub resolver maps it to a loopback address), so the SNI and the
 * certificate check must use that name while the socket goes to the checked address.
 */
describe('HTTPS delivery', () => {
  let stack: TestStack;
  let pki: ReceiverPki;
  const receivers: HttpsReceiver[] = [];
  const lookups = new Map<string, number>();
  let good: HttpsReceiver;
  let wrongHost: HttpsReceiver;
  let expired: HttpsReceiver;
  let unknownCa: HttpsReceiver;
  let rebindTarget: HttpsReceiver;

  // Only 127.0.0.1 is allowlisted. `rebind.test` answers a public address at registration and 127.0.0.2 afterwards,
  // where a receiver with a valid certificate for it listens: over HTTPS the rebinding must be refused too.
  async function resolver(hostname: string): Promise<ResolvedAddress[]> {
    const n = (lookups.get(hostname) ?? 0) + 1;
    lookups.set(hostname, n);
    if (hostname === 'rebind.test') return [{ address: n === 1 ? '93.184.215.14' : '127.0.0.2', family: 4 }];
    if (hostname.endsWith('.test')) return [{ address: '127.0.0.1', family: 4 }];
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  }

  before(async () => {
    pki = createReceiverPki();
    const start = async (options: Parameters<typeof startHttpsReceiver>[0]) => {
      const receiver = await startHttpsReceiver(options);
      receivers.push(receiver);
      return receiver;
    };
    good = await start({ cert: pki.issue('receiver.test') });
    wrongHost = await start({ cert: pki.issue('other.test') });
    expired = await start({ cert: pki.issue('expired.test', { expired: true }) });
    unknownCa = await start({ cert: pki.issue('rogue.test', { ca: 'rogue' }) });
    rebindTarget = await start({ cert: pki.issue('rebind.test'), host: '127.0.0.2' });
    stack = await startStack({
      env: { WSS_EGRESS_ALLOW_CIDRS: '127.0.0.1/32', WSS_HTTP_CA_FILE: pki.caFile },
      resolver,
    });
  });
  after(async () => {
    await stack?.stop();
    await Promise.all(receivers.map((r) => r.close()));
    pki?.remove();
  });

  async function endpoint(tenant: string, url: string, maximumAttempts = 2) {
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
      url,
      eventTypes: ['*'],
      retryPolicy: { maximumAttempts, initialIntervalMs: 200, backoffCoefficient: 1, jitterPercent: 0 },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { id: string };
  }

  async function deliver(tenant: string, id: string) {
    await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{"n":1}', 'id', id);
    return waitFor('result', () => stack.temporal.workflow.getHandle(workflowIdOf(tenant, id)).result(), 60_000);
  }

  async function attempts(tenant: string, eventId: string) {
    const view = await stack.api('GET', `/v1/tenants/${tenant}/deliveries/${eventId}`);
    assert.equal(view.status, 200, JSON.stringify(view.body));
    return (view.body.endpoints[0]?.attempts ?? []) as { outcome: string; statusCode?: number; error?: string }[];
  }

  it('delivers to a valid certificate, with the URL host as SNI and the connection to the checked address', async () => {
    const tenant = uniqueName('t');
    await endpoint(tenant, good.url('receiver.test'));
    const result = await deliver(tenant, 'evt-good');
    assert.equal(result.status, 'delivered');
    assert.equal(good.requests.length, 1);
    assert.equal(good.requests[0]?.servername, 'receiver.test');
    assert.equal(good.requests[0]?.headers.host, `receiver.test:${good.port}`);
    assert.ok((lookups.get('receiver.test') ?? 0) >= 2, 'registration and delivery both resolved the name');
  });

  for (const [label, host, receiver] of [
    ['a certificate for another host', 'wronghost.test', () => wrongHost],
    ['an expired certificate', 'expired.test', () => expired],
    ['a certificate from an unknown CA', 'rogue.test', () => unknownCa],
  ] as const) {
    it(`fails ${label} with tls_error, retried on schedule, and never sends the request`, async () => {
      const tenant = uniqueName('t');
      const eventId = `evt-${host.split('.')[0]}`;
      await endpoint(tenant, receiver().url(host));
      const result = await deliver(tenant, eventId);
      assert.equal(result.status, 'failed');
      assert.equal(result.deliveries[0]?.attempts, 2, 'retried on the endpoint schedule');
      assert.match(result.deliveries[0]?.lastError ?? '', /tls_error/);
      assert.deepEqual(
        (await attempts(tenant, eventId)).map((a) => [a.outcome, a.error]),
        [
          ['retry', 'tls_error'],
          ['failed', 'retries_exhausted'],
        ],
      );
      assert.equal(receiver().requests.length, 0, 'no request reached the receiver');
      assert.ok(receiver().connections >= 2, 'each attempt did connect');
    });
  }

  it('refuses a DNS rebinding to a non-allowlisted address over HTTPS, without connecting', async () => {
    const tenant = uniqueName('t');
    await endpoint(tenant, rebindTarget.url('rebind.test'));
    const result = await deliver(tenant, 'evt-rebind');
    assert.equal(result.status, 'failed');
    assert.equal(result.deliveries[0]?.attempts, 1);
    assert.match(result.deliveries[0]?.lastError ?? '', /destination_not_allowed/);
    assert.equal(rebindTarget.connections, 0);
  });
});

describe('HTTPS delivery without WSS_HTTP_CA_FILE, and WSS_EGRESS_HTTPS_ONLY', () => {
  let stack: TestStack;
  let pki: ReceiverPki;
  let privateCa: HttpsReceiver;

  before(async () => {
    pki = createReceiverPki();
    privateCa = await startHttpsReceiver({ cert: pki.issue('receiver.test') });
    stack = await startStack({
      env: { WSS_EGRESS_HTTPS_ONLY: 'true' },
      resolver: async (hostname) => {
        if (hostname.endsWith('.test')) return [{ address: '127.0.0.1', family: 4 }];
        throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      },
    });
  });
  after(async () => {
    await stack?.stop();
    await privateCa?.close();
    pki?.remove();
  });

  it('trusts only the system roots: a private CA fails with tls_error', async () => {
    const tenant = uniqueName('t');
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
      url: privateCa.url('receiver.test'),
      eventTypes: ['*'],
      retryPolicy: { maximumAttempts: 1 },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{}', 'id', 'evt-private');
    const result = await waitFor(
      'result',
      () => stack.temporal.workflow.getHandle(workflowIdOf(tenant, 'evt-private')).result(),
      60_000,
    );
    assert.equal(result.status, 'failed');
    assert.match(result.deliveries[0]?.lastError ?? '', /tls_error/);
    assert.equal(privateCa.requests.length, 0);
  });

  it('refuses http:// endpoints at registration, and a stored http:// endpoint at delivery without connecting', async () => {
    const tenant = uniqueName('t');
    const connectionsBefore = privateCa.connections;
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
      url: 'http://receiver.test:9/hook',
      eventTypes: ['*'],
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'destination_not_allowed');
    assert.match(res.body.error.message, /only https/);

    // Stored before the operator turned the rule on: the delivery is refused for good, nothing connects.
    await stack.stores.tenants.ensure(tenant as never);
    const created = await stack.stores.endpoints.create(
      tenant as never,
      { url: `http://receiver.test:${privateCa.port}/hook`, eventTypes: ['*'] },
      'a-signing-secret-of-24-characters',
    );
    assert.ok(created.endpoint.id);
    await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{}', 'id', 'evt-plain');
    const result = await waitFor(
      'result',
      () => stack.temporal.workflow.getHandle(workflowIdOf(tenant, 'evt-plain')).result(),
      60_000,
    );
    assert.equal(result.status, 'failed');
    assert.equal(result.deliveries[0]?.attempts, 1);
    assert.match(result.deliveries[0]?.lastError ?? '', /destination_not_allowed/);
    assert.equal(privateCa.connections, connectionsBefore);
  });
});
