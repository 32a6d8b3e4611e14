import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/infra/config';
import { createRedisClient } from '../../src/infra/redis';
import { receiverPool } from '../support/receiver';
import { deliverThroughStack } from '../support/redis-event-path';
import type { RedisProcess } from '../support/redis-servers';
import { startTlsRedis } from '../support/redis-servers';
import { uniqueName } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';
import type { TestPki } from '../support/test-pki';
import { createTestPki } from '../support/test-pki';

/**
 * Issue 13's "Redis over TLS": every role reaches a TLS-only redis-server (no plain-text port at all) that demands
 * a client certificate from the test CA and an ACL user, the way a managed Redis does.
 */
describe('Redis over TLS with a client certificate and an ACL user', () => {
  let pki: TestPki;
  let redis: RedisProcess & { remove(): void };
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const receivers = receiverPool();

  before(async () => {
    pki = createTestPki('redis.test');
    redis = await startTlsRedis({
      caCert: pki.caCert,
      serverCert: pki.serverCert,
      serverKey: pki.serverKey,
      users: { 'wss-app': password },
    });
  });
  after(async () => {
    await receivers.closeAll();
    await redis?.stop();
    redis?.remove();
    pki?.remove();
  });

  /** The settings a platform team would set: CA and key as files, the certificate inline, the user separately. */
  const tlsEnv = (): Record<string, string> => ({
    REDIS_URL: `rediss://127.0.0.1:${redis.port}`,
    REDIS_USERNAME: 'wss-app',
    REDIS_PASSWORD: password,
    REDIS_TLS_CA_FILE: pki.caCert,
    REDIS_TLS_CERT: pki.read(pki.clientCert),
    REDIS_TLS_KEY_FILE: pki.clientKey,
    REDIS_TLS_SERVER_NAME: 'redis.test',
  });

  it('runs the whole event path (worker, consumer, API) on the TLS-only server', async () => {
    let stack: TestStack | undefined;
    try {
      stack = await startStack({ env: tlsEnv() });
      const tenant = uniqueName('tls');
      await deliverThroughStack(stack, await receivers.start(), tenant, 5);
      // The stack's data is on the TLS server: its keys are there under this stack's prefix.
      const keys = await stack.redis.keys(`*${stack.config.WSS_KEY_PREFIX}*`);
      assert.ok(keys.length > 0);
      // Secrets never reach the logs.
      const logs = stack.logs.join('\n');
      assert.equal(logs.includes(password), false);
      assert.equal(logs.includes(pki.read(pki.clientKey).split('\n')[1]!), false);
    } finally {
      await stack?.stop();
    }
  });

  it('takes the user and password from the URL too', async () => {
    const env = { ...tlsEnv(), REDIS_URL: `rediss://wss-app:${encodeURIComponent(password)}@127.0.0.1:${redis.port}` };
    delete (env as Record<string, string | undefined>).REDIS_USERNAME;
    delete (env as Record<string, string | undefined>).REDIS_PASSWORD;
    const client = createRedisClient(loadConfig({}, env).redis, 'url-credentials');
    try {
      assert.equal(await client.ping(), 'PONG');
      assert.equal(await client.acl('WHOAMI'), 'wss-app');
    } finally {
      client.disconnect();
    }
  });

  it('is refused without the client certificate, with a wrong password, or with another CA', async () => {
    const attempts: Record<string, Record<string, string | undefined>> = {
      'no client certificate': { REDIS_TLS_CERT: undefined, REDIS_TLS_KEY_FILE: undefined },
      'wrong password': { REDIS_PASSWORD: 'not-the-password' },
      'rogue CA': { REDIS_TLS_CA_FILE: pki.rogueCaCert },
    };
    for (const [what, overrides] of Object.entries(attempts)) {
      const client = createRedisClient(loadConfig({}, { ...tlsEnv(), ...overrides }).redis, 'refused', {
        maxRetriesPerRequest: 0,
      });
      try {
        await assert.rejects(client.ping(), Error, what);
      } finally {
        client.disconnect();
      }
    }
  });

  it('stops start-up naming the variable when a TLS file is missing or not PEM', () => {
    assert.throws(
      () => loadConfig({}, { ...tlsEnv(), REDIS_TLS_CA_FILE: '/nonexistent/ca.pem' }),
      (err: unknown) => err instanceof ConfigError && /REDIS_TLS_CA_FILE/.test(err.message),
    );
    assert.throws(
      () => loadConfig({}, { ...tlsEnv(), REDIS_TLS_CERT: 'not a certificate' }),
      (err: unknown) => err instanceof ConfigError && /REDIS_TLS_CERT\b/.test(err.message),
    );
  });
});
