import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/infra/config';
import { TemporalConnectError, connectTemporalClient, connectTemporalWorker } from '../../src/infra/temporal';
import { receiverPool } from '../support/receiver';
import { serviceAddresses, uniqueName, waitFor, workflowIdOf } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';
import type { TestPki } from '../support/test-pki';
import { createTestPki } from '../support/test-pki';
import type { TlsProxy } from '../support/tls-proxy';
import { startTlsProxy } from '../support/tls-proxy';

/**
 * The acceptance test of issue 13's "mTLS and API key": every role reaches Temporal through nginx, which demands a
 * client certificate from our test CA and an API key, the way a secured cluster or Temporal Cloud does.
 */
describe('Temporal over mTLS with an API key (nginx in front of the dev server)', () => {
  let pki: TestPki;
  let proxy: TlsProxy;
  const apiKey = `key-${randomBytes(12).toString('hex')}`;
  const receivers = receiverPool();

  /** The settings a platform team would set; each failure case below changes one of them. */
  const goodEnv = (): Record<string, string> => ({
    TEMPORAL_ADDRESS: proxy.address,
    TEMPORAL_API_KEY: apiKey,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
    TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert,
    TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey,
    TEMPORAL_TLS_SERVER_NAME: 'temporal.test',
    // Failures must be quick; success on loopback takes milliseconds.
    WSS_TEMPORAL_CONNECT_TIMEOUT_MS: '5000',
  });

  before(async () => {
    pki = createTestPki();
    proxy = await startTlsProxy({ pki, upstream: serviceAddresses().temporalAddress, apiKey });
  });
  after(async () => {
    await receivers.closeAll();
    await proxy.stop();
    pki.remove();
  });

  it('runs the whole event path (worker, consumer, API) through the mTLS + API key endpoint', async () => {
    let stack: TestStack | undefined;
    try {
      stack = await startStack({ env: goodEnv() });
      assert.equal(stack.config.TEMPORAL_ADDRESS, proxy.address);
      const tenant = uniqueName('tls');
      const hook = await receivers.start();
      const created = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
        url: hook.url,
        eventTypes: ['order.*'],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await stack.xadd('tenant', tenant, 'type', 'order.paid', 'data', '{"n":1}', 'id', 'evt-tls');
      await waitFor('delivery through the TLS front', () => hook.requests.length === 1, 60_000);
      const result = await stack.temporal.workflow.getHandle(workflowIdOf(tenant, 'evt-tls')).result();
      assert.equal(result.status, 'delivered');
    } finally {
      await stack?.stop();
    }
    // The traffic did go through nginx, verified client certificate and all: the consumer's start, the worker's
    // polls and task completions (the attempt is a local activity, reported with its workflow task).
    const log = proxy.accessLog();
    for (const method of ['StartWorkflowExecution', 'PollWorkflowTaskQueue', 'RespondWorkflowTaskCompleted']) {
      assert.match(log, new RegExp(`/${method} 200 SUCCESS`), `${method} not seen by the proxy:\n${log.slice(-2000)}`);
    }
  });

  /** Connects the client and the worker's native connection with one setting changed; both must fail. */
  async function refusedStartUp(overrides: Record<string, string | undefined>): Promise<string[]> {
    const env = { ...goodEnv(), ...overrides };
    const settings = loadConfig({}, env).temporal;
    const messages: string[] = [];
    for (const connect of [
      async () => (await connectTemporalClient(settings)).connection.close(),
      async () => (await connectTemporalWorker(settings)).close(),
    ]) {
      await assert.rejects(connect(), (err: unknown) => {
        assert.ok(err instanceof TemporalConnectError, String(err));
        messages.push(err.message);
        return true;
      });
    }
    for (const message of messages) assert.equal(message.includes(apiKey), false, 'the API key leaked');
    return messages;
  }

  it('refuses start-up with a client certificate from another CA, naming the client certificate', async () => {
    const messages = await refusedStartUp({
      TEMPORAL_TLS_CLIENT_CERT_PATH: pki.rogueClientCert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: pki.rogueClientKey,
    });
    for (const m of messages) assert.match(m, /TEMPORAL_TLS_CLIENT_CERT_PATH/, m);
  });

  it('refuses start-up without a client certificate, naming the client certificate', async () => {
    const messages = await refusedStartUp({
      TEMPORAL_TLS_CLIENT_CERT_PATH: undefined,
      TEMPORAL_TLS_CLIENT_KEY_PATH: undefined,
    });
    for (const m of messages) assert.match(m, /TEMPORAL_TLS_CLIENT_CERT_PATH/, m);
  });

  it('refuses start-up when the server CA is not the one that signed the server, naming the server CA', async () => {
    const messages = await refusedStartUp({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.rogueCaCert });
    for (const m of messages) assert.match(m, /TEMPORAL_TLS_SERVER_CA_CERT_PATH/, m);
  });

  it('refuses start-up when the server name does not match the certificate, naming TEMPORAL_TLS_SERVER_NAME', async () => {
    const messages = await refusedStartUp({ TEMPORAL_TLS_SERVER_NAME: undefined });
    for (const m of messages) assert.match(m, /TEMPORAL_TLS_SERVER_NAME/, m);
  });

  it('refuses start-up without the API key, naming TEMPORAL_API_KEY', async () => {
    const messages = await refusedStartUp({ TEMPORAL_API_KEY: undefined });
    for (const m of messages) assert.match(m, /TEMPORAL_API_KEY/, m);
  });

  it('refuses start-up with a wrong API key, naming TEMPORAL_API_KEY and not printing the key', async () => {
    const wrong = `wrong-${randomBytes(8).toString('hex')}`;
    const messages = await refusedStartUp({ TEMPORAL_API_KEY: wrong });
    for (const m of messages) {
      assert.match(m, /TEMPORAL_API_KEY/, m);
      assert.equal(m.includes(wrong), false, m);
    }
  });

  it('refuses start-up in plain text against the TLS endpoint, naming TEMPORAL_TLS', async () => {
    const messages = await refusedStartUp({
      TEMPORAL_TLS: 'false',
      TEMPORAL_API_KEY: undefined,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: undefined,
      TEMPORAL_TLS_CLIENT_CERT_PATH: undefined,
      TEMPORAL_TLS_CLIENT_KEY_PATH: undefined,
      TEMPORAL_TLS_SERVER_NAME: undefined,
    });
    for (const m of messages) assert.match(m, /TEMPORAL_TLS\b/, m);
  });
});
