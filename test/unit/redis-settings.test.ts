import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/infra/config';
import { describeRedisSettings } from '../../src/infra/redis-settings';
import type { TestPki } from '../support/test-pki';
import { createTestPki } from '../support/test-pki';

/** The variables' names in each start-up failure, for a bad environment. */
function failure(env: Record<string, string>): string {
  try {
    loadConfig({}, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail(`accepted ${JSON.stringify(env)}`);
}

describe('Redis connection settings', () => {
  let pki: TestPki;
  before(() => {
    pki = createTestPki('redis.test');
  });
  after(() => pki.remove());

  it('keeps the default: one plain-text server on 127.0.0.1:6379', () => {
    const { redis } = loadConfig({}, {});
    assert.deepEqual(redis.topology, { kind: 'standalone', host: '127.0.0.1', port: 6379, db: 0 });
    assert.equal(redis.tls, false);
    assert.equal(redis.username, undefined);
    assert.equal(redis.password, undefined);
    assert.equal(redis.waitReplicas, 0);
  });

  it('reads host, port, database and URL-encoded credentials from REDIS_URL; the variables win', () => {
    const fromUrl = loadConfig({}, { REDIS_URL: 'rediss://app:p%40ss%3Aword@redis.example:6380/3' }).redis;
    assert.deepEqual(fromUrl.topology, { kind: 'standalone', host: 'redis.example', port: 6380, db: 3 });
    assert.equal(fromUrl.username, 'app');
    assert.equal(fromUrl.password, 'p@ss:word');
    assert.deepEqual(fromUrl.tls, {});
    const overridden = loadConfig(
      {},
      { REDIS_URL: 'redis://app:old@h:1', REDIS_USERNAME: 'other', REDIS_PASSWORD: 'new' },
    ).redis;
    assert.equal(overridden.username, 'other');
    assert.equal(overridden.password, 'new');
    assert.equal(loadConfig({}, { REDIS_URL: 'redis://:only-password@h:1' }).redis.username, undefined);
  });

  it('loads the CA, client certificate and key from files or inline PEM', () => {
    const { tls } = loadConfig(
      {},
      {
        REDIS_URL: 'rediss://127.0.0.1:6380',
        REDIS_TLS_CA: pki.read(pki.caCert),
        REDIS_TLS_CERT_FILE: pki.clientCert,
        // An inline PEM with escaped newlines, as some secret stores hand them over.
        REDIS_TLS_KEY: pki.read(pki.clientKey).replace(/\n/g, '\\n'),
        REDIS_TLS_SERVER_NAME: 'redis.test',
      },
    ).redis;
    assert.ok(tls !== false);
    assert.equal(tls.ca?.toString(), pki.read(pki.caCert));
    assert.equal(tls.cert?.toString(), pki.read(pki.clientCert));
    assert.equal(tls.key?.toString(), pki.read(pki.clientKey));
    assert.equal(tls.servername, 'redis.test');
  });

  it('configures Sentinel and Cluster from host:port lists', () => {
    const sentinel = loadConfig(
      {},
      {
        REDIS_SENTINELS: 's1:26379, [::1]:26380',
        REDIS_SENTINEL_MASTER: 'mymaster',
        REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
        REDIS_PASSWORD: 'master-secret',
        REDIS_TLS: 'true',
      },
    ).redis;
    assert.deepEqual(sentinel.topology, {
      kind: 'sentinel',
      masterName: 'mymaster',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      sentinelUsername: undefined,
      sentinelPassword: 'sentinel-secret',
    });
    assert.equal(sentinel.password, 'master-secret');
    assert.deepEqual(sentinel.tls, {});
    const cluster = loadConfig({}, { REDIS_CLUSTER_NODES: '10.0.0.1:7000,10.0.0.2:7001' }).redis;
    assert.deepEqual(cluster.topology, {
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
    });
    assert.equal(cluster.tls, false);
  });

  it('stops start-up naming the variable for every inconsistent or unreadable setting', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ REDIS_URL: 'http://h:1' }, /REDIS_URL: the scheme must be redis:\/\/ or rediss:\/\//],
      [{ REDIS_URL: 'redis://h:1/x' }, /REDIS_URL: the path must be a database number/],
      [{ REDIS_URL: 'redis://h:1?tls=true' }, /REDIS_URL: query options are not supported/],
      [{ REDIS_TLS_CA_FILE: pki.caCert }, /REDIS_TLS_CA_FILE: set, but TLS is off; use a rediss:\/\/ REDIS_URL/],
      [{ REDIS_URL: 'rediss://h:1', REDIS_TLS: 'false' }, /REDIS_TLS: false, but REDIS_URL is rediss:\/\//],
      [
        { REDIS_URL: 'rediss://h:1', REDIS_TLS_CA_FILE: '/nonexistent/ca.pem' },
        /REDIS_TLS_CA_FILE: cannot read .*ENOENT/,
      ],
      [{ REDIS_URL: 'rediss://h:1', REDIS_TLS_CA: 'nope' }, /REDIS_TLS_CA: not a PEM certificate/],
      [{ REDIS_URL: 'rediss://h:1', REDIS_TLS_CA_FILE: pki.clientKey }, /REDIS_TLS_CA_FILE: not a PEM certificate/],
      [
        { REDIS_URL: 'rediss://h:1', REDIS_TLS_CA_FILE: pki.caCert, REDIS_TLS_CA: pki.read(pki.caCert) },
        /REDIS_TLS_CA: set both REDIS_TLS_CA_FILE and REDIS_TLS_CA/,
      ],
      [{ REDIS_URL: 'rediss://h:1', REDIS_TLS_CERT_FILE: pki.clientCert }, /REDIS_TLS_CERT: set without REDIS_TLS_KEY/],
      [
        { REDIS_URL: 'rediss://h:1', REDIS_TLS_CERT_FILE: pki.clientCert, REDIS_TLS_KEY_FILE: pki.rogueClientKey },
        /REDIS_TLS_KEY: the private key does not belong to the client certificate/,
      ],
      [{ REDIS_SENTINELS: 's1:26379' }, /REDIS_SENTINEL_MASTER: required with REDIS_SENTINELS/],
      [{ REDIS_SENTINEL_MASTER: 'm' }, /REDIS_SENTINEL_MASTER: set without REDIS_SENTINELS/],
      [{ REDIS_SENTINELS: 's1', REDIS_SENTINEL_MASTER: 'm' }, /REDIS_SENTINELS: "s1" is not host:port/],
      [{ REDIS_CLUSTER_NODES: 'a:1,b:99999' }, /REDIS_CLUSTER_NODES: "b:99999" is not host:port/],
      [
        { REDIS_CLUSTER_NODES: 'a:1', REDIS_SENTINELS: 's:2', REDIS_SENTINEL_MASTER: 'm' },
        /REDIS_CLUSTER_NODES: set together with REDIS_SENTINELS/,
      ],
      [{ REDIS_CLUSTER_NODES: 'a:1', REDIS_URL: 'redis://h:1' }, /REDIS_URL: not used with REDIS_CLUSTER_NODES/],
      [
        { REDIS_CLUSTER_NODES: 'a:1', REDIS_WAIT_REPLICAS: '1' },
        /REDIS_WAIT_REPLICAS: not supported with REDIS_CLUSTER_NODES/,
      ],
      [
        { REDIS_CLUSTER_NODES: 'a:1', REDIS_TLS_SERVER_NAME: 'x' },
        /REDIS_TLS_SERVER_NAME: set, but TLS is off; set REDIS_TLS=true/,
      ],
      [{ REDIS_TLS: 'yes' }, /REDIS_TLS:/],
    ];
    for (const [env, expected] of cases) assert.match(failure(env), expected, JSON.stringify(env));
  });

  it('never shows a password or key material in its description or its errors', () => {
    const secret = 'sup3r-secret-pw';
    const settings = loadConfig(
      {},
      {
        REDIS_URL: `rediss://app:${secret}@h:1`,
        REDIS_TLS_CERT_FILE: pki.clientCert,
        REDIS_TLS_KEY_FILE: pki.clientKey,
      },
    ).redis;
    const described = JSON.stringify(describeRedisSettings(settings));
    assert.deepEqual(JSON.parse(described), {
      mode: 'standalone',
      address: 'h:1',
      db: 0,
      tls: 'mtls',
      user: 'app',
      password: true,
    });
    assert.equal(described.includes(secret), false);
    const keyLine = pki.read(pki.clientKey).split('\n')[1]!;
    const message = failure({ REDIS_URL: `rediss://app:${secret}@h:1`, REDIS_TLS_CA: pki.read(pki.clientKey) });
    assert.equal(message.includes(secret), false);
    assert.equal(message.includes(keyLine), false);
  });
});
