import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { ReceivedRequest, ReceiverReply } from './receiver';

/**
 * A throw-away PKI for HTTPS receivers, made with the openssl CLI (as test-pki.ts does for Redis and Temporal):
 * a test CA the service is told to trust (WSS_HTTP_CA_FILE), a rogue CA nobody trusts, and certificates issued on
 * demand, for any DNS names, expired or not, for servers or clients.
 */
export interface ReceiverPki {
  readonly dir: string;
  /** Path of the test CA's certificate (PEM): what WSS_HTTP_CA_FILE points at. */
  readonly caFile: string;
  readonly caPem: string;
  /** The test CA's private key (PEM): a CA certificate with its key, offered where a client certificate belongs. */
  readonly caKeyPem: string;
  issue(
    name: string,
    options?: { dnsNames?: string[]; expired?: boolean; ca?: 'test' | 'rogue'; usage?: 'server' | 'client' },
  ): IssuedCertificate;
  remove(): void;
}

export interface IssuedCertificate {
  readonly cert: string;
  readonly key: string;
  /** SHA-256 fingerprint as Node prints it (`AB:CD:...`), to recognise the certificate at the other end. */
  readonly fingerprint256: string;
}

function openssl(cwd: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newCa(dir: string, name: string): { cert: string; key: string } {
  openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
  openssl(
    dir,
    'req',
    '-x509',
    '-new',
    '-key',
    `${name}.key`,
    '-sha256',
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-out',
    `${name}.crt`,
  );
  return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
}

export function createReceiverPki(): ReceiverPki {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wss-https-pki-'));
  const cas = { test: newCa(dir, 'receiver-test-ca'), rogue: newCa(dir, 'rogue-ca') };
  let serial = 0;
  return {
    dir,
    caFile: cas.test.cert,
    caPem: readFileSync(cas.test.cert, 'utf8'),
    caKeyPem: readFileSync(cas.test.key, 'utf8'),
    issue(name, options = {}) {
      const ca = cas[options.ca ?? 'test'];
      const base = `${name}-${++serial}`;
      openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${base}.key`);
      openssl(dir, 'req', '-new', '-key', `${base}.key`, '-subj', `/CN=${name}`, '-out', `${base}.csr`);
      const san = (options.dnsNames ?? [name]).map((n) => `DNS:${n}`).join(',');
      const usage = options.usage === 'client' ? 'clientAuth' : 'serverAuth';
      writeFileSync(
        path.join(dir, `${base}.ext`),
        `${options.usage === 'client' ? '' : `subjectAltName=${san}\n`}extendedKeyUsage=${usage}\n`,
      );
      // `-days -1` puts notAfter a day before notBefore (now): a certificate that has expired.
      const days = options.expired === true ? '-1' : '2';
      openssl(
        dir,
        'x509',
        '-req',
        '-in',
        `${base}.csr`,
        '-CA',
        ca.cert,
        '-CAkey',
        ca.key,
        '-CAcreateserial',
        '-days',
        days,
        '-sha256',
        '-extfile',
        `${base}.ext`,
        '-out',
        `${base}.crt`,
      );
      const cert = readFileSync(path.join(dir, `${base}.crt`), 'utf8');
      return {
        cert,
        key: readFileSync(path.join(dir, `${base}.key`), 'utf8'),
        fingerprint256: new X509Certificate(cert).fingerprint256,
      };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface HttpsReceiver {
  readonly port: number;
  /** `https://<host>:<port>/hook` for a name the test's resolver maps to this receiver's address. */
  url(host: string): string;
  readonly requests: (ReceivedRequest & { servername: string | false; clientFingerprint?: string })[];
  /** Every TLS handshake that completed: the SNI name and the client certificate presented (if any). */
  readonly handshakes: { servername: string | false; clientFingerprint?: string }[];
  /** TCP connections accepted, whether or not the handshake completed. */
  connections: number;
  /** Handshakes that failed on this side (e.g. a client without the demanded certificate). */
  readonly tlsErrors: string[];
  close(): Promise<void>;
}

/**
 * A real HTTPS receiver on a loopback address. `clientCa` makes it demand a client certificate signed by that CA
 * (mutual TLS): a connection without one fails the handshake.
 */
export async function startHttpsReceiver(options: {
  cert: IssuedCertificate;
  host?: string;
  clientCa?: string;
  /** With `clientCa`: `required` (default) refuses a handshake without a client certificate. */
  clientCertificate?: 'required' | 'optional';
  reply?: (req: ReceivedRequest, index: number) => ReceiverReply;
}): Promise<HttpsReceiver> {
  const reply = options.reply ?? ((): ReceiverReply => ({ status: 200 }));
  const host = options.host ?? '127.0.0.1';
  const requests: HttpsReceiver['requests'] = [];
  const handshakes: HttpsReceiver['handshakes'] = [];
  const tlsErrors: string[] = [];
  const server: Server = createServer(
    {
      cert: options.cert.cert,
      key: options.cert.key,
      ...(options.clientCa !== undefined
        ? {
            ca: options.clientCa,
            requestCert: true,
            rejectUnauthorized: options.clientCertificate !== 'optional',
          }
        : {}),
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const socket = req.socket as TLSSocket;
        const peer = socket.getPeerCertificate();
        const received = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          rawHeaders: req.rawHeaders,
          body: Buffer.concat(chunks),
          receivedAt: Date.now(),
          servername: (socket as TLSSocket & { servername: string | false }).servername,
          ...(peer && peer.fingerprint256 ? { clientFingerprint: peer.fingerprint256 } : {}),
        };
        const index = requests.length;
        requests.push(received);
        const answer = reply(received, index);
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body ?? '');
      });
    },
  );
  const receiver: HttpsReceiver = {
    port: 0,
    url: (name) => `https://${name}:${receiver.port}/hook`,
    requests,
    handshakes,
    connections: 0,
    tlsErrors,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  server.on('connection', () => receiver.connections++);
  server.on('secureConnection', (socket: TLSSocket) => {
    const peer = socket.getPeerCertificate();
    handshakes.push({
      servername: (socket as TLSSocket & { servername: string | false }).servername,
      ...(peer && peer.fingerprint256 ? { clientFingerprint: peer.fingerprint256 } : {}),
    });
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException) => tlsErrors.push(err.code ?? err.message));
  server.listen(0, host);
  await once(server, 'listening');
  (receiver as { port: number }).port = (server.address() as { port: number }).port;
  return receiver;
}
