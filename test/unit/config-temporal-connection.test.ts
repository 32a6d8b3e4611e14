import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/infra/config';
import { temporalSettingsWarnings } from '../../src/infra/temporal-settings';
import type { TestPki } from '../support/test-pki';
import { createTestPki } from '../support/test-pki';

function configError(env: Record<string, string>): string {
  try {
    loadConfig({}, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  assert.fail(`configuration was accepted: ${Object.keys(env).join(', ')}`);
}

describe('Temporal connection configuration (Temporal env config names)', () => {
  let pki: TestPki;
  before(() => {
    pki = createTestPki();
  });
  after(() => pki.remove());

  it('connects in plain text to 127.0.0.1:7233/default when nothing is set', () => {
    const { temporal, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE } = loadConfig({});
    assert.equal(TEMPORAL_ADDRESS, '127.0.0.1:7233');
    assert.equal(TEMPORAL_NAMESPACE, 'default');
    assert.equal(temporal.tls, false);
    assert.equal(temporal.apiKey, undefined);
  });

  it('loads the server CA, the client pair and the server name from paths, or inline PEM', () => {
    const fromPaths = loadConfig(
      {},
      {
        TEMPORAL_ADDRESS: 'temporal.example:7233',
        TEMPORAL_NAMESPACE: 'payments.a1b2c',
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
        TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert,
        TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey,
        TEMPORAL_TLS_SERVER_NAME: 'temporal.test',
      },
    ).temporal;
    assert.equal(fromPaths.address, 'temporal.example:7233');
    assert.equal(fromPaths.namespace, 'payments.a1b2c');
    assert.ok(fromPaths.tls);
    assert.equal(fromPaths.tls.serverNameOverride, 'temporal.test');
    assert.equal(fromPaths.tls.serverRootCACertificate?.toString(), pki.read(pki.caCert));
    assert.equal(fromPaths.tls.clientCertPair?.crt.toString(), pki.read(pki.clientCert));
    assert.equal(fromPaths.tls.clientCertPair?.key.toString(), pki.read(pki.clientKey));

    const inline = loadConfig(
      {},
      {
        TEMPORAL_TLS_CLIENT_CERT_DATA: pki.read(pki.clientCert),
        TEMPORAL_TLS_CLIENT_KEY_DATA: pki.read(pki.clientKey),
      },
    ).temporal;
    assert.ok(inline.tls);
    assert.equal(inline.tls.clientCertPair?.crt.toString(), pki.read(pki.clientCert));
  });

  it('an API key turns TLS on (system roots) unless TEMPORAL_TLS=false', () => {
    const cloud = loadConfig({}, { TEMPORAL_API_KEY: 'key-abc' }).temporal;
    assert.deepEqual(cloud.tls, {});
    assert.equal(cloud.apiKey, 'key-abc');
    assert.equal(loadConfig({}, { TEMPORAL_API_KEY: 'key-abc', TEMPORAL_TLS: 'false' }).temporal.tls, false);
    assert.deepEqual(loadConfig({}, { TEMPORAL_TLS: 'true' }).temporal.tls, {});
  });

  it('reads a profile of the config file; variables override its fields', () => {
    const file = path.join(pki.dir, 'temporal.toml');
    writeFileSync(
      file,
      [
        '[profile.default]',
        'address = "default.example:7233"',
        '[profile.prod]',
        'address = "prod.example:7233"',
        'namespace = "prod-ns"',
        'api_key = "from-file"',
        '[profile.prod.tls]',
        `server_ca_cert_path = "${pki.caCert}"`,
        '[profile.prod.grpc_meta]',
        'x-team = "payments"',
      ].join('\n'),
    );
    assert.equal(loadConfig({}, { TEMPORAL_CONFIG_FILE: file }).TEMPORAL_ADDRESS, 'default.example:7233');
    const prod = loadConfig(
      {},
      { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod', TEMPORAL_NAMESPACE: 'override' },
    );
    assert.equal(prod.TEMPORAL_ADDRESS, 'prod.example:7233');
    assert.equal(prod.TEMPORAL_NAMESPACE, 'override');
    assert.equal(prod.temporal.apiKey, 'from-file');
    assert.deepEqual(prod.temporal.metadata, { 'x-team': 'payments' });
    assert.ok(prod.temporal.tls);
    assert.equal(prod.temporal.tls.serverRootCACertificate?.toString(), pki.read(pki.caCert));
  });

  it('stops on a file that cannot be read, naming the variable', () => {
    const missing = path.join(pki.dir, 'nope.pem');
    for (const variable of [
      'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
      'TEMPORAL_TLS_CLIENT_KEY_PATH',
      'TEMPORAL_CONFIG_FILE',
    ]) {
      const paired: Record<string, string> =
        variable === 'TEMPORAL_TLS_CLIENT_CERT_PATH'
          ? { TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey }
          : variable === 'TEMPORAL_TLS_CLIENT_KEY_PATH'
            ? { TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert }
            : {};
      const message = configError({ [variable]: missing, ...paired });
      assert.match(message, new RegExp(`${variable}: cannot read .*nope\\.pem \\(ENOENT\\)`), message);
    }
  });

  it('stops on PEM that does not parse, naming the variable', () => {
    const garbage = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n';
    const truncatedKey = pki.read(pki.clientKey).replace(/\n[^\n]*\n-----END/, '\n-----END');
    const cases: [Record<string, string>, RegExp][] = [
      [{ TEMPORAL_TLS_SERVER_CA_CERT_DATA: garbage }, /TEMPORAL_TLS_SERVER_CA_CERT_DATA: not a valid PEM certificate/],
      [{ TEMPORAL_TLS_SERVER_CA_CERT_DATA: 'hello' }, /TEMPORAL_TLS_SERVER_CA_CERT_DATA: not a PEM certificate/],
      [
        { TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.clientKey },
        /TEMPORAL_TLS_SERVER_CA_CERT_PATH: not a valid PEM certificate: holds a PRIVATE KEY block/,
      ],
      [
        { TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert, TEMPORAL_TLS_CLIENT_KEY_DATA: truncatedKey },
        /TEMPORAL_TLS_CLIENT_KEY_DATA: not a valid PEM private key/,
      ],
      [
        { TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientKey, TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientCert },
        /TEMPORAL_TLS_CLIENT_CERT_PATH: not a valid PEM certificate[\s\S]*TEMPORAL_TLS_CLIENT_KEY_PATH: not a valid PEM private key/,
      ],
    ];
    for (const [env, expected] of cases) assert.match(configError(env), expected);
  });

  it('stops on a key without its certificate, a certificate without its key, or a pair that does not match', () => {
    assert.match(
      configError({ TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey }),
      /TEMPORAL_TLS_CLIENT_KEY_PATH: set without TEMPORAL_TLS_CLIENT_CERT_PATH or _DATA/,
    );
    assert.match(
      configError({ TEMPORAL_TLS_CLIENT_CERT_DATA: pki.read(pki.clientCert) }),
      /TEMPORAL_TLS_CLIENT_CERT_DATA: set without TEMPORAL_TLS_CLIENT_KEY_PATH or _DATA/,
    );
    assert.match(
      configError({ TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert, TEMPORAL_TLS_CLIENT_KEY_PATH: pki.rogueClientKey }),
      /TEMPORAL_TLS_CLIENT_KEY_PATH: the private key does not belong to the client certificate/,
    );
  });

  it('stops on contradictions and unsupported values, naming the variable', () => {
    assert.match(
      configError({
        TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert,
        TEMPORAL_TLS_CLIENT_CERT_DATA: pki.read(pki.clientCert),
      }),
      /TEMPORAL_TLS_CLIENT_CERT_PATH \/ _DATA: set one, not both/,
    );
    assert.match(
      configError({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert }),
      /TEMPORAL_TLS: false, but TLS certificates are configured/,
    );
    assert.match(configError({ TEMPORAL_TLS: 'yes' }), /TEMPORAL_TLS:/);
    assert.match(
      configError({ TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'true' }),
      /TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: not supported/,
    );
    const file = path.join(pki.dir, 'profiles.toml');
    writeFileSync(file, '[profile.default]\naddress = "a:1"\n');
    assert.match(
      configError({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' }),
      /TEMPORAL_PROFILE: Profile 'prod' not found/,
    );
    writeFileSync(file, '[profile.default\naddress = ');
    assert.match(configError({ TEMPORAL_CONFIG_FILE: file }), /TEMPORAL_CONFIG_FILE: cannot load/);
  });

  it('stops on an address that is not host:port with a port 1-65535, naming its source', () => {
    for (const address of [
      '7291',
      '127.0.0.1:99999',
      '127.0.0.1:0',
      'temporal',
      'temporal:',
      ':7233',
      '::1:7233',
      'a b:7233',
    ]) {
      assert.match(configError({ TEMPORAL_ADDRESS: address }), /TEMPORAL_ADDRESS: .*host:port/, address);
    }
    for (const address of ['temporal.internal:7233', '127.0.0.1:1', '[::1]:65535', 'ns.acct.tmprl.cloud:7233']) {
      assert.equal(loadConfig({}, { TEMPORAL_ADDRESS: address }).temporal.address, address);
    }
    const file = path.join(pki.dir, 'address.toml');
    writeFileSync(file, '[profile.default]\naddress = "7291"\n');
    assert.match(
      configError({ TEMPORAL_CONFIG_FILE: file }),
      new RegExp(`address in profile "default" of ${file.replaceAll('.', '\\.')}: .*host:port`),
    );
  });

  it('stops on gRPC metadata that gRPC cannot send, naming the TEMPORAL_GRPC_META_ variable', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ TEMPORAL_GRPC_META_X_TENANT: 'a\nb' }, /^ {2}TEMPORAL_GRPC_META_X_TENANT: /m],
      [{ TEMPORAL_GRPC_META_X_TENANT: 'caf\u00e9' }, /^ {2}TEMPORAL_GRPC_META_X_TENANT: /m],
      [{ 'TEMPORAL_GRPC_META_A B': 'v' }, /^ {2}TEMPORAL_GRPC_META_A B: /m],
      [{ TEMPORAL_GRPC_META_GRPC_TIMEOUT: '1' }, /^ {2}TEMPORAL_GRPC_META_GRPC_TIMEOUT: /m],
    ];
    for (const [env, want] of cases) {
      const message = configError(env);
      assert.match(message, want, message);
      assert.doesNotMatch(message, /caf|a\nb/, 'the value stays out of the message');
    }
    assert.deepEqual(loadConfig({}, { TEMPORAL_GRPC_META_X_TENANT: 'acme-1' }).temporal.metadata, {
      'x-tenant': 'acme-1',
    });
  });

  it('says "config file" once when the config file cannot be read', () => {
    const message = configError({ TEMPORAL_CONFIG_FILE: path.join(pki.dir, 'nope.toml') });
    assert.doesNotMatch(message, /file file/, message);
  });

  it('warns at start-up when the API key would travel in plain text (TEMPORAL_TLS=false)', () => {
    const plain = loadConfig({}, { TEMPORAL_API_KEY: 'sekret-api-key-123', TEMPORAL_TLS: 'false' }).temporal;
    const warnings = temporalSettingsWarnings(plain);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /TEMPORAL_API_KEY.*TEMPORAL_TLS=false.*plain text/);
    assert.doesNotMatch(warnings[0] ?? '', /sekret/);
    assert.deepEqual(temporalSettingsWarnings(loadConfig({}, { TEMPORAL_API_KEY: 'sekret-api-key-123' }).temporal), []);
    assert.deepEqual(temporalSettingsWarnings(loadConfig({}, {}).temporal), []);
  });

  it('never puts the API key or a private key into an error message', () => {
    const message = configError({
      TEMPORAL_API_KEY: 'sekret-api-key-123',
      TEMPORAL_TLS_CLIENT_KEY_DATA: pki.read(pki.clientKey),
    });
    assert.doesNotMatch(message, /sekret-api-key-123|PRIVATE KEY/);
  });
});
