import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { ResolvedAddress } from '../../src/infra/egress/destination-policy';
import { uniqueName, waitFor, workflowIdOf } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

describe('egress guard end to end (no allowlist)', () => {
  let stack: TestStack;
  let loopback: Server;
  let port = 0;
  let connections = 0;
  const lookups = new Map<string, number>();

  // A stub DNS: `rebind.test` answers a public address the first time (registration) and loopback afterwards
  // (delivery), the classic rebinding attack; `internal.test` always answers a private address.
  async function resolver(hostname: string): Promise<ResolvedAddress[]> {
    const n = (lookups.get(hostname) ?? 0) + 1;
    lookups.set(hostname, n);
    if (hostname === 'rebind.test') return [{ address: n === 1 ? '93.184.215.14' : '127.0.0.1', family: 4 }];
    if (hostname === 'internal.test') return [{ address: '10.0.0.5', family: 4 }];
    if (hostname === 'localhost')
      return [
        { address: '127.0.0.1', family: 4 },
        { address: '::1', family: 6 },
      ];
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  }

  before(async () => {
    loopback = createServer((_req, res) => res.end('should never be reached'));
    loopback.on('connection', () => connections++);
    loopback.listen(0, '127.0.0.1');
    await once(loopback, 'listening');
    port = (loopback.address() as { port: number }).port;
    stack = await startStack({ env: { WSS_EGRESS_ALLOW_CIDRS: '' }, resolver });
  });
  after(async () => {
    await stack.stop();
    loopback.close();
  });

  it('refuses hostile URLs at registration with destination_not_allowed and a specific reason', async () => {
    const tenant = uniqueName('t');
    const cases: [string, RegExp][] = [
      [`http://127.0.0.1:${port}/hook`, /loopback/],
      ['http://169.254.169.254/latest/meta-data/', /metadata|link-local/],
      ['http://[::ffff:7f00:1]/', /loopback/],
      ['http://[fd00::1]/', /unique-local address fd00::1/],
      ['http://internal.test/hook', /resolves to private address 10\.0\.0\.5/],
      ['http://localhost/', /localhost|loopback/],
      ['http://nowhere.test/', /does not resolve/],
    ];
    for (const [url, reason] of cases) {
      const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { url, eventTypes: ['*'] });
      assert.equal(res.status, 400, url);
      assert.equal(res.body.error.code, 'destination_not_allowed', url);
      assert.match(res.body.error.message, reason, url);
    }
    // Other spellings of an IP address are refused before the egress policy sees them: the URL is stored as
    // written, so it must be written as deliveries read it (`http://127.0.0.1`), and the policy then judges that.
    for (const url of ['http://2130706433/', 'http://0x7f.1/', 'http://127.1/', 'http://%31%32%37.0.0.1/']) {
      const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, { url, eventTypes: ['*'] });
      assert.equal(res.status, 400, url);
      assert.equal(res.body.error.code, 'validation_failed', url);
      assert.equal(res.body.error.field, 'url', url);
      assert.match(res.body.error.message, /http:\/\/127\.0\.0\.1/, url);
    }
    assert.equal(connections, 0);
  });

  it('fails a delivery permanently when DNS rebinds to loopback after registration, without connecting', async () => {
    const tenant = uniqueName('t');
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
      url: `http://rebind.test:${port}/hook`,
      eventTypes: ['*'],
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{}', 'id', 'evt-rebind');
    const result = await waitFor('result', () =>
      stack.temporal.workflow.getHandle(workflowIdOf(tenant, 'evt-rebind')).result(),
    );
    assert.equal(result.status, 'failed');
    assert.equal(result.deliveries[0]?.attempts, 1, 'never retried against the blocked address');
    assert.match(result.deliveries[0]?.lastError ?? '', /destination_not_allowed/);
    assert.equal(connections, 0, 'no connection reached the loopback listener');
    assert.ok((lookups.get('rebind.test') ?? 0) >= 2);
    assert.ok(stack.logs.some((l) => l.includes('destination_not_allowed') && l.includes('evt-rebind')));
  });
});
