import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { RoleProcess } from '../support/role-process';
import { opsPortOf, startRole, stopRole } from '../support/role-process';
import type { RedisProcess } from '../support/redis-servers';
import { startPasswordRedis, startTlsRedis } from '../support/redis-servers';
import { serviceAddresses, uniqueName, waitFor } from '../support/services';
import type { TestPki } from '../support/test-pki';
import { createTestPki } from '../support/test-pki';

/**
 * A Redis the service cannot use (wrong password, TLS against plain text, a certificate for another name) must say
 * why, in the service's structured log and in `/readyz`, naming the variable to fix: not as ioredis's unstructured
 * "Unhandled error event" on stderr.
 */
describe('Redis connection failures name their cause', () => {
  const password = `pw-${randomBytes(12).toString('hex')}`;
  let plain: RedisProcess & { remove(): void };
  let tls: RedisProcess & { remove(): void };
  let pki: TestPki;

  before(async () => {
    pki = createTestPki('redis.test');
    plain = await startPasswordRedis(password);
    tls = await startTlsRedis({
      caCert: pki.caCert,
      serverCert: pki.serverCert,
      serverKey: pki.serverKey,
      users: { 'wss-app': password },
    });
  });
  after(async () => {
    await plain?.stop();
    plain?.remove();
    await tls?.stop();
    tls?.remove();
    pki?.remove();
  });

  function apiEnv(overrides: Record<string, string>): NodeJS.ProcessEnv {
    const { temporalAddress } = serviceAddresses();
    const id = uniqueName('rediserr').replace(/-/g, '_');
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('WSS_') && !k.startsWith('REDIS_')),
    );
    return {
      ...inherited,
      TEMPORAL_ADDRESS: temporalAddress,
      WSS_KEY_PREFIX: id,
      WSS_STREAM: `${id}:events`,
      WSS_CONSUMER_GROUP: `${id}-group`,
      WSS_TASK_QUEUE: `${id}-queue`,
      WSS_API_PORT: '0',
      WSS_OPS_PORT: '0',
      WSS_ADMIN_TOKEN: `admin_${randomBytes(16).toString('hex')}`,
      WSS_MASTER_KEY: randomBytes(32).toString('base64'),
      WSS_LOG_LEVEL: 'info',
      ...overrides,
    };
  }

  /**
   * Runs the API role against a Redis it cannot use, and checks: a structured warn/error line naming `variables`,
   * no ioredis "Unhandled error event", no secret in the output, and `/readyz` naming the cause.
   */
  async function expectNamedFailure(
    env: Record<string, string>,
    cause: RegExp,
    variables: readonly string[],
  ): Promise<void> {
    let api: RoleProcess | undefined;
    try {
      api = startRole('api', uniqueName('api'), apiEnv(env));
      const opsPort = await opsPortOf(api);
      const readyz = await waitFor(
        '/readyz naming the Redis cause',
        async () => {
          const res = await fetch(`http://127.0.0.1:${opsPort}/readyz`, { signal: AbortSignal.timeout(10_000) });
          const body = (await res.json()) as { status: string; checks?: Record<string, string> };
          return res.status === 503 && cause.test(body.checks?.redis ?? '') ? body : undefined;
        },
        60_000,
        250,
      );
      for (const variable of variables) assert.match(readyz.checks!.redis!, new RegExp(variable));
      const logged = api.output
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => typeof l.msg === 'string' && /redis/i.test(l.msg) && cause.test(JSON.stringify(l)));
      assert.ok(logged, `no structured log line for the cause:\n${api.tail(30)}`);
      assert.ok(logged.level === 'warn' || logged.level === 'error', `level ${String(logged.level)}`);
      for (const variable of variables) assert.match(JSON.stringify(logged), new RegExp(variable));
      const output = api.output.join('\n');
      assert.equal(output.includes('Unhandled error event'), false, `unstructured ioredis output:\n${api.tail(30)}`);
      assert.equal(output.includes(password), false);
      assert.equal(output.includes('not-the-password'), false);
      // Rate-limited: a few lines, not one per reconnect.
      const causeLines = api.output.filter((l) => cause.test(l)).length;
      assert.ok(causeLines <= 3, `${causeLines} lines for one cause:\n${api.tail(30)}`);
    } finally {
      if (api) await stopRole(api, 20_000);
    }
  }

  it('a wrong password: REDIS_PASSWORD is named in the log and in /readyz', async () => {
    await expectNamedFailure(
      { REDIS_URL: `redis://127.0.0.1:${plain.port}`, REDIS_PASSWORD: 'not-the-password' },
      /authentication/,
      ['REDIS_USERNAME', 'REDIS_PASSWORD'],
    );
  });

  it('rediss:// against a plain-text server does not hang silently: the scheme is named', async () => {
    await expectNamedFailure({ REDIS_URL: `rediss://127.0.0.1:${plain.port}`, REDIS_PASSWORD: password }, /TLS/, [
      'REDIS_URL',
      'REDIS_TLS',
    ]);
  });

  it('a certificate for another name: REDIS_TLS_SERVER_NAME is named', async () => {
    await expectNamedFailure(
      {
        REDIS_URL: `rediss://127.0.0.1:${tls.port}`,
        REDIS_USERNAME: 'wss-app',
        REDIS_PASSWORD: password,
        REDIS_TLS_CA_FILE: pki.caCert,
        REDIS_TLS_CERT_FILE: pki.clientCert,
        REDIS_TLS_KEY_FILE: pki.clientKey,
      },
      /certificate/,
      ['REDIS_TLS_SERVER_NAME'],
    );
  });
});
