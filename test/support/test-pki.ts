import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A throw-away PKI made with the openssl CLI: file paths of PEM files, plus a rogue CA nobody trusts. */
export interface TestPki {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** Signed by `caCert`: the server accepts it. */
  readonly clientCert: string;
  readonly clientKey: string;
  /** A second, unrelated CA, and a client certificate it signed: a server trusting only `caCert` refuses it. */
  readonly rogueCaCert: string;
  readonly rogueClientCert: string;
  readonly rogueClientKey: string;
  read(file: string): string;
  remove(): void;
}

function openssl(cwd: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKey(dir: string, name: string): string {
  openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
  return path.join(dir, `${name}.key`);
}

function newCa(dir: string, name: string): { cert: string; key: string } {
  const key = newKey(dir, name);
  // OpenSSL 3's req -x509 marks the certificate as a CA (basicConstraints CA:TRUE) by default.
  openssl(
    dir,
    'req',
    '-x509',
    '-new',
    '-key',
    key,
    '-sha256',
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-out',
    `${name}.crt`,
  );
  return { cert: path.join(dir, `${name}.crt`), key };
}

function issue(
  dir: string,
  name: string,
  ca: { cert: string; key: string },
  extensions: string,
): { cert: string; key: string } {
  const key = newKey(dir, name);
  openssl(dir, 'req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', `${name}.csr`);
  writeFileSync(path.join(dir, `${name}.ext`), extensions);
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    '2',
    '-sha256',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  );
  return { cert: path.join(dir, `${name}.crt`), key };
}

/**
 * @param serverName the only name in the server certificate (default `temporal.test`): not the address, so a
 *   connection to 127.0.0.1 must name it (TEMPORAL_TLS_SERVER_NAME, REDIS_TLS_SERVER_NAME).
 */
export function createTestPki(serverName = 'temporal.test'): TestPki {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wss-pki-'));
  const ca = newCa(dir, 'test-ca');
  const server = issue(dir, 'server', ca, `subjectAltName=DNS:${serverName}\nextendedKeyUsage=serverAuth\n`);
  const client = issue(dir, 'client', ca, 'extendedKeyUsage=clientAuth\n');
  const rogueCa = newCa(dir, 'rogue-ca');
  const rogueClient = issue(dir, 'rogue-client', rogueCa, 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    caCert: ca.cert,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    rogueCaCert: rogueCa.cert,
    rogueClientCert: rogueClient.cert,
    rogueClientKey: rogueClient.key,
    read: (file) => readFileSync(file, 'utf8'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
